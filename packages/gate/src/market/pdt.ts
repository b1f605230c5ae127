// Pattern day trading: FINRA Rule 4210(f)(8)(B), and its 2026 replacement by intraday margin standards.
//
// Regime "pdt_4210" — FINRA Rule 4210(f)(8)(B) as it stood before the 2026 amendments:
// - (f)(8)(B)(ii) pattern day trader: a customer who executes four or more day trades within five business days,
//   provided those day trades are more than six percent of the customer's total trades in the margin account over
//   the same five business days. "Business days" here are NYSE trading days (calendar.ts).
// - (f)(8)(B)(iv)(a) minimum equity: $25,000, in the account before any day trading and maintained at all times; a
//   pattern day trader whose equity is below it may not day trade until it is restored.
// - (f)(8)(B)(iv)(b)/(c) day-trading margin call: to be met within five business days; if it is not, the account is
//   restricted to trading on a cash-available basis for 90 days or until the call is met.
// Regime "intraday_margin" — SR-FINRA-2025-017 (filed 2025-12-29; SEC accelerated approval 2026-04-14, Release
// 34-105226) deletes (f)(8)(B) and replaces the day-trade count and the $25,000 minimum with intraday margin
// standards: firms monitor intraday exposure and block transactions that would create or increase an intraday
// margin deficit. Reported effective date 2026-06-04 with a phase-in period for firms (reported as ending
// 2027-10-20). THE DESK MUST CONFIRM THE DATES THAT APPLY TO EACH OF ITS BROKERS: during the phase-in a broker may
// still apply 4210(f)(8)(B). The regime is therefore configuration (`pdt.regime`), and an account record may
// override it (`regime`) when its broker switched on another date.
//
// What the gate does with this (desk policy, not rule text): it never blocks an order that reduces a position (the
// rule's consequence is a margin call, not a reason to trap risk); it blocks orders that open or increase exposure
// when the account may not day trade: a restricted account, a pattern day trader below $25,000, an account below
// $25,000 with three day trades in the window (the next round trip would make it a pattern day trader), or, under
// intraday margin, an order whose notional exceeds the remaining intraday buying power.
import { Decimal } from "decimal.js";
import { z } from "zod";
import { type Closures, isIsoDate, nextTradingDay, tradingDaysEnding } from "./calendar.js";

export const PDT_REGIMES = ["pdt_4210", "intraday_margin"] as const;
export type PdtRegime = (typeof PDT_REGIMES)[number];

/** Rule 4210(f)(8)(B)(iv)(a): $25,000. */
export const PDT_MIN_EQUITY = new Decimal(25_000);
/** Rule 4210(f)(8)(B)(ii): four or more day trades … */
export const PDT_MIN_DAY_TRADES = 4;
/** … within five business days … */
export const PDT_WINDOW_DAYS = 5;
/** … that are more than six percent of all trades in the window. */
export const PDT_MIN_SHARE_PERCENT = 6;
/** A day-trading call is due within five business days; unmet, the account is restricted for 90 days. */
export const DAY_TRADING_CALL_DAYS = 5;
export const CASH_RESTRICTION_DAYS = 90;

const decimalString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => /^-?\d+(\.\d+)?$/.test(v), "a decimal number");
const isoDate = z.string().refine(isIsoDate, "a YYYY-MM-DD date");

/** One account's record in the `pdt` hash (field = account id, value = this as JSON), written by the back office. */
export const pdtAccountSchema = z.object({
  /** Overrides the configured regime for this account (its broker moved to intraday margin on its own date). */
  regime: z.enum(PDT_REGIMES).optional(),
  /** Account equity (start of day or live), in dollars. */
  equity: decimalString,
  /** Per trading day: day trades and all trades in the margin account. */
  activity: z
    .record(isoDate, z.object({ day_trades: z.number().int().min(0), trades: z.number().int().min(0) }))
    .default({}),
  /** The firm has designated the account a pattern day trader (a designation persists beyond the window). */
  designated: z.boolean().optional(),
  /** An open day-trading margin call. */
  day_trading_call: z.object({ amount: decimalString, issued: isoDate, met: z.boolean().default(false) }).optional(),
  /** Set by the firm when it restricted the account (overrides the computed restriction). */
  restricted_until: isoDate.optional(),
  /** Intraday margin regime: the account's intraday buying power and current intraday exposure, in dollars. */
  intraday_buying_power: decimalString.optional(),
  intraday_exposure: decimalString.optional(),
  /** When the back office wrote the figures (ISO 8601 with offset). The gate refuses opening orders without it. */
  updated_at: z.string().optional(),
});
export type PdtAccount = z.infer<typeof pdtAccountSchema>;

/**
 * Default maximum age of a `pdt` record's `updated_at` under "pdt_4210": 24 h. FINRA 4210(f)(8)(B) counts day trades
 * over five business days and tests the $25,000 minimum equity "prior to any day-trading activities"; a record
 * written at least once a day (e.g. start-of-day equity and the previous days' activity) is what that needs, and an
 * older one may miss yesterday's day trades or a call issued since.
 */
export const PDT_RECORD_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/**
 * Default maximum age under "intraday_margin": 15 min. The intraday margin standard (SR-FINRA-2025-017, replacing
 * 4210(f)(8)(B)) is about exposure *during* the day; buying power reported an hour ago says little about the deficit
 * an order would create now.
 */
export const INTRADAY_RECORD_MAX_AGE_MS = 15 * 60 * 1000;

/** `updated_at` as epoch ms; null when absent or not a time (the record's age is then unknown). */
export function pdtUpdatedAtMs(account: PdtAccount): number | null {
  if (account.updated_at === undefined) return null;
  const t = Date.parse(account.updated_at);
  return Number.isNaN(t) ? null : t;
}

/** Rule 4210(f)(8)(B)(ii): four or more day trades that are more than 6% of all trades (exact integer test). */
export function meetsPatternDayTrader(dayTrades: number, trades: number): boolean {
  return dayTrades >= PDT_MIN_DAY_TRADES && dayTrades * 100 > trades * PDT_MIN_SHARE_PERCENT;
}

/** Day trades and trades over the five business days ending with `asOf`. */
export function dayTradeWindow(
  activity: PdtAccount["activity"],
  asOf: string,
  closures?: Closures,
): { days: string[]; dayTrades: number; trades: number } {
  const days = tradingDaysEnding(asOf, PDT_WINDOW_DAYS, closures);
  let dayTrades = 0;
  let trades = 0;
  for (const d of days) {
    dayTrades += activity[d]?.day_trades ?? 0;
    trades += activity[d]?.trades ?? 0;
  }
  return { days, dayTrades, trades };
}

/** The fifth business day after a call was issued: the last day to meet it. */
export function callDeadline(issued: string, closures?: Closures): string {
  let d = issued;
  for (let i = 0; i < DAY_TRADING_CALL_DAYS; i++) d = nextTradingDay(d, closures);
  return d;
}

/** The 90-day cash-available restriction for an unmet call, or the firm's own `restricted_until`; null when none. */
export function restrictionUntil(account: PdtAccount, asOf: string, closures?: Closures): string | null {
  if (account.restricted_until && account.restricted_until >= asOf) return account.restricted_until;
  const call = account.day_trading_call;
  if (!call || call.met) return null;
  const deadline = callDeadline(call.issued, closures);
  if (asOf <= deadline) return null;
  const until = new Date(`${deadline}T00:00:00Z`);
  until.setUTCDate(until.getUTCDate() + CASH_RESTRICTION_DAYS);
  const u = until.toISOString().slice(0, 10);
  return u >= asOf ? u : null;
}

export type PdtCode = "pdt_restricted" | "pdt_min_equity" | "pdt_would_designate" | "intraday_margin";

/** What the rules say about one account today. */
export interface PdtStatus {
  regime: PdtRegime;
  equity: Decimal;
  dayTrades: number;
  trades: number;
  window: string[];
  /** A pattern day trader: designated by the firm, or meeting (f)(8)(B)(ii) in the window. */
  patternDayTrader: boolean;
  belowMinimum: boolean;
  restrictedUntil: string | null;
  /** One more round trip (one day trade, two trades) would make the account a pattern day trader. */
  nextDayTradeDesignates: boolean;
  /** Intraday margin: buying power left (null when not reported). */
  intradayHeadroom: Decimal | null;
  /** Why opening orders are refused (null: allowed, subject to the intraday headroom). */
  blocked: { code: PdtCode; reason: string } | null;
}

/** Evaluates an account under its regime on the New York date `asOf`. */
export function pdtStatus(account: PdtAccount, asOf: string, regime: PdtRegime, closures?: Closures): PdtStatus {
  const r = account.regime ?? regime;
  const equity = new Decimal(account.equity);
  const w = dayTradeWindow(account.activity, asOf, closures);
  const headroom =
    account.intraday_buying_power !== undefined
      ? new Decimal(account.intraday_buying_power).sub(new Decimal(account.intraday_exposure ?? "0"))
      : null;
  const base = {
    regime: r,
    equity,
    dayTrades: w.dayTrades,
    trades: w.trades,
    window: w.days,
    intradayHeadroom: headroom,
  };
  if (r === "intraday_margin") {
    const blocked =
      headroom === null
        ? { code: "intraday_margin" as const, reason: "intraday buying power not reported for this account" }
        : headroom.lte(0)
          ? { code: "intraday_margin" as const, reason: `intraday margin deficit: headroom $${headroom.toFixed(2)}` }
          : null;
    return {
      ...base,
      patternDayTrader: false,
      belowMinimum: false,
      restrictedUntil: null,
      nextDayTradeDesignates: false,
      blocked,
    };
  }
  const pdt = account.designated === true || meetsPatternDayTrader(w.dayTrades, w.trades);
  const belowMinimum = equity.lt(PDT_MIN_EQUITY);
  const restrictedUntil = restrictionUntil(account, asOf, closures);
  const nextDesignates = !pdt && meetsPatternDayTrader(w.dayTrades + 1, w.trades + 2);
  let blocked: PdtStatus["blocked"] = null;
  if (restrictedUntil) {
    blocked = {
      code: "pdt_restricted",
      reason: `day-trading call not met: restricted to cash-available trading until ${restrictedUntil} (FINRA 4210(f)(8)(B)(iv))`,
    };
  } else if (pdt && belowMinimum) {
    blocked = {
      code: "pdt_min_equity",
      reason: `pattern day trader with equity $${equity.toFixed(2)} below the $25,000 minimum (FINRA 4210(f)(8)(B)(iv)(a))`,
    };
  } else if (nextDesignates && belowMinimum) {
    blocked = {
      code: "pdt_would_designate",
      reason: `${w.dayTrades} day trades in the last ${PDT_WINDOW_DAYS} business days and equity $${equity.toFixed(2)} below $25,000: one more would make the account a pattern day trader (FINRA 4210(f)(8)(B)(ii))`,
    };
  }
  return {
    ...base,
    patternDayTrader: pdt,
    belowMinimum,
    restrictedUntil,
    nextDayTradeDesignates: nextDesignates,
    blocked,
  };
}

/**
 * The largest quantity an opening order at `price` may have under intraday margin (floor(headroom / price)); null
 * when there is no headroom figure or the regime is not intraday margin.
 */
export function intradayMaxQty(status: PdtStatus, price: Decimal.Value): number | null {
  if (status.regime !== "intraday_margin" || status.intradayHeadroom === null) return null;
  const p = new Decimal(price);
  if (p.lte(0)) return null;
  const q = status.intradayHeadroom.div(p).floor();
  return q.lte(0) ? 0 : q.toNumber();
}
