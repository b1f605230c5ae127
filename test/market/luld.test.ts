import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  inClosingPeriod,
  LIMIT_STATE_MS,
  limitSide,
  NORMAL,
  percentageParameter,
  priceBands,
  roundBand,
  stepLimitState,
  type Tier,
  TRADING_PAUSE_MS,
  type Trade,
  updateReference,
} from "../../src/market/luld.js";

const D = (s: string | number) => new Decimal(s);
/** 2026-11-25 (a regular Wednesday) at hh:mm New York (EST, UTC−5). */
const wed = (hhmm: string) => new Date(`2026-11-25T${hhmm}:00-05:00`);
const str = (b: { lower: Decimal; upper: Decimal }) => [b.lower.toFixed(), b.upper.toFixed()];

describe("LULD Plan Appendix A: Percentage Parameters by tier and price bracket", () => {
  it.each([
    { tier: 1, ref: "100", pct: "0.05", off: "5", src: "Appendix A (A)(2): Tier 1, Reference Price > $3.00 → 5%" },
    { tier: 1, ref: "3.01", pct: "0.05", off: "0.1505", src: "Appendix A (A)(2): $3.01 is above $3.00" },
    { tier: 1, ref: "3.00", pct: "0.2", off: "0.6", src: "Appendix A (A)(3): $0.75 up to and including $3.00 → 20%" },
    { tier: 1, ref: "0.75", pct: "0.2", off: "0.15", src: "Appendix A (A)(3): $0.75 is in the 20% bracket" },
    {
      tier: 1,
      ref: "0.74",
      pct: "0.15/0.74",
      off: "0.15",
      src: "Appendix A (A)(4): < $0.75 → lesser of $0.15 or 75% ($0.15 < $0.555)",
    },
    {
      tier: 1,
      ref: "0.10",
      pct: "0.75",
      off: "0.075",
      src: "Appendix A (A)(4): lesser of $0.15 or 75% (75% = $0.075)",
    },
    { tier: 2, ref: "100", pct: "0.1", off: "10", src: "Appendix A (B)(2): Tier 2, Reference Price > $3.00 → 10%" },
    { tier: 2, ref: "3.00", pct: "0.2", off: "0.6", src: "Appendix A (B)(3): Tier 2 $0.75–$3.00 → 20%" },
    {
      tier: 2,
      ref: "0.50",
      pct: "0.3",
      off: "0.15",
      src: "Appendix A (B)(4): Tier 2 < $0.75 → lesser of $0.15 or 75%",
    },
  ])("$src", ({ tier, ref, pct, off }) => {
    const p = percentageParameter(tier as Tier, ref);
    const expected = pct.includes("/") ? D(pct.split("/")[0]!).div(pct.split("/")[1]!) : D(pct);
    expect(p.percent.eq(expected)).toBe(true);
    expect(p.offset.toFixed()).toBe(D(off).toFixed());
  });

  it("Appendix A (A)(5)/(B)(6): the bracket comes from the prior close, the band from the Reference Price", () => {
    // Prior close $2.90 (20% bracket), Reference Price now $3.10: 20% of $3.10.
    expect(percentageParameter(2, "3.10", "2.90").offset.toFixed()).toBe("0.62");
    // Prior close $3.50 (10% bracket), Reference Price now $2.80: 10% of $2.80.
    expect(percentageParameter(2, "2.80", "3.50").offset.toFixed()).toBe("0.28");
  });

  it("Appendix A (B)(5): a leveraged Tier 2 ETP multiplies its parameter by the leverage ratio", () => {
    expect(percentageParameter(2, "50", undefined, 3).percent.toFixed()).toBe("0.3");
  });
});

describe("LULD price bands: rounding (Reg NMS Rule 612 increments, half-up)", () => {
  it.each([
    { tier: 1, ref: "100", at: "11:00", band: ["95", "105"], src: "Tier 1 $100: $95.00–$105.00" },
    {
      tier: 1,
      ref: "33.33",
      at: "11:00",
      band: ["31.66", "35"],
      src: "Tier 1 $33.33: 31.6635 → 31.66, 34.9965 → 35.00",
    },
    {
      tier: 2,
      ref: "10.005",
      at: "11:00",
      band: ["9", "11.01"],
      src: "Tier 2 $10.005: 9.0045 → 9.00, 11.0055 → 11.01 (half-up)",
    },
    {
      tier: 2,
      ref: "1.02",
      at: "11:00",
      band: ["0.816", "1.22"],
      src: "a lower band under $1 rounds to $0.0001, an upper band over $1 to $0.01",
    },
    { tier: 2, ref: "0.80", at: "11:00", band: ["0.64", "0.96"], src: "sub-dollar bands on the $0.0001 grid" },
    {
      tier: 2,
      ref: "0.10",
      at: "15:40",
      band: ["0", "0.25"],
      src: "doubled lesser-of-75% (150%) would go negative: floored at $0",
    },
  ])("$src", ({ tier, ref, at, band }) => {
    expect(str(priceBands({ referencePrice: ref, tier: tier as Tier, at: wed(at) }))).toEqual(band);
  });

  it("roundBand is exact decimal arithmetic (no binary float drift)", () => {
    expect(roundBand(D("0.1").add("0.2").mul(10)).toFixed()).toBe("3");
    expect(roundBand(D("1.005")).toFixed(2)).toBe("1.01");
    expect(roundBand(D("0.99995")).toFixed(4)).toBe("1.0000");
  });
});

describe("LULD doubling as amended (Eighteenth Amendment, activated 2020-02-24)", () => {
  it.each([
    {
      tier: 1,
      ref: "100",
      at: wed("09:35"),
      doubled: false,
      pct: "0.05",
      src: "18th Amendment (iii): no doubling 9:30–9:45 any more",
    },
    { tier: 1, ref: "100", at: wed("15:34"), doubled: false, pct: "0.05", src: "before the closing period" },
    {
      tier: 1,
      ref: "100",
      at: wed("15:35"),
      doubled: true,
      pct: "0.1",
      src: "Plan V(A): 3:35–4:00 p.m. doubles Tier 1",
    },
    {
      tier: 1,
      ref: "100",
      at: wed("15:59"),
      doubled: true,
      pct: "0.1",
      src: "still in the closing period at 3:59 p.m.",
    },
    { tier: 1, ref: "100", at: wed("16:00"), doubled: false, pct: "0.05", src: "the session is over at 4:00 p.m." },
    {
      tier: 2,
      ref: "100",
      at: wed("15:40"),
      doubled: false,
      pct: "0.1",
      src: "18th Amendment (iv): no closing doubling for Tier 2 above $3.00",
    },
    {
      tier: 2,
      ref: "2.50",
      at: wed("15:40"),
      doubled: true,
      pct: "0.4",
      src: "Tier 2 at or below $3.00 still doubles at the close",
    },
    {
      tier: 1,
      ref: "2.50",
      at: wed("15:40"),
      doubled: true,
      pct: "0.4",
      src: "Tier 1 at or below $3.00 doubles at the close",
    },
    {
      tier: 1,
      ref: "100",
      at: new Date("2026-11-27T12:35:00-05:00"),
      doubled: true,
      pct: "0.1",
      src: "early close (2026-11-27, 13:00): the last 25 minutes are 12:35–13:00",
    },
    {
      tier: 1,
      ref: "100",
      at: new Date("2026-11-27T12:34:59-05:00"),
      doubled: false,
      pct: "0.05",
      src: "early close day, before 12:35",
    },
    {
      tier: 1,
      ref: "100",
      at: new Date("2026-11-27T15:40:00-05:00"),
      doubled: false,
      pct: "0.05",
      src: "early close day: 3:40 p.m. is after the close, not a closing period",
    },
  ])("$src", ({ tier, ref, at, doubled, pct }) => {
    const b = priceBands({ referencePrice: ref, tier: tier as Tier, at });
    expect(b.doubled).toBe(doubled);
    expect(b.percent.toFixed()).toBe(D(pct).toFixed());
  });

  it("Tier 2 with a prior close ≤ $3.00 doubles even when its Reference Price moved above $3.00", () => {
    expect(priceBands({ referencePrice: "3.10", previousClose: "2.90", tier: 2, at: wed("15:45") }).doubled).toBe(true);
    expect(inClosingPeriod(wed("15:45"))).toBe(true);
    expect(inClosingPeriod(new Date("2026-11-26T15:45:00-05:00"))).toBe(false); // Thanksgiving: no session
  });
});

describe("LULD Reference Price (Plan Section V(A)): five-minute mean, ≥1% moves, 30 s minimum life", () => {
  const open = wed("09:30").getTime();
  const t = (sec: number, p: string): Trade => ({ ts: open + sec * 1000, price: D(p) });

  it.each([
    {
      src: "the first trade at or after the open opens the day",
      current: null,
      trades: [t(-10, "99"), t(5, "100"), t(6, "101")],
      now: 10,
      expected: "100",
      changed: true,
    },
    {
      src: "a pro-forma mean that moved less than 1% does not replace it",
      current: { price: "100", since: 0 },
      trades: [t(100, "100.5"), t(110, "101.4")],
      now: 120,
      expected: "100",
      changed: false,
    },
    {
      src: "a move of exactly 1% replaces it",
      current: { price: "100", since: 0 },
      trades: [t(100, "100"), t(110, "102")],
      now: 120,
      expected: "101",
      changed: true,
    },
    {
      src: "each Reference Price stands at least 30 seconds",
      current: { price: "100", since: 100 },
      trades: [t(110, "110")],
      now: 129,
      expected: "100",
      changed: false,
    },
    {
      src: "trades older than five minutes are not in the mean",
      current: { price: "100", since: 0 },
      trades: [t(10, "150"), t(400, "100.2")],
      now: 400,
      expected: "100",
      changed: false,
    },
    {
      src: "no eligible trade in five minutes: the previous Reference Price remains",
      current: { price: "100", since: 0 },
      trades: [],
      now: 1000,
      expected: "100",
      changed: false,
    },
  ])("$src", ({ current, trades, now, expected, changed }) => {
    const cur = current ? { price: D(current.price), since: open + current.since * 1000 } : null;
    const r = updateReference(cur, trades, open + now * 1000, { notBefore: open });
    expect(r.reference?.price.toFixed()).toBe(D(expected).toFixed());
    expect(r.changed).toBe(changed);
  });

  it("without any trade the prior close is the fallback", () => {
    const r = updateReference(null, [], open + 1000, { notBefore: open, fallback: D("42.5") });
    expect(r.reference?.price.toFixed()).toBe("42.5");
  });
});

describe("LULD Limit State → Trading Pause → resumption (Plan Sections VI(B), VII(A))", () => {
  const bands = { lower: D("95"), upper: D("105") };
  it("an offer at the Lower Price Band is a 'down' Limit State; a bid at the Upper one an 'up' Limit State", () => {
    expect(limitSide({ bid: D("94.9"), ask: D("95") }, bands)).toBe("down");
    expect(limitSide({ bid: D("105"), ask: D("105.1") }, bands)).toBe("up");
    expect(limitSide({ bid: D("99"), ask: D("99.02") }, bands)).toBe(null);
  });

  it("clears inside 15 s; otherwise pauses 5 minutes from the 15th second; then resumes by itself", () => {
    const t0 = 1_000_000;
    const a = stepLimitState(NORMAL, { side: "down" }, t0);
    expect(a).toMatchObject({ event: "limit_entered", state: { phase: "limit", side: "down", limitSince: t0 } });
    const cleared = stepLimitState(a.state, { side: null }, t0 + LIMIT_STATE_MS - 1);
    expect(cleared).toMatchObject({ event: "limit_cleared", state: { phase: "normal" } });
    const still = stepLimitState(a.state, { side: "down" }, t0 + LIMIT_STATE_MS - 1);
    expect(still.state.phase).toBe("limit");
    const paused = stepLimitState(a.state, { side: "down" }, t0 + LIMIT_STATE_MS + 3_000);
    expect(paused).toMatchObject({
      event: "pause_started",
      state: { phase: "paused", pausedAt: t0 + LIMIT_STATE_MS, pauseUntil: t0 + LIMIT_STATE_MS + TRADING_PAUSE_MS },
    });
    const during = stepLimitState(paused.state, { side: null }, t0 + LIMIT_STATE_MS + TRADING_PAUSE_MS - 1);
    expect(during).toMatchObject({ event: null, state: { phase: "paused" } });
    const resumed = stepLimitState(paused.state, { side: null }, t0 + LIMIT_STATE_MS + TRADING_PAUSE_MS);
    expect(resumed).toMatchObject({ event: "resumed", state: { phase: "normal" } });
  });

  it("the feed's pause indicator starts a pause, and extends one the exchange has not reopened", () => {
    const p = stepLimitState(NORMAL, { side: null, halted: true }, 10);
    expect(p).toMatchObject({ event: "pause_started", state: { pauseUntil: 10 + TRADING_PAUSE_MS } });
    const ext = stepLimitState(p.state, { side: null, halted: true }, 10 + TRADING_PAUSE_MS);
    expect(ext).toMatchObject({ event: "pause_extended", state: { pauseUntil: 10 + 2 * TRADING_PAUSE_MS } });
  });
});

describe("LULD bands: properties (fast-check)", () => {
  // Prices on the penny grid from $0.01 to $5,000.
  const cents = fc.integer({ min: 1, max: 500_000 }).map((c) => D(c).div(100));
  const tier = fc.constantFrom<Tier>(1, 2);
  const minute = fc.integer({ min: 9 * 60 + 30, max: 15 * 60 + 59 });
  const atMinute = (m: number) =>
    wed(`${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`);

  it("monotone: with the prior close (the bracket) fixed, a higher Reference Price never lowers either band", () => {
    fc.assert(
      fc.property(cents, cents, cents, tier, minute, (prev, a, b, t, m) => {
        const [lo, hi] = a.lte(b) ? [a, b] : [b, a];
        const at = atMinute(m);
        const x = priceBands({ referencePrice: lo, previousClose: prev, tier: t, at });
        const y = priceBands({ referencePrice: hi, previousClose: prev, tier: t, at });
        expect(x.lower.lte(y.lower)).toBe(true);
        expect(x.upper.lte(y.upper)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("0 ≤ lower ≤ reference ≤ upper, and the doubled bands contain the normal ones", () => {
    fc.assert(
      fc.property(cents, tier, (ref, t) => {
        const normal = priceBands({ referencePrice: ref, tier: t, at: wed("12:00") });
        const closing = priceBands({ referencePrice: ref, tier: t, at: wed("15:50") });
        expect(normal.lower.gte(0) && normal.lower.lte(ref) && ref.lte(normal.upper)).toBe(true);
        expect(closing.lower.lte(normal.lower) && closing.upper.gte(normal.upper)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("Tier 1 bands are never wider than Tier 2 bands for the same price and time", () => {
    fc.assert(
      fc.property(cents, minute, (ref, m) => {
        const at = atMinute(m);
        const t1 = priceBands({ referencePrice: ref, tier: 1, at });
        const t2 = priceBands({ referencePrice: ref, tier: 2, at });
        expect(t1.lower.gte(t2.lower) && t1.upper.lte(t2.upper)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
