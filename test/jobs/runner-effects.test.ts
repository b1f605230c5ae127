// Flag changes are conditional on what the guard read (src/jobs/runner/effects.ts): a guard decides on its snapshot,
// and a writer that changed the key meanwhile (an operator's command, another replica) must not be overwritten.
// The other writer here is the guard's own probe, which runs after the snapshot was read and before the effects.
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineGuard, type FlagChange } from "../../src/jobs/guard.js";
import type { Keys } from "../../src/state/keys.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

/** What the "other writer" does between the guard's read and its effects (null: nothing). */
let meanwhile: ((redis: Redis, keys: Keys) => Promise<unknown>) | null = null;
let target: { redis: Redis; keys: Keys } | null = null;
const actions: FlagChange[] = [
  { op: "hset", key: "demo:book", fields: { AAPL: "guard", MSFT: "guard" } },
  { op: "hdel", key: "demo:book", fields: ["TSLA"] },
  { op: "set", key: "demo:level", value: "0" },
  { op: "del", key: "demo:note" },
  { op: "set", key: "demo:unread", value: "x" },
];
const booker = defineGuard({
  name: "booker",
  schedule: "* * * * *",
  config: z.object({}),
  reads: () => ({
    book: { key: "demo:book", type: "hash" as const, schema: z.record(z.string(), z.string()) },
    level: { key: "demo:level", type: "string" as const, schema: z.string().nullable() },
    note: { key: "demo:note", type: "string" as const, schema: z.string().nullable() },
  }),
  probe: async () => {
    if (meanwhile && target) await meanwhile(target.redis, target.keys);
  },
  evaluate: () => [
    { guard: "booker", key: "booker:act", severity: "info", title: "act", detail: "", sop: "sop-demo", actions },
  ],
});

async function seeded(): Promise<T> {
  const t = await testRuntime({ guards: [booker] });
  opened.push(t);
  target = { redis: t.rt.redis, keys: t.rt.keys };
  const r = (k: string) => t.rt.keys.raw(k);
  await t.rt.redis.hset(r("demo:book"), { AAPL: "old", TSLA: "old" });
  await t.rt.redis.set(r("demo:level"), "5");
  await t.rt.redis.set(r("demo:note"), "n");
  return t;
}
const audited = async (t: T, action: string) =>
  (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+"))
    .map((x) => JSON.parse(x[1][1]!))
    .filter((e) => e.action === action)
    .map((e) => e.details);

describe("conditional flag changes", () => {
  it("apply when nothing changed since the guard read", async () => {
    meanwhile = null;
    const t = await seeded();
    const r = await t.rt.guards.runOnce();
    const raw = (k: string) => t.rt.keys.raw(k);
    expect(await t.rt.redis.hgetall(raw("demo:book"))).toEqual({ AAPL: "guard", MSFT: "guard" });
    expect(await t.rt.redis.mget(raw("demo:level"), raw("demo:note"), raw("demo:unread"))).toEqual(["0", null, "x"]);
    expect(r.guards[0]!.detail).not.toMatch(/skipped/);
    expect(await audited(t, "flag.skipped")).toEqual([]);
    expect(await audited(t, "flag.changed")).toHaveLength(5);
  });

  it("skip, report and audit a change whose key or field another writer changed after the read", async () => {
    meanwhile = async (redis, keys) => {
      await redis.hset(keys.raw("demo:book"), "AAPL", "newer"); // an operator's newer value
      await redis.set(keys.raw("demo:level"), "9");
      await redis.set(keys.raw("demo:note"), "rewritten");
    };
    const t = await seeded();
    const r = await t.rt.guards.runOnce();
    const raw = (k: string) => t.rt.keys.raw(k);
    // The newer values stand; the hset is skipped whole (AAPL changed), not half applied.
    expect(await t.rt.redis.hgetall(raw("demo:book"))).toEqual({ AAPL: "newer" });
    expect(await t.rt.redis.mget(raw("demo:level"), raw("demo:note"))).toEqual(["9", "rewritten"]);
    // What the guard did not read, or read unchanged (TSLA), still applies.
    expect(await t.rt.redis.get(raw("demo:unread"))).toBe("x");
    expect(r.guards[0]!.detail).toMatch(
      /3 flag change\(s\) skipped: changed since read \(demo:book\[AAPL\], demo:level, demo:note\)/,
    );
    expect(await audited(t, "flag.skipped")).toEqual([
      expect.objectContaining({ op: "hset", key: "demo:book", field: "AAPL", expected: "old", actual: "newer" }),
      expect.objectContaining({ op: "set", key: "demo:level", expected: "5", actual: "9" }),
      expect.objectContaining({ op: "del", key: "demo:note", expected: "n", actual: "rewritten" }),
    ]);
    expect((await audited(t, "flag.changed")).map((d) => `${d.op} ${d.key}`)).toEqual([
      "hdel demo:book",
      "set demo:unread",
    ]);
  });

  it("a field the guard read as absent that another writer created meanwhile is not overwritten", async () => {
    meanwhile = async (redis, keys) => redis.hset(keys.raw("demo:book"), "MSFT", "operator");
    const t = await seeded();
    await t.rt.guards.runOnce();
    expect(await t.rt.redis.hget(t.rt.keys.raw("demo:book"), "MSFT")).toBe("operator");
    expect(await audited(t, "flag.skipped")).toEqual([
      expect.objectContaining({ field: "MSFT", expected: null, actual: "operator" }),
    ]);
  });
});

describe("a flag change Redis refuses fails alone (review S6)", () => {
  it("a WRONGTYPE on one key: the other changes apply and are audited, the failure is audited, nothing throws", async () => {
    const t = await testRuntime();
    opened.push(t);
    const { EffectRunner } = await import("../../src/jobs/runner/effects.js");
    const effects = new EffectRunner({ redis: t.rt.redis, keys: t.rt.keys, audit: t.rt.audit, log: t.rt.log });
    const r = (k: string) => t.rt.keys.raw(k);
    await t.rt.redis.set(r("demo:set"), "not a set"); // a key of the wrong type the guard never read
    const skipped = await effects.apply("demo", [
      { op: "set", key: "demo:a", value: "1" },
      { op: "sadd", key: "demo:set", members: ["x"] },
      { op: "hset", key: "demo:h", fields: { f: "v" } },
    ]);
    expect(skipped).toEqual([]);
    expect(await t.rt.redis.get(r("demo:a"))).toBe("1");
    expect(await t.rt.redis.hget(r("demo:h"), "f")).toBe("v");
    await t.rt.audit.drained();
    const entries = (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(
      ([, f]) => JSON.parse(f[1]!) as { action: string; details: Record<string, unknown> },
    );
    expect(entries.filter((e) => e.action === "flag.changed").map((e) => e.details.key)).toEqual(["demo:a", "demo:h"]);
    const failed = entries.filter((e) => e.action === "flag.failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]!.details).toMatchObject({
      op: "sadd",
      key: "demo:set",
      error: expect.stringMatching(/WRONGTYPE/),
    });
  });
});
