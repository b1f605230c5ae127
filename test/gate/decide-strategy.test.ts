// The gate's new per-strategy and per-asset-class rules, decided from flags (no Redis): strategy:reduce_only and
// strategy:blocked (reducing orders always pass), the configured bounds of strategy:bounds (per order, per symbol,
// gross; the stricter of them and strategy:caps wins; the event lock scales them) and asset-class cutover. Each
// threshold at, just below and just above; unreadable values always make the gate stricter.
import { describe, expect, it } from "vitest";
import { decide } from "../../packages/gate/src/gate/decide.js";
import { DecideCache } from "../../packages/gate/src/gate/decide-cache.js";
import type { DecideOptions, OrderCheck } from "../../packages/gate/src/gate/decide-types.js";
import {
  emptyFlags,
  type GateFlags,
  parseCaps,
  parseEventLock,
  parseMode,
  parsePdt,
} from "../../packages/gate/src/gate/flags.js";
import { parseBounds, parseCutover, parseRestrictions } from "../../packages/gate/src/gate/strategy-flags.js";

/** Wednesday 2026-11-25, 11:00 New York: a regular session. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const opts: DecideOptions = {
  heartbeatMaxAgeMs: 15_000,
  quoteMaxAgeMs: 2_000,
  pdtRegime: "pdt_4210",
  marketRulesBrokers: null,
  allowExtendedHours: false,
};
const up = { loaded: true, down: null, downMode: "halt" as const };
const flags = (over: Partial<GateFlags> = {}): GateFlags => ({
  ...emptyFlags(),
  ...parseMode(null, {}),
  heartbeatMs: NOW - 1_000,
  pdt: parsePdt({ A1: JSON.stringify({ equity: "50000", updated_at: new Date(NOW - 60_000).toISOString() }) }),
  ...over,
});
const order = (o: Partial<OrderCheck> = {}): OrderCheck => ({
  broker: "alpaca",
  account: "A1",
  strategy: "mm",
  symbol: "AAPL",
  side: "buy",
  qty: 100,
  price: 190.25,
  ...o,
});
const run = (o: Partial<OrderCheck>, f: GateFlags, opt: Partial<DecideOptions> = {}) =>
  decide(order(o), f, NOW, { ...opts, ...opt }, up, new DecideCache());
const codes = (r: { reasons: string[] }) => r.reasons.map((s) => s.slice(0, s.indexOf(":")));
const sellReducing = { side: "sell" as const, reduceOnly: true };
const since = new Date(NOW - 60_000).toISOString();
const wrongType = (key: string) =>
  new Map([[key, "WRONGTYPE Operation against a key holding the wrong kind of value"]]);

describe("strategy:reduce_only and strategy:blocked (contracts 1 and 2)", () => {
  const ro = parseRestrictions({
    mm: JSON.stringify({ reason: "error budget of SLO order_ack is spent", source: "error_budget:order_ack", since }),
    bad: "{oops",
  });
  const blocked = parseRestrictions({
    mm: JSON.stringify({ reason: "feature schema mismatch: model m7 …", source: "feature_schema", since }),
    late: JSON.stringify({ reason: "x", source: "feature_schema", since: "yesterday" }),
  });

  it("refuses the strategy's opening orders with the writer's reason; reducing orders and other strategies pass", () => {
    expect(run({}, flags({ reduceOnly: ro })).reasons).toEqual([
      "strategy_reduce_only: error budget of SLO order_ack is spent",
    ]);
    expect(run({}, flags({ blocked })).reasons).toEqual(["strategy_blocked: feature schema mismatch: model m7 …"]);
    expect(codes(run({}, flags({ blocked, reduceOnly: ro })))).toEqual(["strategy_blocked", "strategy_reduce_only"]);
    expect(run(sellReducing, flags({ blocked, reduceOnly: ro })).allow).toBe(true);
    expect(run({ strategy: "other" }, flags({ blocked, reduceOnly: ro })).allow).toBe(true);
    // A short sale never reduces.
    expect(codes(run({ side: "sell_short", reduceOnly: true, symbol: "AAPL" }, flags({ blocked })))).toContain(
      "strategy_blocked",
    );
  });

  it("an unreadable entry restricts its strategy; the whole key of the wrong type restricts every strategy", () => {
    expect(run({ strategy: "bad" }, flags({ reduceOnly: ro })).reasons).toEqual([
      "strategy_reduce_only: strategy:reduce_only entry of bad is unreadable (not JSON); only reducing orders",
    ]);
    expect(run({ strategy: "late" }, flags({ blocked })).reasons[0]).toMatch(
      /^strategy_blocked: strategy:blocked entry of late is unreadable \(since: /,
    );
    const f = flags({ unreadable: wrongType("strategy:blocked") });
    expect(run({ strategy: "anyone" }, f).reasons).toEqual([
      "strategy_blocked: strategy:blocked is unreadable (WRONGTYPE Operation against a key holding the wrong kind of value); only reducing orders for every strategy",
    ]);
    expect(run(sellReducing, f).allow).toBe(true);
    expect(codes(run({}, flags({ unreadable: wrongType("strategy:reduce_only") })))).toEqual(["strategy_reduce_only"]);
  });
});

describe("strategy:bounds — max_order_notional (qty × price ≤ N, exact)", () => {
  // 19025 / 190.25 = 100 exactly.
  const bounds = parseBounds({ mm: JSON.stringify({ max_order_notional: "19025" }) });
  it.each([
    [99, true, "just below"],
    [100, true, "at the cap: 100 × 190.25 = 19025"],
    [101, false, "just above"],
  ])("qty %i → allowed %s (%s)", (qty, ok) => {
    const r = run({ qty }, flags({ bounds }));
    expect(r).toMatchObject({ allow: ok, maxQty: 100 });
    if (!ok)
      expect(r.reasons).toEqual([
        "max_qty: 101 exceeds the 100 allowed by strategy mm's max order notional of 19025 at 190.25",
      ]);
  });

  it("the stricter of strategy:caps max_notional and strategy:bounds wins, whichever it is", () => {
    const caps = parseCaps({ mm: JSON.stringify({ max_notional: "9512.5" }) }); // 50 shares
    expect(run({ qty: 51 }, flags({ bounds, caps }))).toMatchObject({ allow: false, maxQty: 50 });
    expect(run({ qty: 51 }, flags({ bounds, caps })).reasons[0]).toMatch(/strategy mm's caps$/);
    const loose = parseCaps({ mm: JSON.stringify({ max_notional: "1000000", max_qty: 5000 }) });
    expect(run({ qty: 101 }, flags({ bounds, caps: loose })).reasons[0]).toMatch(/max order notional of 19025/);
  });

  it("reducing orders are not capped", () => {
    expect(run({ ...sellReducing, qty: 10_000 }, flags({ bounds })).allow).toBe(true);
  });
});

describe("strategy:bounds — max_position per symbol (|position after| ≤ P)", () => {
  const bounds = parseBounds({ mm: JSON.stringify({ max_position: "1000" }) });
  it.each([
    [{ position: 900, qty: 99 }, true, 100, "long 900, buy just below the room"],
    [{ position: 900, qty: 100 }, true, 100, "long 900, buy to exactly 1000"],
    [{ position: 900, qty: 101 }, false, 100, "long 900, buy to 1001"],
    [{ position: 1000, qty: 1 }, false, 0, "at the cap: no room left"],
    [{ position: 1200, qty: 1 }, false, 0, "over the cap (e.g. the bound was lowered): no room"],
    [{ position: -300, qty: 1300 }, true, 1300, "short 300: buys back 300 and opens 1000"],
    [{ position: -300, qty: 1301 }, false, 1300, "short 300: 1301 ends long 1001"],
    [{ position: 900, qty: 1900, side: "sell" as const }, true, 1900, "long 900, sell through zero to short 1000"],
    [{ position: 900, qty: 1901, side: "sell" as const }, false, 1900, "one more unit is short 1001"],
    [{ position: -1000, qty: 1, side: "sell_short" as const, symbol: "X" }, false, 0, "short at the cap"],
  ] as [Partial<OrderCheck>, boolean, number, string][])("%o → allowed %s, maxQty %i (%s)", (o, ok, max) => {
    const r = run({ ...o, symbol: o.symbol ?? "AAPL" }, flags({ bounds, etb: new Map([["X", NOW]]) }));
    expect(r.maxQty).toBe(max);
    expect(r.allow).toBe(ok);
    if (!ok) expect(codes(r)).toEqual(["max_qty"]);
  });

  it("names the cap; refuses opening orders that do not say their position; fractional positions are exact", () => {
    expect(run({ position: 1000, qty: 5 }, flags({ bounds })).reasons).toEqual([
      "max_qty: 5 exceeds the 0 allowed by strategy mm's max position of 1000 per symbol (position 1000)",
    ]);
    expect(run({}, flags({ bounds })).reasons).toEqual([
      "strategy_position_unknown: strategy mm has a max position of 1000 per symbol (strategy:bounds); pass position (its signed position in AAPL before this order)",
    ]);
    expect(codes(run({ position: Number.NaN }, flags({ bounds })))).toEqual(["strategy_position_unknown"]);
    expect(run({ ...sellReducing }, flags({ bounds })).allow).toBe(true);
    // 1000 − 0.3 = 999.7 → 999 whole units (0.3 is the decimal 0.3, not 0.29999999999999998).
    const frac = parseBounds({ mm: JSON.stringify({ max_position: "1000.3" }) });
    expect(run({ position: 0.3, qty: 1000 }, flags({ bounds: frac }))).toMatchObject({ allow: true, maxQty: 1000 });
    expect(run({ position: 0.30000000000000004, qty: 1000 }, flags({ bounds: frac })).maxQty).toBe(999);
  });
});

describe("strategy:bounds — max_gross_notional (the order may raise gross by at most G − g)", () => {
  // Room of 19025 = 100 shares at 190.25.
  const bounds = parseBounds({ mm: JSON.stringify({ max_gross_notional: "1019025" }) });
  it.each([
    [{ grossNotional: 1_000_000, qty: 100 }, true, 100, "room for exactly 100"],
    [{ grossNotional: 1_000_000, qty: 101 }, false, 100, "one share too many"],
    [{ grossNotional: 1_000_000.01, qty: 100 }, false, 99, "a cent less room: 99"],
    [{ grossNotional: 1_019_025, qty: 1 }, false, 0, "at the cap"],
    [{ grossNotional: 2_000_000, qty: 1 }, false, 0, "over the cap"],
    [{ grossNotional: 1_000_000, position: -50, qty: 200 }, true, 200, "short 50: 100 turn it around, 100 open"],
    [{ grossNotional: 1_000_000, position: -50, qty: 201 }, false, 200, "short 50: 201 raises gross by 101 shares"],
    [{ grossNotional: 2_000_000, position: -50, qty: 100 }, true, 100, "over the cap: 100 only turn short 50 long 50"],
    [{ grossNotional: 1_000_000, position: 50, qty: 101 }, false, 100, "long 50: every unit bought opens"],
  ] as [Partial<OrderCheck>, boolean, number, string][])("%o → allowed %s, maxQty %i (%s)", (o, ok, max) => {
    const r = run(o, flags({ bounds }));
    expect(r.maxQty).toBe(max);
    expect(r.allow).toBe(ok);
  });

  it("refuses opening orders that do not say the strategy's gross notional; names the cap", () => {
    expect(codes(run({}, flags({ bounds })))).toEqual(["strategy_gross_unknown"]);
    expect(codes(run({ grossNotional: -1 }, flags({ bounds })))).toEqual(["strategy_gross_unknown"]);
    expect(run({ grossNotional: 1_000_000, qty: 101 }, flags({ bounds })).reasons).toEqual([
      "max_qty: 101 exceeds the 100 allowed by strategy mm's max gross notional of 1019025 (gross 1000000, at 190.25)",
    ]);
  });
});

describe("strategy:bounds — unreadable, combined, and under the event lock", () => {
  it("an unreadable entry refuses its strategy; the whole key of the wrong type refuses every strategy", () => {
    const bounds = parseBounds({ mm: JSON.stringify({ max_position: "-5" }), other: "nope" });
    expect(run({ position: 0 }, flags({ bounds })).reasons[0]).toMatch(
      /^strategy_bounds_invalid: strategy:bounds entry of mm is unreadable \(max_position: /,
    );
    expect(codes(run({ strategy: "other" }, flags({ bounds })))).toEqual(["strategy_bounds_invalid"]);
    const f = flags({ unreadable: wrongType("strategy:bounds") });
    expect(codes(run({ strategy: "anyone" }, f))).toEqual(["strategy_bounds_invalid"]);
    expect(run(sellReducing, f).allow).toBe(true);
  });

  it("the smallest of all caps wins and is named", () => {
    const bounds = parseBounds({
      mm: JSON.stringify({ max_order_notional: "190250", max_position: "500", max_gross_notional: "10000000" }),
    });
    const o = { position: 450, grossNotional: 0, qty: 60 };
    expect(run(o, flags({ bounds }))).toMatchObject({ allow: false, maxQty: 50 });
    expect(run(o, flags({ bounds })).reasons[0]).toMatch(/max position of 500/);
  });

  it("the event lock scales every bound by its cap; a strategy with only bounds is limited, not refused", () => {
    const lock = parseEventLock(
      JSON.stringify({ event: "FOMC", until: new Date(NOW + 600_000).toISOString(), cap: 0.25, exempt: ["basis"] }),
    );
    const bounds = parseBounds({
      mm: JSON.stringify({ max_position: "1000" }),
      arb: JSON.stringify({ max_position: "1000" }),
    });
    const caps = parseCaps({ arb: JSON.stringify({ tags: ["basis"] }) });
    const r = run({ position: 200, qty: 51 }, flags({ bounds, caps, eventLock: lock }));
    expect(r).toMatchObject({ allow: false, maxQty: 50 }); // 25% of 1000 = 250, long 200
    expect(r.reasons[0]).toMatch(/FOMC event lock \(25% of strategy mm's limit\)/);
    expect(run({ position: 200, qty: 50 }, flags({ bounds, caps, eventLock: lock })).allow).toBe(true);
    // Exempt by tag: the normal bound.
    expect(run({ strategy: "arb", position: 200, qty: 800 }, flags({ bounds, caps, eventLock: lock })).allow).toBe(
      true,
    );
    // No limit in either: no new exposure, as before.
    expect(codes(run({ strategy: "none" }, flags({ bounds, caps, eventLock: lock })))).toEqual(["event_lock"]);
  });
});

describe("asset-class cutover (contract 3)", () => {
  const classes = new Set(["equities"]);
  const state = (raw: string | null) => new Map([["equities", parseCutover("cutover:equities", raw)]]);
  const enabled = JSON.stringify({ enabled: true, request_id: "g1", approved_by: "U2", at: since });

  it("an opening order of a listed class needs the class cut over; reducing orders always pass", () => {
    const eq = { assetClass: "equities" };
    expect(run(eq, flags({ cutover: state(enabled) }), { cutoverAssetClasses: classes }).allow).toBe(true);
    const off = run(eq, flags({ cutover: state(null) }), { cutoverAssetClasses: classes });
    expect(off.reasons).toEqual([
      "asset_class_disabled: equities is not cut over (cutover:equities is absent); only reducing orders until `tradeguard cutover enable equities` is approved",
    ]);
    expect(
      run({ ...eq, ...sellReducing }, flags({ cutover: state(null) }), { cutoverAssetClasses: classes }).allow,
    ).toBe(true);
    // Spelling is not a way around it.
    expect(
      codes(run({ assetClass: "Equities" }, flags({ cutover: state(null) }), { cutoverAssetClasses: classes })),
    ).toEqual(["asset_class_disabled"]);
  });

  it.each([
    [JSON.stringify({ enabled: false }), "cutover:equities has enabled: false"],
    ["{oops", "cutover:equities is unreadable: not JSON"],
    [JSON.stringify({ enabled: true }), "cutover:equities is unreadable: request_id: "],
    [
      JSON.stringify({ enabled: "yes", request_id: "g1", approved_by: "U2", at: since }),
      "cutover:equities is unreadable",
    ],
  ])("%s → not cut over (%s)", (raw, why) => {
    const r = run({ assetClass: "equities" }, flags({ cutover: state(raw) }), { cutoverAssetClasses: classes });
    expect(r.allow).toBe(false);
    expect(r.reasons[0]).toContain(`equities is not cut over (${why}`);
  });

  it("an order that names no class is refused by a gate that enforces a cutover; other classes are not gated", () => {
    const f = flags({ cutover: state(null) });
    expect(run({}, f, { cutoverAssetClasses: classes }).reasons).toEqual([
      "asset_class_missing: this gate enforces the cutover of equities (cutoverAssetClasses) and the order names no assetClass; only reducing orders",
    ]);
    expect(run(sellReducing, f, { cutoverAssetClasses: classes }).allow).toBe(true);
    expect(run({ assetClass: "crypto" }, f, { cutoverAssetClasses: classes }).allow).toBe(true);
    // Without the option nothing changes for anyone.
    expect(run({}, f).allow).toBe(true);
  });
});
