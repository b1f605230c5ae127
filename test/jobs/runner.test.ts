import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError } from "../../src/errors.js";
import { defineGuard, type Guard } from "../../src/jobs/guard.js";
import { intervalMs } from "../../src/jobs/runner/schedule.js";
import type { GuardRunner } from "../../src/jobs/runner.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

const evaluations: Record<string, number> = {};
const count = (name: string) => {
  evaluations[name] = (evaluations[name] ?? 0) + 1;
};

/** Fires when `demo:level` > threshold; sets `demo:flag` while firing. */
const levelGuard = defineGuard({
  name: "level",
  schedule: "*/5 * * * * *",
  config: z.object({ threshold: z.number().default(10) }),
  reads: () => ({ level: { key: "demo:level", type: "string" as const, schema: z.coerce.number().nullable() } }),
  evaluate(s, _now, c) {
    count("level");
    const v = s.values.level as number | null;
    if (v === null || v <= c.threshold) return [];
    return [
      {
        guard: "level",
        key: "level:high",
        severity: v > c.threshold * 2 ? "critical" : "warn",
        title: "level high",
        detail: `level is ${v}`,
        sop: "sop-demo",
        value: String(v),
        threshold: String(c.threshold),
        actions: [
          { op: "set", key: "demo:flag", value: "on" },
          { op: "publish", channel: "demo:channel", message: JSON.stringify({ level: v }) },
        ],
      },
    ];
  },
});

const throwing = defineGuard({
  name: "throwing",
  schedule: "* * * * *",
  config: z.object({}),
  reads: () => ({}),
  evaluate() {
    count("throwing");
    throw new Error("kaboom");
  },
});

const slowProbe = defineGuard({
  name: "slow",
  schedule: "* * * * *",
  config: z.object({}),
  reads: () => ({}),
  probe: (_c, ctx) =>
    new Promise((resolve) => setTimeout(resolve, 5_000, "late")).then((v) => (ctx.signal.aborted ? "aborted" : v)),
  evaluate() {
    count("slow");
    return [];
  },
});

const strict = defineGuard({
  name: "strict",
  schedule: "* * * * *",
  config: z.object({}),
  reads: () => ({
    entropy: { key: "demo:entropy", type: "string" as const, schema: z.coerce.number().min(0).max(10).nullable() },
    book: { key: "demo:book", type: "hash" as const, schema: z.record(z.string(), z.string().regex(/^\d+$/)) },
  }),
  evaluate() {
    count("strict");
    return [];
  },
});

// biome-ignore lint/suspicious/noExplicitAny: test registry of mixed guards
async function runtime(guards: Guard<any, any, any>[], yaml = ""): Promise<T> {
  const t = await testRuntime({ yaml, guards, alertIntervalMs: 0 });
  opened.push(t);
  return t;
}

describe("GuardRunner", () => {
  it("evaluates, applies flag changes with the prefix, publishes, records state, and audits only real changes", async () => {
    const t = await runtime([levelGuard], "guards: { level: { threshold: 10 } }\n");
    const sub = t.rt.redis.duplicate();
    const msgs: string[] = [];
    await sub.subscribe(t.rt.keys.raw("demo:channel"));
    sub.on("message", (_c, m) => msgs.push(m));
    await t.rt.redis.set(t.rt.keys.raw("demo:level"), "15");
    const r1 = await t.rt.guards.runOnce();
    expect(r1.guards).toEqual([expect.objectContaining({ name: "level", state: "warn", detail: "level high" })]);
    expect(r1.findings[0]).toMatchObject({ key: "level:high", severity: "warn", value: "15", threshold: "10" });
    expect(await t.rt.redis.get(t.rt.keys.raw("demo:flag"))).toBe("on");
    await t.rt.guards.runOnce();
    await new Promise((r) => setTimeout(r, 50));
    expect(msgs.map((m) => JSON.parse(m))).toEqual([{ level: 15 }, { level: 15 }]);
    const audit = (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map((x) => JSON.parse(x[1][1]!));
    expect(audit.filter((e) => e.action === "flag.changed")).toEqual([
      expect.objectContaining({ actor: "guard:level", details: { op: "set", key: "demo:flag", value: "on" } }),
    ]);
    const state = JSON.parse((await t.rt.redis.hget(t.rt.keys.guardsState, "level"))!);
    expect(state).toMatchObject({ name: "level", state: "warn" });
  });

  it("reads every due guard's keys in one pipelined round trip", async () => {
    const t = await runtime([levelGuard, strict]);
    let pipelines = 0;
    const original = t.rt.redis.pipeline.bind(t.rt.redis);
    (t.rt.redis as { pipeline: unknown }).pipeline = (...a: Parameters<typeof original>) => {
      pipelines++;
      return original(...a);
    };
    const directReads: string[] = [];
    for (const cmd of ["get", "hgetall", "smembers", "zrange", "lrange"] as const) {
      const fn = (t.rt.redis as unknown as Record<string, (...a: unknown[]) => unknown>)[cmd]!.bind(t.rt.redis);
      (t.rt.redis as unknown as Record<string, unknown>)[cmd] = (...a: unknown[]) => {
        directReads.push(`${cmd} ${a[0]}`);
        return fn(...a);
      };
    }
    await t.rt.guards.runOnce();
    // Pipelines: lock claim, the one read of every declared key, the alert pipeline's single type-safe read of
    // alerts:open (once per tick, not per guard), state record, lock release. No direct reads besides.
    expect(pipelines).toBe(5);
    expect(directReads).toEqual([]);
    expect(t.rt.guards.lastTickRoundTrips).toBe(6);
  });

  it("a throwing guard and a slow probe are reported; the others keep running", async () => {
    const t = await runtime([throwing, slowProbe, levelGuard], "guards: { slow: { timeout_ms: 200 } }\n");
    await t.rt.redis.set(t.rt.keys.raw("demo:level"), "50");
    const r = await t.rt.guards.runOnce();
    const by = Object.fromEntries(r.guards.map((g) => [g.name, g]));
    expect(by.throwing).toMatchObject({ state: "error", detail: "kaboom" });
    expect(by.slow).toMatchObject({ state: "error", detail: expect.stringMatching(/overran its 200 ms budget/) });
    expect(by.level).toMatchObject({ state: "critical" });
    expect(r.findings.map((f) => f.key).sort()).toEqual(["level:high", "slow:error", "throwing:error"]);
  });

  it("turns malformed Redis values into a data-invalid finding instead of evaluating", async () => {
    const t = await runtime([strict, levelGuard]);
    const before = evaluations.strict ?? 0;
    await t.rt.redis.set(t.rt.keys.raw("demo:entropy"), "not-a-number");
    await t.rt.redis.hset(t.rt.keys.raw("demo:book"), "AAPL", "12x");
    await t.rt.redis.set(t.rt.keys.raw("demo:level"), "1");
    const r = await t.rt.guards.runOnce();
    expect(evaluations.strict ?? 0).toBe(before);
    const f = r.findings.find((x) => x.key === "strict:data_invalid")!;
    expect(f.detail).toMatch(/demo:entropy: .*"not-a-number"/);
    expect(f.detail).toMatch(/demo:book/);
    expect(r.guards.find((g) => g.name === "level")).toMatchObject({ state: "ok" });
    // A key of the wrong Redis type is data invalid too, not a crash.
    await t.rt.redis.del(t.rt.keys.raw("demo:book"));
    await t.rt.redis.set(t.rt.keys.raw("demo:book"), "a string");
    await t.rt.redis.del(t.rt.keys.raw("demo:entropy"));
    const r2 = await t.rt.guards.runOnce({ guard: "strict" });
    expect(r2.findings[0]!.detail).toMatch(/wrong type \(\w+\)/);
  });

  it("runs a scheduled slot on exactly one of two replicas", async () => {
    const a = await runtime([levelGuard]);
    const b = await testRuntime({
      env: { REDIS_PREFIX: a.env.REDIS_PREFIX!, TRADEGUARD_HOME: a.home },
      guards: [levelGuard],
    });
    opened.push(b);
    const before = evaluations.level ?? 0;
    const runnerA = a.rt.guards as GuardRunner & { tick: GuardRunner["tick"] };
    const entryA = (runnerA as unknown as { entries: unknown[] }).entries;
    const entryB = (b.rt.guards as unknown as { entries: unknown[] }).entries;
    const slot = "2026-11-25T16:00:00.000Z";
    const [ra, rb] = await Promise.all([
      a.rt.guards.tick(entryA as never, slot),
      b.rt.guards.tick(entryB as never, slot),
    ]);
    expect((evaluations.level ?? 0) - before).toBe(1);
    expect(ra.guards.length + rb.guards.length).toBe(1);
    // The next slot runs again.
    await a.rt.guards.tick(entryA as never, "2026-11-25T16:00:05.000Z");
    expect((evaluations.level ?? 0) - before).toBe(2);
  });

  it("a replica that died holding the lock does not block a manual run: it waits for the lock to expire, then runs", async () => {
    const t = await runtime([levelGuard]);
    await t.rt.redis.set(t.rt.keys.guardLock("level"), "dead-replica", "PX", 150);
    expect((await t.rt.guards.runOnce()).guards).toHaveLength(1);
    expect(await t.rt.redis.get(t.rt.keys.guardLock("level"))).toBeNull();
  });

  it("a lock held past the wait (the guard's budget and a lease) is a clear refusal", async () => {
    const t = await runtime([levelGuard]);
    await t.rt.redis.set(t.rt.keys.guardLock("level"), "stuck-replica", "PX", 60_000);
    await expect(t.rt.guards.runOnce({ guard: "level" })).rejects.toThrow(/level: being run by another process/);
  }, 30_000);

  it("reports a guard as stale when it has not run for three intervals", async () => {
    let clock = new Date("2026-11-25T16:00:00Z");
    const t = await testRuntime({ guards: [levelGuard], now: () => clock });
    opened.push(t);
    expect((await t.rt.guards.states())[0]).toMatchObject({ state: "stale", detail: "never ran" });
    await t.rt.guards.runOnce();
    expect((await t.rt.guards.states())[0]).toMatchObject({ state: "ok" });
    clock = new Date(clock.getTime() + 16_000);
    expect((await t.rt.guards.states())[0]).toMatchObject({ state: "stale" });
    expect(intervalMs("*/5 * * * * *")).toBe(5_000);
  });

  it.each([
    ["guards: { nope: {} }", /guards\.nope: unknown guard/],
    ["guards: { level: { schedule: 'every minute' } }", /guards\.level\.schedule: a cron expression/],
    ["guards: { level: { threshold: 'high' } }", /guards\.level\.threshold/],
    ["guards: { level: { enabled: 'yes' } }", /guards\.level\.enabled/],
  ])("rejects bad guard config %s naming the key", async (yaml, msg) => {
    await expect(testRuntime({ yaml, guards: [levelGuard] })).rejects.toThrow(msg);
    await expect(testRuntime({ yaml, guards: [levelGuard] })).rejects.toBeInstanceOf(ConfigError);
  });
});
