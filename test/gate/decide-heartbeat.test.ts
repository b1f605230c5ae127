// The dead-man's switch against a heartbeat from the future (issue 10): a `heartbeat:bot` more than the allowed clock
// skew ahead of the gate's clock is invalid and fails safe to reduce-only, like a stale one.
import { describe, expect, it } from "vitest";
import { decide } from "../../packages/gate/src/gate/decide.js";
import { DecideCache } from "../../packages/gate/src/gate/decide-cache.js";
import type { Connectivity, DecideOptions, OrderCheck } from "../../packages/gate/src/gate/decide-types.js";
import { emptyFlags, type GateFlags, parseMode, parsePdt } from "../../packages/gate/src/gate/flags.js";
import { effectiveMode } from "../../packages/gate/src/gate/rules-mode.js";

/** Wednesday 2026-11-25, 11:00 New York: a regular session. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const opts: DecideOptions = {
  heartbeatMaxAgeMs: 15_000,
  quoteMaxAgeMs: 2_000,
  pdtRegime: "pdt_4210",
  marketRulesBrokers: null,
  allowExtendedHours: false,
};
const up: Connectivity = { loaded: true, down: null, downMode: "halt" };
const order: OrderCheck = {
  broker: "alpaca",
  account: "A1",
  strategy: "mm",
  symbol: "AAPL",
  side: "buy",
  qty: 100,
  price: 190.25,
};
const flags = (heartbeatMs: number | null): GateFlags => ({
  ...emptyFlags(),
  ...parseMode(null, {}),
  heartbeatMs,
  pdt: parsePdt({ A1: JSON.stringify({ equity: "50000", updated_at: new Date(NOW - 60_000).toISOString() }) }),
});
const run = (hb: number | null, o: Partial<OrderCheck> = {}, opt: Partial<DecideOptions> = {}) =>
  decide({ ...order, ...o }, flags(hb), NOW, { ...opts, ...opt }, up, new DecideCache());

describe("dead-man's switch: heartbeat:bot in the future (default heartbeatMaxSkewMs 5 000)", () => {
  it.each([
    [NOW + 4_999, false, "just below the skew"],
    [NOW + 5_000, false, "at the skew: still accepted"],
    [NOW + 5_001, true, "just above the skew: invalid"],
  ])("heartbeat %s → dead-man's switch = %s (%s)", (hb, dms) => {
    const e = effectiveMode(flags(hb), up, NOW, opts.heartbeatMaxAgeMs);
    expect(e).toMatchObject({ deadMansSwitch: dms, mode: dms ? "reduce_only" : "active", hbAge: NOW - hb });
    const r = run(hb);
    expect(r.allow).toBe(!dms);
    if (dms)
      expect(r.reasons).toEqual([
        "dead_mans_switch: heartbeat:bot is 5.001 s in the future (more than the 5 s allowed clock skew); failing safe to reduce-only",
      ]);
    expect(run(hb, { side: "sell", reduceOnly: true }).allow).toBe(true);
  });

  it("the skew is an option (effectiveMode's fifth argument, DecideOptions.heartbeatMaxSkewMs)", () => {
    expect(effectiveMode(flags(NOW + 1_000), up, NOW, 15_000, 1_000).deadMansSwitch).toBe(false);
    expect(effectiveMode(flags(NOW + 1_001), up, NOW, 15_000, 1_000).deadMansSwitch).toBe(true);
    expect(effectiveMode(flags(NOW + 1), up, NOW, 15_000, 0).deadMansSwitch).toBe(true);
    expect(run(NOW + 1_001, {}, { heartbeatMaxSkewMs: 1_000 }).reasons).toEqual([
      "dead_mans_switch: heartbeat:bot is 1.001 s in the future (more than the 1 s allowed clock skew); failing safe to reduce-only",
    ]);
    expect(run(NOW + 60_000, {}, { heartbeatMaxSkewMs: 120_000 }).allow).toBe(true);
  });

  it("far in the future: the reason counts days (a year-2100 heartbeat must not keep the switch open)", () => {
    const y2100 = Date.parse("2100-01-01T00:00:00Z");
    expect(run(y2100).reasons).toEqual([
      `dead_mans_switch: heartbeat:bot is ${Math.floor((y2100 - NOW) / 86_400_000)} days in the future (more than the 5 s allowed clock skew); failing safe to reduce-only`,
    ]);
  });

  it("a past heartbeat still follows heartbeatMaxAgeMs; an unreadable one says so", () => {
    expect(run(NOW - 15_000).allow).toBe(true);
    expect(run(NOW - 15_001).reasons[0]).toMatch(/^dead_mans_switch: heartbeat:bot is 15 s old \(limit 15 s\)/);
    const invalid = { ...flags(null), heartbeatInvalid: "it holds a hash (wrong type)" };
    expect(decide(order, invalid, NOW, opts, up, new DecideCache()).reasons).toEqual([
      "dead_mans_switch: heartbeat:bot is unreadable (it holds a hash (wrong type)); failing safe to reduce-only",
    ]);
  });
});
