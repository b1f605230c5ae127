// The daily recon (issue 11): on every NYSE trading day, after the close (default 17:30 New York), reconcile the day
// for every broker whose statement can be fetched live. A mismatch pages through the alert pipeline like a /recon.
import { isTradingDay, nyDate } from "../market/calendar.js";
import type { ReconOperation } from "../ops/recon.js";
import type { ScheduledJob } from "./scheduled.js";

/** The job; `run` is exported for tests (the schedule only calls it). */
export function reconJob(
  recon: ReconOperation,
  schedule: string,
  log: { warn(o: object, m: string): void },
): ScheduledJob {
  return {
    name: "recon",
    schedule,
    async run(at, signal) {
      const date = nyDate(at);
      if (!isTradingDay(date)) return;
      for (const broker of recon.statementBrokers()) {
        signal.throwIfAborted(); // the slot went to another replica, which runs the whole recon again
        await recon
          .run({ actor: "tradeguard", date, broker })
          .catch((err) => log.warn({ err, broker, date }, "daily recon could not run"));
      }
    },
  };
}
