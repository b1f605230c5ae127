// When guards and scheduled jobs run: node-cron schedules, whose slot (the scheduled time, the same on every replica)
// names the tick — which replica runs it is runner/lease.ts's business.
import cron, { type ScheduledTask } from "node-cron";

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
 * node-cron missed (this process was blocked past its tolerance) is still handed to `run`, late — the claim decides
 * whether another replica already ran it — unless it is older than `maxLateMs` (after a suspension of the host,
 * the slots of the last hour are not all run at once: `onDropped` hears of each one left out).
 */
export function scheduleTicks(
  name: string,
  schedule: string,
  run: (slot: string) => void,
  opts: { maxLateMs?: number; timezone?: string; onDropped?: (slot: string) => void } = {},
): ScheduledTask {
  const maxLateMs = opts.maxLateMs ?? Math.max(2 * intervalMs(schedule), 60_000);
  const task = cron.schedule(schedule, (ctx) => run((ctx?.date ?? new Date()).toISOString()), {
    name,
    noOverlap: true,
    ...(opts.timezone ? { timezone: opts.timezone } : {}),
  });
  task.on("execution:missed", (ctx) => {
    const slot = ctx.date.toISOString();
    if (Date.now() - ctx.date.getTime() <= maxLateMs) run(slot);
    else opts.onDropped?.(slot);
  });
  return task;
}
