// Scheduled operations (not guards): the daily recon, the weekly key-age check. Each fires on a cron schedule in
// America/New_York and runs on exactly one bot replica per slot (the same slot claim and lock as guard ticks).
import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";
import type { AuditLog } from "../audit/log.js";
import type { Logger } from "../log.js";
import type { Keys } from "../state/keys.js";
import { EffectRunner } from "./runner/effects.js";
import { claimTick } from "./runner/schedule.js";

export const JOB_ZONE = "America/New_York";

export interface ScheduledJob {
  name: string;
  schedule: string;
  /** The work of one slot; `at` is the slot's time. */
  run(at: Date): Promise<void>;
}

type JobDeps = { redis: Redis; keys: Keys; log: Logger; instanceId: string; audit: AuditLog; lockMs?: number };

/** Runs one slot of `job` if this instance claims it first (false when another replica has it). */
export async function runJobSlot(job: ScheduledJob, at: Date, deps: JobDeps): Promise<boolean> {
  const effects = new EffectRunner(deps);
  const name = `job:${job.name}`;
  const claim = await claimTick(
    deps.redis,
    deps.keys,
    [{ name, lockMs: deps.lockMs ?? 30 * 60_000 }],
    at.toISOString(),
    deps.instanceId,
  );
  await effects.release(claim.giveBack, deps.instanceId);
  if (!claim.mine.includes(name)) return false;
  try {
    await job.run(at);
  } finally {
    await effects.release([name], deps.instanceId);
  }
  return true;
}

/** Schedules `jobs`; each slot runs on one replica (first to claim it). Returns a stop function. */
export function scheduleJobs(jobs: ScheduledJob[], deps: JobDeps): { stop(): Promise<void> } {
  const tasks: ScheduledTask[] = jobs.map((job) =>
    cron.schedule(
      job.schedule,
      (ctx) => {
        void runJobSlot(job, ctx?.date ?? new Date(), deps).catch((err) =>
          deps.log.error({ err, job: job.name }, "scheduled job failed"),
        );
      },
      { name: `job:${job.name}`, timezone: JOB_ZONE, noOverlap: true },
    ),
  );
  return {
    async stop() {
      for (const t of tasks) await t.destroy();
    },
  };
}
