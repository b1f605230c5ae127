// The weekly key-age check (issue 12; default Sunday 02:00 New York): every managed broker whose CURRENT key is older
// than rotation.max_age_days gets a warn alert and, when a new key is staged, a rotation request. It never rotates:
// a person approves.
import type { RotateOperation } from "../ops/rotate.js";
import type { ScheduledJob } from "./scheduled.js";

/** The job (its `run` is what the schedule calls). */
export function keyRotationJob(rotate: RotateOperation, schedule: string): ScheduledJob {
  return {
    name: "key-rotation",
    schedule,
    async run() {
      await rotate.dueCheck();
    },
  };
}
