// Scheduled operations (not guards): the daily recon, the weekly key-age check, the reports, the DR reminder. Each
// fires on a cron schedule in America/New_York and runs on exactly one bot replica per slot, leased like a guard tick
// (src/jobs/runner/lease.ts): the first replica to claim the slot runs it and renews its lease while it runs; the
// others watch the slot until it is done, and when its holder died (the lease lapsed) one of them takes it over and
// runs it — a killed replica delays a recon by about one lease, it never loses it.
import type { Redis } from "ioredis";
import type { ScheduledTask } from "node-cron";
import type { AuditLog } from "../audit/log.js";
import type { Logger } from "../log.js";
import type { Keys } from "../state/keys.js";
import { SLOT_TTL_MS, TickLeases } from "./runner/lease.js";
import { intervalMs, scheduleTicks } from "./runner/schedule.js";

export const JOB_ZONE = "America/New_York";
/** A job's lease: long enough to ride out a CPU-heavy stretch of a recon, short enough to notice a dead holder soon. */
export const JOB_LEASE_MS = 10_000;

export interface ScheduledJob {
  name: string;
  schedule: string;
  /**
   * The work of one slot; `at` is the slot's time. `signal` aborts when this replica lost the slot (it stalled past
   * its lease and another replica took over): check it before a side effect others would see twice (a post).
   */
  run(at: Date, signal: AbortSignal): Promise<void>;
}

type JobDeps = {
  redis: Redis;
  keys: Keys;
  log: Logger;
  instanceId: string;
  audit: AuditLog;
  leaseMs?: number;
  /** Set when the bot stops: a replica watching another's slot stops watching. */
  stopped?: () => boolean;
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/**
 * Runs one slot of `job` if this instance claims it first, or takes it over when the replica that claimed it dies
 * before it is done; false when another replica ran it.
 */
export async function runJobSlot(job: ScheduledJob, at: Date, deps: JobDeps): Promise<boolean> {
  const name = `job:${job.name}`;
  const slot = at.toISOString();
  const leaseMs = deps.leaseMs ?? JOB_LEASE_MS;
  // The slot's record outlives the job's next firing (a daily recon: two days), so that firing can still run a slot
  // whose holder died while every other replica was down too.
  const ttl = Math.max(SLOT_TTL_MS, 2 * intervalMs(job.schedule) + leaseMs);
  const leases = new TickLeases(deps, `${deps.instanceId}#job`, leaseMs, () => ttl);
  const claim = await leases.claim([name], slot);
  // A slot of this job whose holder died and that nobody took over (every replica was down): run it late.
  for (const l of claim.lapsed)
    if (l.slot !== slot && (await leases.takeOver(name, l.slot)))
      await runHeld(job, new Date(l.slot), l.slot, name, leases, deps);
  if (!claim.mine.includes(name) && !(await watch(name, slot, leases, deps, leaseMs))) return false;
  await runHeld(job, at, slot, name, leases, deps);
  return true;
}

/** Runs a slot this instance holds, renewing its lease, and marks it done (or failed: it is not run again). */
async function runHeld(job: ScheduledJob, at: Date, slot: string, name: string, leases: TickLeases, deps: JobDeps) {
  leases.start();
  const lost = new AbortController();
  const watch = setInterval(() => {
    if (!leases.isLost(name, slot)) return;
    deps.log.warn({ job: job.name, slot }, "scheduled job: another replica took the slot over; this run stops");
    lost.abort(new Error("the slot was taken over by another replica"));
    clearInterval(watch);
  }, 100);
  watch.unref();
  let state: "done" | "failed" = "failed";
  try {
    await job.run(at, lost.signal);
    state = "done";
  } finally {
    clearInterval(watch);
    await leases.stop();
    await leases
      .settle([name], slot, state)
      .catch((err) => deps.log.warn({ err, job: job.name, slot }, "scheduled job: slot not marked done"));
  }
}

/** Watches another replica's slot until it is done (false) or its lease lapsed and this instance took it over. */
async function watch(name: string, slot: string, leases: TickLeases, deps: JobDeps, leaseMs: number) {
  const every = Math.min(1_000, Math.max(50, Math.floor(leaseMs / 3)));
  for (;;) {
    await sleep(every);
    if (deps.stopped?.()) return false;
    // Redis away for a moment: keep watching. A slot claimed by an older replica (a plain string): claimed elsewhere.
    const state = await deps.redis
      .hget(deps.keys.guardSlot(name, slot), "state")
      .catch((err: Error) => (/WRONGTYPE/.test(err.message) ? null : "running"));
    // done, failed, abandoned, or the record expired (it lives SLOT_TTL_MS): nothing left to take over.
    if (state !== "running") return false;
    const taken = await leases.takeOver(name, slot).catch(() => null);
    if (taken) {
      deps.log.warn({ job: name, slot, from: taken.from }, "scheduled job: its holder died; this replica runs it");
      return true;
    }
  }
}

/**
 * Schedules `jobs`; each slot runs on one replica (first to claim it, or the one that takes over from a dead holder).
 * A slot this process fired late (blocked past node-cron's tolerance) still runs, up to an hour late.
 */
export function scheduleJobs(jobs: ScheduledJob[], deps: JobDeps): { stop(): Promise<void> } {
  let stopped = false;
  const run = { ...deps, stopped: () => stopped };
  const tasks: ScheduledTask[] = jobs.map((job) =>
    scheduleTicks(
      `job:${job.name}`,
      job.schedule,
      (slot) => {
        void runJobSlot(job, new Date(slot), run).catch((err) =>
          deps.log.error({ err, job: job.name }, "scheduled job failed"),
        );
      },
      {
        timezone: JOB_ZONE,
        maxLateMs: 3_600_000,
        onDropped: (slot) => deps.log.error({ job: job.name, slot }, "scheduled job missed by over an hour: not run"),
      },
    ),
  );
  return {
    async stop() {
      stopped = true;
      for (const t of tasks) await t.destroy();
    },
  };
}
