// Error-budget arithmetic (issue 14 §12), exact. Trading processes count good/total events per SLO into the rings of
// hashes of SLO_KEYS (src/state/keys.ts, docs/redis-keys.md); this module turns those hashes into window sums, burn
// rates and the budget left, as in Google's SRE workbook ("Alerting on SLOs"): the error budget is 1 − target; a
// window's burn rate is its error ratio divided by the budget (1× spends exactly the budget over the SLO period), and a
// multiwindow rule fires when the long AND the short window burn faster than its factor ("exceed": strictly above).
// Counts are BigInt and every comparison is cross-multiplied in decimal.js, so 14.4× is 14.4× and never a float's
// neighbour; only the numbers shown to people are rounded.
import { Decimal } from "decimal.js";
import type { Redis } from "ioredis";
import { SLO_KEYS } from "../state/keys.js";

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
/** The longest burn window the minute ring holds (72 h): 3.5 days of TTL after a slot's last write. */
export const MAX_WINDOW_MINUTES = 3 * 24 * 60;

/** Products of counts (≤ 19 digits) and settings (a few digits) stay far below 64 significant digits: exact. */
const D = Decimal.clone({ precision: 64, rounding: Decimal.ROUND_HALF_UP });
type Dec = InstanceType<typeof D>;

/** Good and total events of a span; bad = total − good. */
export interface Counts {
  good: bigint;
  total: bigint;
}
export const ZERO: Counts = { good: 0n, total: 0n };

/** Logical names of every hash one SLO's events live in: the minute ring, then the day ring. */
export function sloKeys(slo: string): { minutes: string[]; days: string[] } {
  return {
    minutes: Array.from({ length: SLO_KEYS.MINUTE_SLOTS }, (_, i) => SLO_KEYS.minutes(slo, i)),
    days: Array.from({ length: SLO_KEYS.DAY_BLOCKS }, (_, i) => SLO_KEYS.days(slo, i)),
  };
}

/** Where a batch of events at `atMs` goes: the two hashes and the two bucket numbers (epoch minute, epoch day). */
export function sloWriteTarget(slo: string, atMs: number) {
  const minute = Math.floor(atMs / MINUTE_MS);
  const day = Math.floor(atMs / DAY_MS);
  return {
    minuteKey: SLO_KEYS.minutes(slo, day % SLO_KEYS.MINUTE_SLOTS),
    dayKey: SLO_KEYS.days(slo, Math.floor(day / SLO_KEYS.DAY_BLOCK_DAYS) % SLO_KEYS.DAY_BLOCKS),
    minute,
    day,
  };
}

/**
 * The writer's recipe, as a trading process runs it for one batch of events: one MULTI (one round trip, atomic, so a
 * reader never sees a minute's `g` without its `t`) of four HINCRBY and two PEXPIRE. `prefix` is REDIS_PREFIX.
 */
export async function recordSloEvents(
  redis: Redis,
  prefix: string,
  slo: string,
  batch: { good: number; total: number; atMs: number },
): Promise<void> {
  if (!Number.isSafeInteger(batch.good) || !Number.isSafeInteger(batch.total) || batch.good < 0)
    throw new RangeError("good and total must be non-negative integers");
  if (batch.good > batch.total) throw new RangeError("good must not exceed total");
  const w = sloWriteTarget(slo, batch.atMs);
  await redis
    .multi()
    .hincrby(prefix + w.minuteKey, `${w.minute}:g`, batch.good)
    .hincrby(prefix + w.minuteKey, `${w.minute}:t`, batch.total)
    .pexpire(prefix + w.minuteKey, SLO_KEYS.MINUTE_TTL_MS)
    .hincrby(prefix + w.dayKey, `${w.day}:g`, batch.good)
    .hincrby(prefix + w.dayKey, `${w.day}:t`, batch.total)
    .pexpire(prefix + w.dayKey, SLO_KEYS.DAY_TTL_MS)
    .exec();
}

const FIELD = /^(\d{1,12}):([gt])$/;
const COUNT = /^\d{1,19}$/;

/**
 * The buckets of a ring's hashes (epoch minute or day → counts). Fields and values that are not the writer's format,
 * and buckets whose good exceeds their total or lack one half, are left out and named in `invalid` (`<key> <field>`).
 */
export function parseBuckets(hashes: { key: string; fields: Record<string, string> }[]): {
  buckets: Map<number, Counts>;
  invalid: string[];
} {
  const halves = new Map<number, { g?: bigint; t?: bigint; where: string }>();
  const invalid: string[] = [];
  for (const { key, fields } of hashes) {
    for (const [field, value] of Object.entries(fields)) {
      const m = FIELD.exec(field);
      if (!m || !COUNT.test(value)) {
        invalid.push(`${key} ${field}=${JSON.stringify(value.length > 24 ? `${value.slice(0, 21)}...` : value)}`);
        continue;
      }
      const bucket = Number(m[1]);
      const h = halves.get(bucket) ?? { where: key };
      // The same bucket in two slots cannot happen with the writer's recipe: the second is garbage too.
      if (h[m[2] as "g" | "t"] !== undefined) invalid.push(`${key} ${field}: bucket also in ${h.where}`);
      else h[m[2] as "g" | "t"] = BigInt(value);
      halves.set(bucket, h);
    }
  }
  const buckets = new Map<number, Counts>();
  for (const [bucket, h] of halves) {
    if (h.g === undefined || h.t === undefined)
      invalid.push(`${h.where} ${bucket}: ${h.g === undefined ? "g" : "t"} missing`);
    else if (h.g > h.t) invalid.push(`${h.where} ${bucket}: good ${h.g} > total ${h.t}`);
    else buckets.set(bucket, { good: h.g, total: h.t });
  }
  return { buckets, invalid };
}

/** The counts of the buckets in [from, to] (inclusive). */
export function sumBuckets(buckets: Map<number, Counts>, from: number, to: number): Counts {
  let good = 0n;
  let total = 0n;
  for (const [b, c] of buckets) {
    if (b < from || b > to) continue;
    good += c.good;
    total += c.total;
  }
  return { good, total };
}

/** A window ending at `nowMs`: its `minutes` most recent minute buckets, the current (partial) one included. */
export function windowCounts(minutes: Map<number, Counts>, nowMs: number, lengthMinutes: number): Counts {
  const now = Math.floor(nowMs / MINUTE_MS);
  return sumBuckets(minutes, now - lengthMinutes + 1, now);
}

/** The SLO period ending at `nowMs`: its `days` most recent UTC days, today included. */
export function periodCounts(days: Map<number, Counts>, nowMs: number, periodDays: number): Counts {
  const today = Math.floor(nowMs / DAY_MS);
  return sumBuckets(days, today - periodDays + 1, today);
}

const dec = (x: bigint | number | string) => new D(typeof x === "bigint" ? x.toString() : x);

/** The error budget as a share of events, in percent: 100 − target. */
const budgetPct = (targetPct: number): Dec => dec(100).minus(dec(targetPct));

/** The burn rate of a span (error ratio / budget), or null without events. For display; compare with burnsFaster. */
export function burnRate(c: Counts, targetPct: number): Dec | null {
  if (c.total === 0n) return null;
  return dec(c.total - c.good)
    .times(100)
    .div(budgetPct(targetPct).times(dec(c.total)));
}

/** True when the span burns strictly faster than `factor` (bad/total > factor × budget), exactly. */
export function burnsFaster(c: Counts, targetPct: number, factor: number): boolean {
  if (c.total === 0n) return false;
  return dec(c.total - c.good)
    .times(100)
    .gt(dec(factor).times(budgetPct(targetPct)).times(dec(c.total)));
}

/** The budget left over a period, in percent of the budget (negative when overspent), or null without events. */
export function budgetLeftPct(c: Counts, targetPct: number): Dec | null {
  if (c.total === 0n) return null;
  return dec(100).minus(
    dec(c.total - c.good)
      .times(10_000)
      .div(budgetPct(targetPct).times(dec(c.total))),
  );
}

/** True when more than `pct` percent of the period's budget is left, exactly (false without events). */
export function leftAbove(c: Counts, targetPct: number, pct: number): boolean {
  if (c.total === 0n) return false;
  // 100 − 10⁴·bad / (budget·total) > pct  ⇔  (100 − pct)·budget·total > 10⁴·bad
  return dec(100)
    .minus(dec(pct))
    .times(budgetPct(targetPct))
    .times(dec(c.total))
    .gt(dec(c.total - c.good).times(10_000));
}

/** Bad events the period may have: budget × total (a decimal when the budget is not a whole share). */
export function budgetEvents(c: Counts, targetPct: number): Dec {
  return budgetPct(targetPct).times(dec(c.total)).div(100);
}

/** "14.40×" (two decimals, half up); "—" without events. */
export function showBurn(b: Dec | null): string {
  return b === null ? "—" : `${b.toFixed(2)}×`;
}

/** "62.3%" of the budget left, rounded down so it never reads better than it is; "—" without events. */
export function showLeft(p: Dec | null): string {
  return p === null ? "—" : `${p.toFixed(1, Decimal.ROUND_FLOOR)}%`;
}

/** A window length as written in the config: "5m", "1h", "3d". */
export function showWindow(minutes: number): string {
  if (minutes % 1440 === 0) return `${minutes / 1440}d`;
  if (minutes % 60 === 0) return `${minutes / 60}h`;
  return `${minutes}m`;
}

/** Parses "5m", "1h", "3d" into minutes, or null. */
export function parseWindow(s: string): number | null {
  const m = /^(\d{1,4})(m|h|d)$/.exec(s.trim());
  if (!m) return null;
  const n = Number(m[1]) * (m[2] === "d" ? 1440 : m[2] === "h" ? 60 : 1);
  return n >= 1 ? n : null;
}
