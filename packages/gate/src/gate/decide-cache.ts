// What decide() may remember between checks so that the hot path stays allocation-light: the NYSE session of the
// current New York day, PDT status per account and day, event-lock limits per strategy and notional caps as scaled
// integers. Everything here is derived from one version of the flags: the gate clears it after every full re-read
// (the scaled caps are keyed by the Decimal they came from, so they go with it).
import type { Decimal } from "decimal.js";
import { addDays, type Closures, calendarDay, nyDate, nyInstant } from "../market/calendar.js";
import type { PdtStatus } from "../market/pdt.js";
import { type Scaled, toScaled } from "./scaled.js";

/** A strategy's strategy:bounds caps as exact scaled integers (null: no such bound). */
export interface ExposureLimits {
  orderNotional: Scaled | null;
  position: Scaled | null;
  gross: Scaled | null;
}

/** A strategy's limits under the event lock: `cap` × its normal limit (null: no such limit). */
export interface LockedLimits extends ExposureLimits {
  /** strategy:caps max_qty and max_notional. */
  maxQty: number | null;
  maxNotional: Scaled | null;
}

/** Per-flags-version caches the decision may fill (market session of the day, PDT status per account and day). */
export class DecideCache {
  session: {
    date: string;
    dayStart: number;
    dayEnd: number;
    opens: number;
    closes: number;
    reason: string | null;
  } | null = null;
  readonly pdt = new Map<
    string,
    { date: string; status: PdtStatus; headroom: Scaled | null; updatedMs: number | null; maxAgeMs: number }
  >();
  /** Per strategy: its limits (strategy:caps and strategy:bounds) scaled by the event lock's `cap`. */
  readonly locked = new Map<string, LockedLimits>();
  /** Per strategy: its strategy:bounds caps as scaled integers. */
  readonly bounds = new Map<string, ExposureLimits>();
  /** Notional caps as exact scaled integers, by the Decimal they came from. */
  readonly scaled = new WeakMap<Decimal, Scaled>();
  /** Drops everything (after the flags changed). */
  clear(): void {
    this.session = null;
    this.pdt.clear();
    this.locked.clear();
    this.bounds.clear();
  }
}

/** The session bounds of the New York day containing `now` (cached until the day changes or the flags do). */
export function session(cache: DecideCache, now: number, closures: Closures) {
  const s = cache.session;
  if (s && now >= s.dayStart && now < s.dayEnd) return s;
  const date = nyDate(new Date(now));
  const day = calendarDay(date, closures);
  const next = {
    date,
    dayStart: nyInstant(date, 0).getTime(),
    dayEnd: nyInstant(addDays(date, 1), 0).getTime(),
    opens: day.opens ? day.opens.getTime() : Number.NaN,
    closes: day.closes ? day.closes.getTime() : Number.NaN,
    reason: day.reason,
  };
  cache.session = next;
  return next;
}

/** A notional cap as a Scaled, converted once per Decimal. */
export function scaledOf(cache: DecideCache, d: Decimal): Scaled {
  let v = cache.scaled.get(d);
  if (!v) {
    v = toScaled(d);
    cache.scaled.set(d, v);
  }
  return v;
}
