// `s3 apply` and `s3 check`: read what a server holds for each configured bucket, compare it with desired(), and (for
// apply) write only what differs. Idempotent: a second apply finds nothing to change. Where a server does not store a
// setting (Ceph RGW Pacific has no bucket default encryption), check reports what it found, never a pass.
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketLifecycleConfigurationCommand,
  GetBucketPolicyCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  type LifecycleRule,
  PutBucketEncryptionCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { deadline, describeS3Error, httpStatus, s3ErrorCode } from "./client.js";
import type { S3Bucket } from "./config.js";
import {
  type Check,
  compare,
  type DesiredSettings,
  deniesInsecureTransport,
  desired,
  LIFECYCLE_RULE_ID,
  type Observed,
  POLICY_SID,
  type PolicyStatement,
  type Setting,
  type Tier,
} from "./desired.js";

export interface Change {
  setting: Setting;
  from: string;
  to: string;
}

export interface ApplyReport {
  buckets: { name: string; type: S3Bucket["type"]; changes: Change[]; warnings: string[] }[];
}

export interface CheckReport {
  ok: boolean;
  buckets: { name: string; checks: Check[] }[];
}

/** Error codes that mean "this setting is not set" rather than "could not read it". */
const NOT_SET: Partial<Record<Setting, string[]>> = {
  object_lock: ["ObjectLockConfigurationNotFoundError"],
  lifecycle: ["NoSuchLifecycleConfiguration"],
  public_access_block: ["NoSuchPublicAccessBlockConfiguration"],
  encryption: ["ServerSideEncryptionConfigurationNotFoundError"],
  policy: ["NoSuchBucketPolicy"],
};

const tiersOf = (xs: { Days?: number; NoncurrentDays?: number; StorageClass?: string }[] | undefined): Tier[] =>
  (xs ?? []).map((t) => ({ days: Number(t.Days ?? t.NoncurrentDays), storageClass: String(t.StorageClass) }));

/** True when a rule applies to every object: no prefix, tag or size filter (RGW answers a top-level Prefix). */
function wholeBucket(r: LifecycleRule): boolean {
  const f = (r.Filter ?? {}) as Record<string, unknown>;
  const filterKeys = Object.keys(f).filter((k) => f[k] !== undefined && !(k === "Prefix" && f[k] === ""));
  return filterKeys.length === 0 && !r.Prefix;
}

/** Reads every managed setting of one bucket (in parallel, each call with its deadline). */
export async function observe(client: S3Client, name: string): Promise<Observed & { rules: LifecycleRule[] }> {
  const o: Observed & { rules: LifecycleRule[] } = {
    exists: true,
    versioning: null,
    objectLock: null,
    lifecycle: null,
    otherLifecycleRules: [],
    publicAccessBlock: null,
    encryption: null,
    policy: null,
    errors: {},
    rules: [],
  };
  try {
    await client.send(new HeadBucketCommand({ Bucket: name }), deadline());
  } catch (err) {
    if (httpStatus(err) === 404 || s3ErrorCode(err) === "NotFound" || s3ErrorCode(err) === "NoSuchBucket")
      return { ...o, exists: false };
    o.errors.bucket = describeS3Error(err);
    return o;
  }
  const read = async <T>(setting: Setting, fn: () => Promise<T>): Promise<T | null> => {
    try {
      return await fn();
    } catch (err) {
      if (NOT_SET[setting]?.includes(s3ErrorCode(err) ?? "")) return null;
      o.errors[setting] = describeS3Error(err);
      return null;
    }
  };
  const [ver, lock, lc, pab, enc, pol] = await Promise.all([
    read("versioning", () => client.send(new GetBucketVersioningCommand({ Bucket: name }), deadline())),
    read("object_lock", () => client.send(new GetObjectLockConfigurationCommand({ Bucket: name }), deadline())),
    read("lifecycle", () => client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: name }), deadline())),
    read("public_access_block", () => client.send(new GetPublicAccessBlockCommand({ Bucket: name }), deadline())),
    // GET only. Never DELETE ?encryption: RGW Pacific routes DELETE /bucket?encryption to DeleteBucket.
    read("encryption", () => client.send(new GetBucketEncryptionCommand({ Bucket: name }), deadline())),
    read("policy", () => client.send(new GetBucketPolicyCommand({ Bucket: name }), deadline())),
  ]);
  o.versioning = ver?.Status ?? null;
  const lc0 = lock?.ObjectLockConfiguration;
  const dr = lc0?.Rule?.DefaultRetention;
  if (lc0)
    o.objectLock = { enabled: lc0.ObjectLockEnabled === "Enabled", mode: dr?.Mode, years: dr?.Years, days: dr?.Days };
  o.rules = lc?.Rules ?? [];
  const ours = o.rules.find((r) => r.ID === LIFECYCLE_RULE_ID);
  o.otherLifecycleRules = o.rules.filter((r) => r !== ours);
  if (ours)
    o.lifecycle = {
      status: String(ours.Status),
      wholeBucket: wholeBucket(ours),
      transitions: tiersOf(ours.Transitions),
      noncurrent: tiersOf(ours.NoncurrentVersionTransitions),
      expires: !!(ours.Expiration || ours.NoncurrentVersionExpiration),
    };
  const p = pab?.PublicAccessBlockConfiguration;
  if (p)
    o.publicAccessBlock = {
      BlockPublicAcls: p.BlockPublicAcls === true,
      IgnorePublicAcls: p.IgnorePublicAcls === true,
      BlockPublicPolicy: p.BlockPublicPolicy === true,
      RestrictPublicBuckets: p.RestrictPublicBuckets === true,
    };
  if (enc) {
    const rule = enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault;
    // A 200 without rules is not an encryption configuration: RGW Pacific answers GET ?encryption as ListObjects.
    o.encryption = rule?.SSEAlgorithm
      ? { algorithm: rule.SSEAlgorithm, kmsKeyId: rule.KMSMasterKeyID }
      : { unsupported: "the answer held no encryption rule (bucket default encryption not implemented?)" };
  }
  if (pol?.Policy) {
    try {
      o.policy = JSON.parse(pol.Policy);
    } catch (err) {
      o.policy = { invalid: (err as Error).message };
    }
  }
  return o;
}

/** The bucket policy with our statement in it, keeping every other statement. */
function mergedPolicy(d: DesiredSettings, o: Observed): string {
  const current = o.policy && !("invalid" in o.policy) ? o.policy : null;
  const others = (current?.Statement ?? []).filter(
    (s) => (s as PolicyStatement).Sid !== POLICY_SID && !deniesInsecureTransport(s as PolicyStatement, d.name),
  );
  return JSON.stringify({ Version: current?.Version ?? "2012-10-17", Statement: [...others, d.policyStatement] });
}

/** The write that makes one setting what it must be. */
function writer(client: S3Client, d: DesiredSettings, o: Observed & { rules: LifecycleRule[] }, region: string) {
  const Bucket = d.name;
  const tier = (t: Tier) => ({ Days: t.days, StorageClass: t.storageClass as "GLACIER" });
  const writes: Record<Setting, () => Promise<unknown>> = {
    bucket: () =>
      client.send(
        new CreateBucketCommand({
          Bucket,
          ObjectLockEnabledForBucket: true,
          ...(region !== "us-east-1"
            ? { CreateBucketConfiguration: { LocationConstraint: region as "eu-west-1" } }
            : {}),
        }),
        deadline(),
      ),
    versioning: () =>
      client.send(
        new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: "Enabled" } }),
        deadline(),
      ),
    object_lock: () =>
      client.send(
        new PutObjectLockConfigurationCommand({
          Bucket,
          ObjectLockConfiguration: {
            ObjectLockEnabled: "Enabled",
            Rule: { DefaultRetention: { Mode: d.objectLock.mode, Years: d.objectLock.years } },
          },
        }),
        deadline(),
      ),
    lifecycle: () =>
      client.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: {
            Rules: [
              ...o.rules.filter((r) => r.ID !== LIFECYCLE_RULE_ID),
              {
                ID: d.lifecycle.id,
                Status: "Enabled",
                Filter: { Prefix: "" },
                Transitions: d.lifecycle.transitions.map(tier),
                NoncurrentVersionTransitions: d.lifecycle.noncurrent.map((t) => ({
                  NoncurrentDays: t.days,
                  StorageClass: t.storageClass as "GLACIER",
                })),
              },
            ],
          },
        }),
        deadline(),
      ),
    public_access_block: () =>
      client.send(
        new PutPublicAccessBlockCommand({ Bucket, PublicAccessBlockConfiguration: d.publicAccessBlock }),
        deadline(),
      ),
    encryption: () =>
      client.send(
        new PutBucketEncryptionCommand({
          Bucket,
          ServerSideEncryptionConfiguration: {
            Rules: [
              d.encryption.algorithm === "aws:kms"
                ? {
                    ApplyServerSideEncryptionByDefault: {
                      SSEAlgorithm: "aws:kms",
                      KMSMasterKeyID: d.encryption.kmsKeyId,
                    },
                    BucketKeyEnabled: true, // S3 Bucket Keys: far fewer KMS calls for the same key control
                  }
                : { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } },
            ],
          },
        }),
        deadline(),
      ),
    policy: () => client.send(new PutBucketPolicyCommand({ Bucket, Policy: mergedPolicy(d, o) }), deadline()),
  };
  return writes;
}

/** Checks every configured bucket against what its type requires; changes nothing. */
export async function check(client: S3Client, buckets: S3Bucket[]): Promise<CheckReport> {
  const out = await Promise.all(
    buckets.map(async (b) => ({ name: b.name, checks: compare(desired(b), await observe(client, b.name)) })),
  );
  return { ok: out.every((b) => b.checks.every((c) => c.ok)), buckets: out };
}

/**
 * Makes every configured bucket what its type requires, writing only the settings that differ. A write the server
 * refuses becomes a warning (the other settings are still applied); `s3 check` afterwards says what is still off.
 */
export async function apply(
  client: S3Client,
  buckets: S3Bucket[],
  opts: { dryRun?: boolean; region?: string } = {},
): Promise<ApplyReport> {
  const region = opts.region ?? ((await client.config.region()) as string);
  const out: ApplyReport["buckets"] = [];
  for (const b of buckets) {
    const d = desired(b);
    const changes: Change[] = [];
    const warnings = [...d.warnings];
    let o = await observe(client, b.name);
    let checks = compare(d, o);
    if (o.errors.bucket) {
      warnings.push(`${b.name}: cannot read the bucket: ${o.errors.bucket}; nothing was applied`);
      out.push({ name: b.name, type: b.type, changes, warnings });
      continue;
    }
    if (!o.exists) {
      if (!opts.dryRun) {
        try {
          await writer(client, d, o, region).bucket();
          changes.push({ setting: "bucket", from: "missing", to: "created with Object Lock enabled" });
        } catch (err) {
          warnings.push(`${b.name}: CreateBucket failed: ${describeS3Error(err)}; nothing else was applied`);
          out.push({ name: b.name, type: b.type, changes, warnings });
          continue;
        }
        o = await observe(client, b.name);
        checks = compare(d, o);
      } else changes.push({ setting: "bucket", from: "missing", to: "created with Object Lock enabled" });
    }
    const writes = writer(client, d, o, region);
    for (const c of checks) {
      if (c.ok || c.setting === "bucket") continue;
      if (opts.dryRun) {
        changes.push({ setting: c.setting, from: c.have, to: c.want });
        continue;
      }
      try {
        await writes[c.setting]();
        changes.push({ setting: c.setting, from: c.have, to: c.want });
      } catch (err) {
        warnings.push(`${b.name}: ${c.setting} not applied, the server refused it: ${describeS3Error(err)}`);
      }
    }
    out.push({ name: b.name, type: b.type, changes, warnings });
  }
  return { buckets: out };
}
