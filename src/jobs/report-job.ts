// The scheduled reports (issue 15): the weekly health report on Monday 07:00 New York, covering the seven days that
// ended at Monday 00:00, and the monthly cost and strategy-risk report on the 1st at 07:00, covering the month that
// just ended (reports.weekly_schedule / monthly_schedule). One replica per slot (scheduled.ts); each run is saved in
// the snapshot store and posted to the alert channel with its charts, like `tradeguard report <kind> --publish`.
import { SYSTEM_ACTOR } from "../ops/roles.js";
import { lastPeriod, type ReportKind } from "../reports/period.js";
import { type PublishDeps, produceReport, publishReport } from "../reports/publish.js";
import type { ScheduledJob } from "./scheduled.js";

/** The job of one report kind; `run(at)` reports on the last complete period before `at`. */
export function reportJob(kind: ReportKind, schedule: string, deps: PublishDeps): ScheduledJob {
  return {
    name: `report-${kind}`,
    schedule,
    async run(at, signal) {
      const produced = await produceReport(deps, kind, lastPeriod(kind, at));
      // Another replica took the slot over while this one stalled: it posts the report, not both.
      signal.throwIfAborted();
      await publishReport(deps, produced, SYSTEM_ACTOR);
    },
  };
}
