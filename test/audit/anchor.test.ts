// Audit anchoring without S3: signed checkpoints in TRADEGUARD_HOME/checkpoints.jsonl, checked against a chain written
// by the real AuditLog into the run's redis-server. Truncation and rewriting — which the chain alone cannot show —
// are found through the checkpoints. (The S3 store, under Object Lock, is test/audit/anchor-s3.test.ts.)
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  anchor,
  checkpointSignatureValid,
  fileCheckpointSink,
  signCheckpoint,
  verifyCheckpoints,
} from "../../src/audit/anchor.js";
import { verifyChain } from "../../src/audit/chain.js";
import { loadAuditKey } from "../../src/audit/keyfile.js";
import { AuditLog, type AuditSource, readEntries } from "../../src/audit/log.js";
import { keys, rewriteChain } from "../s3/chain.js";
import { caught } from "../support/caught.js";
import { runCli } from "../support/cli.js";
import { silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";

describe("audit checkpoints (file store, real Redis)", () => {
  let t: ReturnType<typeof testRedis>;
  let dir: string;
  let src: AuditSource;
  const signer = keys();
  let log: AuditLog;
  const append = (n: number) =>
    Promise.all(Array.from({ length: n }, (_, i) => log.append({ actor: "U1", action: "mode.set", details: { i } })));
  beforeEach(() => {
    t = testRedis();
    dir = mkdtempSync(join(tmpdir(), "tg-anchor-"));
    src = { kind: "redis", redis: t.redis, keys: t.keys };
    log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(dir, "audit.jsonl"), log: silentLog });
  });
  afterEach(() => t.cleanup());

  it("signs {seq, hash, ts} and writes one canonical line per checkpoint (0600); an unchanged head is not re-anchored", async () => {
    const sink = fileCheckpointSink(join(dir, "home", "checkpoints.jsonl"));
    expect(await anchor({ source: src, sink, signer })).toEqual({
      written: false,
      seq: 0,
      hash: null,
      reason: "the audit chain is empty",
    });
    const [, e2] = await append(2);
    const r = await anchor({ source: src, sink, signer, now: () => new Date("2026-12-01T10:00:00.000Z") });
    expect(r).toMatchObject({ written: true, seq: 2, hash: e2!.hash, ts: "2026-12-01T10:00:00.000Z" });
    const line = readFileSync(sink.location, "utf8").trim();
    const cp = JSON.parse(line);
    expect(line).toBe(`{"hash":"${e2!.hash}","seq":2,"sig":"${cp.sig}","ts":"2026-12-01T10:00:00.000Z"}`);
    expect(checkpointSignatureValid(cp, signer.publicKey)).toBe(true);
    expect(checkpointSignatureValid({ ...cp, ts: "2026-12-01T10:00:00.001Z" }, signer.publicKey)).toBe(false);
    expect(checkpointSignatureValid(cp, keys().publicKey)).toBe(false);
    expect(statSync(sink.location).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "home")).mode & 0o777).toBe(0o700);
    expect(await anchor({ source: src, sink, signer })).toMatchObject({
      written: false,
      reason: "seq 2 is already anchored",
    });
  });

  it("refuses to anchor a head that does not verify with the signer's key", async () => {
    await append(3);
    const sink = fileCheckpointSink(join(dir, "cp.jsonl"));
    expect(await caught(anchor({ source: src, sink, signer: keys() }))).toMatchObject({
      code: "anchor_refused",
      userMessage: expect.stringMatching(/seq 3 does not verify|chain head \(seq 3\) does not verify/),
    });
  });

  it("detects truncation (newest entries deleted) that the chain itself cannot show, naming the seq", async () => {
    const sink = fileCheckpointSink(join(dir, "cp.jsonl"));
    await append(10);
    await anchor({ source: src, sink, signer });
    await append(10);
    await anchor({ source: src, sink, signer });
    expect(await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey)).toMatchObject({
      ok: true,
      checkpoints: 2,
      newest: 20,
      problems: [],
    });
    for (let s = 16; s <= 20; s++) await t.redis.xdel(t.keys.auditLog, `${s}-0`);
    // The chain alone still verifies, every signature included: truncation is invisible to it (docs/audit.md).
    expect(await verifyChain(readEntries(src), signer.publicKey, { full: true })).toMatchObject({
      ok: true,
      entries: 15,
    });
    const r = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 20, newest: 20 });
    expect(r.reason).toMatch(
      /^truncated: the chain ends at seq 15, but checkpoint .* anchored seq 20; entries 16–20 are gone$/,
    );
    expect(r.problems.map((p) => p.kind)).toEqual(["truncated"]);
  });

  it("detects a chain rewritten by someone holding the key (relinked and re-signed), naming the first anchored seq", async () => {
    const sink = fileCheckpointSink(join(dir, "cp.jsonl"));
    await append(10);
    await anchor({ source: src, sink, signer });
    await append(10);
    await anchor({ source: src, sink, signer });
    await rewriteChain(t, 7, signer);
    expect(await verifyChain(readEntries(src), signer.publicKey, { full: true })).toMatchObject({
      ok: true,
      entries: 20,
    });
    const r = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toBe(10);
    expect(r.reason).toMatch(/^rewritten: entry 10 no longer has the hash checkpoint .*cp\.jsonl:1/);
    expect(r.problems.map((p) => [p.kind, p.seq])).toEqual([
      ["rewritten", 10],
      ["rewritten", 20],
    ]);
  });

  it("an entry deleted from the middle (XTRIM of the oldest) is a rewritten chain at the anchored seq", async () => {
    const sink = fileCheckpointSink(join(dir, "cp.jsonl"));
    await append(5);
    await anchor({ source: src, sink, signer });
    await append(5);
    await t.redis.xtrim(t.keys.auditLog, "MAXLEN", 4);
    const r = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 5 });
    expect(r.reason).toMatch(/^rewritten: entry 5, anchored at .*, is missing from the chain$/);
  });

  it("a forged checkpoint (another key) or a malformed line is reported before anything else", async () => {
    const file = join(dir, "cp.jsonl");
    const sink = fileCheckpointSink(file);
    const [e1] = await append(1);
    await anchor({ source: src, sink, signer });
    const forged = signCheckpoint({ seq: 1, hash: "f".repeat(64) }, "2026-12-01T00:00:00.000Z", keys().privateKey);
    writeFileSync(file, `${readFileSync(file, "utf8")}${JSON.stringify(forged)}\nnot json\n`);
    const r = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(r.ok).toBe(false);
    expect(r.problems.map((p) => p.kind).sort()).toEqual(["malformed", "signature"]);
    expect(r.problems.find((p) => p.kind === "signature")!.reason).toMatch(
      /seq 1 \(.*cp\.jsonl:2\): signature is not valid/,
    );
    expect(e1!.seq).toBe(1);
  });
});

describe("tradeguard audit anchor / verify --checkpoints (no S3: TRADEGUARD_HOME/checkpoints.jsonl)", () => {
  let t: ReturnType<typeof testRedis>;
  beforeEach(() => {
    t = testRedis();
  });
  afterEach(() => t.cleanup());

  it("anchors, verifies, and exits 1 naming the truncation; verify without --checkpoints keeps its shape", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-anchor-cli-"));
    const signer = loadAuditKey(join(home, "audit-key.pem"), { create: true });
    const log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(home, "audit.jsonl"), log: silentLog });
    for (let i = 0; i < 5; i++) await log.append({ actor: "U1", action: "mode.set", details: { i } });
    const env = { TRADEGUARD_HOME: home, REDIS_URL: t.url, REDIS_PREFIX: t.prefix };

    const a = await runCli(["audit", "anchor", "--json"], env);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({ written: true, seq: 5, location: join(home, "checkpoints.jsonl") });
    const again = await runCli(["audit", "anchor"], env);
    expect([again.code, again.stdout]).toEqual([0, "NOT ANCHORED: seq 5 is already anchored\n"]);

    const ok = await runCli(["audit", "verify", "--checkpoints", "--json"], env);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      entries: 5,
      checkpoints: { ok: true, checkpoints: 1, newest: 5 },
    });

    await t.redis.xdel(t.keys.auditLog, "5-0", "4-0");
    const plain = await runCli(["audit", "verify", "--json"], env);
    expect(plain.code).toBe(0); // without checkpoints, truncation is not detectable
    expect(JSON.parse(plain.stdout)).toEqual({ ok: true, entries: 3, firstBad: null, reason: null });
    const bad = await runCli(["audit", "verify", "--checkpoints"], env);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /^OK: 3 entries verified .*\nCHECKPOINTS FAILED: truncated: the chain ends at seq 3, but checkpoint .* anchored seq 5; entries 4–5 are gone\n$/,
    );
  });
});
