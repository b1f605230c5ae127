// Reg SHO Rule 201 (17 CFR 242.201), the short sale price test circuit breaker.
//
// - Trigger, Rule 201(b)(1)(i): the price of a covered security "decreases by 10% or more from the covered
//   security's closing price as determined by the listing market … as of the end of regular trading hours on the
//   prior day". We test eligible trade prices (and the feed's day low) against the prior close, exactly:
//   price ≤ 0.9 × prior close. Only trades during the regular session trigger it here; the listing market's own
//   determination (the SIP short-sale-restriction indicator, passed in by the feed as `ssr`) is authoritative.
// - Duration, Rule 201(b)(1)(ii): "for the remainder of the day and the following day". We read "the following day"
//   as the next trading day, and keep the restriction until the end (New York midnight) of that day. A new 10%
//   decline while restricted re-triggers it (SEC staff FAQ 2.2, citing the Adopting Release, 75 FR 11232 n.290):
//   the restriction then runs to the end of the trading day after the re-trigger.
// - The feed's SIP short-sale-restriction indicator is not a new trigger each day: it stays on during the second day of
//   a restriction that Rule 201(b)(1)(ii) limits to "the remainder of the day and the following day". Reading each
//   day's indicator as a fresh trigger would move `until` a trading day further every day it is on. So an indicator
//   never extends a restriction that is already in force, and a restriction recorded from the indicator alone lasts
//   to the end of the current New York day (the indicator, re-read on the next day, says whether it still applies).
//   Only a price-based trigger this guard sees itself (source "trade") runs to the end of the following trading day.
// - Price test, Rule 201(b)(1)(i): while restricted, a short sale may not be executed or displayed "at a price that
//   is less than or equal to the current national best bid": it must be priced strictly above the NBB.
// Not modelled: the "short exempt" exceptions of Rule 201(c)/(d) (a short sale the broker-dealer marks short exempt
// is outside this check; the gate has no such order type).
import { Decimal } from "decimal.js";
import { addDays, type Closures, marketStatus, nextTradingDay, nyDate, nyInstant } from "./calendar.js";

/** The decline that triggers the circuit breaker: 10%. */
export const SSR_DECLINE = new Decimal("0.10");

/** The highest price that triggers Rule 201 for a prior close: 90% of it. */
export function ssrTriggerPrice(previousClose: Decimal.Value): Decimal {
  return new Decimal(previousClose).mul(new Decimal(1).sub(SSR_DECLINE));
}

/** True when `price` is a decline of 10% or more from `previousClose` (Rule 201(b)(1)(i)). */
export function ssrTriggered(previousClose: Decimal.Value, price: Decimal.Value): boolean {
  const prev = new Decimal(previousClose);
  if (prev.lte(0)) return false;
  return new Decimal(price).lte(ssrTriggerPrice(prev));
}

/** When a restriction triggered at `at` ends: the end of the next trading day after that New York date. */
export function ssrUntil(at: Date, closures?: Closures): Date {
  const today = nyDate(at);
  const following = nextTradingDay(today, closures);
  return nyInstant(addDays(following, 1), 0);
}

/** Rule 201(b)(1)(i)'s price test: a short sale under the restriction must be priced above the national best bid. */
export function shortSalePriceAllowed(price: Decimal.Value, nationalBestBid: Decimal.Value): boolean {
  return new Decimal(price).gt(new Decimal(nationalBestBid));
}

/** A restriction as stored in `ssr:active` (field = symbol, value = this as JSON). */
export interface SsrRecord {
  /** ISO time the decline was first seen (or the feed reported the restriction). */
  triggered_at: string;
  /** ISO time the restriction ends. */
  until: string;
  /** What triggered it: an eligible trade (or day low) at `price` against `prev_close`, or the feed's indicator. */
  source: "trade" | "feed";
  prev_close?: string;
  price?: string;
}

/** The end (New York midnight) of the New York day of `at`. */
export function endOfNyDay(at: Date): Date {
  return nyInstant(addDays(nyDate(at), 1), 0);
}

/**
 * The restriction after an observation. A price-based trigger (source "trade"; or a re-trigger on a later day) sets
 * `until` to the end of the following trading day; an existing later `until` is kept. The feed's indicator (source
 * "feed") never extends a restriction in force, and alone lasts to the end of the current New York day: the SIP
 * indicator stays on for the second day of Rule 201(b)(1)(ii)'s "remainder of the day and the following day", so
 * it is not a new trigger each day. Returns null when nothing is (still) in force.
 */
export function applySsrTrigger(
  existing: SsrRecord | null,
  trigger: { at: Date; source: "trade" | "feed"; prevClose?: string; price?: string } | null,
  now: Date,
  closures?: Closures,
): SsrRecord | null {
  const live = existing && Date.parse(existing.until) > now.getTime() ? existing : null;
  if (!trigger) return live;
  if (trigger.source === "feed") {
    // Reg SHO Rule 201(b)(1)(ii): the indicator is on through the following day of an existing restriction; it is
    // not a re-trigger. Keep what is in force; otherwise restrict for the rest of this New York day only.
    if (live) return live;
    return { triggered_at: trigger.at.toISOString(), until: endOfNyDay(trigger.at).toISOString(), source: "feed" };
  }
  const until = ssrUntil(trigger.at, closures).toISOString();
  if (live && Date.parse(live.until) >= Date.parse(until)) return live;
  return {
    triggered_at: live?.triggered_at ?? trigger.at.toISOString(),
    until,
    source: trigger.source,
    ...(trigger.prevClose !== undefined ? { prev_close: trigger.prevClose } : {}),
    ...(trigger.price !== undefined ? { price: trigger.price } : {}),
  };
}

/** True when the restriction applies at `now`. */
export function ssrActive(record: { until: string } | null | undefined, now: Date): boolean {
  return !!record && Date.parse(record.until) > now.getTime();
}

/** True when Rule 201 trades can trigger at `at`: a regular session is in progress (see the module comment). */
export function ssrCanTrigger(at: Date, closures?: Closures): boolean {
  return marketStatus(at, closures).open;
}
