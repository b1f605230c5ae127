// The monthly DR reminder (issue 14 §13; default the 1st of the month at 10:00 New York, `dr.reminder_schedule`):
// posts that a restore rehearsal is due, with the age of the last successful one. It never rehearses by itself: a
// person runs `tradeguard dr rehearse` and reads the result (the dr_freshness guard pages when nobody does).
import type { DrOperation } from "../ops/dr.js";
import type { ScheduledJob } from "./scheduled.js";

/** The job (its `run` is what the schedule calls). */
export function drReminderJob(dr: DrOperation, schedule: string): ScheduledJob {
  return {
    name: "dr-reminder",
    schedule,
    async run() {
      await dr.remind();
    },
  };
}
