// Scheduled jobs across replicas: one replica runs a slot; when it dies mid-run (its lease is no longer renewed), a
// replica watching the slot takes it over and runs it — the job is delayed, never lost — and a finished slot is never
// run again. "Dies" is a real loss of the holder: its Redis connection is cut, so it can renew nothing.
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { runJobSlot, type ScheduledJob } from "../../src/jobs/scheduled.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  while (opened.length) await opened.pop()!.cleanup();
});

const AT = new Date("2026-11-30T22:30:00Z");

describe("scheduled jobs: one run per slot, taken over when the holder dies", () => {
  it("a replica watching the slot takes it over once the dead holder's lease lapses", async () => {
    const t = await testRuntime();
    opened.push(t);
    const runs: string[] = [];
    let holderStarted!: () => void;
    const started = new Promise<void>((r) => {
      holderStarted = r;
    });
    const job = (who: string): ScheduledJob => ({
      name: "drill",
      schedule: "30 17 * * *",
      run: async () => {
        runs.push(who);
        if (who === "r1") {
          holderStarted();
          await new Promise(() => {}); // the holder hangs mid-run, then its connection is cut: it is dead
        }
      },
    });
    // The holder has a connection of its own, so cutting it kills only its renewals.
    const own = new Redis(t.rt.redis.options);
    own.on("error", () => {});
    clients.push(own);
    const deps = (id: string, redis: Redis) => ({
      redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
      leaseMs: 300,
    });
    void runJobSlot(job("r1"), AT, deps("r1", own));
    await started;
    const r2 = runJobSlot(job("r2"), AT, deps("r2", t.rt.redis));
    own.disconnect(); // r1 dies: nothing renews its lease any more
    expect(await r2).toBe(true);
    expect(runs).toEqual(["r1", "r2"]);
    const slot = await t.rt.redis.hgetall(t.rt.keys.guardSlot("job:drill", AT.toISOString()));
    expect(slot).toMatchObject({ state: "done", owner: "r2#job", taken_from: "r1#job", takeovers: "1" });
    // A finished slot is never run again, by anyone.
    expect(await runJobSlot(job("r3"), AT, deps("r3", t.rt.redis))).toBe(false);
    expect(runs).toEqual(["r1", "r2"]);
  });

  it("while the holder lives (a run longer than the lease), the watchers wait and never run the slot", async () => {
    const t = await testRuntime();
    opened.push(t);
    let runs = 0;
    const job: ScheduledJob = {
      name: "long",
      schedule: "30 17 * * *",
      run: async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 1_200)); // four leases long: renewed throughout
      },
    };
    const deps = (id: string) => ({
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
      leaseMs: 300,
    });
    const ran = await Promise.all(["r1", "r2", "r3"].map((id) => runJobSlot(job, AT, deps(id))));
    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(runs).toBe(1);
  });

  it("a job that throws is marked failed and not run again by the watchers", async () => {
    const t = await testRuntime();
    opened.push(t);
    let runs = 0;
    const job: ScheduledJob = {
      name: "boom",
      schedule: "30 17 * * *",
      run: async () => {
        runs++;
        throw new Error("statement unreadable");
      },
    };
    const deps = (id: string) => ({
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
      leaseMs: 300,
    });
    const ran = await Promise.allSettled(["r1", "r2"].map((id) => runJobSlot(job, AT, deps(id))));
    expect(ran.filter((r) => r.status === "rejected")).toHaveLength(1);
    expect(ran.filter((r) => r.status === "fulfilled" && r.value === false)).toHaveLength(1);
    expect(runs).toBe(1);
    expect(await t.rt.redis.hget(t.rt.keys.guardSlot("job:boom", AT.toISOString()), "state")).toBe("failed");
  });

  it("a holder that lost its slot (it stalled; another replica took over) sees its signal abort", async () => {
    const t = await testRuntime();
    opened.push(t);
    let aborted: unknown = null;
    const job: ScheduledJob = {
      name: "stalled",
      schedule: "30 17 * * *",
      run: async (_at, signal) => {
        // Another replica takes the slot over (as after a stall past the lease): the next renewal finds out.
        await t.rt.redis.hset(t.rt.keys.guardSlot("job:stalled", AT.toISOString()), "owner", "other#job");
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted = signal.reason;
      },
    };
    const deps = {
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: "r1",
      leaseMs: 300,
    };
    await runJobSlot(job, AT, deps);
    expect(String(aborted)).toMatch(/taken over/);
  });
});
