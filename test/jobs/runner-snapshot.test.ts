// The tick's read side: one validation per key and schema shared by the guards that declare them, and still each
// guard's own verdict when its schema differs.
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { KeyRead } from "../../src/jobs/guard.js";
import { ReadFailure } from "../../src/jobs/guard.js";
import { plainShape, readSnapshot } from "../../src/jobs/runner/snapshot.js";
import { testRedis } from "../support/redis.js";

type R = ReturnType<typeof testRedis>;
const opened: R[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});
const redis = () => {
  const t = testRedis();
  opened.push(t);
  return t;
};
const guard = (reads: Record<string, KeyRead>) => ({ reads });

describe("plainShape", () => {
  it("names the schemas that accept exactly a Redis type's raw values", () => {
    expect(plainShape(z.string())).toBe("string");
    expect(plainShape(z.string().nullable())).toBe("string?");
    expect(plainShape(z.array(z.string()))).toBe("string[]");
    expect(plainShape(z.record(z.string(), z.string()))).toBe("record<string,string>");
  });

  it("does not name a schema with checks, refinements, transforms, coercion or messages of its own", () => {
    for (const s of [
      z.string().min(1),
      z.string().regex(/x/),
      z.string().refine((v) => v !== "x"),
      z.string().transform((v) => v.length),
      z.coerce.string(),
      z.string({ error: "nope" }),
      z.array(z.string()).max(3),
      z.array(z.string().min(1)),
      z.record(z.string().min(1), z.string()),
      z.record(z.string(), z.string().optional()),
      z.record(z.string(), z.number()),
      z.string().optional(),
      z.array(z.tuple([z.string(), z.number()])),
      z.unknown(),
    ])
      expect(plainShape(s)).toBeNull();
  });
});

describe("readSnapshot", () => {
  it("validates a key once for every guard that declares it with an equal plain schema", async () => {
    const t = redis();
    await t.redis.hset(t.keys.raw("px"), { A: "1", B: "22" });
    const reads = () => ({ px: { key: "px", type: "hash" as const, schema: z.record(z.string(), z.string()) } });
    const snap = await readSnapshot(t.redis, t.keys, [guard(reads()), guard(reads()), guard(reads())]);
    expect(snap.roundTrips).toBe(1);
    const [a, b, c] = snap.perGuard.map((g) => g.values.px);
    expect(a).toEqual({ A: "1", B: "22" });
    expect(b).toBe(a);
    expect(c).toBe(a);
  });

  it("still gives each guard its own verdict when its schema differs", async () => {
    const t = redis();
    await t.redis.hset(t.keys.raw("px"), { A: "1", B: "22" });
    await t.redis.sadd(t.keys.raw("members"), "x");
    const strict = z.record(z.string(), z.string().min(2));
    const snap = await readSnapshot(t.redis, t.keys, [
      guard({ px: { key: "px", type: "hash", schema: z.record(z.string(), z.string()) } }),
      guard({ px: { key: "px", type: "hash", schema: strict } }),
      guard({ px: { key: "px", type: "hash", schema: strict, onError: "value" } }),
      // A plain schema of another shape than the read's type is run, and fails.
      guard({ px: { key: "px", type: "hash", schema: z.array(z.string()) } }),
      guard({ m: { key: "members", type: "set", schema: z.array(z.string()) } }),
    ]);
    const [plain, checked, asValue, wrongShape, set] = snap.perGuard;
    expect(plain!.values.px).toEqual({ A: "1", B: "22" });
    expect(plain!.invalid).toEqual([]);
    expect(checked!.values.px).toBeUndefined();
    expect(checked!.invalid).toEqual([expect.stringMatching(/^px: .*(2|characters)/)]);
    expect(asValue!.values.px).toBeInstanceOf(ReadFailure);
    expect(wrongShape!.invalid).toEqual([expect.stringMatching(/^px: /)]);
    expect(set!.values.m).toEqual(["x"]);
  });

  it("runs the schema where a raw value could fail it (a missing string key without nullable)", async () => {
    const t = redis();
    const snap = await readSnapshot(t.redis, t.keys, [
      guard({ v: { key: "absent", type: "string", schema: z.string().nullable() } }),
      guard({ v: { key: "absent", type: "string", schema: z.string() } }),
    ]);
    expect(snap.perGuard[0]!.values.v).toBeNull();
    expect(snap.perGuard[1]!.invalid).toEqual([expect.stringMatching(/^absent: .*got null/)]);
  });

  it("shares one sorted-set conversion and names a key of the wrong type", async () => {
    const t = redis();
    await t.redis.zadd(t.keys.raw("z"), 2, "b", 1, "a");
    await t.redis.set(t.keys.raw("s"), "text");
    const zs = () => ({ key: "z", type: "zset" as const, schema: z.array(z.tuple([z.string(), z.number()])) });
    const snap = await readSnapshot(t.redis, t.keys, [
      guard({ z: zs(), s: { key: "s", type: "hash", schema: z.record(z.string(), z.string()) } }),
      guard({ z: zs() }),
    ]);
    expect(snap.perGuard[0]!.values.z).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    expect(snap.perGuard[1]!.values.z).toEqual(snap.perGuard[0]!.values.z);
    expect(snap.perGuard[0]!.invalid).toEqual(["s: wrong type (string)"]);
  });
});
