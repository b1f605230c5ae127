// `tradeguard iam-policy`: the least-privilege IAM policy for exactly the calls tradeguard makes, on exactly the
// configured buckets. Each action is the one AWS's Service Authorization Reference ("Actions, resources, and condition
// keys for Amazon S3") names for an API operation this code sends; when the code calls a new operation, add it here.
import type { S3Bucket } from "./config.js";
import { bucketArns } from "./desired.js";

export interface IamStatement {
  Sid: string;
  Effect: "Allow";
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface IamPolicy {
  Version: "2012-10-17";
  Statement: IamStatement[];
}

/** `s3 apply`: CreateBucket (with Object Lock) and the Put* of every managed setting. */
const APPLY_ACTIONS = [
  "s3:CreateBucket", // CreateBucket
  "s3:PutBucketVersioning", // PutBucketVersioning (and CreateBucket with ObjectLockEnabledForBucket)
  "s3:PutBucketObjectLockConfiguration", // PutObjectLockConfiguration (and CreateBucket with Object Lock)
  "s3:PutLifecycleConfiguration", // PutBucketLifecycleConfiguration
  "s3:PutBucketPublicAccessBlock", // PutPublicAccessBlock
  "s3:PutEncryptionConfiguration", // PutBucketEncryption
  "s3:PutBucketPolicy", // PutBucketPolicy
];

/** `s3 check` (also the daily s3_drift guard) and apply's reads. */
const CHECK_ACTIONS = [
  "s3:ListBucket", // HeadBucket; ListObjectsV2 (the audit export's continuation)
  "s3:GetBucketVersioning", // GetBucketVersioning
  "s3:GetBucketObjectLockConfiguration", // GetObjectLockConfiguration
  "s3:GetLifecycleConfiguration", // GetBucketLifecycleConfiguration
  "s3:GetBucketPublicAccessBlock", // GetPublicAccessBlock
  "s3:GetEncryptionConfiguration", // GetBucketEncryption
  "s3:GetBucketPolicy", // GetBucketPolicy
];

/** Record puts (snapshots, recon statements, audit export, checkpoints), each with explicit Object Lock retention. */
const PUT_ACTIONS = ["s3:PutObject", "s3:PutObjectRetention"];

/** Checkpoint reads: every version (ListObjectVersions + GetObject?versionId), HeadObject before anchoring. */
const CHECKPOINT_BUCKET_ACTIONS = ["s3:ListBucketVersions"];
const CHECKPOINT_OBJECT_ACTIONS = ["s3:GetObject", "s3:GetObjectVersion"];

/** Secrets Manager, for key rotation: exactly what src/secrets/aws.ts sends (CreateSecret on first provisioning). */
const SECRETS_ACTIONS = [
  "secretsmanager:CreateSecret",
  "secretsmanager:GetSecretValue",
  "secretsmanager:ListSecretVersionIds",
  "secretsmanager:PutSecretValue",
  "secretsmanager:UpdateSecretVersionStage",
];

/** True for a KMS key ARN (a key id or alias alone cannot be scoped in a policy). */
export function isKmsKeyArn(id: string): boolean {
  return /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(id);
}

/**
 * The IAM policy for the configured buckets. `apply: false` leaves out the bucket-settings writes (for the bot's own
 * role, when `s3 apply` runs from an operator's). KMS permissions are included for keys given as ARNs.
 */
export function iamPolicy(
  buckets: S3Bucket[],
  opts: { secretsManagerArns?: string[]; apply?: boolean } = {},
): IamPolicy {
  const bucketArnList = buckets.map((b) => bucketArns(b.name)[0]);
  const objectArnList = buckets.map((b) => bucketArns(b.name)[1]);
  const audit = buckets.filter((b) => b.type === "audit");
  const statements: IamStatement[] = [];
  if (opts.apply !== false)
    statements.push({
      Sid: "TradeguardApplyBucketSettings",
      Effect: "Allow",
      Action: APPLY_ACTIONS,
      Resource: bucketArnList,
    });
  statements.push(
    { Sid: "TradeguardCheckBucketSettings", Effect: "Allow", Action: CHECK_ACTIONS, Resource: bucketArnList },
    { Sid: "TradeguardPutRecords", Effect: "Allow", Action: PUT_ACTIONS, Resource: objectArnList },
  );
  if (audit.length) {
    statements.push(
      {
        Sid: "TradeguardListCheckpointVersions",
        Effect: "Allow",
        Action: CHECKPOINT_BUCKET_ACTIONS,
        Resource: audit.map((b) => bucketArns(b.name)[0]),
        Condition: { StringLike: { "s3:prefix": ["checkpoints/", "checkpoints/*"] } },
      },
      {
        Sid: "TradeguardReadCheckpoints",
        Effect: "Allow",
        Action: CHECKPOINT_OBJECT_ACTIONS,
        Resource: audit.map((b) => `arn:aws:s3:::${b.name}/checkpoints/*`),
      },
    );
  }
  const keys = [...new Set(buckets.map((b) => b.kmsKeyId).filter((k): k is string => !!k && isKmsKeyArn(k)))];
  if (keys.length)
    // SSE-KMS: a put needs a data key; reading a checkpoint back needs Decrypt. Only through S3 (kms:ViaService).
    statements.push({
      Sid: "TradeguardKmsForRecords",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: keys,
      Condition: { StringLike: { "kms:ViaService": "s3.*.amazonaws.com" } },
    });
  if (opts.secretsManagerArns?.length)
    statements.push({
      Sid: "TradeguardSecretsRotation",
      Effect: "Allow",
      Action: SECRETS_ACTIONS,
      Resource: opts.secretsManagerArns,
    });
  return { Version: "2012-10-17", Statement: statements };
}
