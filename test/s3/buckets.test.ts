// s3 apply / check against a real S3-compatible server: Ceph RGW on loopback (test/support/rgw.ts). Where RGW Pacific
// does not implement a setting (bucket default encryption), the `encryptionShim` answers that one subresource at the
// HTTP layer the way S3 does and forwards everything else to RGW; tests that go to RGW alone show that `check` reports
// what RGW did not store instead of passing it.
import { createHash, randomBytes } from "node:crypto";
import { Agent } from "node:https";
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  DeleteObjectCommand,
  GetBucketLifecycleConfigurationCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createS3DriftGuard } from "../../src/jobs/s3-drift.js";
import { apply, check } from "../../src/s3/buckets.js";
import { createS3Client } from "../../src/s3/client.js";
import type { S3Bucket } from "../../src/s3/config.js";
import { putRecord } from "../../src/s3/objects.js";
import { caught } from "../support/caught.js";
import { type EncryptionShim, encryptionShim, type Rgw, startRgw } from "../support/rgw.js";

let rgw: Rgw;
let shim: EncryptionShim;
/** Straight to RGW. */
let direct: S3Client;
/** Through the encryption shim (RGW for everything else). */
let viaShim: S3Client;

beforeAll(async () => {
  rgw = await startRgw({ tls: true });
  shim = await encryptionShim(rgw.endpoint);
  const credentials = { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey };
  direct = createS3Client({ region: rgw.region, endpoint: rgw.endpoint }, { credentials });
  viaShim = createS3Client({ region: rgw.region, endpoint: shim.endpoint }, { credentials });
}, 60_000);
afterAll(async () => {
  direct?.destroy();
  viaShim?.destroy();
  await shim?.close();
  await rgw?.stop();
});

/** The four bucket types, with fresh names. */
function desk(): S3Bucket[] {
  const tag = `tg-${randomBytes(4).toString("hex")}`;
  return [
    { name: `${tag}-audit`, type: "audit", kmsKeyId: rgw.kmsKeyId, retentionYears: 6 },
    { name: `${tag}-snapshots`, type: "snapshots", retentionYears: 3 },
    { name: `${tag}-statements`, type: "statements", retentionYears: 6 },
    { name: `${tag}-logs`, type: "logs", retentionYears: 10 },
  ];
}

const failing = (r: Awaited<ReturnType<typeof check>>) =>
  r.buckets.flatMap((b) => b.checks.filter((c) => !c.ok).map((c) => `${b.name}:${c.setting}`)).sort();

describe("s3 apply and check (RGW)", () => {
  it("apply makes fresh buckets what their type requires; a second apply changes nothing and says so", async () => {
    const bs = desk();
    const first = await apply(viaShim, bs, { region: "us-east-1" });
    for (const b of first.buckets) {
      // Creating with Object Lock enables versioning, so versioning is never a separate change here.
      expect(b.changes.map((c) => c.setting).sort()).toEqual(
        ["bucket", "encryption", "lifecycle", "object_lock", "policy", "public_access_block"].sort(),
      );
      expect(Object.keys(b).sort()).toEqual(["changes", "name", "type", "warnings"]);
    }
    expect(first.buckets[0]!.warnings).toEqual([]); // audit has a kms_key_id
    expect(first.buckets[1]!.warnings[0]).toMatch(/no kms_key_id.*SSE-S3 \(AES256\)/);

    const second = await apply(viaShim, bs, { region: "us-east-1" });
    expect(second.buckets.map((b) => b.changes)).toEqual([[], [], [], []]);

    const report = await check(viaShim, bs);
    expect(failing(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.buckets[0]!.checks.map((c) => c.setting)).toEqual([
      "bucket",
      "versioning",
      "object_lock",
      "lifecycle",
      "public_access_block",
      "encryption",
      "policy",
    ]);
    expect(report.buckets[0]!.checks.find((c) => c.setting === "encryption")!.have).toBe(`SSE-KMS ${rgw.kmsKeyId}`);
    // RGW itself holds the retention of each type (and the per-bucket override).
    const years = async (b: string) =>
      (await direct.send(new GetObjectLockConfigurationCommand({ Bucket: b }))).ObjectLockConfiguration?.Rule
        ?.DefaultRetention;
    expect(await years(bs[0]!.name)).toEqual({ Mode: "COMPLIANCE", Years: 6 });
    expect(await years(bs[1]!.name)).toEqual({ Mode: "COMPLIANCE", Years: 3 });
    expect(await years(bs[3]!.name)).toEqual({ Mode: "COMPLIANCE", Years: 10 });
    // SSE-KMS with the bucket's key, SSE-S3 without one: what went over the wire for PutBucketEncryption.
    expect(shim.configs.get(bs[0]!.name)).toMatch(
      new RegExp(`<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>${rgw.kmsKeyId}</KMSMasterKeyID>`),
    );
    expect(shim.configs.get(bs[1]!.name)).toMatch(/<SSEAlgorithm>AES256<\/SSEAlgorithm>/);
    expect(shim.deletes).toEqual([]);
  });

  it("against RGW alone, check reports the default encryption RGW did not store, and apply never deletes the bucket", async () => {
    const bs = desk();
    await apply(viaShim, bs, { region: "us-east-1" });
    const report = await check(direct, bs);
    expect(report.ok).toBe(false);
    expect(failing(report)).toEqual(bs.map((b) => `${b.name}:encryption`).sort());
    const enc = report.buckets[0]!.checks.find((c) => c.setting === "encryption")!;
    expect(enc).toMatchObject({ ok: false, want: `SSE-KMS ${rgw.kmsKeyId}` });
    expect(enc.have).toMatch(/^not stored by the server/);
    // RGW answers PUT ?encryption as a CreateBucket (400): a warning, the other settings untouched, the bucket there.
    const again = await apply(direct, bs.slice(0, 1), { region: "us-east-1" });
    expect(again.buckets[0]!.changes).toEqual([]);
    expect(again.buckets[0]!.warnings.join("\n")).toMatch(/encryption not applied, the server refused it: .*\(400\)/);
    await direct.send(new HeadBucketCommand({ Bucket: bs[0]!.name }));
  });

  it("check names drift made out of band, apply repairs exactly that and keeps the desk's other lifecycle rules", async () => {
    const [audit, snaps, stmts, logs] = desk() as [S3Bucket, S3Bucket, S3Bucket, S3Bucket];
    const bs = [audit, snaps, stmts, logs];
    await apply(viaShim, bs, { region: "us-east-1" });
    await direct.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: snaps.name,
        LifecycleConfiguration: {
          Rules: [
            {
              ID: "tradeguard-tiering",
              Status: "Enabled",
              Filter: { Prefix: "" },
              Transitions: [{ Days: 60, StorageClass: "STANDARD_IA" }],
            },
            { ID: "desk-tmp", Status: "Enabled", Filter: { Prefix: "tmp/" }, Expiration: { Days: 7 } },
          ],
        },
      }),
    );
    await direct.send(new DeleteBucketPolicyCommand({ Bucket: stmts.name }));
    await direct.send(
      new PutObjectLockConfigurationCommand({
        Bucket: logs.name,
        ObjectLockConfiguration: {
          ObjectLockEnabled: "Enabled",
          Rule: { DefaultRetention: { Mode: "GOVERNANCE", Days: 1 } },
        },
      }),
    );
    await direct.send(
      new PutPublicAccessBlockCommand({
        Bucket: audit.name,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          IgnorePublicAcls: false,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
    const drift = await check(viaShim, bs);
    expect(drift.ok).toBe(false);
    expect(failing(drift)).toEqual(
      [
        `${audit.name}:public_access_block`,
        `${snaps.name}:lifecycle`,
        `${stmts.name}:policy`,
        `${logs.name}:object_lock`,
      ].sort(),
    );
    const have = (b: S3Bucket, s: string) =>
      drift.buckets.find((x) => x.name === b.name)!.checks.find((c) => c.setting === s)!.have;
    expect(have(snaps, "lifecycle")).toBe("tradeguard-tiering: 60d→STANDARD_IA; noncurrent none");
    expect(have(stmts, "policy")).toBe("no bucket policy");
    expect(have(logs, "object_lock")).toBe("Enabled, GOVERNANCE 1 days");
    expect(have(audit, "public_access_block")).toMatch(/IgnorePublicAcls=false/);

    const fixed = await apply(viaShim, bs, { region: "us-east-1" });
    expect(fixed.buckets.map((b) => b.changes.map((c) => c.setting))).toEqual([
      ["public_access_block"],
      ["lifecycle"],
      ["policy"],
      ["object_lock"],
    ]);
    expect(fixed.buckets[3]!.changes[0]).toEqual({
      setting: "object_lock",
      from: "Enabled, GOVERNANCE 1 days",
      to: "Enabled, COMPLIANCE 10 years",
    });
    expect((await check(viaShim, bs)).ok).toBe(true);
    const rules = (await direct.send(new GetBucketLifecycleConfigurationCommand({ Bucket: snaps.name }))).Rules ?? [];
    expect(rules.map((r) => r.ID).sort()).toEqual(["desk-tmp", "tradeguard-tiering"]);
  });

  it("a bucket made without Object Lock: check names versioning and object lock; apply enables versioning", async () => {
    const name = `tg-${randomBytes(4).toString("hex")}-plain`;
    const b: S3Bucket = { name, type: "logs", retentionYears: 3 };
    await direct.send(new CreateBucketCommand({ Bucket: name }));
    const before = await check(viaShim, [b]);
    const get = (r: typeof before, s: string) => r.buckets[0]!.checks.find((c) => c.setting === s)!;
    expect(get(before, "versioning")).toMatchObject({ ok: false, have: "never enabled", want: "Enabled" });
    expect(get(before, "object_lock")).toMatchObject({ ok: false, have: "not enabled" });
    const r = await apply(viaShim, [b], { region: "us-east-1" });
    expect(r.buckets[0]!.changes.map((c) => c.setting)).toContain("versioning");
    // AWS enables Object Lock on an existing versioned bucket (PutObjectLockConfiguration); RGW Pacific refuses (409).
    expect(r.buckets[0]!.warnings.join("\n")).toMatch(
      /object_lock not applied, the server refused it: InvalidBucketState \(409\)/,
    );
    const after = await check(viaShim, [b]);
    expect(failing(after)).toEqual([`${name}:object_lock`]);
    await direct.send(
      new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: "Suspended" } }),
    );
    expect(get(await check(viaShim, [b]), "versioning")).toMatchObject({ ok: false, have: "Suspended" });
  });

  it("records are put under COMPLIANCE retention (SSE-KMS with the bucket's key); a delete of the version is refused", async () => {
    const bs = desk();
    await apply(viaShim, bs, { region: "us-east-1" });
    // RGW Pacific bug: with BlockPublicAcls=true every PutObject is refused (403), even the owner's. Writes here run
    // with that one setting off; on S3 all four stay on.
    for (const b of bs.slice(0, 2))
      await direct.send(
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
    const s3 = { region: "us-east-1", endpoint: rgw.endpoint, buckets: bs };
    const now = new Date("2026-12-01T12:00:00.000Z");
    const url = await putRecord(s3, "snapshots", "panic/p1.json", '{"mode":"halt"}\n', { client: direct, now });
    expect(url).toBe(`s3://${bs[1]!.name}/panic/p1.json`);
    const head = await direct.send(new HeadObjectCommand({ Bucket: bs[1]!.name, Key: "panic/p1.json" }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    expect(head.ObjectLockRetainUntilDate?.toISOString()).toBe("2029-12-01T12:00:00.000Z");
    for (const bypass of [false, true]) {
      const err = await caught(
        direct.send(
          new DeleteObjectCommand({
            Bucket: bs[1]!.name,
            Key: "panic/p1.json",
            VersionId: head.VersionId,
            BypassGovernanceRetention: bypass,
          }),
        ),
      );
      expect((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode).toBe(403);
    }
    await putRecord(s3, "audit", "k.json", "{}\n", { client: direct, now });
    const kms = await direct.send(new HeadObjectCommand({ Bucket: bs[0]!.name, Key: "k.json" }));
    expect(kms).toMatchObject({ ServerSideEncryption: "aws:kms", SSEKMSKeyId: rgw.kmsKeyId });
    expect(await caught(putRecord(s3, "logs", "x", "y", { client: direct }))).toMatchObject({
      name: "AccessDenied", // logs kept BlockPublicAcls=true: the RGW bug above, seen from the other side
    });
  });

  it("TLS: the deny-insecure-transport policy leaves TLS requests alone, and RGW does evaluate aws:SecureTransport on TLS", async () => {
    // RGW sets aws:SecureTransport only on its TLS endpoint, so its denial of plain HTTP cannot be exercised here.
    const [b] = desk() as [S3Bucket];
    await apply(viaShim, [b], { region: "us-east-1" });
    await direct.send(
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
    const tls = createS3Client(
      { region: rgw.region, endpoint: rgw.tlsEndpoint },
      {
        credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
        requestHandler: { httpsAgent: new Agent({ ca: rgw.ca }) },
      },
    );
    try {
      const put = (key: string) =>
        tls.send(
          new PutObjectCommand({
            Bucket: b.name,
            Key: key,
            Body: "x",
            ContentMD5: createHash("md5").update("x").digest("base64"),
          }),
        );
      await put("over-tls"); // our policy in place (applied above)
      const got = await tls.send(new GetObjectCommand({ Bucket: b.name, Key: "over-tls" }));
      expect(await got.Body?.transformToString()).toBe("x");
      // The same statement with "true": RGW now refuses the TLS request, so the condition key is evaluated.
      const inverted = {
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Deny",
            Principal: "*",
            Action: "s3:*",
            Resource: [`arn:aws:s3:::${b.name}`, `arn:aws:s3:::${b.name}/*`],
            Condition: { Bool: { "aws:SecureTransport": "true" } },
          },
        ],
      };
      await direct.send(new PutBucketPolicyCommand({ Bucket: b.name, Policy: JSON.stringify(inverted) }));
      expect(await caught(put("refused"))).toMatchObject({ name: "AccessDenied" });
      expect(failing(await check(viaShim, [b]))).toEqual([`${b.name}:policy`, `${b.name}:public_access_block`]);
    } finally {
      tls.destroy();
    }
  });

  it("the s3_drift guard's probe runs the same check: one critical finding per drifted setting", async () => {
    const bs = desk();
    await apply(viaShim, bs, { region: "us-east-1" });
    await direct.send(new DeleteBucketPolicyCommand({ Bucket: bs[2]!.name }));
    const guard = createS3DriftGuard(() => check(viaShim, bs));
    const probe = await guard.probe!({}, { signal: AbortSignal.timeout(10_000), now: new Date() });
    const findings = guard.evaluate({ values: {}, probe }, new Date(), {});
    expect(findings).toEqual([
      expect.objectContaining({
        key: `s3_drift:${bs[2]!.name}:policy`,
        severity: "critical",
        sop: "sop-s3-drift",
        value: "no bucket policy",
        threshold: "Deny s3:* to * when aws:SecureTransport is false",
      }),
    ]);
  });
});
