// The gate against a real redis-server: what trading processes see when tradeguard changes a flag.
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGate, type Gate, MARKET_KEYS, type OrderCheck } from "../../src/gate/index.js";
import { ModeStore } from "../../src/state/mode.js";
import { startRedisServer } from "../support/global-setup.js";
import { testRedis } from "../support/redis.js";

/** Wednesday 2026-11-25, 11:00 New York: a regular session. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const buy: OrderCheck = {
  broker: "alpaca",
  account: "A1",
  strategy: "mm",
  symbol: "AAPL",
  side: "buy",
  qty: 10,
  price: 190.25,
};
const codes = (r: { reasons: string[] }) => r.reasons.map((s) => s.slice(0, s.indexOf(":")));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function setup(opts: Parameters<typeof createGate>[0] = {}) {
  const t = testRedis();
  const raw = (n: string) => t.keys.raw(n);
  await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW));
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
  return { t, raw, gate };
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

describe("createGate against Redis", () => {
  it("with nothing set (mode absent = active) and a fresh heartbeat, allows orders in the session", async () => {
    const { gate } = await setup();
    expect(gate.check(buy)).toEqual({ allow: true, reasons: [] });
    expect(gate.view()).toMatchObject({
      loaded: true,
      down: null,
      mode: "active",
      effectiveMode: "active",
      deadMansSwitch: false,
    });
  });

  it("a halt set by ModeStore (SET + PUBLISH in one script) reaches the gate; a resume does too", async () => {
    const { t, gate } = await setup({ pollMs: 60_000 });
    const store = new ModeStore(t.redis, t.keys);
    await store.set("halt", { reason: "drill", actor: "U1" });
    const r = await until(gate, (x) => !x.allow);
    expect(r.reasons).toEqual(["mode_halt: trading is halted (drill — U1)"]);
    await store.set("reduce_only", { reason: "soak", actor: "U2" });
    await until(gate, (x) => codes(x).includes("mode_reduce_only"));
    expect(gate.check({ ...buy, side: "sell", reduceOnly: true }).allow).toBe(true);
    await store.set("active", { reason: "soak over", actor: "tradeguard" });
    await until(gate, (x) => x.allow);
  });

  it("answers from memory: no Redis command per check()", async () => {
    const t = testRedis();
    cleanups.push(() => t.cleanup());
    await t.redis.set(t.keys.raw(MARKET_KEYS.heartbeat), String(NOW));
    const reader = t.connect();
    const gate = await createGate({
      redis: reader,
      prefix: t.prefix,
      now: () => NOW,
      pollMs: 3_600_000,
      refreshMs: 3_600_000,
    });
    cleanups.push(() => gate.close());
    let commands = 0;
    const send = reader.sendCommand.bind(reader);
    reader.sendCommand = ((...a: Parameters<typeof send>) => {
      commands++;
      return send(...a);
    }) as typeof reader.sendCommand;
    for (let i = 0; i < 10_000; i++) gate.check({ ...buy, qty: 1 + (i % 7) });
    expect(commands).toBe(0);
  });

  it("a flag written with a PUBLISH on `flags` is seen at once (LULD pause, Rule 201 with the NBB from md:quote)", async () => {
    const { t, raw, gate } = await setup({ pollMs: 60_000 });
    await t.redis.hset(
      raw(MARKET_KEYS.luldPaused),
      "AAPL",
      JSON.stringify({ since: "x", until: new Date(NOW + 300_000).toISOString(), side: "down" }),
    );
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const r = await until(gate, (x) => !x.allow);
    expect(codes(r)).toEqual(["luld_pause"]);

    await t.redis.zadd(raw(MARKET_KEYS.etb), String(NOW - 60_000), "GME");
    await t.redis.hset(
      raw(MARKET_KEYS.ssrActive),
      "GME",
      JSON.stringify({ triggered_at: "x", until: new Date(NOW + 3600_000).toISOString(), source: "trade" }),
    );
    await t.redis.hset(raw(MARKET_KEYS.quote("GME")), { bid: "20.00", ask: "20.02", ts: String(NOW - 100) });
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const short: OrderCheck = { ...buy, symbol: "GME", side: "sell_short", price: 20.0 };
    const s = await until(gate, (x) => codes(x).includes("ssr_price_test"), short);
    expect(codes(s)).toEqual(["ssr_price_test"]);
    expect(gate.check({ ...short, price: 20.01 }).allow).toBe(true);
    // The trading process's own, newer NBB wins over md:quote.
    gate.updateQuote("GME", { bid: 20.05, ts: NOW });
    expect(codes(gate.check({ ...short, price: 20.01 }))).toEqual(["ssr_price_test"]);
  });

  it("an invalid mode value is halt; a stale heartbeat is the dead-man's switch (reduce-only)", async () => {
    const { t, raw, gate } = await setup();
    await t.redis.set(raw(MARKET_KEYS.mode), "paused");
    await until(gate, (x) => codes(x).includes("mode_invalid"));
    await t.redis.del(raw(MARKET_KEYS.mode));
    await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW - 60_000));
    const r = await until(gate, (x) => codes(x).includes("dead_mans_switch"));
    expect(r.reasons).toEqual([
      "dead_mans_switch: heartbeat:bot is 60 s old (limit 15 s); failing safe to reduce-only",
    ]);
    expect(gate.check({ ...buy, side: "sell", reduceOnly: true }).allow).toBe(true);
    expect(gate.view()).toMatchObject({ deadMansSwitch: true, effectiveMode: "reduce_only" });
  });

  it("Redis going away turns into redis_unreachable (halt), and the gate recovers when it is back", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const seed = new Redis(srv.url);
    await seed.set("heartbeat:bot", String(NOW));
    seed.disconnect();
    const gate = await createGate({ url: srv.url, now: () => NOW, pollMs: 50 });
    cleanups.push(() => gate.close());
    expect(gate.check(buy).allow).toBe(true);
    await srv.stop();
    const r = await until(gate, (x) => !x.allow);
    expect(codes(r)).toEqual(["redis_unreachable"]);
    expect(gate.view().effectiveMode).toBe("halt");
    // The same port again, empty: the gate reconnects, re-subscribes, re-reads — and the heartbeat is gone now.
    const again = spawn(
      "redis-server",
      ["--port", String(srv.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    cleanups.push(async () => {
      again.kill("SIGTERM");
    });
    const back = await until(gate, (x) => !codes(x).includes("redis_unreachable"));
    expect(codes(back)).toEqual(["dead_mans_switch"]);
  });

  it("created while Redis is unreachable: returns after readyTimeoutMs and refuses (not_ready)", async () => {
    const gate = await createGate({ url: "redis://127.0.0.1:1", now: () => NOW, readyTimeoutMs: 200 });
    cleanups.push(() => gate.close());
    expect(codes(gate.check(buy))).toEqual(["not_ready"]);
  });
});
