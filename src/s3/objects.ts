// Records into the desk's buckets: every put is locked explicitly (COMPLIANCE until now + the bucket's retention), so
// a weakened bucket default cannot weaken a record; the bucket checkpoint and export stores of the audit anchoring.
import { createHash } from "node:crypto";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  type CheckpointListing,
  type CheckpointSink,
  type StoredCheckpoint,
  serializeCheckpoint,
} from "../audit/anchor.js";
import { type ExportSink, exportKey } from "../audit/export.js";
import { ConfigError } from "../errors.js";
import { createS3Client, deadline, httpStatus, s3ErrorCode } from "./client.js";
import { type BucketType, bucketOf, type S3Bucket, type S3Config } from "./config.js";

/** The date a record put now stays locked until: now + the bucket's retention in whole years (UTC). */
export function retainUntil(bucket: S3Bucket, now: Date): Date {
  const d = new Date(now.getTime());
  d.setUTCFullYear(d.getUTCFullYear() + bucket.retentionYears);
  return d;
}

/**
 * Puts one object under Object Lock COMPLIANCE until now + retention (SEC 17a-4(f)(2)(i)(A): non-rewriteable,
 * non-erasable). AWS requires Content-MD5 (or a checksum) on a put with retention headers; with a kms_key_id the
 * object is encrypted with that key (SSE-KMS) whatever the bucket default says.
 */
export async function putLocked(
  client: S3Client,
  bucket: S3Bucket,
  key: string,
  body: string | Uint8Array,
  opts: { contentType?: string; now?: Date } = {},
): Promise<{ location: string; versionId?: string }> {
  const res = await client.send(
    new PutObjectCommand({
      Bucket: bucket.name,
      Key: key,
      Body: body,
      ContentType: opts.contentType ?? "application/json",
      ContentMD5: createHash("md5").update(body).digest("base64"),
      ObjectLockMode: "COMPLIANCE",
      ObjectLockRetainUntilDate: retainUntil(bucket, opts.now ?? new Date()),
      ...(bucket.kmsKeyId ? { ServerSideEncryption: "aws:kms" as const, SSEKMSKeyId: bucket.kmsKeyId } : {}),
    }),
    deadline(),
  );
  return { location: `s3://${bucket.name}/${key}`, versionId: res.VersionId };
}

const clients = new WeakMap<S3Config, S3Client>();

/**
 * Puts a record into the configured bucket of `type` (snapshots: panic snapshots; statements: recon results; logs)
 * and returns its s3:// URL. The client for the section is built on first use and kept.
 */
export async function putRecord(
  s3: S3Config,
  type: BucketType,
  key: string,
  body: string | Uint8Array,
  opts: { client?: S3Client; contentType?: string; now?: Date } = {},
): Promise<string> {
  const bucket = bucketOf(s3, type);
  if (!bucket) throw new ConfigError(`s3.buckets: no bucket of type ${type} is configured`);
  let client = opts.client ?? clients.get(s3);
  if (!client) {
    client = createS3Client(s3);
    clients.set(s3, client);
  }
  return (await putLocked(client, bucket, key, body, opts)).location;
}

/** The key of checkpoint `seq`: `checkpoints/000000000042.json`. */
export function checkpointKey(seq: number): string {
  return `checkpoints/${String(seq).padStart(12, "0")}.json`;
}

const CHECKPOINT_KEY = /^checkpoints\/(\d{12})\.json$/;
const EXPORT_KEY = /^log\/(\d{12})-(\d{12})\.jsonl$/;
const READ_CONCURRENCY = 16;

/** Runs `fn` over `items`, at most `n` at a time, keeping order. */
async function mapLimit<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** Checkpoints as objects in the audit bucket, each under Object Lock. Reads every version, and reports delete markers. */
export function s3CheckpointSink(
  client: S3Client,
  bucket: S3Bucket,
  now: () => Date = () => new Date(),
): CheckpointSink {
  return {
    location: `s3://${bucket.name}/checkpoints/`,
    async write(cp) {
      const r = await putLocked(client, bucket, checkpointKey(cp.seq), `${serializeCheckpoint(cp)}\n`, { now: now() });
      return r.versionId ? `${r.location}?versionId=${r.versionId}` : r.location;
    },
    async isAnchored(seq) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: checkpointKey(seq) }), deadline());
        return true;
      } catch (err) {
        if (httpStatus(err) === 404 || s3ErrorCode(err) === "NotFound") return false;
        throw err;
      }
    },
    async readAll(): Promise<CheckpointListing> {
      const versions: { key: string; versionId?: string }[] = [];
      const hidden: CheckpointListing["hidden"] = [];
      let KeyMarker: string | undefined;
      let VersionIdMarker: string | undefined;
      do {
        const page = await client.send(
          new ListObjectVersionsCommand({ Bucket: bucket.name, Prefix: "checkpoints/", KeyMarker, VersionIdMarker }),
          deadline(),
        );
        for (const v of page.Versions ?? []) if (v.Key) versions.push({ key: v.Key, versionId: v.VersionId });
        for (const m of page.DeleteMarkers ?? []) {
          const seq = CHECKPOINT_KEY.exec(m.Key ?? "")?.[1];
          hidden.push({
            seq: seq ? Number(seq) : null,
            where: `s3://${bucket.name}/${m.Key}?versionId=${m.VersionId}`,
          });
        }
        [KeyMarker, VersionIdMarker] = page.IsTruncated
          ? [page.NextKeyMarker, page.NextVersionIdMarker]
          : [undefined, undefined];
      } while (KeyMarker);
      const checkpoints = await mapLimit(versions, READ_CONCURRENCY, async (v): Promise<StoredCheckpoint> => {
        const res = await client.send(
          new GetObjectCommand({ Bucket: bucket.name, Key: v.key, VersionId: v.versionId }),
          deadline(),
        );
        const where = `s3://${bucket.name}/${v.key}${v.versionId ? `?versionId=${v.versionId}` : ""}`;
        return { where, text: (await res.Body?.transformToString("utf8")) ?? "" };
      });
      return { checkpoints, hidden };
    },
  };
}

/** Exported audit ranges as objects `log/<first>-<last>.jsonl` in the audit bucket, each under Object Lock. */
export function s3ExportSink(client: S3Client, bucket: S3Bucket, now: () => Date = () => new Date()): ExportSink {
  return {
    location: `s3://${bucket.name}/log/`,
    async lastExportedSeq() {
      let last = 0;
      let ContinuationToken: string | undefined;
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket.name, Prefix: "log/", ContinuationToken }),
          deadline(),
        );
        for (const o of page.Contents ?? []) {
          const m = EXPORT_KEY.exec(o.Key ?? "");
          if (m) last = Math.max(last, Number(m[2]));
        }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return last;
    },
    async write(first, last, body) {
      return (
        await putLocked(client, bucket, exportKey(first, last), body, {
          contentType: "application/x-ndjson",
          now: now(),
        })
      ).location;
    },
  };
}
