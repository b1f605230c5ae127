// The monthly DR reminder: each slot posts once across replicas, with the age of the last successful rehearsal.
import { afterEach, describe, expect, it } from "vitest";
import { drReminderJob } from "../../src/jobs/dr-reminder-job.js";
import { runJobSlot } from "../../src/jobs/scheduled.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

describe("monthly DR reminder", () => {
  it("posts once per slot, however many replicas fire, saying when the last rehearsal succeeded", async () => {
    const now = new Date("2026-12-01T15:00:00.000Z");
    const t = await testRuntime({ yaml: 'dr: { scratch_url: "redis://127.0.0.1:1/0" }\n', now: () => now });
    opened.push(t);
    await t.rt.redis.set(
      t.rt.keys.raw("dr:last_success"),
      JSON.stringify({ ts: "2026-10-31T15:00:00.000Z", ok: true, keys: 7, ms: 0.8 }),
    );
    const job = drReminderJob(t.rt.ops.dr, t.rt.config.dr.reminderSchedule);
    expect(job.schedule).toBe("0 10 1 * *");
    const deps = (id: string) => ({
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
    });
    const ran = await Promise.all(["r1", "r2", "r3"].map((id) => runJobSlot(job, now, deps(id))));
    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(t.notifier.messages).toHaveLength(1);
    expect(t.notifier.messages[0]).toMatchObject({ severity: "info", sop: "sop-dr-rehearsal" });
    expect(t.notifier.messages[0]!.text).toMatch(/tradeguard dr rehearse.*last successful one was 31\.0 days ago/);
  });
});
