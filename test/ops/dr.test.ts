// DR restore rehearsal against two real redis-servers: the run's (live) and a second one (scratch). A real panic
// writes the snapshot; the rehearsal restores it into the scratch, compares key by key, times it and records
// {"ts","ok","keys","ms"}. It refuses the live keyspace however it is spelled, and every way it can fail is a
// failed rehearsal on record (never a success, never silence).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { ConfigError, UsageError } from "../../src/errors.js";
import { freePort, startRedisServer } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
let scratch: Awaited<ReturnType<typeof startRedisServer>>;
let scratchClient: Redis;
const opened: T[] = [];

beforeAll(async () => {
  scratch = await startRedisServer();
  scratchClient = new Redis(scratch.url);
});
afterAll(async () => {
  scratchClient.disconnect();
  await scratch.stop();
});
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

async function rt(yaml = `dr: { scratch_url: "${"SCRATCH"}" }\n`, url?: string) {
  const t = await testRuntime({ yaml: yaml.replace("SCRATCH", url ?? scratch.url) });
  opened.push(t);
  return t;
}
const record = async (t: T, key: string) => {
  const v = await t.rt.redis.get(t.rt.keys.raw(key));
  return v === null ? null : JSON.parse(v);
};
const audits = async (t: T) =>
  (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+"))
    .map((e) => JSON.parse(e[1][1]!))
    .filter((e) => e.action === "dr.rehearsed");

describe("tradeguard dr rehearse", () => {
  it("restores a real panic's snapshot into the scratch Redis, every key matches, and records {ts, ok, keys, ms}", async () => {
    const t = await rt();
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "dr drill" });
    const r = await t.rt.ops.dr.rehearse("UOPS");
    expect(r.error).toBeNull();
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(true);
    // mode, mode:meta, the event lock, the policy keys, the heartbeat, the soak: what a panic snapshots.
    expect(r.restored.sort()).toEqual(
      [
        "heartbeat:bot",
        "mode",
        "mode:meta",
        "policy:entropy",
        "policy:last_update",
        "resume:soak",
        "risk:event_lock",
      ].sort(),
    );
    expect(r.keys).toBe(7);
    expect(r.snapshot).toMatch(/snapshots\/\d{4}-\d{2}-\d{2}T.*\.json$/);
    const last = await record(t, "dr:last_rehearsal");
    expect(Object.keys(last).sort()).toEqual(["keys", "ms", "ok", "ts"]);
    expect(last).toEqual({ ts: r.ts, ok: true, keys: 7, ms: r.ms });
    expect(typeof last.ms).toBe("number");
    expect(await record(t, "dr:last_success")).toEqual(last);
    const [a] = await audits(t);
    expect(a).toMatchObject({ actor: "UOPS", details: { ok: true, keys: 7, snapshot: r.snapshot, mismatches: [] } });
    expect(t.notifier.messages.at(-1)).toMatchObject({ severity: "info", sop: "sop-dr-rehearsal" });
    expect(t.notifier.messages.at(-1)!.text).toMatch(/DR rehearsal ok: restored 7 keys/);
    // Nothing is left behind in the scratch Redis, and the live keyspace was only read.
    expect(await scratchClient.keys(`${t.rt.keys.prefix}*`)).toEqual([]);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("halt");
  });

  it("keep_restored leaves the restored state in the scratch Redis, byte for byte the snapshot's", async () => {
    const t = await rt(`dr: { scratch_url: "SCRATCH", keep_restored: true }\n`);
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "keep it" });
    expect((await t.rt.ops.dr.rehearse("UOPS")).ok).toBe(true);
    const p = t.rt.keys.prefix;
    expect(await scratchClient.get(`${p}mode`)).toBe("halt");
    expect(await scratchClient.hgetall(`${p}mode:meta`)).toEqual(await t.rt.redis.hgetall(t.rt.keys.modeMeta));
    await scratchClient.del(...(await scratchClient.keys(`${p}*`)));
  });

  it("refuses the live keyspace however it is spelled, and runs against another DB of the same server", async () => {
    const live = inject("redisUrl");
    const port = new URL(live).port;
    await expect((await rt(undefined, live)).rt.ops.dr.rehearse("UOPS")).rejects.toBeInstanceOf(ConfigError);
    const t = await rt(undefined, `redis://localhost:${port}/0`);
    await expect(t.rt.ops.dr.rehearse("UOPS")).rejects.toThrow(/is the live keyspace \(server \w+, DB 0\)/);
    expect(await t.rt.redis.get(t.rt.keys.raw("dr:last_rehearsal"))).toBeNull();
    const db1 = await rt(undefined, `redis://localhost:${port}/1`);
    await db1.rt.ops.panic.halt({ actor: "UOPS", reason: "db 1" });
    expect((await db1.rt.ops.dr.rehearse("UOPS")).ok).toBe(true);
  });

  it("without dr.scratch_url it is a usage error", async () => {
    const t = await testRuntime();
    opened.push(t);
    await expect(t.rt.ops.dr.rehearse("UOPS")).rejects.toBeInstanceOf(UsageError);
  });

  it("no snapshot, an unreachable scratch, a snapshot without state: each a failed rehearsal on record", async () => {
    const t = await rt();
    const none = await t.rt.ops.dr.rehearse("UOPS");
    expect(none).toMatchObject({ ok: false, keys: 0 });
    expect(none.error).toMatch(/no snapshot to restore/);
    expect(await record(t, "dr:last_rehearsal")).toMatchObject({ ok: false, keys: 0 });
    expect(await record(t, "dr:last_success")).toBeNull();
    expect(t.notifier.messages.at(-1)).toMatchObject({ severity: "warn" });

    const file = join(t.home, "unreachable.json");
    writeFileSync(file, JSON.stringify({ taken_at: "2026-11-25T15:00:00.000Z", redis: { redis: "unreachable" } }));
    const stateless = await t.rt.ops.dr.rehearse("UOPS", { snapshot: file });
    expect(stateless.ok).toBe(false);
    expect(stateless.error).toMatch(/holds no Redis state/);

    const down = await rt(undefined, `redis://127.0.0.1:${await freePort()}`);
    await down.rt.ops.panic.halt({ actor: "UOPS", reason: "x" });
    const r = await down.rt.ops.dr.rehearse("UOPS");
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/ECONNREFUSED|Connection is closed|max retries/i);
    expect((await audits(down))[0]!.details).toMatchObject({ ok: false });
  });

  it("snapshots kept in S3 are not looked for on disk: the rehearsal fails saying where they are", async () => {
    const t = await rt(`dr: { scratch_url: "SCRATCH" }\npanic: { s3: { bucket: desk-snapshots } }\n`);
    const r = await t.rt.ops.dr.rehearse("UOPS");
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/snapshots are written to S3 \(bucket desk-snapshots\).*pass --snapshot FILE/);
  });

  it("a snapshot whose entries cannot all be restored is caught by the key-by-key compare", async () => {
    const t = await rt();
    const file = join(t.home, "twice.json");
    // The same key twice (mode_meta and mode:meta): only the last can survive the restore; the compare says which.
    writeFileSync(
      file,
      JSON.stringify({
        taken_at: "2026-11-25T15:00:00.000Z",
        redis: {
          mode: "halt",
          mode_meta: { reason: "a" },
          "mode:meta": { reason: "b" },
          "resume:soak": "unreadable: WRONGTYPE",
        },
      }),
    );
    const r = await t.rt.ops.dr.rehearse("UOPS", { snapshot: file });
    expect(r.ok).toBe(false);
    expect(r.mismatches).toEqual([{ key: "mode:meta", expected: { reason: "a" }, got: { reason: "b" } }]);
    expect(r.skipped).toEqual([{ key: "resume:soak", why: "unreadable: WRONGTYPE" }]);
    expect(r.keys).toBe(3);
  });

  it("the reminder says when the last successful rehearsal was", async () => {
    let now = new Date("2026-12-01T15:00:00.000Z");
    const t = await testRuntime({ yaml: `dr: { scratch_url: "${scratch.url}" }\n`, now: () => now });
    opened.push(t);
    await t.rt.ops.dr.remind();
    expect(t.notifier.messages.at(-1)).toMatchObject({ severity: "warn", sop: "sop-dr-rehearsal" });
    expect(t.notifier.messages.at(-1)!.text).toMatch(/No successful rehearsal is recorded/);
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "x" });
    expect((await t.rt.ops.dr.rehearse("UOPS")).ok).toBe(true);
    now = new Date("2026-12-13T03:00:00.000Z");
    await t.rt.ops.dr.remind();
    expect(t.notifier.messages.at(-1)!.text).toMatch(/last successful one was 11\.5 days ago/);
  });
});
