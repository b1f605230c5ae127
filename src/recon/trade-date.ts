// The trade date of an execution: its America/New_York calendar date. A fill at 00:30 UTC on the 2nd was executed at
// 19:30 or 20:30 New York time on the 1st (extended hours) and is a trade of the 1st, as the broker's statement
// dates it (issue #11: "The trade date of an execution is its America/New_York calendar date").
//
// Execution times must be ISO-8601 with a date, a time and an explicit offset ("Z", "+02:00", "-0500", "+01"): a
// time without an offset is ambiguous and is refused rather than read in the machine's zone. The calendar date is
// computed by luxon from the IANA zone (so DST transitions are handled by the tz database, not by us) and cached per
// UTC hour: New York's offset is a whole number of hours and changes only on a UTC hour boundary, so every instant in
// one UTC hour has the same New York date. That keeps a million-fill run from calling luxon a million times.
import { DateTime } from "luxon";

/** The zone trade dates are taken in (the US equity market's). */
export const TRADE_DATE_ZONE = "America/New_York";

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)$/;
const HOUR_MS = 3_600_000;
const CACHE_LIMIT = 50_000;
const byHour = new Map<number, string>();

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Epoch ms of an ISO-8601 date-time with an explicit offset, or null when it is not one (sub-ms digits truncated). */
export function parseExecutionTime(iso: string): number | null {
  if (typeof iso !== "string") return null;
  const m = ISO.exec(iso);
  if (!m) return null;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const second = m[6] ? Number(m[6]) : 0;
  const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  let offsetMin = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = m[11] ? Number(m[11]) : 0;
    if (oh > 23 || om > 59) return null;
    offsetMin = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  let utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (year < 100) {
    // Date.UTC maps years 0–99 to 1900–1999; set the year explicitly.
    const d = new Date(utc);
    d.setUTCFullYear(year);
    utc = d.getTime();
  }
  return utc - offsetMin * 60_000;
}

/** The America/New_York calendar date (YYYY-MM-DD) of an instant given in epoch ms. */
export function tradeDateOfMs(ms: number): string {
  const hour = Math.floor(ms / HOUR_MS);
  const cached = byHour.get(hour);
  if (cached !== undefined) return cached;
  const start = DateTime.fromMillis(hour * HOUR_MS, { zone: TRADE_DATE_ZONE });
  const end = DateTime.fromMillis(hour * HOUR_MS + HOUR_MS - 1, { zone: TRADE_DATE_ZONE });
  if (start.offset % 60 !== 0 || start.offset !== end.offset) {
    // Before 1883 New York kept local mean time (−4:56:02): the whole-hour reasoning does not hold, so no cache.
    return DateTime.fromMillis(ms, { zone: TRADE_DATE_ZONE }).toISODate()!;
  }
  const date = start.toISODate()!;
  if (byHour.size >= CACHE_LIMIT) byHour.clear();
  byHour.set(hour, date);
  return date;
}

/** The America/New_York trade date (YYYY-MM-DD) of an ISO-8601 execution time, or null when it is not one. */
export function tradeDate(iso: string): string | null {
  const ms = parseExecutionTime(iso);
  return ms === null ? null : tradeDateOfMs(ms);
}

/** True when `s` is a real calendar date written YYYY-MM-DD (a recon date). */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return mo >= 1 && mo <= 12 && d >= 1 && d <= daysInMonth(y, mo);
}
