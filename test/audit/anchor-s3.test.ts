// Audit anchoring into a real S3-compatible bucket (Ceph RGW, test/support/rgw.ts) under Object Lock COMPLIANCE, with
// the chain written by the real AuditLog into the run's redis-server: checkpoints cannot be deleted, truncation and
// rewriting of the chain are found through them, and the chain is exported as append-only ranges.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutPublicAccessBlockCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { anchor, signCheckpoint, verifyCheckpoints } from "../../src/audit/anchor.js";
import { exportLog } from "../../src/audit/export.js";
import { AuditLog, type AuditSource, readEntries } from "../../src/audit/log.js";
import { apply } from "../../src/s3/buckets.js";
import { createS3Client } from "../../src/s3/client.js";
import type { S3Bucket } from "../../src/s3/config.js";
import { checkpointKey, putLocked, s3CheckpointSink, s3ExportSink } from "../../src/s3/objects.js";
import { keys, rewriteChain } from "../s3/chain.js";
import { caught } from "../support/caught.js";
import { silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";
import { type EncryptionShim, encryptionShim, type Rgw, startRgw } from "../support/rgw.js";

let rgw: Rgw;
let shim: EncryptionShim;
let s3: S3Client;

beforeAll(async () => {
  rgw = await startRgw();
  shim = await encryptionShim(rgw.endpoint); // bucket default encryption, which RGW Pacific lacks (see the shim)
  s3 = createS3Client(
    { region: rgw.region, endpoint: shim.endpoint },
    { credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } },
  );
}, 60_000);
afterAll(async () => {
  s3?.destroy();
  await shim?.close();
  await rgw?.stop();
});

/** A fresh audit bucket made by `s3 apply`; BlockPublicAcls is then turned off because of RGW Pacific's bug (with it
 * on, every PutObject is refused, the owner's included). On S3 all four settings stay on. */
async function auditBucket(): Promise<S3Bucket> {
  const b: S3Bucket = { name: `tg-${randomBytes(4).toString("hex")}-audit`, type: "audit", retentionYears: 6 };
  await apply(s3, [b], { region: "us-east-1" });
  await s3.send(
    new PutPublicAccessBlockCommand({
      Bucket: b.name,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: false,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  return b;
}

const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

describe("audit anchoring in the audit bucket (RGW + Redis)", () => {
  let t: ReturnType<typeof testRedis>;
  let src: AuditSource;
  let log: AuditLog;
  const signer = keys();
  const append = async (n: number) => {
    for (let i = 0; i < n; i++) await log.append({ actor: "U1", action: "mode.set", details: { i } });
  };
  beforeEach(() => {
    t = testRedis();
    src = { kind: "redis", redis: t.redis, keys: t.keys };
    const file = join(mkdtempSync(join(tmpdir(), "tg-anchor-s3-")), "audit.jsonl");
    log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file, log: silentLog });
  });
  afterEach(() => t.cleanup());

  it("writes checkpoints/<seq 12>.json under COMPLIANCE; a delete of the checkpoint or of its version is refused", async () => {
    const bucket = await auditBucket();
    const now = new Date("2026-12-01T09:30:00.000Z");
    const sink = s3CheckpointSink(s3, bucket, () => now);
    await append(3);
    const r = await anchor({ source: src, sink, signer, now: () => now });
    expect(r).toMatchObject({
      written: true,
      seq: 3,
      location: expect.stringMatching(/^s3:\/\/.*\/checkpoints\/000000000003\.json\?versionId=/),
    });
    expect(checkpointKey(3)).toBe("checkpoints/000000000003.json");
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket.name, Key: checkpointKey(3) }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(head.ObjectLockRetainUntilDate?.toISOString()).toBe("2032-12-01T09:30:00.000Z");
    const body = await (
      await s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: checkpointKey(3) }))
    ).Body!.transformToString();
    expect(JSON.parse(body)).toEqual({
      seq: 3,
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      ts: now.toISOString(),
      sig: expect.any(String),
    });

    // The version itself cannot be deleted, with or without the governance bypass.
    for (const BypassGovernanceRetention of [false, true])
      expect(
        status(
          await caught(
            s3.send(
              new DeleteObjectCommand({
                Bucket: bucket.name,
                Key: checkpointKey(3),
                VersionId: head.VersionId,
                BypassGovernanceRetention,
              }),
            ),
          ),
        ),
      ).toBe(403);
    // A plain delete only lays a delete marker over it: the checkpoint is still there, and verify says it was hidden.
    const marker = await s3.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: checkpointKey(3) }));
    expect(marker.DeleteMarker).toBe(true);
    const listing = await sink.readAll();
    expect(listing.checkpoints.map((c) => JSON.parse(c.text).seq)).toEqual([3]);
    const v = await verifyCheckpoints(readEntries(src), listing, signer.publicKey);
    expect(v).toMatchObject({ ok: false, firstBad: 3, newest: 3 });
    expect(v.reason).toMatch(
      /^checkpoint seq 3 was deleted \(a delete marker hides it: s3:\/\/.*\); tradeguard never deletes a checkpoint$/,
    );
  });

  it("finds truncation and rewriting of the chain through the bucket's checkpoints, naming the seq", async () => {
    const bucket = await auditBucket();
    const sink = s3CheckpointSink(s3, bucket);
    await append(10);
    await anchor({ source: src, sink, signer });
    await append(10);
    await anchor({ source: src, sink, signer });
    expect(await anchor({ source: src, sink, signer })).toMatchObject({
      written: false,
      reason: "seq 20 is already anchored",
    });
    expect(await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey)).toMatchObject({
      ok: true,
      checkpoints: 2,
      newest: 20,
    });

    await rewriteChain(t, 4, signer);
    const rewritten = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(rewritten).toMatchObject({ ok: false, firstBad: 10 });
    expect(rewritten.reason).toMatch(
      /^rewritten: entry 10 no longer has the hash checkpoint s3:\/\/.*000000000010\.json/,
    );

    for (let s = 12; s <= 20; s++) await t.redis.xdel(t.keys.auditLog, `${s}-0`);
    const truncated = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(truncated.problems.map((p) => [p.kind, p.seq])).toEqual([
      ["rewritten", 10],
      ["truncated", 20],
    ]);
    expect(truncated.problems[1]!.reason).toMatch(/^truncated: the chain ends at seq 11, .* entries 12–20 are gone$/);
  });

  it("a checkpoint put by someone without the key is reported as a bad signature", async () => {
    const bucket = await auditBucket();
    const sink = s3CheckpointSink(s3, bucket);
    await append(2);
    const forged = signCheckpoint({ seq: 2, hash: "e".repeat(64) }, new Date().toISOString(), keys().privateKey);
    await putLocked(s3, bucket, checkpointKey(2), JSON.stringify(forged));
    const v = await verifyCheckpoints(readEntries(src), await sink.readAll(), signer.publicKey);
    expect(v.problems.map((p) => p.kind)).toEqual(["signature"]);
  });

  it("exports the chain as append-only ranges named first–last, continuing after the last exported seq", async () => {
    const bucket = await auditBucket();
    const sink = s3ExportSink(s3, bucket);
    const entries = Array.from({ length: 2500 }, (_, i) => log.append({ actor: "U1", action: "x", details: { i } }));
    await Promise.all(entries);
    const first = await exportLog(src, sink);
    expect(first).toEqual({
      stopped: null,
      objects: [
        { first: 1, last: 1000, location: `s3://${bucket.name}/log/000000000001-000000001000.jsonl` },
        { first: 1001, last: 2000, location: `s3://${bucket.name}/log/000000001001-000000002000.jsonl` },
        { first: 2001, last: 2500, location: `s3://${bucket.name}/log/000000002001-000000002500.jsonl` },
      ],
    });
    expect(await exportLog(src, sink)).toEqual({ objects: [], stopped: null });
    await append(5);
    expect((await exportLog(src, sink)).objects.map((o) => [o.first, o.last])).toEqual([[2501, 2505]]);

    const keysListed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket.name, Prefix: "log/" }))).Contents?.map(
      (c) => c.Key,
    );
    expect(keysListed).toEqual([
      "log/000000000001-000000001000.jsonl",
      "log/000000001001-000000002000.jsonl",
      "log/000000002001-000000002500.jsonl",
      "log/000000002501-000000002505.jsonl",
    ]);
    const obj = await s3.send(
      new GetObjectCommand({ Bucket: bucket.name, Key: "log/000000002501-000000002505.jsonl" }),
    );
    expect(obj.ObjectLockMode).toBe("COMPLIANCE");
    const stored: string[] = [];
    for await (const raw of readEntries(src, { fromSeq: 2501 })) stored.push(raw);
    expect(await obj.Body!.transformToString()).toBe(`${stored.join("\n")}\n`);

    // A gap (an entry deleted after the last export) stops the export there instead of skipping it.
    await append(3);
    await t.redis.xdel(t.keys.auditLog, "2507-0");
    expect(await exportLog(src, sink)).toEqual({
      objects: [{ first: 2506, last: 2506, location: `s3://${bucket.name}/log/000000002506-000000002506.jsonl` }],
      stopped: "expected seq 2507 but found seq 2508; export stopped (run tradeguard audit verify)",
    });
  });
});
