// The economic event calendar: when scheduled macro releases and earnings happen, and the windows around them.
// Pure (no Redis, no config): src/jobs/economic-events.ts reads the inputs and decides what to lock.
// - FOMC and CPI: the shipped calendar (data/economic-events-2026-2027.json), local times in America/New_York,
//   converted with luxon so DST is right. A broken file throws on first use, naming the problem.
// - Earnings: the desk's entries, from the Redis sorted set `risk:events:earnings` (JSON member, score = epoch ms)
//   or a YAML file; entries that do not parse are returned as `invalid`, never thrown, so one bad entry does not
//   hide the others (or FOMC and CPI).
import { DateTime } from "luxon";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import shippedCalendar from "./data/economic-events-2026-2027.json" with { type: "json" };

export const EVENT_ZONE = "America/New_York";

export const EVENT_KINDS = ["FOMC", "CPI", "earnings"] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

const localDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "YYYY-MM-DD");
const localTime = z.string().regex(/^\d{2}:\d{2}$/, "HH:MM");

/** The shipped calendar file's shape. */
export const calendarFileSchema = z.object({
  timezone: z.literal(EVENT_ZONE),
  sources: z.record(z.string(), z.string()),
  events: z.array(
    z
      .object({
        kind: z.enum(["FOMC", "CPI"]),
        date: localDate,
        time: localTime,
        title: z.string().min(1),
        confirmed: z.boolean(),
        note: z.string().optional(),
      })
      .strict(),
  ),
});

/** One event with its instant resolved. */
export interface CalendarEvent {
  kind: EventKind;
  /** Epoch ms of the release. */
  at: number;
  /** How people read it: "FOMC 2026-12-09 14:00 ET". */
  label: string;
  title: string;
  confirmed: boolean;
}

/** A New York wall-clock time → epoch ms (DST-aware); NaN for a time that does not exist or does not parse. */
export function newYorkToEpochMs(date: string, time: string): number {
  const dt = DateTime.fromISO(`${date}T${time}`, { zone: EVENT_ZONE });
  // A wall time inside the spring-forward gap is shifted by luxon; refuse it rather than lock at a surprising time.
  if (!dt.isValid || dt.toFormat("yyyy-MM-dd'T'HH:mm") !== `${date}T${time}`) return Number.NaN;
  return dt.toMillis();
}

/** "2026-12-09 14:00 ET" for an instant. */
export function newYorkLabel(epochMs: number): string {
  return `${DateTime.fromMillis(epochMs, { zone: EVENT_ZONE }).toFormat("yyyy-MM-dd HH:mm")} ET`;
}

let shippedCache: CalendarEvent[] | null = null;

/** The shipped FOMC and CPI events, validated once (a broken file throws, naming the problem). */
export function shippedEvents(): CalendarEvent[] {
  if (shippedCache) return shippedCache;
  const parsed = calendarFileSchema.safeParse(shippedCalendar);
  if (!parsed.success) {
    throw new Error(
      `economic-events-2026-2027.json: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  shippedCache = parsed.data.events.map((e) => {
    const at = newYorkToEpochMs(e.date, e.time);
    if (Number.isNaN(at))
      throw new Error(`economic-events-2026-2027.json: ${e.date} ${e.time} is not a New York wall time`);
    return {
      kind: e.kind,
      at,
      label: `${e.kind} ${e.date} ${e.time} ET${e.confirmed ? "" : " (date unconfirmed)"}`,
      title: e.title,
      confirmed: e.confirmed,
    };
  });
  return shippedCache;
}

const earningsMemberSchema = z.object({ symbol: z.string().min(1).max(32), name: z.string().max(200).optional() });

/** An earnings entry of the YAML file: `at` is New York wall time ("2027-01-28T16:30") or ISO with an offset. */
const earningsFileSchema = z.object({
  earnings: z
    .array(z.object({ symbol: z.string().min(1).max(32), name: z.string().max(200).optional(), at: z.string().min(1) }))
    .default([]),
});

function earningsLabel(symbol: string, name: string | undefined, at: number): string {
  return `earnings ${symbol}${name ? ` (${name})` : ""} ${newYorkLabel(at)}`;
}

/** Parses an earnings time: New York wall time, or an ISO instant with an offset/Z. NaN when unreadable. */
export function parseEarningsTime(at: string): number {
  const withOffset = /([zZ]|[+-]\d{2}:?\d{2})$/.test(at);
  const dt = withOffset ? DateTime.fromISO(at, { setZone: true }) : DateTime.fromISO(at, { zone: EVENT_ZONE });
  return dt.isValid ? dt.toMillis() : Number.NaN;
}

/** Parses the earnings YAML text into events plus the entries it had to skip. */
export function parseEarningsFile(text: string): { events: CalendarEvent[]; invalid: string[] } {
  const parsed = earningsFileSchema.safeParse(parseYaml(text) ?? {});
  if (!parsed.success) return { events: [], invalid: [`file: ${parsed.error.issues[0]?.message ?? "invalid"}`] };
  const events: CalendarEvent[] = [];
  const invalid: string[] = [];
  for (const e of parsed.data.earnings) {
    const at = parseEarningsTime(e.at);
    if (Number.isNaN(at)) invalid.push(`${e.symbol}: at ${JSON.stringify(e.at)} is not a date-time`);
    else
      events.push({
        kind: "earnings",
        at,
        label: earningsLabel(e.symbol, e.name, at),
        title: `${e.symbol} earnings`,
        confirmed: true,
      });
  }
  return { events, invalid };
}

/** Earnings from the Redis sorted set, plus the members it had to skip. */
export function parseEarningsZset(entries: [string, unknown][]): { events: CalendarEvent[]; invalid: string[] } {
  const events: CalendarEvent[] = [];
  const invalid: string[] = [];
  for (const [member, score] of entries) {
    let parsed: z.infer<typeof earningsMemberSchema> | null = null;
    try {
      const r = earningsMemberSchema.safeParse(JSON.parse(member));
      if (r.success) parsed = r.data;
    } catch {
      // not JSON: reported below
    }
    if (!parsed || typeof score !== "number" || !Number.isFinite(score) || score <= 0) {
      invalid.push(`${member.length > 60 ? `${member.slice(0, 57)}...` : member} (score ${String(score)})`);
      continue;
    }
    events.push({
      kind: "earnings",
      at: score,
      label: earningsLabel(parsed.symbol, parsed.name, score),
      title: `${parsed.symbol} earnings`,
      confirmed: true,
    });
  }
  return { events, invalid };
}

/** How long before and after an event of each kind its window runs, in ms. */
export type EventWindows = Record<EventKind, { before: number; after: number }>;

/** Events whose window contains `nowMs` (start inclusive, end exclusive), with the window, by event time. */
export function activeWindows(
  events: CalendarEvent[],
  nowMs: number,
  windows: EventWindows,
): { event: CalendarEvent; start: number; end: number }[] {
  const out: { event: CalendarEvent; start: number; end: number }[] = [];
  for (const e of events) {
    const w = windows[e.kind];
    const start = e.at - w.before;
    const end = e.at + w.after;
    if (start <= nowMs && nowMs < end) out.push({ event: e, start, end });
  }
  return out.sort((a, b) => a.event.at - b.event.at);
}

/** The start of the next window after `nowMs` (epoch ms), or null. */
export function nextWindowStart(events: CalendarEvent[], nowMs: number, windows: EventWindows): number | null {
  let best: number | null = null;
  for (const e of events) {
    const start = e.at - windows[e.kind].before;
    if (start > nowMs && (best === null || start < best)) best = start;
  }
  return best;
}
