// The scheduled reports: each slot reports on the last complete period before it (Monday 07:00 → the week that ended
// at Monday 00:00; the 1st → the month that ended), on one replica per slot, and is announced and saved. The default
// schedules are Monday 07:00 and the 1st 07:00 New York, and fire then (node-cron's own matcher).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import cron from "node-cron";
import { afterEach, describe, expect, it } from "vitest";
import { reportJob } from "../../src/jobs/report-job.js";
import { JOB_ZONE, runJobSlot } from "../../src/jobs/scheduled.js";
import { reportsSectionSchema } from "../../src/reports/config.js";
import type { PublishDeps } from "../../src/reports/publish.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

async function runtime() {
  const t = await testRuntime({ now: () => new Date("2026-12-07T12:00:05.000Z") });
  opened.push(t);
  const { rt } = t;
  const deps: PublishDeps = {
    redis: rt.redis,
    keys: rt.keys,
    config: rt.config,
    now: rt.now,
    keyAges: () => rt.ops.secrets.list(),
    audit: rt.audit,
    metrics: rt.metrics,
    notifier: rt.notifier,
    log: silentLog,
    uploader: null,
  };
  return { t, deps };
}

describe("scheduled reports", () => {
  it("default schedules: Monday 07:00 and the 1st 07:00 in New York", () => {
    const s = reportsSectionSchema.parse(undefined);
    expect([s.weekly_schedule, s.monthly_schedule]).toEqual(["0 7 * * 1", "0 7 1 * *"]);
    expect(JOB_ZONE).toBe("America/New_York");
    expect(cron.validate(s.weekly_schedule) && cron.validate(s.monthly_schedule)).toBe(true);
  });

  it("the Monday slot reports on the week that just ended, once across replicas, and announces it", async () => {
    const { t, deps } = await runtime();
    const job = reportJob("weekly", "0 7 * * 1", deps);
    expect(job.name).toBe("report-weekly");
    const at = new Date("2026-12-07T12:00:00.000Z"); // Monday 07:00 New York
    const slot = (id: string) => ({
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
    });
    const ran = await Promise.all([runJobSlot(job, at, slot("r1")), runJobSlot(job, at, slot("r2"))]);
    expect(ran.filter(Boolean)).toHaveLength(1);
    const folders = readdirSync(join(t.rt.config.panic.snapshotDir, "reports"));
    expect(folders).toEqual(["weekly-2026-11-30-2026-12-07T12-00-05-000Z"]);
    expect(t.notifier.messages).toHaveLength(1);
    expect(t.notifier.messages[0]!.text).toMatch(
      /^\*Weekly health report, week of 2026-11-30 \(2026-W49\)\*\n• Guards: no data/,
    );
  });

  it("the slot on the 1st reports on the month that just ended", async () => {
    const { t, deps } = await runtime();
    await reportJob("monthly", "0 7 1 * *", deps).run(
      new Date("2026-12-01T12:00:00.000Z"),
      new AbortController().signal,
    );
    expect(readdirSync(join(t.rt.config.panic.snapshotDir, "reports"))).toEqual([
      "monthly-2026-11-2026-12-07T12-00-05-000Z",
    ]);
    expect(t.notifier.messages[0]!.text).toMatch(/^\*Monthly cost and strategy-risk report, November 2026\*/);
  });
});
