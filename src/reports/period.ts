// The time a report covers, in New York time (the desk's day): a week of seven New York days from a midnight, or a
// calendar month. Without --since it is the last complete one (the week that ended at the latest Monday 00:00, the
// month that ended at the latest 1st 00:00); with --since it starts at that date's midnight and is cut at `now` when
// it has not ended yet (`partial`). DST-safe: the bounds are local midnights, so a week may be 167 or 169 hours.
import { DateTime } from "luxon";
import { UsageError } from "../errors.js";

export const REPORT_ZONE = "America/New_York";
export const REPORT_KINDS = ["weekly", "monthly"] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface Period {
  kind: ReportKind;
  /** Inclusive start, ISO UTC. */
  from: string;
  /** Exclusive end, ISO UTC (`now` for a partial period). */
  to: string;
  /** The New York date the period starts on, YYYY-MM-DD. */
  startDate: string;
  /** The New York date of its last day, YYYY-MM-DD. */
  endDate: string;
  /** For people: "week of 2026-11-30 (2026-W49)", "November 2026". */
  label: string;
  /** For names of saved files: "weekly-2026-11-30", "monthly-2026-11". */
  id: string;
  zone: typeof REPORT_ZONE;
  /** The period has not ended yet: counted up to `to`. */
  partial: boolean;
}

/** True when `s` names a report kind. */
export function isReportKind(s: string): s is ReportKind {
  return (REPORT_KINDS as readonly string[]).includes(s);
}

function build(kind: ReportKind, start: DateTime, now: Date): Period {
  const end = kind === "weekly" ? start.plus({ days: 7 }) : start.plus({ months: 1 });
  const partial = end.toMillis() > now.getTime();
  const to = partial ? DateTime.fromJSDate(now, { zone: REPORT_ZONE }) : end;
  const startDate = start.toISODate()!;
  return {
    kind,
    from: start.toUTC().toISO()!,
    to: to.toUTC().toISO()!,
    startDate,
    endDate: end.minus({ days: 1 }).toISODate()!,
    label:
      kind === "weekly"
        ? `week of ${startDate} (${start.toFormat("kkkk-'W'WW")})`
        : start.setLocale("en-US").toFormat("LLLL yyyy"),
    id: kind === "weekly" ? `weekly-${startDate}` : `monthly-${start.toFormat("yyyy-MM")}`,
    zone: REPORT_ZONE,
    partial,
  };
}

/** The last complete period of `kind` before `now` (what the schedule reports on). */
export function lastPeriod(kind: ReportKind, now: Date): Period {
  const local = DateTime.fromJSDate(now, { zone: REPORT_ZONE });
  const currentStart = kind === "weekly" ? local.startOf("week") : local.startOf("month"); // luxon weeks start Monday
  return build(kind, kind === "weekly" ? currentStart.minus({ weeks: 1 }) : currentStart.minus({ months: 1 }), now);
}

/** The period of `kind` starting at `since` (YYYY-MM-DD, New York midnight); UsageError when it is not one. */
export function periodSince(kind: ReportKind, since: string, now: Date): Period {
  const start = /^\d{4}-\d{2}-\d{2}$/.test(since) ? DateTime.fromISO(since, { zone: REPORT_ZONE }) : null;
  if (!start?.isValid) throw new UsageError(`--since: not a calendar date YYYY-MM-DD (${JSON.stringify(since)})`);
  if (start.toMillis() >= now.getTime()) throw new UsageError(`--since ${since}: that day has not started yet`);
  if (kind === "monthly" && start.day !== 1)
    throw new UsageError(
      `--since ${since}: a monthly report starts on the 1st of a month (e.g. ${start.toFormat("yyyy-MM")}-01)`,
    );
  return build(kind, start.startOf("day"), now);
}

/** Whether an ISO timestamp (or epoch ms) falls in [from, to). */
export function inPeriod(p: Pick<Period, "from" | "to">, at: string | number): boolean {
  const ms = typeof at === "number" ? at : Date.parse(at);
  return Number.isFinite(ms) && ms >= Date.parse(p.from) && ms < Date.parse(p.to);
}
