// strategy_caps guard (issue 15 §17): the configured bounds published to strategy:bounds (only what changed, then a
// flags message), and the allocator's weights checked against the bounds, the RL watchdog's floor and the event
// lock's cap — each rule at, just below and just above its threshold, exact decimals, malformed inputs. Through the
// runner against a real Redis: the bounds reach a gate and cap its orders; each change is audited once.
import { afterEach, describe, expect, it } from "vitest";
import { parseBounds } from "../../packages/gate/src/gate/strategy-flags.js";
import { createGate } from "../../src/gate/index.js";
import { type Finding, type FlagChange, ReadFailure } from "../../src/jobs/guard.js";
import { boundsJson, parseWeights, strategyCaps } from "../../src/jobs/strategy-caps.js";
import { MARKET_KEYS } from "../../src/state/keys.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const T0 = Date.parse("2026-11-25T16:00:00.000Z");
const cfg = strategyCaps.config.parse({
  strategies: {
    momo: { min_weight: 0.05, max_weight: "0.40", max_position: 1000, max_order_notional: "250000" },
    arb: { max_weight: 0.5, max_gross_notional: 5_000_000 },
  },
});
type V = Parameters<typeof strategyCaps.evaluate>[0]["values"];
const weights = (w: Record<string, string>, asOf = T0 - 60_000) =>
  JSON.stringify({ as_of: new Date(asOf).toISOString(), weights: w });
const published = Object.fromEntries(Object.entries(cfg.strategies).map(([s, b]) => [s, boundsJson(b)]));
const values = (over: Partial<V> = {}): V => ({
  weights: weights({ momo: "0.3", arb: "0.5" }),
  floor: null,
  lock: null,
  caps: {},
  published,
  ...over,
});
const run = (over: Partial<V> = {}, c = cfg, nowMs = T0) =>
  strategyCaps.evaluate({ values: values(over) }, new Date(nowMs), c);
const keys = (fs: Finding[]) => fs.map((f) => f.key).sort();
const actions = (fs: Finding[]): FlagChange[] => fs.flatMap((f) => f.actions ?? []);
const lock = (cap: number, exempt: string[] = [], until = T0 + 600_000) =>
  JSON.stringify({ event: "CPI 2026-11-25 08:30 ET", until: new Date(until).toISOString(), cap, exempt });

describe("strategy_caps config", () => {
  it("keeps decimals exact and canonical; validates bounds", () => {
    expect(cfg.strategies.momo).toEqual({
      min_weight: "0.05",
      max_weight: "0.4",
      max_position: "1000",
      max_order_notional: "250000",
    });
    expect(cfg).toMatchObject({ max_total_weight: "1", weights_max_age_ms: 900_000, future_tolerance_ms: 60_000 });
    const bad = (x: unknown) => strategyCaps.config.safeParse(x).success;
    expect(bad({ strategies: { m: { min_weight: 0.5, max_weight: 0.4 } } })).toBe(false);
    expect(bad({ strategies: { m: { max_weight: 1.01 } } })).toBe(false);
    expect(bad({ strategies: { m: { max_position: -1 } } })).toBe(false);
    expect(bad({ strategies: { m: { max_position: "1e3" } } })).toBe(false);
    expect(bad({ strategies: { "bad name": {} } })).toBe(false);
    expect(bad({ strategies: { m: { max_pos: 1 } } })).toBe(false);
    expect(bad({ weights_max_age: 1 })).toBe(false);
  });

  it("publishes exactly the format the gate reads", () => {
    expect(published.momo).toBe(
      '{"min_weight":"0.05","max_weight":"0.4","max_position":"1000","max_order_notional":"250000"}',
    );
    const parsed = parseBounds(published).get("momo");
    expect(parsed && "maxPosition" in parsed && parsed.maxPosition?.toFixed()).toBe("1000");
  });
});

describe("strategy_caps publishes the bounds to strategy:bounds", () => {
  const flagsMsg = { op: "publish", channel: "flags", message: "strategy:bounds" };

  it("writes every strategy when nothing is published, then nothing while it is in line", () => {
    const fs = run({ published: {} });
    expect(fs.find((f) => f.key === "strategy_caps:bounds_published")).toMatchObject({ severity: "info" });
    expect(actions(fs)).toEqual([{ op: "hset", key: "strategy:bounds", fields: published }, flagsMsg]);
    expect(actions(run())).toEqual([]);
  });

  it("rewrites only what changed and removes strategies no longer configured", () => {
    const fs = run({ published: { ...published, arb: '{"max_weight":"0.9"}', old: "{}" } });
    expect(actions(fs)).toEqual([
      { op: "hset", key: "strategy:bounds", fields: { arb: published.arb } },
      { op: "hdel", key: "strategy:bounds", fields: ["old"] },
      flagsMsg,
    ]);
  });

  it("replaces a value of the wrong type (the gates refuse every strategy meanwhile)", () => {
    const fs = run({ published: new ReadFailure("strategy:bounds", "wrong type (string)") });
    expect(fs.find((f) => f.key === "strategy_caps:bounds_invalid")?.severity).toBe("warn");
    expect(actions(fs)).toEqual([
      { op: "del", key: "strategy:bounds" },
      { op: "hset", key: "strategy:bounds", fields: published },
      flagsMsg,
    ]);
  });
});

describe("strategy_caps checks alloc:weights", () => {
  it("healthy weights within every bound: no finding", () => {
    expect(run()).toEqual([]);
  });

  it.each([
    ["0.4", []],
    ["0.4000000000000000000001", ["strategy_caps:weight:momo:max_weight"]],
    ["0.05", []],
    ["0.0499999", ["strategy_caps:weight:momo:min_weight"]],
  ])("momo weight %s → %o", (w, want) => {
    const fs = run({ weights: weights({ momo: w, arb: "0.5" }) });
    expect(keys(fs)).toEqual(want);
  });

  it("a violating weight is a finding naming the rule and its source", () => {
    const [f] = run({ weights: weights({ momo: "0.45", arb: "0.5" }) });
    expect(f).toMatchObject({
      severity: "critical",
      title: "Allocator weight of momo breaks max_weight: 0.45 > 0.4",
      value: "0.45",
      threshold: "≤ 0.4",
      sop: "sop-strategy-caps",
    });
    expect(f!.detail).toMatch(/^Rule max_weight \(guards\.strategy_caps\.strategies\.momo\.max_weight\)/);
  });

  it("the RL watchdog's floor: every strategy (configured or weighted; absent = 0) keeps at least it", () => {
    const w = weights({ momo: "0.05", arb: "0.0499", extra: "0.06" });
    expect(keys(run({ weights: w, floor: "0.05" }))).toEqual(["strategy_caps:weight:arb:policy_floor"]);
    expect(keys(run({ weights: weights({ momo: "0.3" }), floor: "0.05" }))).toEqual([
      "strategy_caps:weight:arb:policy_floor",
    ]);
    expect(run({ weights: weights({ momo: "0.3" }), floor: "0.05" })[0]?.value).toBe("0 (absent)");
    expect(keys(run({ weights: w }))).toEqual([]); // no floor set: the policy is healthy
    expect(keys(run({ floor: "lots" }))).toEqual(["strategy_caps:floor_unreadable"]);
  });

  it("the event lock's cap: cap × max_weight (× 1 without one) while in force, unless exempt", () => {
    // momo: 25% of 0.4 = 0.1; arb: 25% of 0.5 = 0.125; extra (no bounds): 25% of a full weight.
    const at = (m: string, a = "0.125", x = "0.25") => weights({ momo: m, arb: a, extra: x });
    expect(keys(run({ weights: at("0.1"), lock: lock(0.25) }))).toEqual([]);
    expect(keys(run({ weights: at("0.1000001"), lock: lock(0.25) }))).toEqual(["strategy_caps:weight:momo:event_lock"]);
    expect(keys(run({ weights: at("0.1", "0.126", "0.2501"), lock: lock(0.25) }))).toEqual([
      "strategy_caps:weight:arb:event_lock",
      "strategy_caps:weight:extra:event_lock",
    ]);
    // Exempt by name, or by a tag in strategy:caps (as the gate matches it); an expired lock does nothing.
    const big = at("0.3", "0.5", "0.2");
    expect(
      keys(run({ weights: big, lock: lock(0.25, ["momo", "basis"]), caps: { arb: '{"tags":["basis"]}' } })),
    ).toEqual([]);
    expect(keys(run({ weights: big, lock: lock(0.25, [], T0) }))).toEqual([]);
    expect(keys(run({ weights: big, lock: "{oops" }))).toEqual(["strategy_caps:event_lock_unreadable"]);
  });

  it("says when the floor and the lock cannot both hold", () => {
    const c = strategyCaps.config.parse({ strategies: { tiny: { max_weight: "0.1" } } });
    const fs = run({ weights: weights({ tiny: "0.05" }), floor: "0.05", lock: lock(0.25), published: {} }, c);
    const f = fs.find((x) => x.key === "strategy_caps:weight:tiny:event_lock");
    expect(f?.detail).toMatch(/No weight satisfies both the policy floor 0\.05 and the event-lock limit 0\.025/);
  });

  it("the total: at most max_total_weight, exactly", () => {
    expect(keys(run({ weights: weights({ momo: "0.4", arb: "0.5", x: "0.1" }) }))).toEqual([]);
    const over = run({ weights: weights({ momo: "0.4", arb: "0.5", x: "0.1000000001" }) });
    expect(keys(over)).toEqual(["strategy_caps:weights_total"]);
    expect(over[0]).toMatchObject({ severity: "critical", value: "1.0000000001" });
  });

  it("long-digit weights are summed and scaled exactly (decimal.js's 20 digits would round the breach away)", () => {
    const c = strategyCaps.config.parse({ strategies: { m: { max_weight: "0.99999999999999999999999" } } });
    const pub = { m: boundsJson(c.strategies.m!) };
    // 0.5 + 0.500000000000000000001 = 1.000000000000000000001 > 1 (at 20 digits: 1.0000000000000000000).
    const total = run({ weights: weights({ m: "0.5", n: "0.500000000000000000001" }), published: pub }, c);
    expect(keys(total)).toEqual(["strategy_caps:weights_total"]);
    expect(total[0]!.value).toBe("1.000000000000000000001");
    // 50% of 0.99999999999999999999999 is 0.499999999999999999999995 < 0.5 (at 20 digits: 0.5, no breach).
    const locked = run({ weights: weights({ m: "0.5" }), lock: lock(0.5), published: pub }, c);
    expect(keys(locked)).toEqual(["strategy_caps:weight:m:event_lock"]);
    expect(locked[0]!.threshold).toBe("≤ 0.499999999999999999999995");
    expect(
      keys(run({ weights: weights({ m: "0.499999999999999999999995" }), lock: lock(0.5), published: pub }, c)),
    ).toEqual([]);
  });

  it.each([
    [null, "strategy_caps:weights_missing", "warn"],
    ["not json", "strategy_caps:weights_invalid", "critical"],
    [JSON.stringify({ weights: { momo: "0.3" } }), "strategy_caps:weights_invalid", "critical"],
    [JSON.stringify({ as_of: "yesterday", weights: {} }), "strategy_caps:weights_invalid", "critical"],
    [weights({ momo: "0.3" }, T0 + 61_000), "strategy_caps:weights_invalid", "critical"],
    [new ReadFailure("alloc:weights", "wrong type (hash)"), "strategy_caps:weights_invalid", "critical"],
  ])("malformed alloc:weights %s → %s", (raw, key, severity) => {
    const fs = run({ weights: raw as V["weights"] });
    expect(fs.map((f) => [f.key, f.severity])).toEqual([[key, severity]]);
  });

  it("an unreadable entry is named; the other weights are still checked", () => {
    const fs = run({ weights: weights({ momo: "0.9", arb: "-0.1", c: "1.5", d: "abc" }) });
    expect(keys(fs)).toEqual(["strategy_caps:weight:momo:max_weight", "strategy_caps:weights_invalid"]);
    expect(fs.find((f) => f.key === "strategy_caps:weights_invalid")?.detail).toMatch(
      /^arb: "-0.1"; c: "1.5"; d: "abc"/,
    );
  });

  it.each([
    [T0 - 900_000, false],
    [T0 - 900_001, true],
  ])("as_of %s → stale %s (15 min)", (asOf, stale) => {
    const fs = run({ weights: weights({ momo: "0.3", arb: "0.5" }, asOf) });
    expect(keys(fs)).toEqual(stale ? ["strategy_caps:weights_stale"] : []);
    expect(parseWeights(weights({}, asOf), T0, cfg)).toMatchObject({ asOf });
  });
});

describe("strategy_caps through the runner (real Redis)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("publishes the bounds once (audited), a gate enforces them, and weights are judged", async () => {
    const now = Date.parse("2026-11-25T11:00:00-05:00");
    t = await testRuntime({
      yaml: "guards:\n  strategy_caps:\n    strategies:\n      momo: { max_weight: 0.4, max_position: 1000 }\n",
      guards: [strategyCaps],
      now: () => new Date(now),
    });
    const { rt } = t;
    const raw = (n: string) => rt.keys.raw(n);
    await rt.redis.set(raw("heartbeat:bot"), String(now));
    const gate = await createGate({
      redis: rt.redis,
      prefix: rt.keys.prefix,
      now: () => now,
      pdtRequired: false,
      refreshMs: 60_000,
    });
    try {
      const order = {
        broker: "paper",
        account: "A",
        strategy: "momo",
        symbol: "AAPL",
        side: "buy" as const,
        qty: 10,
        price: 10,
      };
      expect(gate.check(order).allow).toBe(true);
      await rt.redis.set(raw("alloc:weights"), weights({ momo: "0.41" }, now - 1_000));
      const r = await rt.guards.runOnce({ guard: "strategy_caps" });
      expect(r.findings.map((f) => f.key).sort()).toEqual([
        "strategy_caps:bounds_published",
        "strategy_caps:weight:momo:max_weight",
      ]);
      expect(await rt.redis.hgetall(raw(MARKET_KEYS.strategyBounds))).toEqual({
        momo: '{"max_weight":"0.4","max_position":"1000"}',
      });
      // The guard's flags message makes the gate re-read at once.
      await expect.poll(() => gate.check({ ...order, position: 995 }).maxQty, { timeout: 5_000, interval: 5 }).toBe(5);
      expect(gate.check(order).reasons[0]).toMatch(/^strategy_position_unknown:/);
      await rt.guards.runOnce({ guard: "strategy_caps" });
      const audit = (await rt.redis.xrange(rt.keys.auditLog, "-", "+")).map((e) => JSON.parse(e[1][1]!));
      const changes = audit.filter((e) => e.action === "flag.changed" && e.details.key === "strategy:bounds");
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ actor: "guard:strategy_caps", details: { op: "hset" } });
      expect((await rt.alerts.open()).map((a) => a.key)).toEqual(["strategy_caps:weight:momo:max_weight"]);
    } finally {
      await gate.close();
    }
  });
});
