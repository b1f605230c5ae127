// When guards run and on which replica: node-cron schedules, and the claim of a tick. A scheduled tick claims its
// slot (`guards:slot:<guard>:<slot>`, first replica wins) and the guard's lock (`lock:guard:<guard>`, held while the
// tick runs and expiring on its own if the holder dies); a manual tick only takes the lock.
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

/** Schedules `run(slot)` on a cron expression; the slot is the scheduled time (ISO), the same on every replica. */
export function scheduleTicks(name: string, schedule: string, run: (slot: string) => void): ScheduledTask {
  return cron.schedule(schedule, (ctx) => run((ctx?.date ?? new Date()).toISOString()), {
    name: `guard:${name}`,
    noOverlap: true,
  });
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
