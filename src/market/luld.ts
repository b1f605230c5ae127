// Limit Up-Limit Down: the Regulation NMS Plan to Address Extraordinary Market Volatility (the "LULD Plan", SEC
// Release 34-67091, made permanent by the Eighteenth Amendment, Release 34-85623, 2019-04-11).
//
// What this module implements, and from where:
// - Percentage Parameters, Plan Appendix A. Tier 1 (S&P 500, Russell 1000, the ETPs in Schedule 1): 5% when the
//   Reference Price is above $3.00; Tier 2 (every other NMS stock; rights and warrants excluded): 10%. Both tiers:
//   20% from $0.75 up to and including $3.00; below $0.75 the lesser of $0.15 or 75%. A leveraged Tier 2 ETP
//   multiplies its parameter by its leverage ratio (`leverage`). Appendix A (A)(5)/(B)(6): the bracket is chosen by
//   the previous trading day's closing price on the primary listing exchange (`previousClose`; the Reference Price
//   when not given).
// - Doubling, as it stands since the Eighteenth Amendment was activated on 2020-02-24 (Nasdaq UTP2019-09): the
//   amendment "(iii) eliminate[d] the doubling of the Percentage Parameters between 9:30 a.m. and 9:45 a.m.; and
//   (iv) eliminate[d] the doubling of the Percentage Parameters between 3:35 p.m. and 4:00 p.m. … for Tier 2 NMS
//   Stocks with a Reference Price above $3.00". So there is no opening doubling any more, and the closing period
//   (3:35–4:00 p.m., or on an early-close day the last 25 minutes before the early close) still doubles Tier 1
//   stocks and Tier 2 stocks priced at or below $3.00. Source of the wording: the amendment's notice (Release
//   34-84843, 83 FR 66464) and approval order (34-85623) as quoted in secondary analyses; the desk should confirm
//   against the current consolidated Plan text on luldplan.com.
// - Reference Price, Plan Section V(A): the arithmetic mean of Eligible Reported Transactions over the preceding
//   five minutes; a new (pro-forma) value replaces the current one only when it differs by 1% or more, and each
//   Reference Price stays in effect for at least 30 seconds. The first Reference Price of the day is the opening
//   price (here: the first eligible trade at or after the open), else the previous close.
// - Rounding: bands are rounded half-up to the Reg NMS Rule 612 minimum increment of the band price: $0.01 at
//   $1.00 and above, $0.0001 below. UNCERTAIN: the Plan text we could check does not spell out the rounding
//   direction; the SIP-disseminated bands are authoritative, and this computation is the guard's estimate.
//   A lower band never goes below $0 (a doubled 150% parameter would otherwise make it negative).
// - Limit State and Trading Pause, Plan Sections VI(B) and VII(A): a National Best Offer at (or below) the Lower
//   Price Band, or a National Best Bid at (or above) the Upper Price Band, is a Limit State; if it does not clear
//   within 15 seconds the primary listing exchange declares a 5-minute Trading Pause, after which it reopens by
//   auction (and may extend the pause, which the feed reports through `halted`).
import { Decimal } from "decimal.js";
import { type Closures, calendarDay, nyDate } from "./calendar.js";

export type Tier = 1 | 2;

/** Closing period length (Plan Section V(A)): the last 25 minutes of the session. */
export const CLOSING_PERIOD_MS = 25 * 60_000;
/** Reference Price window (Plan Section V(A)(1)). */
export const REFERENCE_WINDOW_MS = 5 * 60_000;
/** A pro-forma Reference Price replaces the current one only when it moved by this fraction or more. */
export const REFERENCE_MIN_MOVE = new Decimal("0.01");
/** Each Reference Price stays in effect at least this long. */
export const REFERENCE_MIN_LIFE_MS = 30_000;
/** Limit State that does not clear within this long becomes a Trading Pause (Plan Section VII(A)(1)). */
export const LIMIT_STATE_MS = 15_000;
/** Trading Pause length (Plan Section VII(A)). */
export const TRADING_PAUSE_MS = 5 * 60_000;

const THREE = new Decimal(3);
const SEVENTY_FIVE_CENTS = new Decimal("0.75");
const FIFTEEN_CENTS = new Decimal("0.15");
const ONE = new Decimal(1);
const CENT = new Decimal("0.01");
const SUBPENNY = new Decimal("0.0001");

/** The Appendix A parameter for a tier and price bracket: the band offset in dollars and as a fraction. */
export function percentageParameter(
  tier: Tier,
  referencePrice: Decimal.Value,
  previousClose?: Decimal.Value,
  leverage: Decimal.Value = 1,
): { offset: Decimal; percent: Decimal } {
  const ref = new Decimal(referencePrice);
  if (!ref.isFinite() || ref.lte(0))
    throw new RangeError(`reference price must be positive, got ${String(referencePrice)}`);
  const bracket = previousClose === undefined ? ref : new Decimal(previousClose);
  const lev = new Decimal(leverage);
  if (bracket.gt(THREE)) {
    const pct = (tier === 1 ? new Decimal("0.05") : new Decimal("0.10")).mul(tier === 2 ? lev : ONE);
    return { offset: ref.mul(pct), percent: pct };
  }
  if (bracket.gte(SEVENTY_FIVE_CENTS)) {
    const pct = new Decimal("0.20").mul(tier === 2 ? lev : ONE);
    return { offset: ref.mul(pct), percent: pct };
  }
  const offset = Decimal.min(FIFTEEN_CENTS, ref.mul("0.75")).mul(tier === 2 ? lev : ONE);
  return { offset, percent: offset.div(ref) };
}

/** Reg NMS Rule 612 minimum increment for a price: $0.01 at or above $1.00, $0.0001 below. */
export function tickFor(price: Decimal): Decimal {
  return price.gte(ONE) ? CENT : SUBPENNY;
}

/** Rounds a band price half-up to its minimum increment (see the module comment on why half-up). */
export function roundBand(price: Decimal): Decimal {
  const tick = tickFor(price);
  return price.div(tick).toDecimalPlaces(0, Decimal.ROUND_HALF_UP).mul(tick);
}

/** True when `at` is in the Plan's closing period: the last 25 minutes before that day's (early) close. */
export function inClosingPeriod(at: Date, closures?: Closures): boolean {
  const day = calendarDay(nyDate(at), closures);
  if (!day.closes) return false;
  const t = at.getTime();
  const c = day.closes.getTime();
  return t >= c - CLOSING_PERIOD_MS && t < c;
}

/** Whether the closing period doubles this stock's parameter (Tier 1, or a bracket price at or below $3.00). */
export function closingDoubles(tier: Tier, bracketPrice: Decimal.Value): boolean {
  return tier === 1 || new Decimal(bracketPrice).lte(THREE);
}

export interface PriceBands {
  lower: Decimal;
  upper: Decimal;
  /** The parameter actually applied, as a fraction of the Reference Price (after doubling). */
  percent: Decimal;
  /** The band offset in dollars (after doubling). */
  offset: Decimal;
  doubled: boolean;
}

/** LULD price bands for a Reference Price at an instant (Plan Section V(A) and Appendix A). */
export function priceBands(input: {
  referencePrice: Decimal.Value;
  tier: Tier;
  at: Date;
  previousClose?: Decimal.Value;
  leverage?: Decimal.Value;
  closures?: Closures;
}): PriceBands {
  const ref = new Decimal(input.referencePrice);
  const base = percentageParameter(input.tier, ref, input.previousClose, input.leverage ?? 1);
  const bracket = input.previousClose === undefined ? ref : new Decimal(input.previousClose);
  const doubled = inClosingPeriod(input.at, input.closures) && closingDoubles(input.tier, bracket);
  const offset = doubled ? base.offset.mul(2) : base.offset;
  const percent = doubled ? base.percent.mul(2) : base.percent;
  const lowerRaw = ref.sub(offset);
  return {
    lower: lowerRaw.lte(0) ? new Decimal(0) : roundBand(lowerRaw),
    upper: roundBand(ref.add(offset)),
    percent,
    offset,
    doubled,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Reference Price

export interface Trade {
  /** Epoch ms of the report. */
  ts: number;
  price: Decimal;
}

/** The pro-forma Reference Price: the mean of eligible trades in the five minutes up to `now`; null when none. */
export function proFormaReference(trades: readonly Trade[], now: number, notBefore = 0): Decimal | null {
  let sum = new Decimal(0);
  let n = 0;
  for (const t of trades) {
    if (t.ts > now || t.ts <= now - REFERENCE_WINDOW_MS || t.ts < notBefore) continue;
    sum = sum.add(t.price);
    n++;
  }
  return n === 0 ? null : sum.div(n);
}

export interface Reference {
  price: Decimal;
  /** Epoch ms since which it is in effect. */
  since: number;
}

/**
 * The Reference Price in effect at `now`, given the current one: replaced by the pro-forma mean when that moved by
 * 1% or more and the current one has stood for 30 s. Trades before `notBefore` (the open or a reopening) are not
 * eligible. Without a current one, the first trade at or after `notBefore` opens the day, else `fallback`.
 */
export function updateReference(
  current: Reference | null,
  trades: readonly Trade[],
  now: number,
  opts: { notBefore?: number; fallback?: Decimal | null } = {},
): { reference: Reference | null; changed: boolean } {
  const notBefore = opts.notBefore ?? 0;
  if (!current) {
    const first = trades.filter((t) => t.ts >= notBefore && t.ts <= now).sort((a, b) => a.ts - b.ts)[0];
    if (first) return { reference: { price: first.price, since: first.ts }, changed: true };
    if (opts.fallback) return { reference: { price: opts.fallback, since: now }, changed: true };
    return { reference: null, changed: false };
  }
  if (now - current.since < REFERENCE_MIN_LIFE_MS) return { reference: current, changed: false };
  const pf = proFormaReference(trades, now, notBefore);
  if (!pf) return { reference: current, changed: false };
  const move = pf.sub(current.price).abs().div(current.price);
  if (move.gte(REFERENCE_MIN_MOVE)) return { reference: { price: pf, since: now }, changed: true };
  return { reference: current, changed: false };
}

// ---------------------------------------------------------------------------------------------------------------
// Limit State → Trading Pause → reopening

export type LuldPhase = "normal" | "limit" | "paused";

export interface LimitState {
  phase: LuldPhase;
  /** "down": offer at the Lower Price Band; "up": bid at the Upper Price Band. */
  side: "up" | "down" | null;
  /** Epoch ms the Limit State was first seen. */
  limitSince: number | null;
  /** Epoch ms the Trading Pause began and ends. */
  pausedAt: number | null;
  pauseUntil: number | null;
}

export const NORMAL: LimitState = { phase: "normal", side: null, limitSince: null, pausedAt: null, pauseUntil: null };

export type LuldEvent = "limit_entered" | "limit_cleared" | "pause_started" | "pause_extended" | "resumed";

/** Which side, if any, a quote puts at its band. */
export function limitSide(
  quote: { bid: Decimal | null; ask: Decimal | null },
  bands: { lower: Decimal; upper: Decimal },
): "up" | "down" | null {
  if (quote.ask?.lte(bands.lower)) return "down";
  if (quote.bid?.gte(bands.upper)) return "up";
  return null;
}

/**
 * One step of the Limit State machine at `now`. `side` is this observation's limit side (null: none or no fresh
 * quote); `halted` is the feed saying the primary listing exchange has the stock paused (it overrides the clock:
 * a pause that the exchange extended stays a pause).
 */
export function stepLimitState(
  state: LimitState,
  obs: { side: "up" | "down" | null; halted?: boolean },
  now: number,
): { state: LimitState; event: LuldEvent | null } {
  if (state.phase === "paused") {
    if (obs.halted) {
      if (state.pauseUntil !== null && now >= state.pauseUntil) {
        return { state: { ...state, pauseUntil: now + TRADING_PAUSE_MS }, event: "pause_extended" };
      }
      return { state, event: null };
    }
    if (state.pauseUntil !== null && now >= state.pauseUntil) return { state: NORMAL, event: "resumed" };
    return { state, event: null };
  }
  if (obs.halted) {
    return {
      state: {
        phase: "paused",
        side: state.side,
        limitSince: state.limitSince,
        pausedAt: now,
        pauseUntil: now + TRADING_PAUSE_MS,
      },
      event: "pause_started",
    };
  }
  if (state.phase === "limit") {
    if (obs.side === null) return { state: NORMAL, event: "limit_cleared" };
    const since = state.limitSince ?? now;
    if (now - since >= LIMIT_STATE_MS) {
      const pausedAt = since + LIMIT_STATE_MS;
      return {
        state: {
          phase: "paused",
          side: state.side,
          limitSince: since,
          pausedAt,
          pauseUntil: pausedAt + TRADING_PAUSE_MS,
        },
        event: "pause_started",
      };
    }
    return { state: { ...state, side: obs.side }, event: null };
  }
  if (obs.side !== null) {
    return {
      state: { phase: "limit", side: obs.side, limitSince: now, pausedAt: null, pauseUntil: null },
      event: "limit_entered",
    };
  }
  return { state, event: null };
}
