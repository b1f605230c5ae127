// desired() and compare(): what each bucket type requires, and how a server's answers (AWS's or RGW's shapes) are
// judged. Pure; the server side is test/s3/buckets.test.ts.
import { describe, expect, it } from "vitest";
import type { S3Bucket } from "../../src/s3/config.js";
import { compare, deniesInsecureTransport, desired, type Observed, SETTINGS } from "../../src/s3/desired.js";
import { iamPolicy, isKmsKeyArn } from "../../src/s3/iam.js";

const KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const audit: S3Bucket = { name: "desk-audit", type: "audit", kmsKeyId: KEY, retentionYears: 6 };
const logs: S3Bucket = { name: "desk-logs", type: "logs", retentionYears: 3 };

const TIERS = [
  { days: 30, storageClass: "STANDARD_IA" },
  { days: 90, storageClass: "GLACIER" },
  { days: 365, storageClass: "DEEP_ARCHIVE" },
];

/** What S3 answers for a bucket `s3 apply` made. */
function good(b: S3Bucket): Observed {
  return {
    exists: true,
    versioning: "Enabled",
    objectLock: { enabled: true, mode: "COMPLIANCE", years: b.retentionYears },
    lifecycle: { status: "Enabled", wholeBucket: true, transitions: TIERS, noncurrent: TIERS, expires: false },
    otherLifecycleRules: [],
    publicAccessBlock: {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    },
    encryption: b.kmsKeyId ? { algorithm: "aws:kms", kmsKeyId: b.kmsKeyId } : { algorithm: "AES256" },
    policy: { Version: "2012-10-17", Statement: [desired(b).policyStatement] },
    errors: {},
  };
}
const bad = (b: S3Bucket, o: Partial<Observed>) =>
  compare(desired(b), { ...good(b), ...o })
    .filter((c) => !c.ok)
    .map((c) => [c.setting, c.have]);

describe("desired", () => {
  it("is COMPLIANCE for the bucket's years, versioned, tiered 30/90/365 with noncurrent alike, all four blocks, TLS only", () => {
    const d = desired(audit);
    expect(d).toMatchObject({
      versioning: "Enabled",
      objectLock: { mode: "COMPLIANCE", years: 6 },
      lifecycle: { id: "tradeguard-tiering", transitions: TIERS, noncurrent: TIERS },
      publicAccessBlock: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
      encryption: { algorithm: "aws:kms", kmsKeyId: KEY },
      warnings: [],
    });
    expect(d.policyStatement).toEqual({
      Sid: "TradeguardDenyInsecureTransport",
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: ["arn:aws:s3:::desk-audit", "arn:aws:s3:::desk-audit/*"],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
  });

  it("falls back to SSE-S3 (AES256) without a kms_key_id, and says so", () => {
    const d = desired(logs);
    expect(d.encryption).toEqual({ algorithm: "AES256" });
    expect(d.warnings).toEqual([
      expect.stringMatching(/^desk-logs: no kms_key_id, so default encryption is SSE-S3 \(AES256\)/),
    ]);
  });
});

describe("compare", () => {
  it("passes a bucket S3 reports as applied, one check per setting in order", () => {
    const checks = compare(desired(audit), good(audit));
    expect(checks.map((c) => c.setting)).toEqual([...SETTINGS]);
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.find((c) => c.setting === "object_lock")).toEqual({
      setting: "object_lock",
      want: "Enabled, COMPLIANCE 6 years",
      have: "Enabled, COMPLIANCE 6 years",
      ok: true,
    });
  });

  it("accepts RGW's answers: transitions in another order (compared as sets)", () => {
    const reordered = [...TIERS].reverse();
    expect(
      bad(audit, {
        lifecycle: {
          status: "Enabled",
          wholeBucket: true,
          transitions: reordered,
          noncurrent: reordered,
          expires: false,
        },
      }),
    ).toEqual([]);
  });

  it("names each kind of drift", () => {
    expect(bad(audit, { exists: false })).toEqual(
      SETTINGS.map((s) => [s, s === "bucket" ? "missing" : "none (no bucket)"]),
    );
    expect(bad(audit, { versioning: "Suspended" })).toEqual([["versioning", "Suspended"]]);
    expect(bad(audit, { objectLock: { enabled: true, mode: "GOVERNANCE", years: 6 } })).toEqual([
      ["object_lock", "Enabled, GOVERNANCE 6 years"],
    ]);
    expect(bad(audit, { objectLock: { enabled: true, mode: "COMPLIANCE", days: 2190 } })).toEqual([
      ["object_lock", "Enabled, COMPLIANCE 2190 days"],
    ]);
    expect(bad(audit, { objectLock: { enabled: true } })).toEqual([["object_lock", "Enabled, no default retention"]]);
    expect(bad(audit, { lifecycle: null })).toEqual([["lifecycle", "no rule tradeguard-tiering"]]);
    expect(
      bad(audit, {
        lifecycle: { status: "Enabled", wholeBucket: false, transitions: TIERS, noncurrent: TIERS, expires: true },
      }),
    ).toEqual([
      [
        "lifecycle",
        "tradeguard-tiering: filtered, with expiration, 30d→STANDARD_IA, 90d→GLACIER, 365d→DEEP_ARCHIVE; noncurrent 30d→STANDARD_IA, 90d→GLACIER, 365d→DEEP_ARCHIVE",
      ],
    ]);
    expect(
      bad(audit, {
        publicAccessBlock: {
          BlockPublicAcls: false,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    ).toEqual([
      [
        "public_access_block",
        "BlockPublicAcls=false IgnorePublicAcls=true BlockPublicPolicy=true RestrictPublicBuckets=true",
      ],
    ]);
    expect(bad(audit, { encryption: { algorithm: "AES256" } })).toEqual([["encryption", "SSE-S3 AES256"]]);
    expect(bad(audit, { encryption: { algorithm: "aws:kms", kmsKeyId: "other" } })).toEqual([
      ["encryption", "SSE-KMS other"],
    ]);
    expect(bad(audit, { policy: null })).toEqual([["policy", "no bucket policy"]]);
    expect(bad(audit, { policy: { invalid: "Unexpected token" } })).toEqual([
      ["policy", "unreadable policy: Unexpected token"],
    ]);
  });

  it("never passes what the server did not store or could not be read", () => {
    expect(bad(audit, { encryption: { unsupported: "the answer held no encryption rule" } })).toEqual([
      ["encryption", "not stored by the server: the answer held no encryption rule"],
    ]);
    expect(bad(audit, { errors: { lifecycle: "AccessDenied (403)" } })).toEqual([
      ["lifecycle", "unreadable: AccessDenied (403)"],
    ]);
    expect(bad(audit, { errors: { bucket: "AccessDenied (403)" } })).toHaveLength(SETTINGS.length);
  });

  it("recognises the TLS-only statement by meaning, not by Sid, and rejects near misses", () => {
    const s = desired(audit).policyStatement;
    const { Sid: _sid, ...noSid } = s;
    expect(deniesInsecureTransport({ ...noSid, Principal: { AWS: "*" }, Action: ["s3:*"] }, "desk-audit")).toBe(true);
    expect(deniesInsecureTransport({ ...s, Condition: { Bool: { "aws:SecureTransport": false } } }, "desk-audit")).toBe(
      true,
    );
    expect(deniesInsecureTransport({ ...s, Effect: "Allow" }, "desk-audit")).toBe(false);
    expect(deniesInsecureTransport({ ...s, Action: "s3:GetObject" }, "desk-audit")).toBe(false);
    expect(deniesInsecureTransport({ ...s, Resource: "arn:aws:s3:::desk-audit/*" }, "desk-audit")).toBe(false);
    expect(
      deniesInsecureTransport({ ...s, Condition: { Bool: { "aws:SecureTransport": "true" } } }, "desk-audit"),
    ).toBe(false);
    expect(
      deniesInsecureTransport(
        { ...s, Condition: { Bool: { "aws:SecureTransport": "false" }, IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } },
        "desk-audit",
      ),
    ).toBe(false);
  });
});

describe("iamPolicy", () => {
  const buckets: S3Bucket[] = [audit, { name: "desk-snapshots", type: "snapshots", retentionYears: 3 }, logs];

  it("grants exactly the calls tradeguard makes, on exactly the configured buckets", () => {
    const p = iamPolicy(buckets);
    const arns = ["arn:aws:s3:::desk-audit", "arn:aws:s3:::desk-snapshots", "arn:aws:s3:::desk-logs"];
    expect(p).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "TradeguardApplyBucketSettings",
          Effect: "Allow",
          Action: [
            "s3:CreateBucket",
            "s3:PutBucketVersioning",
            "s3:PutBucketObjectLockConfiguration",
            "s3:PutLifecycleConfiguration",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutEncryptionConfiguration",
            "s3:PutBucketPolicy",
          ],
          Resource: arns,
        },
        {
          Sid: "TradeguardCheckBucketSettings",
          Effect: "Allow",
          Action: [
            "s3:ListBucket",
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
            "s3:GetLifecycleConfiguration",
            "s3:GetBucketPublicAccessBlock",
            "s3:GetEncryptionConfiguration",
            "s3:GetBucketPolicy",
          ],
          Resource: arns,
        },
        {
          Sid: "TradeguardPutRecords",
          Effect: "Allow",
          Action: ["s3:PutObject", "s3:PutObjectRetention"],
          Resource: arns.map((a) => `${a}/*`),
        },
        {
          Sid: "TradeguardListCheckpointVersions",
          Effect: "Allow",
          Action: ["s3:ListBucketVersions"],
          Resource: ["arn:aws:s3:::desk-audit"],
          Condition: { StringLike: { "s3:prefix": ["checkpoints/", "checkpoints/*"] } },
        },
        {
          Sid: "TradeguardReadCheckpoints",
          Effect: "Allow",
          Action: ["s3:GetObject", "s3:GetObjectVersion"],
          Resource: ["arn:aws:s3:::desk-audit/checkpoints/*"],
        },
        {
          Sid: "TradeguardKmsForRecords",
          Effect: "Allow",
          Action: ["kms:GenerateDataKey", "kms:Decrypt"],
          Resource: [KEY],
          Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
        },
      ],
    });
    // Nothing that deletes, and nothing outside the configured buckets.
    const actions = p.Statement.flatMap((s) => s.Action);
    expect(actions.filter((a) => /Delete|Bypass/.test(a))).toEqual([]);
    expect(
      p.Statement.flatMap((s) => s.Resource).filter((r) => r.includes("*") && !/:::desk-[a-z]+\/|kms/.test(r)),
    ).toEqual([]);
  });

  it("leaves out apply's writes for the bot's role, and adds Secrets Manager only for given secrets", () => {
    const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tradeguard/alpaca-AbCdEf";
    const p = iamPolicy(buckets, { apply: false, secretsManagerArns: [arn] });
    expect(p.Statement.map((s) => s.Sid)).toEqual([
      "TradeguardCheckBucketSettings",
      "TradeguardPutRecords",
      "TradeguardListCheckpointVersions",
      "TradeguardReadCheckpoints",
      "TradeguardKmsForRecords",
      "TradeguardSecretsRotation",
    ]);
    expect(p.Statement.at(-1)).toEqual({
      Sid: "TradeguardSecretsRotation",
      Effect: "Allow",
      Action: [
        "secretsmanager:CreateSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:ListSecretVersionIds",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ],
      Resource: [arn],
    });
    expect(iamPolicy([logs]).Statement.map((s) => s.Sid)).not.toContain("TradeguardKmsForRecords");
    expect(isKmsKeyArn("alias/desk")).toBe(false);
    expect(isKmsKeyArn(KEY)).toBe(true);
  });
});
