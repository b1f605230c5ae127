import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "../../packages/gate/src/gate/decide.js";
import { DecideCache } from "../../packages/gate/src/gate/decide-cache.js";
import type { Connectivity, DecideOptions, OrderCheck } from "../../packages/gate/src/gate/decide-types.js";
import {
  emptyFlags,
  type GateFlags,
  parseCaps,
  parseEventLock,
  parseLocates,
  parseMode,
  parsePdt,
  parseUntilMap,
} from "../../packages/gate/src/gate/flags.js";
import { floorShares, toScaled } from "../../packages/gate/src/gate/scaled.js";

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

/** A pdt record for the default account A1 written a minute before `t` (without one: pdt_data_missing). */
const pdtAt = (t: number) =>
  parsePdt({ A1: JSON.stringify({ equity: "50000", updated_at: new Date(t - 60_000).toISOString() }) });
function flags(over: Partial<GateFlags> = {}): GateFlags {
  return {
    ...emptyFlags(),
    ...parseMode(null, {}),
    heartbeatMs: NOW - 1_000,
    pdt: pdtAt(NOW),
    ...over,
  };
}
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
const run = (
  o: Partial<OrderCheck>,
  f: GateFlags,
  extra: {
    now?: number;
    conn?: Connectivity;
    opt?: Partial<DecideOptions>;
    quotes?: Map<string, { bid: number; ts: number }>;
  } = {},
) =>
  decide(order(o), f, extra.now ?? NOW, { ...opts, ...extra.opt }, extra.conn ?? up, new DecideCache(), extra.quotes);
const codes = (r: { reasons: string[] }) => r.reasons.map((s) => s.slice(0, s.indexOf(":")));

describe("gate decision: mode (docs/redis-keys.md — absent = active, invalid = halt)", () => {
  it("active, fresh heartbeat, open market: allowed", () => {
    expect(run({}, flags())).toEqual({ allow: true, reasons: [] });
  });

  it("halt refuses everything, reduce-only orders too, and says why", () => {
    const r = run(
      { reduceOnly: true, side: "sell" },
      flags({ ...parseMode("halt", { reason: "runaway orders", actor: "U1" }) }),
    );
    expect(r.allow).toBe(false);
    expect(r.reasons).toEqual(["mode_halt: trading is halted (runaway orders — U1)"]);
  });

  it("an invalid mode value is treated as halt", () => {
    expect(codes(run({}, flags({ ...parseMode("HALT", {}) })))).toEqual(["mode_invalid"]);
  });

  it("reduce_only allows only reduce-only orders; a short sale never counts as reducing", () => {
    const f = flags({ ...parseMode("reduce_only", { reason: "soak" }) });
    expect(codes(run({}, f))).toEqual(["mode_reduce_only"]);
    expect(run({ side: "sell", reduceOnly: true }, f).allow).toBe(true);
    expect(run({ side: "buy", reduceOnly: true }, f).allow).toBe(true);
    expect(codes(run({ side: "sell_short", reduceOnly: true }, f, {}))).toContain("mode_reduce_only");
  });

  it("not loaded yet, or Redis unreachable: refuse (halt by default; reduce-only by option)", () => {
    expect(codes(run({}, flags(), { conn: { loaded: false, down: null, downMode: "halt" } }))).toEqual(["not_ready"]);
    expect(
      codes(
        run({ reduceOnly: true, side: "sell" }, flags(), {
          conn: { loaded: true, down: "subscriber connection is reconnecting", downMode: "halt" },
        }),
      ),
    ).toEqual(["redis_unreachable"]);
    const soft: Connectivity = { loaded: true, down: "last successful read 9 s ago", downMode: "reduce_only" };
    expect(codes(run({}, flags(), { conn: soft }))).toEqual(["mode_reduce_only"]);
    expect(run({ reduceOnly: true, side: "sell" }, flags(), { conn: soft }).allow).toBe(true);
  });
});

describe("gate decision: the dead-man's switch (heartbeat:bot older than the limit → reduce-only)", () => {
  it.each([
    [NOW - 15_000, true, "exactly at the 15 s limit: still fine"],
    [NOW - 15_001, false, "one ms past the limit: reduce-only"],
    [null, false, "absent: no bot ever ran"],
  ])("heartbeat %s → new orders allowed = %s (%s)", (hb, ok, _why) => {
    const r = run({}, flags({ heartbeatMs: hb }));
    expect(r.allow).toBe(ok);
    if (!ok) expect(r.reasons[0]).toMatch(/^dead_mans_switch: .*failing safe to reduce-only/);
    expect(run({ side: "sell", reduceOnly: true }, flags({ heartbeatMs: hb })).allow).toBe(true);
  });
});

describe("gate decision: market hours (NYSE calendar + market:closures)", () => {
  it.each([
    ["2026-11-25T09:29:59-05:00", false, "before the open"],
    ["2026-11-25T09:30:00-05:00", true, "at the open: resumes by itself"],
    ["2026-11-27T13:00:00-05:00", false, "early close 13:00"],
    ["2026-11-26T11:00:00-05:00", false, "Thanksgiving"],
    ["2026-11-28T11:00:00-05:00", false, "Saturday"],
  ])("%s → allowed = %s (%s)", (iso, ok) => {
    const now = Date.parse(iso);
    const r = run({}, flags({ heartbeatMs: now, pdt: pdtAt(now) }), { now });
    expect(r.allow).toBe(ok);
    if (!ok) expect(codes(r)).toEqual(["market_closed"]);
  });

  it("an unscheduled closure closes the day; extended hours and non-equity brokers are options", () => {
    const f = flags({ closures: new Map([["2026-11-25", "Exchange outage"]]) });
    expect(run({}, f).reasons[0]).toMatch(/^market_closed: .*Exchange outage/);
    const night = Date.parse("2026-11-25T18:00:00-05:00");
    expect(run({}, flags({ heartbeatMs: night }), { now: night, opt: { allowExtendedHours: true } }).allow).toBe(true);
    expect(
      run({ broker: "binance" }, flags({ heartbeatMs: night }), {
        now: night,
        opt: { marketRulesBrokers: new Set(["alpaca"]) },
      }).allow,
    ).toBe(true);
  });
});

describe("gate decision: LULD Trading Pause (LULD Plan Section VII)", () => {
  it("refuses every order in a paused symbol until the pause ends; unreadable entries count as paused", () => {
    const f = flags({
      luldPaused: parseUntilMap({
        AAPL: JSON.stringify({ since: "x", until: new Date(NOW + 60_000).toISOString() }),
        MSFT: JSON.stringify({ since: "x", until: new Date(NOW - 1).toISOString() }),
        TSLA: "garbage",
      }),
    });
    expect(codes(run({ reduceOnly: true, side: "sell" }, f))).toEqual(["luld_pause"]);
    expect(run({ symbol: "MSFT" }, f).allow).toBe(true);
    expect(codes(run({ symbol: "TSLA" }, f))).toEqual(["luld_pause"]);
  });
});

describe("gate decision: Reg SHO Rule 201 price test and Rule 203 locate", () => {
  const ssr = parseUntilMap({ GME: JSON.stringify({ until: new Date(NOW + 3600_000).toISOString() }) });
  const etb = new Map([["GME", NOW - 3600_000]]);
  const short = { symbol: "GME", side: "sell_short" as const, price: 20.01 };

  it.each([
    [20.01, 20.0, true, "above the national best bid"],
    [20.0, 20.0, false, "at the national best bid"],
    [19.99, 20.0, false, "below the national best bid"],
  ])("short at %s with NBB %s → allowed = %s (%s)", (price, bid, ok) => {
    const r = run({ ...short, price }, flags({ ssr, etb }), { quotes: new Map([["GME", { bid, ts: NOW - 100 }]]) });
    expect(r.allow).toBe(ok);
    if (!ok) expect(codes(r)).toEqual(["ssr_price_test"]);
  });

  it("no fresh bid under the restriction: refuse (the NBB from md:quote or updateQuote, whichever is newer)", () => {
    expect(codes(run(short, flags({ ssr, etb })))).toEqual(["ssr_no_quote"]);
    expect(
      codes(run(short, flags({ ssr, etb }), { quotes: new Map([["GME", { bid: 20, ts: NOW - 2_001 }]]) })),
    ).toEqual(["ssr_no_quote"]);
    const remote = new Map([["GME", { bid: 19, ts: NOW - 10 }]]);
    expect(run(short, flags({ ssr, etb, quotes: remote })).allow).toBe(true);
    expect(
      run(short, flags({ ssr, etb, quotes: remote }), { quotes: new Map([["GME", { bid: 20.01, ts: NOW - 5 }]]) })
        .allow,
    ).toBe(false);
    // Long sales are not short sales: Rule 201 does not apply.
    expect(run({ ...short, side: "sell" }, flags({ ssr })).allow).toBe(true);
  });

  it("Rule 203(b)(1): a short needs a fresh ETB entry or enough unexpired locates; the locates cap the quantity", () => {
    const f0 = flags();
    expect(codes(run({ symbol: "GME", side: "sell_short" }, f0))).toEqual(["no_locate"]);
    const loc = parseLocates({
      L1: JSON.stringify({ symbol: "GME", qty: 60, expires_at: new Date(NOW + 3600_000).toISOString(), account: "A1" }),
      L2: JSON.stringify({ symbol: "GME", qty: 500, expires_at: new Date(NOW - 1).toISOString() }),
      L3: "not json",
    });
    expect(loc.invalid).toEqual(["L3"]);
    const f = flags({ locatesBySymbol: loc.bySymbol });
    const r = run({ symbol: "GME", side: "sell_short", qty: 100 }, f);
    expect(r).toMatchObject({ allow: false, maxQty: 60 });
    expect(r.reasons[0]).toMatch(/^max_qty: 100 exceeds the 60 allowed by the unexpired locates/);
    expect(run({ symbol: "GME", side: "sell_short", qty: 60 }, f)).toEqual({ allow: true, reasons: [], maxQty: 60 });
  });
});

describe("gate decision: PDT (FINRA 4210(f)(8)(B)) and intraday margin (SR-FINRA-2025-017)", () => {
  const days = ["2026-11-19", "2026-11-20", "2026-11-23", "2026-11-24", "2026-11-25"];
  const activity = Object.fromEntries(days.map((d) => [d, { day_trades: 1, trades: 4 }]));
  const updated_at = new Date(NOW - 60_000).toISOString();
  const pdt = parsePdt({
    SMALL: JSON.stringify({ equity: "20000", activity, updated_at }),
    BIG: JSON.stringify({ equity: "50000", activity, updated_at }),
    IM: JSON.stringify({ equity: "1000", intraday_buying_power: "10000", intraday_exposure: "8000", updated_at }),
    BAD: "{",
  });

  it("a pattern day trader below $25,000 may not open; reducing orders still pass", () => {
    expect(codes(run({ account: "SMALL" }, flags({ pdt })))).toEqual(["pdt_min_equity"]);
    expect(run({ account: "SMALL", side: "sell", reduceOnly: true }, flags({ pdt })).allow).toBe(true);
    expect(run({ account: "BIG" }, flags({ pdt })).allow).toBe(true);
    // Was `.allow === true`: an account without a record got unrestricted new exposure (the review's defect 3).
    expect(codes(run({ account: "UNLISTED" }, flags({ pdt })))).toEqual(["pdt_data_missing"]);
    expect(codes(run({ account: "BAD" }, flags({ pdt })))).toEqual(["pdt_data_invalid"]);
  });

  it("under intraday margin the count does not apply and the buying power left caps the quantity", () => {
    const im = { opt: { pdtRegime: "intraday_margin" as const } };
    expect(run({ account: "SMALL" }, flags({ pdt }), im).reasons[0]).toMatch(/^intraday_margin: .*not reported/);
    const r = run({ account: "IM", price: 100, qty: 30 }, flags({ pdt }), im);
    expect(r).toMatchObject({ allow: false, maxQty: 20 });
    expect(run({ account: "IM", price: 100, qty: 20 }, flags({ pdt }), im).allow).toBe(true);
  });

  it("no record: pdt_data_missing for non-reducing orders of market-rules brokers; pdtRequired: false opts out", () => {
    const f = flags({ pdt: new Map() });
    const r = run({}, f);
    expect(r.reasons).toEqual([
      "pdt_data_missing: account A1 has no record in pdt; no new exposure until the back office writes one",
    ]);
    expect(run({ side: "sell", reduceOnly: true }, f).allow).toBe(true);
    expect(run({}, f, { opt: { pdtRequired: false } }).allow).toBe(true);
    // Brokers the market rules do not apply to are not checked for PDT at all.
    expect(run({ broker: "binance" }, f, { opt: { marketRulesBrokers: new Set(["alpaca"]) } }).allow).toBe(true);
  });

  it("a record older than its maximum age (or without updated_at) is pdt_data_stale: 24 h under 4210, 15 min intraday", () => {
    const at = (ms: number) => new Date(NOW - ms).toISOString();
    const p = parsePdt({
      OLD: JSON.stringify({ equity: "50000", updated_at: at(25 * 3600_000) }),
      DAY: JSON.stringify({ equity: "50000", updated_at: at(23 * 3600_000) }),
      NOTIME: JSON.stringify({ equity: "50000" }),
      BADTIME: JSON.stringify({ equity: "50000", updated_at: "yesterday" }),
      IM20: JSON.stringify({ equity: "1", intraday_buying_power: "1000000", updated_at: at(20 * 60_000) }),
      IM10: JSON.stringify({ equity: "1", intraday_buying_power: "1000000", updated_at: at(10 * 60_000) }),
    });
    const f = flags({ pdt: p });
    expect(run({ account: "OLD" }, f).reasons).toEqual([
      "pdt_data_stale: the pdt record of account OLD was updated 1500 min ago (limit 1440 min under pdt_4210)",
    ]);
    expect(run({ account: "DAY" }, f).allow).toBe(true);
    expect(codes(run({ account: "NOTIME" }, f))).toEqual(["pdt_data_stale"]);
    expect(codes(run({ account: "BADTIME" }, f))).toEqual(["pdt_data_stale"]);
    expect(run({ account: "OLD", side: "sell", reduceOnly: true }, f).allow).toBe(true);
    expect(run({ account: "OLD" }, f, { opt: { pdtMaxAgeMs: 26 * 3600_000 } }).allow).toBe(true);
    const im = { opt: { pdtRegime: "intraday_margin" as const } };
    expect(codes(run({ account: "IM20" }, f, im))).toEqual(["pdt_data_stale"]);
    expect(run({ account: "IM10" }, f, im).allow).toBe(true);
    expect(run({ account: "IM20" }, f, { opt: { ...im.opt, intradayMaxAgeMs: 30 * 60_000 } }).allow).toBe(true);
    // The age is compared with the clock of each check, not only when the record was first evaluated.
    const cache = new DecideCache();
    const o = order({ account: "DAY" });
    expect(decide(o, f, NOW, opts, up, cache).allow).toBe(true);
    const later = NOW + 2 * 3600_000;
    expect(codes(decide(o, { ...f, heartbeatMs: later }, later, opts, up, cache))).toEqual(["pdt_data_stale"]);
  });
});

describe("gate decision: whole keys unreadable (WRONGTYPE) are applied strictly", () => {
  const bad = (key: string) => flags({ unreadable: new Map([[key, "WRONGTYPE Operation against a key"]]) });

  it("strategy:caps → no new exposure for any strategy; reducing orders pass", () => {
    const f = bad("strategy:caps");
    expect(run({}, f).reasons).toEqual([
      "strategy_caps_invalid: strategy:caps is unreadable (WRONGTYPE Operation against a key); no new exposure for any strategy",
    ]);
    expect(run({ side: "sell", reduceOnly: true }, f).allow).toBe(true);
  });

  it("luld:paused → every symbol paused; ssr:active → every short sale under the price test; pdt → every account", () => {
    expect(codes(run({ symbol: "MSFT", side: "sell", reduceOnly: true }, bad("luld:paused")))).toEqual(["luld_pause"]);
    const etb = new Map([["MSFT", NOW - 60_000]]);
    const short = { symbol: "MSFT", side: "sell_short" as const, qty: 1, price: 10 };
    expect(run(short, flags({ etb })).allow).toBe(true);
    expect(codes(run(short, { ...bad("ssr:active"), etb }))).toEqual(["ssr_no_quote"]);
    expect(codes(run({}, bad("pdt")))).toEqual(["pdt_data_invalid"]);
  });

  it("a flags_stale connectivity refuses with its own code", () => {
    const stale: Connectivity = {
      loaded: true,
      down: "last full re-read 30 s ago",
      downMode: "halt",
      downCode: "flags_stale",
    };
    expect(run({}, flags(), { conn: stale }).reasons).toEqual([
      "flags_stale: last full re-read 30 s ago; treating as halt",
    ]);
    const soft: Connectivity = { ...stale, downMode: "reduce_only" };
    expect(codes(run({}, flags(), { conn: soft }))).toEqual(["mode_reduce_only"]);
    expect(run({ side: "sell", reduceOnly: true }, flags(), { conn: soft }).allow).toBe(true);
  });
});

describe("gate decision: risk:event_lock and strategy:caps", () => {
  const lock = parseEventLock(
    JSON.stringify({ event: "FOMC", until: new Date(NOW + 600_000).toISOString(), cap: 0.25, exempt: ["basis"] }),
  );
  const caps = parseCaps({
    mm: JSON.stringify({ max_qty: 1000, max_notional: "50000" }),
    arb: JSON.stringify({ max_qty: 1000, tags: ["basis"] }),
    off: JSON.stringify({ halted: true, reason: "drawdown" }),
    broken: "[]",
  });

  it("strategy caps: the smaller of max_qty and max_notional/price (exact), halted strategies refused", () => {
    expect(run({ qty: 262 }, flags({ caps }))).toMatchObject({ allow: true, maxQty: 262 }); // 50000 / 190.25 = 262.8
    expect(run({ qty: 263 }, flags({ caps })).allow).toBe(false);
    expect(codes(run({ strategy: "off" }, flags({ caps })))).toEqual(["strategy_halted"]);
    expect(run({ strategy: "off", side: "sell", reduceOnly: true }, flags({ caps })).allow).toBe(true);
    expect(codes(run({ strategy: "broken" }, flags({ caps })))).toEqual(["strategy_caps_invalid"]);
  });

  it("the event lock scales the strategy's limit by `cap`; exempt tags are not capped; no limit → no new exposure", () => {
    const r = run({ qty: 100 }, flags({ caps, eventLock: lock }));
    expect(r).toMatchObject({ allow: false, maxQty: 65 }); // 25% of 50000 = 12500 / 190.25 = 65.7
    expect(r.reasons[0]).toMatch(/FOMC event lock \(25% of strategy mm's limit\)/);
    expect(run({ strategy: "arb", qty: 1000 }, flags({ caps, eventLock: lock })).allow).toBe(true);
    expect(codes(run({ strategy: "nolimits" }, flags({ caps, eventLock: lock })))).toEqual(["event_lock"]);
    expect(run({ strategy: "nolimits", side: "sell", reduceOnly: true }, flags({ caps, eventLock: lock })).allow).toBe(
      true,
    );
    // Expired lock: no effect.
    const old = parseEventLock(
      JSON.stringify({ event: "CPI", until: new Date(NOW - 1).toISOString(), cap: 0, exempt: [] }),
    );
    expect(run({ strategy: "nolimits" }, flags({ eventLock: old })).allow).toBe(true);
    // Unreadable lock: no new exposure.
    expect(codes(run({}, flags({ eventLock: parseEventLock("{oops") })))).toEqual(["event_lock"]);
  });
});

describe("gate decision: input validation and reason aggregation", () => {
  it.each([[{ qty: 0 }], [{ qty: Number.NaN }], [{ price: -1 }], [{ symbol: "" }], [{ side: "short" as never }]])(
    "refuses a malformed order %o",
    (o) => {
      expect(codes(run(o, flags()))).toEqual(["invalid_order"]);
    },
  );

  it("lists every reason, not just the first", () => {
    const now = Date.parse("2026-11-28T12:00:00-05:00");
    const f = flags({ ...parseMode("reduce_only", {}), heartbeatMs: null, pdt: pdtAt(now) });
    const r = run({ symbol: "GME", side: "sell_short" }, f, { now });
    expect(codes(r)).toEqual(["mode_reduce_only", "dead_mans_switch", "market_closed", "no_locate"]);
  });
});

describe("gate decision: exact share caps (floorShares: floor(cap / price) without binary-float drift)", () => {
  const exact = (cap: string, price: number) => new Decimal(cap).div(String(price)).floor().toNumber();

  it.each([
    ["50000", 190.25, 262, "50000 / 190.25 = 262.81"],
    ["19025", 190.25, 100, "an exact multiple: 100, not 99.99999"],
    ["0.3", 0.1, 3, "0.3 / 0.1 is 3 in decimal (2.9999999999999996 in binary floats)"],
    ["1000000", 0.0001, 10_000_000_000, "sub-penny price"],
    ["100", 1e-7, 1_000_000_000, "a price whose shortest representation uses an exponent"],
    ["10", 20, 0, "less than one share"],
  ])("floor(%s / %s) = %i (%s)", (cap, price, q, _why) => {
    expect(floorShares(toScaled(new Decimal(cap)), price)).toBe(q);
    expect(exact(cap, price)).toBe(q);
  });

  it("matches decimal.js on random caps and prices, including exact multiples (property)", () => {
    const priceArb = fc.integer({ min: 1, max: 10_000_000 }).map((c) => c / 100); // $0.01 … $100,000.00
    fc.assert(
      fc.property(priceArb, fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: -2, max: 2 }), (price, k, d) => {
        // Caps at, just around, and between exact multiples of the price.
        const cap = new Decimal(String(price)).mul(k).add(new Decimal(d).div(100));
        if (cap.lt(0)) return;
        expect(floorShares(toScaled(cap), price)).toBe(exact(cap.toFixed(), price));
      }),
      { numRuns: 20_000 },
    );
  });
});
