// The `s3` and `audit` sections of the YAML (issue 13). The schema lives with the module that uses it; src/config.ts
// (layer 0) cannot import it, so the composition root passes it in (like the guards' GuardSpec) and the parsed value
// is read back with s3Of / anchorMinutesOf.
import { z } from "zod";
import type { Config } from "../config.js";

export const BUCKET_TYPES = ["audit", "snapshots", "statements", "logs"] as const;
export type BucketType = (typeof BUCKET_TYPES)[number];

/**
 * Default Object Lock retention per bucket type, in years. SEC Rule 17a-4(a) keeps blotters and ledgers (the audit
 * trail and statements here) at least 6 years, 17a-4(b) most other records (snapshots, logs) at least 3; a bucket may
 * set 3–10 with `retention_years`.
 */
export const RETENTION_YEARS: Record<BucketType, number> = { audit: 6, statements: 6, snapshots: 3, logs: 3 };

/** S3 bucket naming rules (AWS "Bucket naming rules"): 3–63 chars, lowercase letters, digits, dots and hyphens. */
const bucketName = z
  .string()
  .regex(
    /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    "a bucket name: 3-63 characters, lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
  );

const bucketSchema = z
  .object({
    name: bucketName,
    type: z.enum(BUCKET_TYPES, { message: `one of ${BUCKET_TYPES.join(", ")}` }),
    /** KMS key id or ARN for SSE-KMS default encryption; without it the bucket gets SSE-S3 (AES256) and a warning. */
    kms_key_id: z.string().min(1, "a KMS key id or ARN").optional(),
    retention_years: z
      .number({ message: "a whole number of years from 3 to 10" })
      .int("a whole number of years from 3 to 10")
      .min(3, "at least 3 years (SEC 17a-4)")
      .max(10, "at most 10 years")
      .optional(),
  })
  .strict();

/** YAML `s3:` — region, optional S3-compatible endpoint (path-style), and the desk's buckets. */
export const s3SectionSchema = z
  .object({
    region: z.string().min(1, "an AWS region, e.g. us-east-1").default("us-east-1"),
    endpoint: z.url("an http(s) URL of an S3-compatible endpoint").optional(),
    buckets: z.array(bucketSchema).min(1, "at least one bucket"),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.buckets.forEach((b, i) => {
      if (seen.has(b.name))
        ctx.addIssue({ code: "custom", path: ["buckets", i, "name"], message: `duplicate bucket ${b.name}` });
      seen.add(b.name);
    });
    for (const t of ["audit", "snapshots", "statements"] as const) {
      const n = s.buckets.filter((b) => b.type === t).length;
      if (n > 1) ctx.addIssue({ code: "custom", path: ["buckets"], message: `more than one bucket of type ${t}` });
    }
  })
  .transform(
    (s): S3Config => ({
      region: s.region,
      endpoint: s.endpoint,
      buckets: s.buckets.map((b) => ({
        name: b.name,
        type: b.type,
        kmsKeyId: b.kms_key_id,
        retentionYears: b.retention_years ?? RETENTION_YEARS[b.type],
      })),
    }),
  )
  .optional();

/** YAML `audit:` — how often the bot anchors the audit chain (a signed checkpoint of its head). */
export const auditSectionSchema = z
  .object({
    anchor_minutes: z
      .number({ message: "minutes between audit checkpoints (1-1440)" })
      .int("a whole number of minutes")
      .min(1, "at least 1 minute")
      .max(24 * 60, "at most 1440 minutes (a day)")
      .default(15),
  })
  .strict()
  .default({ anchor_minutes: 15 });

/** One configured bucket, parsed (retention filled in from its type). */
export interface S3Bucket {
  name: string;
  type: BucketType;
  kmsKeyId?: string;
  retentionYears: number;
}

/** The parsed `s3` section. */
export interface S3Config {
  region: string;
  endpoint?: string;
  buckets: S3Bucket[];
}

/** The config sections this module owns, for the composition root to pass to loadConfig. */
export const S3_SECTIONS = [
  { key: "s3", schema: s3SectionSchema },
  { key: "audit", schema: auditSectionSchema },
] as const;

type WithSections = { sections?: Record<string, unknown> };

/** The parsed `s3` section of a config (undefined when the desk configured no S3). */
export function s3Of(config: Config): S3Config | undefined {
  return (config as Config & WithSections).sections?.s3 as S3Config | undefined;
}

/** Minutes between audit checkpoints (`audit.anchor_minutes`, default 15). */
export function anchorMinutesOf(config: Config): number {
  const a = (config as Config & WithSections).sections?.audit as { anchor_minutes?: number } | undefined;
  return a?.anchor_minutes ?? 15;
}

/** The configured bucket of a type (the first, for `logs`), if any. */
export function bucketOf(s3: S3Config | undefined, type: BucketType): S3Bucket | undefined {
  return s3?.buckets.find((b) => b.type === type);
}
