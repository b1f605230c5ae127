// What each configured bucket must be (pure), and how what a server reports compares with it. Each rule names the
// regulation or AWS practice it implements.
import type { S3Bucket } from "./config.js";

/** The settings `s3 apply` manages and `s3 check` compares, in the order they are applied. */
export const SETTINGS = [
  "bucket",
  "versioning",
  "object_lock",
  "lifecycle",
  "public_access_block",
  "encryption",
  "policy",
] as const;
export type Setting = (typeof SETTINGS)[number];

export const LIFECYCLE_RULE_ID = "tradeguard-tiering";
export const POLICY_SID = "TradeguardDenyInsecureTransport";

export interface Tier {
  days: number;
  storageClass: string;
}

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

export type Encryption = { algorithm: "aws:kms"; kmsKeyId: string } | { algorithm: "AES256" };

/** What a bucket must be, from its config alone. */
export interface DesiredSettings {
  name: string;
  type: S3Bucket["type"];
  versioning: "Enabled";
  objectLock: { mode: "COMPLIANCE"; years: number };
  lifecycle: { id: string; transitions: Tier[]; noncurrent: Tier[] };
  publicAccessBlock: PublicAccessBlock;
  encryption: Encryption;
  /** The bucket policy statement that must be present. */
  policyStatement: PolicyStatement;
  warnings: string[];
}

export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal: unknown;
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

// S3 keeps an object at least 30 days before a transition to STANDARD_IA (AWS S3 User Guide, "Constraints and
// considerations for transitions"); GLACIER at 90 and DEEP_ARCHIVE at 365 days come after the 30-day IA and 90-day
// Glacier minimum storage durations, so no early-deletion charge applies. Noncurrent versions tier alike. No
// expiration: records leave only when a person decides so after their retention (SEC 17a-4 sets minimums).
const TIERS: Tier[] = [
  { days: 30, storageClass: "STANDARD_IA" },
  { days: 90, storageClass: "GLACIER" },
  { days: 365, storageClass: "DEEP_ARCHIVE" },
];

/** The bucket ARN and its objects' ARN. */
export function bucketArns(name: string): [string, string] {
  return [`arn:aws:s3:::${name}`, `arn:aws:s3:::${name}/*`];
}

/** The settings a configured bucket must have. Pure. */
export function desired(bucket: S3Bucket): DesiredSettings {
  const warnings: string[] = [];
  if (!bucket.kmsKeyId)
    warnings.push(
      `${bucket.name}: no kms_key_id, so default encryption is SSE-S3 (AES256) with keys AWS holds; set kms_key_id for SSE-KMS with a key the desk controls`,
    );
  return {
    name: bucket.name,
    type: bucket.type,
    // Object Lock works only on versioned buckets, and versioning keeps every overwritten version (AWS S3 User Guide,
    // "How S3 Object Lock works").
    versioning: "Enabled",
    // SEC Rule 17a-4(f)(2)(i)(A): records kept "in a non-rewriteable, non-erasable format". COMPLIANCE mode: no user,
    // root included, can delete a locked version or shorten its retention (Cohasset's 17a-4(f) assessment of S3
    // Object Lock); GOVERNANCE mode can be bypassed and does not qualify.
    objectLock: { mode: "COMPLIANCE", years: bucket.retentionYears },
    lifecycle: { id: LIFECYCLE_RULE_ID, transitions: TIERS, noncurrent: TIERS },
    // S3 Block Public Access, all four settings (AWS S3 User Guide, "Blocking public access to your Amazon S3
    // storage"): no public ACL or policy can be added, and existing public ones are ignored.
    publicAccessBlock: {
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    },
    encryption: bucket.kmsKeyId ? { algorithm: "aws:kms", kmsKeyId: bucket.kmsKeyId } : { algorithm: "AES256" },
    // Deny every request not made over TLS (AWS S3 User Guide, "Security best practices": enforce encryption of data
    // in transit with aws:SecureTransport; CIS AWS Foundations 2.1.1).
    policyStatement: {
      Sid: POLICY_SID,
      Effect: "Deny",
      Principal: "*",
      Action: "s3:*",
      Resource: bucketArns(bucket.name),
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    },
    warnings,
  };
}

/** What a server reported for one bucket; `null` = not set; a string in place of a value = why it is unknown. */
export interface Observed {
  exists: boolean;
  versioning: string | null;
  objectLock: { enabled: boolean; mode?: string; years?: number; days?: number } | null;
  /** Our rule (by id), normalised; `unknown` = the server answered something unreadable. */
  lifecycle: { status: string; wholeBucket: boolean; transitions: Tier[]; noncurrent: Tier[]; expires: boolean } | null;
  /** The other lifecycle rules, as the server returned them (kept when ours is written). */
  otherLifecycleRules: unknown[];
  publicAccessBlock: PublicAccessBlock | null;
  /** `unsupported`: the server answered the encryption request with something that is not an encryption config. */
  encryption: { algorithm: string; kmsKeyId?: string } | null | { unsupported: string };
  /** The bucket policy document, parsed (`invalid` when it is not JSON). */
  policy: { Version?: string; Statement?: PolicyStatement[] } | null | { invalid: string };
  /** Settings that could not be read (AccessDenied, a timeout…), with why: they fail the check. */
  errors: Partial<Record<Setting, string>>;
}

export interface Check {
  setting: Setting;
  want: string;
  have: string;
  ok: boolean;
}

const tiers = (t: Tier[]) => (t.length ? t.map((x) => `${x.days}d→${x.storageClass}`).join(", ") : "none");
const sameTiers = (a: Tier[], b: Tier[]) =>
  // Compared as sets: RGW returns transitions in another order than they were written.
  a.length === b.length && a.every((x) => b.some((y) => y.days === x.days && y.storageClass === x.storageClass));
const pab = (p: PublicAccessBlock) =>
  (Object.keys(p) as (keyof PublicAccessBlock)[]).map((k) => `${k}=${p[k]}`).join(" ");
const enc = (e: { algorithm: string; kmsKeyId?: string }) =>
  e.algorithm === "aws:kms" ? `SSE-KMS ${e.kmsKeyId ?? "(no key id)"}` : `SSE-S3 ${e.algorithm}`;
const asList = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);

/** True when `s` denies every action on the bucket and its objects to everyone when aws:SecureTransport is false. */
export function deniesInsecureTransport(s: PolicyStatement, name: string): boolean {
  if (s.Effect !== "Deny") return false;
  const p = s.Principal as unknown;
  const everyone = p === "*" || asList((p as { AWS?: unknown })?.AWS).includes("*");
  const actions = asList(s.Action);
  const resources = asList(s.Resource);
  const bool = s.Condition?.Bool?.["aws:SecureTransport"];
  return (
    everyone &&
    (actions.includes("s3:*") || actions.includes("*")) &&
    bucketArns(name).every((arn) => resources.includes(arn)) &&
    (bool === "false" || bool === false) &&
    Object.keys(s.Condition ?? {}).length === 1 &&
    Object.keys(s.Condition?.Bool ?? {}).length === 1
  );
}

/** The rendered value of every setting as the bucket must have it. */
export function wanted(d: DesiredSettings): Record<Setting, string> {
  return {
    bucket: "exists",
    versioning: d.versioning,
    object_lock: `Enabled, COMPLIANCE ${d.objectLock.years} years`,
    lifecycle: `${d.lifecycle.id}: ${tiers(d.lifecycle.transitions)}; noncurrent ${tiers(d.lifecycle.noncurrent)}`,
    public_access_block: pab(d.publicAccessBlock),
    encryption: enc(d.encryption),
    policy: "Deny s3:* to * when aws:SecureTransport is false",
  };
}

/** Compares what the server reported with what the bucket must be, one check per setting. Pure. */
export function compare(d: DesiredSettings, o: Observed): Check[] {
  const want = wanted(d);
  const check = (setting: Setting, have: string, ok: boolean): Check => ({ setting, want: want[setting], have, ok });
  if (!o.exists) return SETTINGS.map((s) => check(s, s === "bucket" ? "missing" : "none (no bucket)", false));
  if (o.errors.bucket) return SETTINGS.map((s) => check(s, `unreadable: ${o.errors.bucket}`, false));
  const out: Check[] = [];
  const lock = o.objectLock;
  out.push(check("bucket", "exists", true));
  out.push(check("versioning", o.versioning ?? "never enabled", o.versioning === "Enabled"));
  const lockHave = !lock?.enabled
    ? "not enabled"
    : !lock.mode
      ? "Enabled, no default retention"
      : `Enabled, ${lock.mode} ${lock.years !== undefined ? `${lock.years} years` : `${lock.days} days`}`;
  const lockOk = !!lock?.enabled && lock.mode === "COMPLIANCE" && lock.years === d.objectLock.years && !lock.days;
  out.push(check("object_lock", lockHave, lockOk));
  const lc = o.lifecycle;
  const lcHave = !lc
    ? `no rule ${d.lifecycle.id}`
    : `${d.lifecycle.id}: ${lc.status === "Enabled" ? "" : `${lc.status}, `}${lc.wholeBucket ? "" : "filtered, "}${lc.expires ? "with expiration, " : ""}${tiers(lc.transitions)}; noncurrent ${tiers(lc.noncurrent)}`;
  out.push(
    check(
      "lifecycle",
      lcHave,
      !!lc &&
        lc.status === "Enabled" &&
        lc.wholeBucket &&
        !lc.expires &&
        sameTiers(lc.transitions, d.lifecycle.transitions) &&
        sameTiers(lc.noncurrent, d.lifecycle.noncurrent),
    ),
  );
  const p = o.publicAccessBlock;
  out.push(check("public_access_block", p ? pab(p) : "none", !!p && Object.values(p).every((v) => v === true)));
  const e = o.encryption as { algorithm: string; kmsKeyId?: string } | { unsupported: string } | null;
  if (e && "unsupported" in e) out.push(check("encryption", `not stored by the server: ${e.unsupported}`, false));
  else {
    const ok =
      !!e &&
      e.algorithm === d.encryption.algorithm &&
      (d.encryption.algorithm !== "aws:kms" || e.kmsKeyId === d.encryption.kmsKeyId);
    out.push(check("encryption", e ? enc(e) : "none", ok));
  }
  const pol = o.policy;
  if (pol && "invalid" in pol) out.push(check("policy", `unreadable policy: ${pol.invalid}`, false));
  else {
    const ok = !!pol && asList(pol.Statement ?? []).some((s) => deniesInsecureTransport(s as PolicyStatement, d.name));
    out.push(
      check("policy", !pol ? "no bucket policy" : ok ? want.policy : "policy without a deny of insecure transport", ok),
    );
  }
  // A setting that could not be read is not known to be right.
  return out.map((c) => (o.errors[c.setting] ? { ...c, have: `unreadable: ${o.errors[c.setting]}`, ok: false } : c));
}
