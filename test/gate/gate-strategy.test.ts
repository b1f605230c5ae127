// The gate's new refusals against a real redis-server: what a trading process sees when the error_budget guard,
// the feature_schema guard, the strategy_caps guard or the cutover operation changes a flag (each writer PUBLISHes
// `<prefix>flags`; a writer that does not is picked up by the periodic re-read). Values of the wrong type make the
// gate stricter while every other flag stays fresh.
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGate, type Gate, MARKET_KEYS, type OrderCheck } from "../../packages/gate/src/gate/index.js";
import { testRedis } from "../support/redis.js";

/** Wednesday 2026-11-25, 11:00 New York: a regular session. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const buy: OrderCheck = {
  broker: "alpaca",
  account: "A1",
  strategy: "momo",
  symbol: "AAPL",
  side: "buy",
  qty: 10,
  price: 190.25,
  assetClass: "equities",
};
const reducing: OrderCheck = { ...buy, side: "sell", reduceOnly: true };
const codes = (r: { reasons: string[] }) => r.reasons.map((s) => s.slice(0, s.indexOf(":")));
const since = new Date(NOW - 60_000).toISOString();
const A1_PDT = JSON.stringify({ equity: "50000", updated_at: new Date(NOW - 60_000).toISOString() });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(opts: Parameters<typeof createGate>[0] = {}) {
  const t = testRedis();
  const raw = (n: string) => t.keys.raw(n);
  await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW));
  await t.redis.hset(raw(MARKET_KEYS.pdt), "A1", A1_PDT);
  const gate = await createGate({
    url: t.url,
    prefix: t.prefix,
    now: () => NOW,
    pollMs: 50,
    refreshMs: 60_000,
    ...opts,
  });
  cleanups.push(async () => {
    await gate.close();
    await t.cleanup();
  });
  const publish = () => t.redis.publish(raw(MARKET_KEYS.flagsChannel), "test");
  return { t, raw, gate, publish };
}

const until = (gate: Gate, pred: (r: ReturnType<Gate["check"]>) => boolean, order: OrderCheck = buy) =>
  vi.waitFor(
    () => {
      const r = gate.check(order);
      if (!pred(r)) throw new Error(`not yet: ${JSON.stringify(r)}`);
      return r;
    },
    { timeout: 5_000, interval: 2 },
  );

describe("strategy restrictions against Redis", () => {
  it("strategy:reduce_only (error_budget) refuses opening orders with its reason, and lifts on HDEL", async () => {
    const { t, raw, gate, publish } = await setup();
    expect(gate.check(buy).allow).toBe(true);
    const entry = { reason: "error budget of SLO order_ack is spent", source: "error_budget:order_ack", since };
    await t.redis.hset(raw(MARKET_KEYS.strategyReduceOnly), "momo", JSON.stringify(entry));
    await publish();
    const r = await until(gate, (x) => !x.allow);
    expect(r.reasons).toEqual(["strategy_reduce_only: error budget of SLO order_ack is spent"]);
    expect(gate.check(reducing).allow).toBe(true);
    expect(gate.check({ ...buy, strategy: "other" }).allow).toBe(true);
    await t.redis.hdel(raw(MARKET_KEYS.strategyReduceOnly), "momo");
    await publish();
    await until(gate, (x) => x.allow);
  });

  it("strategy:blocked (feature_schema) refuses opening orders; reducing orders stay allowed", async () => {
    const { t, raw, gate, publish } = await setup();
    const reason = "feature schema mismatch: model momo-v7 of strategy momo was trained on feature set eq version 3f2a";
    await t.redis.hset(
      raw(MARKET_KEYS.strategyBlocked),
      "momo",
      JSON.stringify({ reason, source: "feature_schema", since }),
    );
    await publish();
    expect((await until(gate, (x) => !x.allow)).reasons).toEqual([`strategy_blocked: ${reason}`]);
    expect(gate.check(reducing).allow).toBe(true);
    expect(gate.view().flags.blocked.get("momo")).toMatchObject({ source: "feature_schema" });
  });

  it("garbage is strict: a bad entry restricts its strategy, a key of the wrong type every strategy", async () => {
    const { t, raw, gate, publish } = await setup();
    await t.redis.hset(raw(MARKET_KEYS.strategyReduceOnly), "momo", "{not json");
    await publish();
    expect((await until(gate, (x) => !x.allow)).reasons).toEqual([
      "strategy_reduce_only: strategy:reduce_only entry of momo is unreadable (not JSON); only reducing orders",
    ]);
    await t.redis.del(raw(MARKET_KEYS.strategyReduceOnly));
    await t.redis.set(raw(MARKET_KEYS.strategyBlocked), "oops");
    await t.redis.rpush(raw(MARKET_KEYS.strategyBounds), "x");
    await publish();
    const r = await until(gate, (x) => codes(x).includes("strategy_bounds_invalid"), { ...buy, strategy: "anyone" });
    expect(codes(r)).toEqual(["strategy_blocked", "strategy_bounds_invalid"]);
    expect(gate.check(reducing).allow).toBe(true);
    expect(Object.keys(gate.view().unreadable).sort()).toEqual(["strategy:blocked", "strategy:bounds"]);
    expect(gate.view().down).toBeNull();
  });
});

describe("strategy:bounds against Redis", () => {
  it("the published bounds cap opening orders in process (max_qty), with the position and gross the order gives", async () => {
    const { t, raw, gate, publish } = await setup();
    await t.redis.hset(
      raw(MARKET_KEYS.strategyBounds),
      "momo",
      JSON.stringify({ max_order_notional: "19025", max_position: "1000", max_gross_notional: "5000000" }),
    );
    // The risk desk's stricter per-order notional wins over the configured one.
    await t.redis.hset(raw(MARKET_KEYS.strategyCaps), "momo", JSON.stringify({ max_notional: "9512.5" }));
    await publish();
    const r = await until(gate, (x) => codes(x).includes("strategy_position_unknown"));
    expect(codes(r)).toEqual(["strategy_position_unknown", "strategy_gross_unknown"]);
    const o = { ...buy, position: 980, grossNotional: 1_000_000 };
    expect(gate.check({ ...o, qty: 20 })).toEqual({ allow: true, reasons: [], maxQty: 20 });
    expect(gate.check({ ...o, qty: 21 }).reasons).toEqual([
      "max_qty: 21 exceeds the 20 allowed by strategy momo's max position of 1000 per symbol (position 980)",
    ]);
    expect(gate.check({ ...o, position: 0, qty: 51 }).reasons).toEqual([
      "max_qty: 51 exceeds the 50 allowed by strategy momo's caps",
    ]);
    expect(gate.check({ ...reducing, qty: 5_000 }).allow).toBe(true);
  });
});

describe("asset-class cutover against Redis (cutoverAssetClasses)", () => {
  const flag = JSON.stringify({ enabled: true, request_id: "g20261201T100000Z-3fa2c1", approved_by: "U2", at: since });

  it("refuses opening equities orders until cutover:equities is enabled, and again when it is not", async () => {
    const { t, raw, gate, publish } = await setup({ cutoverAssetClasses: ["equities"] });
    expect(gate.check(buy).reasons).toEqual([
      "asset_class_disabled: equities is not cut over (cutover:equities is absent); only reducing orders until `tradeguard cutover enable equities` is approved",
    ]);
    expect(gate.check(reducing).allow).toBe(true);
    expect(codes(gate.check({ ...buy, assetClass: undefined }))).toEqual(["asset_class_missing"]);
    expect(gate.check({ ...buy, assetClass: "crypto" }).allow).toBe(true);

    await t.redis.set(raw(MARKET_KEYS.cutover("equities")), flag);
    await publish();
    await until(gate, (x) => x.allow);
    expect(gate.view().flags.cutover.get("equities")).toEqual({
      enabled: true,
      requestId: "g20261201T100000Z-3fa2c1",
      approvedBy: "U2",
      at: since,
    });

    await t.redis.set(raw(MARKET_KEYS.cutover("equities")), "{truncated");
    await publish();
    const bad = await until(gate, (x) => !x.allow);
    expect(bad.reasons[0]).toMatch(
      /^asset_class_disabled: equities is not cut over \(cutover:equities is unreadable: not JSON\)/,
    );

    await t.redis.del(raw(MARKET_KEYS.cutover("equities")));
    await t.redis.hset(raw(MARKET_KEYS.cutover("equities")), "enabled", "true");
    await publish();
    const wrong = await until(gate, (x) => !x.allow && /WRONGTYPE/.test(x.reasons[0] ?? ""));
    expect(codes(wrong)).toEqual(["asset_class_disabled"]);
    expect(Object.keys(gate.view().unreadable)).toEqual(["cutover:equities"]);
  });

  it("a writer that does not PUBLISH is picked up by the periodic re-read (refreshMs)", async () => {
    const { t, raw, gate } = await setup({ cutoverAssetClasses: ["equities"], refreshMs: 100 });
    expect(gate.check(buy).allow).toBe(false);
    await t.redis.set(raw(MARKET_KEYS.cutover("equities")), flag);
    await until(gate, (x) => x.allow);
  });

  it("rejects asset class names that are not a key suffix", async () => {
    const t = testRedis();
    cleanups.push(() => t.cleanup());
    await expect(createGate({ url: t.url, prefix: t.prefix, cutoverAssetClasses: ["Equities"] })).rejects.toThrow(
      /cutoverAssetClasses: "Equities" is not an asset class name/,
    );
  });
});
