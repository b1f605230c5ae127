// The NYSE trading calendar: NYSE Rule 7.2 (Holidays) and the 1:00 p.m. ET early closes NYSE announces each year.
//
// Two sources, one answer. `data/nyse-calendar.json` holds the dates NYSE Group has published (2025–2028) and the
// one-off closures (9/11, days of mourning, Hurricane Sandy); for any other year the generating rule below applies.
// test/market/calendar.test.ts checks that the rule reproduces every published year, so a year NYSE has not yet
// published is computed by the same rule its published neighbours follow. On top of both, the desk can declare an
// unscheduled closure at run time (Redis hash `market:closures`, passed in here as `closures`).
//
// The rule (NYSE Rule 7.2 and its commentary):
// - Holidays: New Year's Day, Martin Luther King, Jr. Day (3rd Monday of January), Washington's Birthday (3rd Monday
//   of February), Good Friday, Memorial Day (last Monday of May), Juneteenth National Independence Day (June 19,
//   from 2022: SR-NYSE-2021-56), Independence Day, Labor Day (1st Monday of September), Thanksgiving Day (4th
//   Thursday of November), Christmas Day.
// - A holiday on a Saturday closes the preceding Friday; on a Sunday, the following Monday — "unless unusual
//   business conditions exist, such as the ending of a monthly or yearly accounting period": so when January 1 is a
//   Saturday the exchange stays open on Friday December 31 (2021-12-31 and 2027-12-31 are trading days; NYSE's
//   2028 calendar: "no New Year's Day holiday is observed").
// - Early closes at 1:00 p.m.: July 3 when it is a Monday–Thursday (so never when Independence Day is observed on
//   a Friday or a Monday: 2026 and 2027 have none), the day after Thanksgiving, and December 24 when it is a
//   Monday–Thursday (a Friday December 24 is the observed Christmas holiday).
// Regular session: 09:30–16:00 America/New_York.
import { DateTime } from "luxon";
import data from "./data/nyse-calendar.json" with { type: "json" };

export const NY_ZONE = "America/New_York";
/** Regular session open, close and the early close, in New York wall-clock minutes after midnight. */
export const OPEN_MINUTE = 9 * 60 + 30;
export const CLOSE_MINUTE = 16 * 60;
export const EARLY_CLOSE_MINUTE = 13 * 60;
/** First year of the Juneteenth holiday on NYSE (SR-NYSE-2021-56; first closure 2022-06-20). */
export const JUNETEENTH_FROM = 2022;

export type Session = "regular" | "early_close" | "closed";

/** Where a day's status came from. */
export type DaySource = "weekend" | "runtime" | "one_off" | "published" | "rule" | "regular";

/** One New York calendar day. */
export interface CalendarDay {
  /** YYYY-MM-DD in New York. */
  date: string;
  session: Session;
  /** Session bounds of that day; null when closed all day. */
  opens: Date | null;
  closes: Date | null;
  /** The holiday, closure or early close; "weekend"; null on a regular day. */
  reason: string | null;
  source: DaySource;
}

/** The market at one instant (the `tradeguard market` output). */
export interface MarketStatus {
  open: boolean;
  session: Session;
  opens: Date | null;
  closes: Date | null;
  reason: string | null;
  date: string;
}

/** Unscheduled closures declared at run time: YYYY-MM-DD → reason. */
export type Closures = ReadonlyMap<string, string>;

interface YearDates {
  holidays: Map<string, string>;
  earlyCloses: Map<string, string>;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** True for a well-formed YYYY-MM-DD that names a real date. */
export function isIsoDate(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  const [y, m, d] = s.split("-").map(Number) as [number, number, number];
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

// ---------------------------------------------------------------------------------------------------------------
// Date arithmetic on YYYY-MM-DD strings (UTC-based, so no time zone can shift a date).

function ymd(y: number, m: number, d: number): string {
  return `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

function toUtc(date: string): Date {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d));
}

/** Day of the week of a YYYY-MM-DD: 0 Sunday … 6 Saturday. */
export function weekday(date: string): number {
  return toUtc(date).getUTCDay();
}

/** `date` plus `n` calendar days. */
export function addDays(date: string, n: number): string {
  const t = toUtc(date);
  t.setUTCDate(t.getUTCDate() + n);
  return ymd(t.getUTCFullYear(), t.getUTCMonth() + 1, t.getUTCDate());
}

function nthWeekday(year: number, month: number, wd: number, n: number): string {
  const first = weekday(ymd(year, month, 1));
  return ymd(year, month, 1 + ((wd - first + 7) % 7) + 7 * (n - 1));
}

function lastWeekday(year: number, month: number, wd: number): string {
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const last = weekday(ymd(year, month, lastDay));
  return ymd(year, month, lastDay - ((last - wd + 7) % 7));
}

/** Easter Sunday (Gregorian; the anonymous "Meeus/Jones/Butcher" algorithm). */
export function easterSunday(year: number): string {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return ymd(year, month, day);
}

// ---------------------------------------------------------------------------------------------------------------
// The generating rule

/** NYSE Rule 7.2's weekend shift: Saturday → preceding Friday, Sunday → following Monday. */
function observe(holidays: Map<string, string>, date: string, name: string): void {
  const wd = weekday(date);
  if (wd === 6) holidays.set(addDays(date, -1), `${name} (observed)`);
  else if (wd === 0) holidays.set(addDays(date, 1), `${name} (observed)`);
  else holidays.set(date, name);
}

/** The full-day holidays NYSE Rule 7.2 produces for `year` (observed dates), by the generating rule alone. */
export function ruleHolidays(year: number): Map<string, string> {
  const h = new Map<string, string>();
  // New Year's Day: Sunday → Monday January 2; Saturday → no holiday at all (the year-end accounting exception).
  const newYear = ymd(year, 1, 1);
  if (weekday(newYear) !== 6) observe(h, newYear, "New Year's Day");
  h.set(nthWeekday(year, 1, 1, 3), "Martin Luther King, Jr. Day");
  h.set(nthWeekday(year, 2, 1, 3), "Washington's Birthday");
  h.set(addDays(easterSunday(year), -2), "Good Friday");
  h.set(lastWeekday(year, 5, 1), "Memorial Day");
  if (year >= JUNETEENTH_FROM) observe(h, ymd(year, 6, 19), "Juneteenth National Independence Day");
  observe(h, ymd(year, 7, 4), "Independence Day");
  h.set(nthWeekday(year, 9, 1, 1), "Labor Day");
  h.set(nthWeekday(year, 11, 4, 4), "Thanksgiving Day");
  observe(h, ymd(year, 12, 25), "Christmas Day");
  return new Map([...h.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/** The 1:00 p.m. early closes for `year`, by the generating rule alone. */
export function ruleEarlyCloses(year: number): Map<string, string> {
  const e = new Map<string, string>();
  const jul3 = ymd(year, 7, 3);
  if (weekday(jul3) >= 1 && weekday(jul3) <= 4) e.set(jul3, "Day before Independence Day");
  e.set(addDays(nthWeekday(year, 11, 4, 4), 1), "Day after Thanksgiving");
  const dec24 = ymd(year, 12, 24);
  if (weekday(dec24) >= 1 && weekday(dec24) <= 4) e.set(dec24, "Christmas Eve");
  return e;
}

// ---------------------------------------------------------------------------------------------------------------
// Published data

const published = new Map<number, YearDates>(
  Object.entries(data.published).map(([y, v]) => [
    Number(y),
    { holidays: new Map(Object.entries(v.holidays)), earlyCloses: new Map(Object.entries(v.earlyCloses)) },
  ]),
);
const oneOff = new Map<string, string>(Object.entries(data.oneOff));

/** The years whose dates come from NYSE's own announcements. */
export function publishedYears(): number[] {
  return [...published.keys()].sort();
}

/** NYSE's published holidays and early closes of `year`, or null when NYSE has not published that year (here). */
export function publishedCalendar(
  year: number,
): { holidays: Map<string, string>; earlyCloses: Map<string, string> } | null {
  const p = published.get(year);
  return p ? { holidays: new Map(p.holidays), earlyCloses: new Map(p.earlyCloses) } : null;
}

/** The one-off closures shipped with the calendar (date → reason). */
export function oneOffClosures(): Map<string, string> {
  return new Map(oneOff);
}

const yearCache = new Map<number, YearDates & { source: "published" | "rule" }>();

function yearDates(year: number): YearDates & { source: "published" | "rule" } {
  let y = yearCache.get(year);
  if (!y) {
    const p = published.get(year);
    y = p
      ? { ...p, source: "published" }
      : { holidays: ruleHolidays(year), earlyCloses: ruleEarlyCloses(year), source: "rule" };
    yearCache.set(year, y);
  }
  return y;
}

// ---------------------------------------------------------------------------------------------------------------
// Queries

/** The New York calendar date (YYYY-MM-DD) of an instant. */
export function nyDate(at: Date): string {
  return DateTime.fromJSDate(at, { zone: NY_ZONE }).toISODate() as string;
}

/** The instant of a New York wall-clock time (minutes after midnight) on a New York date. */
export function nyInstant(date: string, minuteOfDay: number): Date {
  const [y, m, d] = date.split("-").map(Number) as [number, number, number];
  return DateTime.fromObject(
    { year: y, month: m, day: d, hour: Math.floor(minuteOfDay / 60), minute: minuteOfDay % 60 },
    { zone: NY_ZONE },
  ).toJSDate();
}

const staticDays = new Map<string, CalendarDay>();

function staticDay(date: string): CalendarDay {
  let day = staticDays.get(date);
  if (day) return day;
  const wd = weekday(date);
  const year = Number(date.slice(0, 4));
  const y = yearDates(year);
  const closed = (reason: string, source: DaySource): CalendarDay => ({
    date,
    session: "closed",
    opens: null,
    closes: null,
    reason,
    source,
  });
  if (wd === 0 || wd === 6) day = closed("weekend", "weekend");
  else if (oneOff.has(date)) day = closed(oneOff.get(date)!, "one_off");
  else if (y.holidays.has(date)) day = closed(y.holidays.get(date)!, y.source);
  else if (y.earlyCloses.has(date))
    day = {
      date,
      session: "early_close",
      opens: nyInstant(date, OPEN_MINUTE),
      closes: nyInstant(date, EARLY_CLOSE_MINUTE),
      reason: `${y.earlyCloses.get(date)!} (early close 13:00 ET)`,
      source: y.source,
    };
  else
    day = {
      date,
      session: "regular",
      opens: nyInstant(date, OPEN_MINUTE),
      closes: nyInstant(date, CLOSE_MINUTE),
      reason: null,
      source: "regular",
    };
  if (staticDays.size > 20_000) staticDays.clear();
  staticDays.set(date, day);
  return day;
}

/** One New York calendar day: its session and bounds, with run-time closures applied. */
export function calendarDay(date: string, closures?: Closures): CalendarDay {
  if (!isIsoDate(date)) throw new RangeError(`not a YYYY-MM-DD date: ${JSON.stringify(date)}`);
  const day = staticDay(date);
  const extra = closures?.get(date);
  if (extra !== undefined && day.session !== "closed") {
    return {
      date,
      session: "closed",
      opens: null,
      closes: null,
      reason: extra || "unscheduled closure",
      source: "runtime",
    };
  }
  return day;
}

/** The `market:closures` hash (YYYY-MM-DD → reason) as Closures, and the fields that are not real dates. */
export function closuresFromHash(raw: Record<string, string>): { closures: Map<string, string>; invalid: string[] } {
  const closures = new Map<string, string>();
  const invalid: string[] = [];
  for (const [date, reason] of Object.entries(raw)) {
    if (isIsoDate(date)) closures.set(date, reason || "unscheduled closure");
    else invalid.push(date);
  }
  return { closures, invalid };
}

/** True when the market has a session (regular or early close) on `date`. */
export function isTradingDay(date: string, closures?: Closures): boolean {
  return calendarDay(date, closures).session !== "closed";
}

/** The market at `at`: open or not, that New York day's session and bounds, and why it is closed. */
export function marketStatus(at: Date, closures?: Closures): MarketStatus {
  const day = calendarDay(nyDate(at), closures);
  const t = at.getTime();
  const open = day.opens !== null && day.closes !== null && t >= day.opens.getTime() && t < day.closes.getTime();
  return { open, session: day.session, opens: day.opens, closes: day.closes, reason: day.reason, date: day.date };
}

/** The first trading day strictly after `date`. */
export function nextTradingDay(date: string, closures?: Closures): string {
  let d = date;
  for (let i = 0; i < 400; i++) {
    d = addDays(d, 1);
    if (isTradingDay(d, closures)) return d;
  }
  throw new RangeError(`no trading day within 400 days after ${date}`);
}

/** The last trading day strictly before `date`. */
export function previousTradingDay(date: string, closures?: Closures): string {
  let d = date;
  for (let i = 0; i < 400; i++) {
    d = addDays(d, -1);
    if (isTradingDay(d, closures)) return d;
  }
  throw new RangeError(`no trading day within 400 days before ${date}`);
}

/** The most recent trading day whose session has closed by `at` (today after the close, else the one before). */
export function lastClosedTradingDay(at: Date, closures?: Closures): string {
  const today = calendarDay(nyDate(at), closures);
  if (today.closes && at.getTime() >= today.closes.getTime()) return today.date;
  return previousTradingDay(today.date, closures);
}

/** The `n` trading days ending with `date` (included when it is one), oldest first: FINRA's "business days". */
export function tradingDaysEnding(date: string, n: number, closures?: Closures): string[] {
  const out: string[] = [];
  let d = date;
  if (!isTradingDay(d, closures)) d = previousTradingDay(d, closures);
  while (out.length < n) {
    out.unshift(d);
    if (out.length < n) d = previousTradingDay(d, closures);
  }
  return out;
}

/** The next session open at or after `at` (today's open if it is still ahead). */
export function nextOpen(at: Date, closures?: Closures): Date {
  const today = calendarDay(nyDate(at), closures);
  if (today.opens && today.opens.getTime() >= at.getTime()) return today.opens;
  return calendarDay(nextTradingDay(today.date, closures), closures).opens!;
}
