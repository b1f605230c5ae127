// When guards run: node-cron schedules, whose slot (the scheduled time, the same on every replica) names the tick —
// which replica runs it is runner/lease.ts's business. `claimTick` is the older slot-and-lock claim the scheduled
// operations (src/jobs/scheduled.ts: recon, key rotation) still use: the slot (`guards:slot:<name>:<slot>`, SET NX)
// and a lock that expires on its own (`lock:guard:<name>`).
import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";
import type { Keys } from "../../state/keys.js";

/** The interval between the next two runs of a cron schedule. */
export function intervalMs(schedule: string): number {
  const t = cron.createTask(schedule, () => {});
  try {
    const [a, b] = t.getNextRuns(2);
    return a && b ? b.getTime() - a.getTime() : 60_000;
  } finally {
    void t.destroy();
  }
}

/**
 * Schedules `run(slot)` on a cron expression; the slot is the scheduled time (ISO), the same on every replica. A slot
 * node-cron missed (this process was blocked past its tolerance) is still handed to `run`, late: the claim decides
 * whether another replica already ran it.
 */
export function scheduleTicks(name: string, schedule: string, run: (slot: string) => void): ScheduledTask {
  const task = cron.schedule(schedule, (ctx) => run((ctx?.date ?? new Date()).toISOString()), {
    name: `guard:${name}`,
    noOverlap: true,
  });
  task.on("execution:missed", (ctx) => run(ctx.date.toISOString()));
  return task;
}

/**
 * Claims the tick of each guard in one round trip: the slot (scheduled ticks) and the lock. Returns the names this
 * instance may run now and the names whose lock it took but must give back (slot already run elsewhere).
 */
export async function claimTick(
  redis: Redis,
  keys: Keys,
  guards: { name: string; lockMs: number }[],
  slot: string | null,
  owner: string,
): Promise<{ mine: string[]; giveBack: string[] }> {
  const claim = redis.pipeline();
  for (const g of guards) {
    if (slot) claim.set(keys.guardSlot(g.name, slot), owner, "PX", 3_600_000, "NX");
    claim.set(keys.guardLock(g.name), owner, "PX", g.lockMs, "NX");
  }
  const claimed = (await claim.exec()) ?? [];
  const step = slot ? 2 : 1;
  const mine: string[] = [];
  const giveBack: string[] = [];
  guards.forEach((g, i) => {
    const slotOk = slot ? claimed[i * step]?.[1] === "OK" : true;
    const lockOk = claimed[i * step + step - 1]?.[1] === "OK";
    if (slotOk && lockOk) mine.push(g.name);
    else if (lockOk) giveBack.push(g.name);
  });
  return { mine, giveBack };
}
