// A cost source's figures as Redis holds them (docs/redis-keys.md "Cost guardrails"): per UTC day, per month, the
// month-end forecast and when they were written. One reading for the cost guard and the monthly report: the day's
// cost, the month to date, and the forecast (the writer's, else a run rate). Amounts are decimal.js values, never
// binary floats.
import { Decimal } from "decimal.js";
import type { Redis } from "ioredis";
import { COST_KEYS } from "../state/keys.js";

/** Decimal arithmetic for money: 40 significant digits, half-even. */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN });
export type Money = InstanceType<typeof Money>;
/** The same precision rounding toward −∞: for a quotient that must never read above the exact one. */
const MoneyDown = Money.clone({ rounding: Decimal.ROUND_FLOOR });
/** Wide enough that a 40-digit amount times a day count (≤ 31) is exact. */
const MoneyWide = Money.clone({ precision: 80 });

/** The raw figures of one source (HGETALL / GET replies). */
export interface SourceFigures {
  daily: Record<string, string>;
  monthly: Record<string, string>;
  forecast: Record<string, string>;
  updated: string | null;
}

const AMOUNT = /^-?\d+(\.\d+)?$/;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

/** A decimal amount as exporters write it ("12.50", "-3", no exponent), or why not. */
export function parseAmount(s: string): Money | string {
  if (!AMOUNT.test(s)) return `not a decimal amount (${JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s)})`;
  return new Money(s);
}

/** The UTC date (YYYY-MM-DD) of an instant. */
export function utcDate(at: Date | number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** The UTC date `n` days after `date`. */
export function addUtcDays(date: string, n: number): string {
  return utcDate(Date.parse(`${date}T00:00:00Z`) + n * 86_400_000);
}

/** Days in the month of `month` (YYYY-MM). */
export function daysInMonth(month: string): number {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** The first day of the month after `month`, and of the one before (YYYY-MM-DD). */
export function nextMonthStart(month: string): string {
  return addUtcDays(`${month}-01`, daysInMonth(month));
}
export function previousMonth(month: string): string {
  return addUtcDays(`${month}-01`, -1).slice(0, 7);
}

function isDay(s: string): boolean {
  const m = DAY.exec(s);
  return m !== null && utcDate(Date.parse(`${s}T00:00:00Z`) || 0) === s;
}

/** What the figures say about one month, seen on `today` (UTC). */
export interface MonthView {
  month: string;
  today: string;
  /** The cost of each UTC day of the month up to today (absent days are 0). */
  days: Record<string, Money>;
  /** The cost of `today` and of the day before (which may be in the previous month). */
  day: Money;
  yesterday: Money;
  /** The month to date: the writer's month total, else the sum of its days. */
  mtd: Money;
  mtdFrom: "monthly" | "days";
  /** The month-end forecast, or null when there is none yet. */
  forecast: Money | null;
  forecastFrom: "writer" | "run_rate" | null;
  /** Days of the month before today (the run rate's base). */
  completeDays: number;
}

/**
 * Reads the month of `now` from a source's figures, or names the first field at fault ("cost:daily:<source>[…]:
 * not a decimal amount"). Field names must be dates (days) or months; amounts plain decimals.
 */
export function monthView(
  source: string,
  f: SourceFigures,
  now: Date,
  opts: { forecastMinDays: number },
): MonthView | { invalid: string } {
  const today = utcDate(now);
  const month = today.slice(0, 7);
  const yesterdayDate = addUtcDays(today, -1);
  const bad = (key: string, field: string, why: string) => ({ invalid: `${key}[${field}]: ${why}` });
  const days: Record<string, Money> = {};
  let day = new Money(0);
  let yesterday = new Money(0);
  let sum = new Money(0);
  let complete = new Money(0);
  for (const [field, raw] of Object.entries(f.daily)) {
    if (!isDay(field)) return bad(COST_KEYS.daily(source), field, "not a YYYY-MM-DD date");
    const v = parseAmount(raw);
    if (typeof v === "string") return bad(COST_KEYS.daily(source), field, v);
    if (field === yesterdayDate) yesterday = v;
    if (field.slice(0, 7) !== month || field > today) continue;
    days[field] = v;
    sum = sum.add(v);
    if (field === today) day = v;
    else complete = complete.add(v);
  }
  for (const [key, hash] of [
    [COST_KEYS.monthly(source), f.monthly],
    [COST_KEYS.forecast(source), f.forecast],
  ] as const) {
    for (const [field, raw] of Object.entries(hash)) {
      if (!MONTH.test(field)) return bad(key, field, "not a YYYY-MM month");
      const v = parseAmount(raw);
      if (typeof v === "string") return bad(key, field, v);
    }
  }
  const monthly = f.monthly[month];
  const mtd = monthly !== undefined ? new Money(monthly) : sum;
  const completeDays = Number(today.slice(8)) - 1;
  let forecast: Money | null = null;
  let forecastFrom: MonthView["forecastFrom"] = null;
  const written = f.forecast[month];
  if (written !== undefined) {
    forecast = new Money(written);
    forecastFrom = "writer";
  } else if (completeDays >= opts.forecastMinDays) {
    // The run rate of the complete days over the whole month, never below what is already spent. complete × days is
    // exact, so the one division is the only rounding, and it rounds down: a run rate that lands on the budget is the
    // budget (dividing first made 100 / 3 × 30 read 999.99…9), and a forecast never reads above its run rate.
    const product = new MoneyWide(complete).mul(daysInMonth(month));
    const runRate = new Money(new MoneyDown(product).div(completeDays));
    forecast = Money.max(runRate, mtd);
    forecastFrom = "run_rate";
  }
  return {
    month,
    today,
    days,
    day,
    yesterday,
    mtd,
    mtdFrom: monthly !== undefined ? "monthly" : "days",
    forecast,
    forecastFrom,
    completeDays,
  };
}

/**
 * A whole month's figures (the monthly report's "costs vs budget" for the month just ended): its total (the writer's
 * month total, else the sum of its days), its days, and the forecast the writer last made for it, if any.
 */
export function monthTotal(
  source: string,
  f: SourceFigures,
  month: string,
):
  | { total: Money; from: MonthView["mtdFrom"]; days: Record<string, Money>; forecast: Money | null }
  | { invalid: string } {
  const lastInstant = new Date(Date.parse(`${nextMonthStart(month)}T00:00:00Z`) - 1);
  const v = monthView(source, f, lastInstant, { forecastMinDays: 28 });
  if ("invalid" in v) return v;
  const written = f.forecast[month];
  return { total: v.mtd, from: v.mtdFrom, days: v.days, forecast: written === undefined ? null : new Money(written) };
}

/** An amount for people: two decimals and the currency ("412.07 USD"). */
export function formatMoney(v: Money, currency: string): string {
  return `${v.toFixed(2)} ${currency}`;
}

/** `part` as a percentage of `whole` with one decimal ("82.4 %"); "∞ %" against a zero budget. */
export function formatPct(part: Money, whole: Money): string {
  if (whole.isZero()) return part.gt(0) ? "∞ %" : "0.0 %";
  return `${part.mul(100).div(whole).toFixed(1)} %`;
}

/**
 * Reads one source's figures from Redis in one round trip (`keyOf` = the prefixing key builder, createKeys().raw).
 * A key of the wrong type throws, naming it.
 */
export async function readSourceFigures(
  redis: Redis,
  keyOf: (logical: string) => string,
  source: string,
): Promise<SourceFigures> {
  const p = redis.pipeline();
  p.hgetall(keyOf(COST_KEYS.daily(source)));
  p.hgetall(keyOf(COST_KEYS.monthly(source)));
  p.hgetall(keyOf(COST_KEYS.forecast(source)));
  p.get(keyOf(COST_KEYS.updated(source)));
  const names = [COST_KEYS.daily, COST_KEYS.monthly, COST_KEYS.forecast, COST_KEYS.updated].map((k) => k(source));
  const replies = (await p.exec()) ?? [];
  replies.forEach(([err], i) => {
    if (err) throw new Error(`${names[i]}: ${err.message}`);
  });
  const [daily, monthly, forecast, updated] = replies.map(([, v]) => v) as [
    Record<string, string>,
    Record<string, string>,
    Record<string, string>,
    string | null,
  ];
  return { daily, monthly, forecast, updated };
}
