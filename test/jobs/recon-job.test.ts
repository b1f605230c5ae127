// The daily recon job: only on NYSE trading days, every broker that can supply a statement, one replica per slot.
import { afterEach, describe, expect, it } from "vitest";
import { reconJob } from "../../src/jobs/recon-job.js";
import { runJobSlot } from "../../src/jobs/scheduled.js";
import type { ReconOperation } from "../../src/ops/recon.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

function fakeRecon(brokers: string[]) {
  const runs: { date: string; broker?: string; actor: string }[] = [];
  const recon = {
    statementBrokers: () => brokers,
    run: async (i: { date: string; broker?: string; actor: string }) => {
      runs.push(i);
      return {} as never;
    },
  } as unknown as ReconOperation;
  return { recon, runs };
}

const live = new AbortController().signal;

describe("daily recon job", () => {
  it("reconciles the New York day for every statement broker on a trading day, and nothing on a holiday", async () => {
    const { recon, runs } = fakeRecon(["alpaca-a", "alpaca-b"]);
    const job = reconJob(recon, "30 17 * * *", silentLog);
    await job.run(new Date("2026-11-30T22:30:00Z"), live); // Monday 17:30 New York
    expect(runs.map((r) => [r.date, r.broker, r.actor])).toEqual([
      ["2026-11-30", "alpaca-a", "tradeguard"],
      ["2026-11-30", "alpaca-b", "tradeguard"],
    ]);
    await job.run(new Date("2026-11-26T22:30:00Z"), live); // Thanksgiving
    await job.run(new Date("2026-11-28T22:30:00Z"), live); // Saturday
    expect(runs).toHaveLength(2);
  });

  it("one slot runs on one replica", async () => {
    const t = await testRuntime();
    opened.push(t);
    const { recon, runs } = fakeRecon(["alpaca"]);
    const job = reconJob(recon, "30 17 * * *", silentLog);
    const at = new Date("2026-11-30T22:30:00Z");
    const deps = (id: string) => ({
      redis: t.rt.redis,
      keys: t.rt.keys,
      log: silentLog,
      audit: t.rt.audit,
      instanceId: id,
    });
    const ran = await Promise.all([
      runJobSlot(job, at, deps("r1")),
      runJobSlot(job, at, deps("r2")),
      runJobSlot(job, at, deps("r3")),
    ]);
    expect(ran.filter(Boolean)).toHaveLength(1);
    expect(runs).toHaveLength(1);
  });

  it("stops before the next broker once the slot went to another replica", async () => {
    const { recon, runs } = fakeRecon(["alpaca-a", "alpaca-b"]);
    const job = reconJob(recon, "30 17 * * *", silentLog);
    const lost = new AbortController();
    const run = recon.run.bind(recon);
    recon.run = async (i) => {
      const r = await run(i);
      lost.abort(new Error("the slot was taken over by another replica"));
      return r;
    };
    await expect(job.run(new Date("2026-11-30T22:30:00Z"), lost.signal)).rejects.toThrow(/taken over/);
    expect(runs.map((r) => r.broker)).toEqual(["alpaca-a"]);
  });
});
