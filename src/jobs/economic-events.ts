// Economic event guard. Scheduled macro releases move prices in seconds, so around each one (default 15 min before to
// 30 min after) the guard sets `risk:event_lock`: trading processes cap every position at `cap` (25%) of its normal
// limit, except strategies tagged with one of `exempt` (basis and market-making, which are hedged by construction).
// Events (src/market/economic-calendar.ts): the shipped FOMC and CPI calendar, plus earnings the desk adds to the
// Redis sorted set `risk:events:earnings` or to a YAML file (`earnings_file`). The lock carries a TTL that ends with
// the window, so it lifts on time even if tradeguard stops; the guard also removes an expired lock it finds.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import * as eventCalendar from "../market/economic-calendar.js";
import {
  type CalendarEvent,
  type EventKind,
  type EventWindows,
  newYorkLabel,
  parseEarningsFile,
  parseEarningsZset,
  shippedEvents,
} from "../market/economic-calendar.js";
/** Logical key names (the runner applies the prefix). */
import { EVENT_KEYS } from "../state/keys.js";
import { type EventLock, eventLockSchema } from "../state/validate.js";
import { defineGuard, type Finding, type FlagChange } from "./guard.js";

export const SOP_EVENT = "sop-economic-event";

const windowSchema = z
  .object({
    before_min: z
      .number()
      .min(0)
      .max(24 * 60),
    after_min: z
      .number()
      .min(0)
      .max(24 * 60),
  })
  .strict();

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    before_min: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(15),
    after_min: z
      .number()
      .min(0)
      .max(24 * 60)
      .default(30),
    /** Per-kind windows overriding before_min/after_min. */
    windows: z
      .object({ FOMC: windowSchema.optional(), CPI: windowSchema.optional(), earnings: windowSchema.optional() })
      .strict()
      .default({}),
    cap: z.number().gt(0).max(1).default(0.25),
    exempt: z.array(z.string().min(1)).default(["basis", "market-making"]),
    /** Optional YAML file of earnings (`earnings: [{symbol, name?, at}]`), read on every tick. */
    earnings_file: z.string().min(1).optional(),
    /** Warn this many days before the shipped FOMC or CPI calendar runs out. */
    coverage_warn_days: z.number().int().min(0).default(30),
    /** Warn this many days before an event whose date is an estimate (confirmed=false). */
    unconfirmed_warn_days: z.number().int().min(0).default(14),
  })
  .strict();

export type EconomicEventsConfig = z.infer<typeof configSchema>;

type Values = { lock: string | null; earnings: [string, unknown][] };
type Probe = { at: number; file: { events: CalendarEvent[]; invalid: string[] } | { error: string } | null };

/** The window of one event kind, in ms. */
function windowOf(kind: EventKind, c: EconomicEventsConfig): { before: number; after: number } {
  const w = c.windows[kind];
  return { before: (w?.before_min ?? c.before_min) * 60_000, after: (w?.after_min ?? c.after_min) * 60_000 };
}

/** The configured window of every event kind, in ms. */
function eventWindows(c: EconomicEventsConfig): EventWindows {
  return { FOMC: windowOf("FOMC", c), CPI: windowOf("CPI", c), earnings: windowOf("earnings", c) };
}

/** Events whose window contains `nowMs` (start inclusive, end exclusive), with the window end. Pure. */
export function activeWindows(
  events: CalendarEvent[],
  nowMs: number,
  c: EconomicEventsConfig,
): { event: CalendarEvent; start: number; end: number }[] {
  return eventCalendar.activeWindows(events, nowMs, eventWindows(c));
}

/** The start of the next window after `nowMs` (epoch ms), or null. */
export function nextWindowStart(events: CalendarEvent[], nowMs: number, c: EconomicEventsConfig): number | null {
  return eventCalendar.nextWindowStart(events, nowMs, eventWindows(c));
}

type Collected = { events: CalendarEvent[]; invalid: string[]; fileError: string | null };

/**
 * `evaluate` and `measure` receive the same snapshot object from the runner: parse `risk:events:earnings` (which
 * is trimmed of past events each tick, but can still be large) once per tick, not twice.
 */
const collected = new WeakMap<object, { values: Values; probe: Probe | undefined; result: Collected }>();

/** Every event of this tick: shipped + Redis + file, and what was skipped as unreadable (memoized per snapshot). */
function collectOnce(snapshot: { values: Values; probe?: Probe }): Collected {
  const hit = collected.get(snapshot);
  if (hit && hit.values === snapshot.values && hit.probe === snapshot.probe) return hit.result;
  const result = collect(snapshot.values, snapshot.probe);
  collected.set(snapshot, { values: snapshot.values, probe: snapshot.probe, result });
  return result;
}

/** Every event of this tick: shipped + Redis + file, and what was skipped as unreadable. Pure. */
function collect(values: Values, probe: Probe | undefined): Collected {
  const z1 = parseEarningsZset(values.earnings);
  const events = [...shippedEvents(), ...z1.events];
  const invalid = [...z1.invalid.map((s) => `${EVENT_KEYS.earnings}: ${s}`)];
  let fileError: string | null = null;
  const file = probe?.file;
  if (file && "error" in file) fileError = file.error;
  else if (file) {
    events.push(...file.events);
    invalid.push(...file.invalid.map((s) => `earnings_file: ${s}`));
  }
  return { events, invalid, fileError };
}

function parseLock(raw: string | null): EventLock | "invalid" | null {
  if (raw === null) return null;
  try {
    const r = eventLockSchema.safeParse(JSON.parse(raw));
    return r.success ? r.data : "invalid";
  } catch {
    return "invalid";
  }
}

/** The economic event guard (YAML `guards.economic_events`). */
export const economicEvents = defineGuard<EconomicEventsConfig, Values, Probe>({
  name: "economic_events",
  schedule: "*/15 * * * * *",
  config: configSchema,
  reads: () => ({
    lock: { key: EVENT_KEYS.lock, type: "string", schema: z.string().nullable() },
    // Members are validated one by one in evaluate: one bad entry must not blind the guard to FOMC and CPI.
    earnings: { key: EVENT_KEYS.earnings, type: "zset", schema: z.array(z.tuple([z.string(), z.unknown()])) },
  }),
  async probe(c, ctx) {
    if (!c.earnings_file) return { at: ctx.now.getTime(), file: null };
    try {
      const text = await readFile(c.earnings_file, { encoding: "utf8", signal: ctx.signal });
      return { at: ctx.now.getTime(), file: parseEarningsFile(text) };
    } catch (err) {
      return { at: ctx.now.getTime(), file: { error: `${c.earnings_file}: ${(err as Error).message}` } };
    }
  },
  evaluate(snapshot, now, c) {
    const nowMs = now.getTime();
    const { events, invalid, fileError } = collectOnce(snapshot);
    const findings: Finding[] = [];
    const base = { guard: "economic_events", sop: SOP_EVENT };
    const current = parseLock(snapshot.values.lock);
    const active = activeWindows(events, nowMs, c);

    if (active.length) {
      const until = Math.max(...active.map((a) => a.end));
      const lock: EventLock = {
        event: active.map((a) => a.event.label).join(" + "),
        until: new Date(until).toISOString(),
        cap: c.cap,
        exempt: c.exempt,
      };
      // Keep a lock already in place that is at least as long and as strict (e.g. one a risk manager set by hand):
      // ending no earlier, capping no looser, and exempting no strategy the configuration does not exempt.
      const covered =
        current !== null &&
        current !== "invalid" &&
        Date.parse(current.until) >= until &&
        current.cap <= c.cap &&
        current.exempt.every((s) => c.exempt.includes(s));
      const actions: FlagChange[] = covered
        ? []
        : [{ op: "set", key: EVENT_KEYS.lock, value: JSON.stringify(lock), ttlMs: Math.max(1_000, until - nowMs) }];
      findings.push({
        ...base,
        key: "economic_events:lock",
        // warn: a restriction is in force, so the desk hears about it once (and again when it lifts).
        severity: "warn",
        title: `Event lock: ${lock.event}`,
        detail: `Positions capped at ${c.cap * 100}% until ${newYorkLabel(until)} (${lock.until}); exempt: ${c.exempt.join(", ") || "none"}.${covered ? " An existing lock already covers this window." : ""}`,
        value: lock.event,
        actions: actions.length ? actions : undefined,
      });
    } else if (current === "invalid") {
      findings.push({
        ...base,
        key: "economic_events:lock_invalid",
        severity: "warn",
        title: "Event lock unreadable",
        detail: `${EVENT_KEYS.lock} holds ${JSON.stringify(snapshot.values.lock)?.slice(0, 200)}, not {"event","until","cap","exempt"}. Outside an event window the guard leaves it alone: fix or delete it.`,
      });
    } else if (current !== null && Date.parse(current.until) <= nowMs) {
      findings.push({
        ...base,
        key: "economic_events:lock_lifted",
        severity: "info",
        title: `Event lock lifted: ${current.event}`,
        detail: `The window ended at ${current.until}.`,
        actions: [{ op: "del", key: EVENT_KEYS.lock }],
      });
    }

    if (invalid.length || fileError) {
      findings.push({
        ...base,
        key: "economic_events:earnings_invalid",
        severity: "warn",
        title: "Earnings calendar: entries unreadable",
        detail: [
          fileError ? `earnings_file unreadable: ${fileError}` : "",
          invalid.length
            ? `${invalid.length} entr${invalid.length === 1 ? "y" : "ies"} skipped: ${invalid.slice(0, 5).join("; ")}${invalid.length > 5 ? "; ..." : ""}`
            : "",
        ]
          .filter(Boolean)
          .join(". "),
      });
    }

    // The shipped calendar is finite: say so before it runs out, per kind.
    for (const kind of ["FOMC", "CPI"] as const) {
      const last = Math.max(
        ...shippedEvents()
          .filter((e) => e.kind === kind)
          .map((e) => e.at),
      );
      if (nowMs > last - c.coverage_warn_days * 86_400_000) {
        findings.push({
          ...base,
          key: `economic_events:coverage:${kind}`,
          severity: "warn",
          title: `${kind} calendar runs out ${newYorkLabel(last).slice(0, 10)}`,
          detail: `The shipped ${kind} calendar has no event after ${newYorkLabel(last)}: add the next dates to src/market/data/ (a new file for the next years) before then, or no lock will be set.`,
          value: newYorkLabel(last),
        });
      }
    }
    // Earnings whose window closed more than a day ago are removed from the desk's sorted set (it would only grow).
    const trimBefore = nowMs - windowOf("earnings", c).after - 86_400_000;
    const stale = snapshot.values.earnings.filter(
      ([, score]) => typeof score === "number" && score < trimBefore,
    ).length;
    if (stale > 0) {
      findings.push({
        ...base,
        key: "economic_events:earnings_trimmed",
        severity: "info",
        title: `Earnings calendar: ${stale} past event(s) removed`,
        detail: `Entries of ${EVENT_KEYS.earnings} whose window ended before ${new Date(trimBefore).toISOString()}.`,
        actions: [{ op: "zremrangebyscore", key: EVENT_KEYS.earnings, min: "-inf", max: `(${trimBefore}` }],
      });
    }
    for (const e of shippedEvents()) {
      if (!e.confirmed && e.at > nowMs && e.at - nowMs <= c.unconfirmed_warn_days * 86_400_000) {
        findings.push({
          ...base,
          key: `economic_events:unconfirmed:${e.kind}:${newYorkLabel(e.at).slice(0, 10)}`,
          severity: "warn",
          title: `Unconfirmed ${e.kind} date: ${newYorkLabel(e.at)}`,
          detail: `${e.title}: this date is an estimate. Check the agency's published schedule and fix src/market/data/economic-events-2026-2027.json (set confirmed: true, or move the date).`,
        });
      }
    }
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_event_lock_active",
      help: "1 while an economic event window is open (risk:event_lock set by the guard)",
    },
    {
      name: "tradeguard_event_next_window_seconds",
      help: "Seconds until the next economic event window opens (NaN when none is known)",
    },
    {
      name: "tradeguard_event_calendar_end_timestamp_seconds",
      help: "Unix time of the last shipped event of a kind",
      labelNames: ["kind"],
    },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    const { events } = collectOnce(snapshot);
    const out: { name: string; labels?: Record<string, string>; value: number }[] = [];
    if (at !== undefined) {
      const next = nextWindowStart(events, at, c);
      out.push(
        { name: "tradeguard_event_lock_active", value: activeWindows(events, at, c).length ? 1 : 0 },
        { name: "tradeguard_event_next_window_seconds", value: next === null ? Number.NaN : (next - at) / 1000 },
      );
    }
    for (const kind of ["FOMC", "CPI"] as const) {
      const last = Math.max(
        ...shippedEvents()
          .filter((e) => e.kind === kind)
          .map((e) => e.at),
      );
      out.push({ name: "tradeguard_event_calendar_end_timestamp_seconds", labels: { kind }, value: last / 1000 });
    }
    return out;
  },
});
