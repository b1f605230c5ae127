import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyChain } from "../../src/audit/chain.js";
import type { AuditKeys } from "../../src/audit/keyfile.js";
import { AuditLog, readEntries, readFileHead, tailEntries } from "../../src/audit/log.js";
import { createRedis } from "../../src/state/redis.js";
import { captureLog, silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";

function keys(): AuditKeys {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKey, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

describe("AuditLog on Redis", () => {
  let t: ReturnType<typeof testRedis>;
  let dir: string;
  const signer = keys();
  beforeEach(() => {
    t = testRedis();
    dir = mkdtempSync(join(tmpdir(), "tg-audit-"));
  });
  afterEach(() => t.cleanup());

  it("appends entries to the stream (field e, id <seq>-0) and mirrors them to the file", async () => {
    const file = join(dir, "audit.jsonl");
    const log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file, log: silentLog });
    const a = await log.append({ actor: "U1", action: "mode.set", details: { mode: "halt" } });
    const b = await log.append({ actor: "U2", action: "mode.set", details: { mode: "active" } });
    expect([a.seq, b.seq]).toEqual([1, 2]);
    const rows = await t.redis.xrange(t.keys.auditLog, "-", "+");
    expect(rows.map((r) => r[0])).toEqual(["1-0", "2-0"]);
    expect(rows[0]![1]).toEqual(["e", expect.stringContaining('"action":"mode.set"')]);
    const fileLines = readFileSync(file, "utf8").trim().split("\n");
    expect(fileLines).toEqual(rows.map((r) => r[1][1]));
    expect(
      await verifyChain(readEntries({ kind: "redis", redis: t.redis, keys: t.keys }), signer.publicKey, { full: true }),
    ).toMatchObject({ ok: true, entries: 2 });
  });

  it("keeps one chain with 4 writers on separate connections appending concurrently", async () => {
    const writers = Array.from(
      { length: 4 },
      (_, w) =>
        new AuditLog({ redis: t.connect(), keys: t.keys, signer, file: join(dir, `w${w}.jsonl`), log: silentLog }),
    );
    await Promise.all(
      writers.flatMap((w, wi) =>
        Array.from({ length: 150 }, (_, i) => w.append({ actor: `w${wi}`, action: "x", details: { i } })),
      ),
    );
    const result = await verifyChain(
      readEntries({ kind: "redis", redis: t.redis, keys: t.keys }, { pageSize: 100 }),
      signer.publicKey,
      { full: true },
    );
    expect(result).toEqual({ ok: true, entries: 600, firstBad: null, reason: null });
    // Each writer's mirror is gap-filled from Redis, so every file is a verifiable prefix of the one chain.
    for (let w = 0; w < 4; w++) {
      const r = await verifyChain(readEntries({ kind: "file", file: join(dir, `w${w}.jsonl`) }), signer.publicKey);
      expect(r.ok).toBe(true);
      expect(r.entries).toBeGreaterThan(0);
    }
  });

  it("resolves entries in call order within one process", async () => {
    const log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(dir, "a.jsonl"), log: silentLog });
    const es = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append({ actor: "a", action: "n", details: { i } })),
    );
    expect(es.map((e) => e.details.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(es.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("tails the last N entries from Redis and from the file", async () => {
    const file = join(dir, "t.jsonl");
    const log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file, log: silentLog });
    for (let i = 0; i < 5; i++) await log.append({ actor: "a", action: "n", details: { i } });
    const fromRedis = (await tailEntries({ kind: "redis", redis: t.redis, keys: t.keys }, 2)).map(
      (s) => JSON.parse(s).seq,
    );
    const fromFile = (await tailEntries({ kind: "file", file }, 2)).map((s) => JSON.parse(s).seq);
    expect(fromRedis).toEqual([4, 5]);
    expect(fromFile).toEqual([4, 5]);
  });

  it("chains onto the audit file alone when Redis is unreachable", async () => {
    const file = join(dir, "offline.jsonl");
    const online = new AuditLog({ redis: t.redis, keys: t.keys, signer, file, log: silentLog });
    await online.append({ actor: "a", action: "before" });
    const dead = createRedis("redis://127.0.0.1:1", { interactive: true });
    const offline = new AuditLog({ redis: dead, keys: t.keys, signer, file, log: silentLog });
    const e = await offline.append({ actor: "cli:ops", action: "panic.requested", details: { reason: "redis down" } });
    dead.disconnect();
    expect(e.seq).toBe(2);
    expect(readFileHead(file)).toEqual({ seq: 2, hash: e.hash });
    expect(await verifyChain(readEntries({ kind: "file", file }), signer.publicKey, { full: true })).toMatchObject({
      ok: true,
      entries: 2,
    });
  });

  it("sets an offline fork of the file aside when Redis comes back, rebuilds the file and anchors the fork", async () => {
    const file = join(dir, "fork.jsonl");
    const online = new AuditLog({ redis: t.redis, keys: t.keys, signer, file, log: silentLog });
    await online.append({ actor: "a", action: "before" });
    const dead = createRedis("redis://127.0.0.1:1", { interactive: true });
    const offline = new AuditLog({ redis: dead, keys: t.keys, signer, file, log: silentLog });
    const off = await offline.append({ actor: "cli:ops", action: "panic.confirmed" });
    dead.disconnect();
    expect(off.seq).toBe(2);
    // Redis is back: the next entry is seq 2 of the Redis chain, which the file's offline seq 2 contradicts.
    const back = await online.append({ actor: "a", action: "after" });
    expect(back.seq).toBe(2);
    await new Promise((r) => setTimeout(r, 100)); // the audit.file_forked entry is appended right after
    const forks = readdirSync(dir).filter((f) => f.startsWith("fork.jsonl.fork-"));
    expect(forks).toHaveLength(1);
    const forkFile = join(dir, forks[0]!);
    expect(
      await verifyChain(readEntries({ kind: "file", file: forkFile }), signer.publicKey, { full: true }),
    ).toMatchObject({ ok: true, entries: 2 });
    expect(await verifyChain(readEntries({ kind: "file", file }), signer.publicKey, { full: true })).toMatchObject({
      ok: true,
      entries: 3,
    });
    const rows = await t.redis.xrange(t.keys.auditLog, "-", "+");
    const last = JSON.parse(rows.at(-1)![1][1]!);
    expect(last).toMatchObject({
      action: "audit.file_forked",
      details: { fork_file: forkFile, fork_head_seq: 2, fork_head_hash: off.hash },
    });
  });

  it("says loudly when the chain it appends to was signed by another key", async () => {
    await new AuditLog({
      redis: t.redis,
      keys: t.keys,
      signer: keys(),
      file: join(dir, "k1.jsonl"),
      log: silentLog,
    }).append({ actor: "a", action: "x" });
    const { log, lines } = captureLog();
    await new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(dir, "k2.jsonl"), log }).append({
      actor: "b",
      action: "y",
    });
    expect(lines.join("")).toMatch(/signed by another key than AUDIT_KEY_FILE/);
    const { log: quiet, lines: none } = captureLog();
    await new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(dir, "k3.jsonl"), log: quiet }).append({
      actor: "c",
      action: "z",
    });
    expect(none.join("")).not.toMatch(/another key/);
  });

  it("reads the file head even when the last line is long and the file large", () => {
    const file = join(dir, "big.jsonl");
    const big = "x".repeat(200_000);
    writeFileSync(
      file,
      `${JSON.stringify({ seq: 1, hash: "a".repeat(64), pad: big })}\n${JSON.stringify({ seq: 2, hash: "b".repeat(64), pad: big })}\n`,
    );
    expect(readFileHead(file)).toEqual({ seq: 2, hash: "b".repeat(64) });
    expect(readFileHead(join(dir, "absent.jsonl"))).toBeNull();
  });
});
