// The runner's tick leases (src/jobs/runner/lease.ts) against the real Redis: two replicas share a key prefix; a dead
// holder is a lease that is never renewed (claimed through the same script, then left alone — what a SIGKILL leaves
// behind; test/ha/replicas.test.ts kills real processes).
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineGuard } from "../../src/jobs/guard.js";
import { leasesKey, MAX_TAKEOVERS, TickLeases } from "../../src/jobs/runner/lease.js";
import type { GuardRunner, TickContext } from "../../src/jobs/runner.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

/** Every run, by slot (null: manual) and replica; a probe of `probeMs` keeps the tick busy. */
const runs: { slot: string | null; replica: string }[] = [];
let probeMs = 0;
const counted = defineGuard({
  name: "counted",
  schedule: "* * * * * *",
  config: z.object({ replica: z.string().default("?") }),
  reads: () => ({}),
  probe: async (c, ctx) => {
    if (probeMs) await new Promise((r) => setTimeout(r, probeMs));
    runs.push({ slot: (ctx as TickContext).slot, replica: c.replica });
  },
  evaluate: () => [],
});

const LEASE_MS = 300;
async function replicas(n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) {
    const t = await testRuntime({
      yaml: `guard_runner: { lease_ms: ${LEASE_MS} }\nguards: { counted: { replica: r${i} } }\n`,
      guards: [counted],
      env: out[0] ? { REDIS_PREFIX: out[0].env.REDIS_PREFIX!, TRADEGUARD_HOME: out[0].home } : {},
    });
    opened.push(t);
    out.push(t);
  }
  return out;
}
const tick = (t: T, slot: string) => {
  const r = t.rt.guards as GuardRunner;
  return r.tick((r as unknown as { entries: never }).entries, slot);
};
const slotRecord = (t: T, slot: string) => t.rt.redis.hgetall(t.rt.keys.guardSlot("counted", slot));
/** Waits, without asserting on time, until the leases sorted set says `slot`'s lease has lapsed. */
async function lapsed(t: T, slot: string) {
  for (;;) {
    const score = await t.rt.redis.zscore(leasesKey(t.rt.keys, "counted"), slot);
    const [sec, micro] = await t.rt.redis.time();
    if (score === null || Number(score) < Number(sec) * 1000 + Math.floor(Number(micro) / 1000)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** A holder that claimed `slot` and died: the claim script ran, nothing renews it. */
async function deadHolder(t: T, slot: string) {
  const dead = new TickLeases({ redis: t.rt.redis, keys: t.rt.keys, log: silentLog }, "dead-replica#1", LEASE_MS);
  expect((await dead.claim(["counted"], slot)).mine).toEqual(["counted"]);
}

const S0 = "2026-11-25T16:00:00.000Z";
const S1 = "2026-11-25T16:00:01.000Z";
const S2 = "2026-11-25T16:00:02.000Z";

describe("guard tick leases", () => {
  it("one replica runs a slot; it is done, and a done slot is never run again", async () => {
    runs.length = 0;
    const [a, b] = await replicas(2);
    await Promise.all([tick(a!, S0), tick(b!, S0)]);
    expect(runs.filter((r) => r.slot === S0)).toHaveLength(1);
    expect(await slotRecord(a!, S0)).toMatchObject({ state: "done" });
    await Promise.all([tick(a!, S0), tick(b!, S0)]);
    expect(runs.filter((r) => r.slot === S0)).toHaveLength(1);
    expect(await a!.rt.redis.zcard(leasesKey(a!.rt.keys, "counted"))).toBe(0);
  });

  it("the next replica takes over a slot whose holder died, once; the later slots are not held up", async () => {
    runs.length = 0;
    const [a, b] = await replicas(2);
    await deadHolder(a!, S0);
    // While the dead holder's lease is live, the next slot runs (a lease is per slot) and S0 is left alone.
    const r1 = await tick(a!, S1);
    expect(r1.takeovers).toEqual([]);
    expect(runs.map((r) => r.slot)).toEqual([S1]);
    await lapsed(a!, S0);
    const [ra, rb] = await Promise.all([tick(a!, S2), tick(b!, S2)]);
    // S2 on one replica, S0 taken over by exactly one (the other one, or the same after its own slot).
    expect(runs.filter((r) => r.slot === S2)).toHaveLength(1);
    expect(runs.filter((r) => r.slot === S0)).toHaveLength(1);
    expect([...ra.takeovers!, ...rb.takeovers!]).toEqual([{ guard: "counted", slot: S0, from: "dead-replica#1" }]);
    expect(await slotRecord(a!, S0)).toMatchObject({ state: "done", takeovers: "1", taken_from: "dead-replica#1" });
    // Taken over and done: never again.
    await tick(b!, "2026-11-25T16:00:03.000Z");
    expect(runs.filter((r) => r.slot === S0)).toHaveLength(1);
  });

  it("a replica firing late for the dead holder's own slot (a missed execution) takes it over", async () => {
    runs.length = 0;
    const [a] = await replicas(1);
    await deadHolder(a!, S0);
    await lapsed(a!, S0);
    const r = await tick(a!, S0);
    expect(r.takeovers).toEqual([{ guard: "counted", slot: S0, from: "dead-replica#1" }]);
    expect(runs.map((x) => x.slot)).toEqual([S0]);
  });

  it("a live holder renews its lease: a tick longer than the lease is not taken over", async () => {
    runs.length = 0;
    const [a, b] = await replicas(2);
    probeMs = LEASE_MS * 4;
    try {
      const long = tick(a!, S0);
      // B ticks the next slots while A's S0 outlasts its lease several times over.
      while (!runs.some((r) => r.slot === S0)) {
        const slot = new Date(Date.parse(S1) + runs.length * 1000).toISOString();
        const r = await tick(b!, slot);
        expect(r.takeovers).toEqual([]);
      }
      await long;
    } finally {
      probeMs = 0;
    }
    expect(runs.filter((r) => r.slot === S0)).toEqual([{ slot: S0, replica: "r0" }]);
    expect(await slotRecord(a!, S0)).toMatchObject({ state: "done" });
    expect((await slotRecord(a!, S0)).takeovers).toBeUndefined();
  });

  it("a stalled holder whose slot was taken over learns it at its next renewal and cannot mark it done", async () => {
    runs.length = 0;
    const [a, b] = await replicas(2);
    const warnings: string[] = [];
    const log = { ...silentLog, warn: (_o: unknown, m?: string) => void warnings.push(String(m)) };
    // A's tick is stalled (here: its lease is claimed by hand and never renewed, as a process frozen past its lease).
    const stalled = new TickLeases({ redis: a!.rt.redis, keys: a!.rt.keys, log: log as never }, "a#1", LEASE_MS);
    await stalled.claim(["counted"], S0);
    await lapsed(a!, S0);
    await tick(b!, S1); // takes S0 over
    expect(await slotRecord(a!, S0)).toMatchObject({ state: "done", owner: expect.stringMatching(/#/) });
    // The stalled holder wakes up: its next renewal finds the slot gone, and its finish is refused.
    stalled.start();
    while (!stalled.isLost("counted", S0)) await new Promise((r) => setTimeout(r, 20));
    await stalled.stop();
    await stalled.settle(["counted"], S0, "done");
    expect(warnings).toContain("guard lease lost: another replica took this tick over");
    expect(await slotRecord(a!, S0)).toMatchObject({ owner: expect.not.stringMatching(/^a#1$/) });
  });

  it(`a slot that killed ${MAX_TAKEOVERS + 1} holders is abandoned, not run by yet another replica`, async () => {
    runs.length = 0;
    const [a] = await replicas(1);
    await deadHolder(a!, S0);
    const { redis, keys } = a!.rt;
    for (let i = 0; i < MAX_TAKEOVERS; i++) {
      await lapsed(a!, S0);
      const next = new TickLeases({ redis, keys, log: silentLog }, `dead-${i}#1`, LEASE_MS);
      expect(await next.takeOver("counted", S0)).not.toBeNull(); // ...and dies too
    }
    await lapsed(a!, S0);
    const r = await tick(a!, S1);
    expect(r.takeovers).toEqual([]);
    expect(runs.map((x) => x.slot)).toEqual([S1]);
    expect(await slotRecord(a!, S0)).toMatchObject({ state: "abandoned", takeovers: String(MAX_TAKEOVERS) });
    expect(await redis.zscore(leasesKey(keys, "counted"), S0)).toBeNull();
  });

  it("a slot claimed by an older version (SET NX string) counts as claimed elsewhere", async () => {
    runs.length = 0;
    const [a] = await replicas(1);
    await a!.rt.redis.set(a!.rt.keys.guardSlot("counted", S0), "old-replica", "PX", 60_000);
    expect((await tick(a!, S0)).guards).toEqual([]);
    expect(runs).toEqual([]);
  });

  it("a manual run takes the guard's lock as a renewed lease and releases it", async () => {
    runs.length = 0;
    const [a, b] = await replicas(2);
    probeMs = LEASE_MS * 3;
    try {
      const first = a!.rt.guards.runOnce({ guard: "counted" });
      while ((await a!.rt.redis.get(a!.rt.keys.guardLock("counted"))) === null)
        await new Promise((r) => setTimeout(r, 10));
      // Past the lease's length the lock is still held (renewed): a second manual run elsewhere waits for it, and
      // runs only once the first is done — never both at once.
      const second = b!.rt.guards.runOnce({ guard: "counted" });
      expect((await first).guards).toHaveLength(1);
      expect(runs).toEqual([{ slot: null, replica: "r0" }]);
      expect((await second).guards).toHaveLength(1);
    } finally {
      probeMs = 0;
    }
    expect(await a!.rt.redis.get(a!.rt.keys.guardLock("counted"))).toBeNull();
    expect(runs).toEqual([
      { slot: null, replica: "r0" },
      { slot: null, replica: "r1" },
    ]);
  });
});

describe("slot records outlive the guard's next tick (review M2)", () => {
  const daily = defineGuard({
    name: "daily",
    schedule: "0 0 6 * * *",
    config: z.object({}),
    reads: () => ({}),
    evaluate: () => [],
  });

  it("a daily guard's slot lives two days and a lease: the next day's tick can still take over a dead holder's slot", async () => {
    const t = await testRuntime({ guards: [daily], yaml: "guards: { daily: {} }\n" });
    opened.push(t);
    const slot = "2026-12-01T11:00:00.000Z";
    const r = t.rt.guards as GuardRunner;
    await r.tick((r as unknown as { entries: never }).entries, slot);
    const ttl = await t.rt.redis.pttl(t.rt.keys.guardSlot("daily", slot));
    expect(ttl).toBeGreaterThan(2 * 86_400_000 - 60_000);
    // (its lease left guards:leases:daily when the slot was done: nothing lapsed to take over)
    expect(await t.rt.redis.zscore(leasesKey(t.rt.keys, "daily"), slot)).toBeNull();
  });

  it("renewals extend the records: a run longer than their TTL keeps them", async () => {
    const t = await testRuntime();
    opened.push(t);
    const leases = new TickLeases({ redis: t.rt.redis, keys: t.rt.keys, log: silentLog }, "me#1", 300, () => 1_000);
    const slot = "2026-12-01T11:00:00.000Z";
    expect((await leases.claim(["g"], slot)).mine).toEqual(["g"]);
    leases.start();
    await new Promise((r) => setTimeout(r, 1_500)); // past the 1 s TTL, renewed every 100 ms
    expect(await t.rt.redis.hget(t.rt.keys.guardSlot("g", slot), "state")).toBe("running");
    await leases.stop();
    await leases.settle(["g"], slot, "done");
    expect(await t.rt.redis.hget(t.rt.keys.guardSlot("g", slot), "state")).toBe("done");
  });
});

describe("the apply is fenced by the tick's claim (review S3)", () => {
  let thief: (() => Promise<unknown>) | null = null;
  const writer = defineGuard({
    name: "writer",
    schedule: "* * * * * *",
    config: z.object({}),
    reads: () => ({}),
    probe: async () => {
      await thief?.(); // another replica takes the slot over while this tick runs, before any renewal noticed
    },
    evaluate: () => [
      {
        guard: "writer",
        key: "writer:act",
        severity: "warn",
        title: "writer acted",
        detail: "",
        sop: "sop-demo",
        actions: [{ op: "set", key: "demo:written", value: "by the stale tick" }],
      },
    ],
  });

  it("a tick whose slot was taken over before it applied changes nothing, records nothing and alerts nothing", async () => {
    const t = await testRuntime({ guards: [writer], yaml: "guard_runner: { lease_ms: 30000 }\n" });
    opened.push(t);
    const slot = "2026-12-01T11:00:05.000Z";
    thief = () => t.rt.redis.hset(t.rt.keys.guardSlot("writer", slot), "owner", "other-replica#1");
    const r = t.rt.guards as GuardRunner;
    const out = await r.tick((r as unknown as { entries: never }).entries, slot);
    expect(out.guards).toEqual([]);
    expect(await t.rt.redis.get(t.rt.keys.raw("demo:written"))).toBeNull();
    expect(await t.rt.redis.hget(t.rt.keys.guardsState, "writer")).toBeNull();
    expect(await t.rt.redis.hlen(t.rt.keys.raw("alerts:open"))).toBe(0);
    // The same tick, not robbed, applies.
    thief = null;
    const next = "2026-12-01T11:00:06.000Z";
    await r.tick((r as unknown as { entries: never }).entries, next);
    expect(await t.rt.redis.get(t.rt.keys.raw("demo:written"))).toBe("by the stale tick");
  });
});

describe("a manual run and a scheduled tick of one guard never overlap (review S8)", () => {
  it("a manual run waits out a running scheduled tick; a scheduled slot leaves a guard under a manual run alone", async () => {
    const t = await testRuntime();
    opened.push(t);
    const deps = { redis: t.rt.redis, keys: t.rt.keys, log: silentLog };
    const scheduled = new TickLeases(deps, "bot#1", 5_000);
    expect((await scheduled.claim(["g"], "2026-12-01T11:00:00.000Z")).mine).toEqual(["g"]);
    const manual = new TickLeases(deps, "cli#1", 5_000);
    expect((await manual.claim(["g"], null)).mine).toEqual([]); // the scheduled tick is running
    await scheduled.settle(["g"], "2026-12-01T11:00:00.000Z", "done");
    expect((await manual.claim(["g"], null)).mine).toEqual(["g"]);
    // While the manual run holds the lock, the next scheduled slot is not claimed by anyone.
    const other = new TickLeases(deps, "bot#2", 5_000);
    expect((await other.claim(["g"], "2026-12-01T11:00:01.000Z")).mine).toEqual([]);
    expect(await t.rt.redis.exists(t.rt.keys.guardSlot("g", "2026-12-01T11:00:01.000Z"))).toBe(0);
  });
});

describe("a manual run waits for a guard another run holds", () => {
  it("two `guards run --once` at the same moment both get the guard's answer, one after the other", async () => {
    const [a] = await replicas(1);
    const r = a!.rt.guards as GuardRunner;
    probeMs = 300;
    try {
      runs.length = 0;
      const [x, y] = await Promise.all([r.runOnce({ guard: "counted" }), r.runOnce({ guard: "counted" })]);
      expect(x.guards.map((g) => g.name)).toEqual(["counted"]);
      expect(y.guards.map((g) => g.name)).toEqual(["counted"]);
      expect(runs.filter((x) => x.slot === null)).toHaveLength(2);
    } finally {
      probeMs = 0;
    }
  });
});
