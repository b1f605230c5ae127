// State snapshots taken by a panic: mode, flags and what the brokers held, to a local directory (default) or S3.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { bucketOf, s3Of } from "../s3/config.js";
import type { Keys } from "../state/keys.js";

/** Reads the Redis state worth keeping (one pipeline); a key that cannot be read is recorded as its error. */
export async function readStateForSnapshot(redis: Redis, keys: Keys): Promise<Record<string, unknown>> {
  const res = await redis
    .pipeline()
    .get(keys.mode)
    .hgetall(keys.modeMeta)
    .get(keys.eventLock)
    .get(keys.policyLastUpdate)
    .get(keys.policyEntropy)
    .get(keys.heartbeatBot)
    .get(keys.resumeSoak)
    .exec();
  const v = (i: number) => {
    const [err, value] = res?.[i] ?? [null, null];
    return err ? `unreadable: ${err.message}` : (value ?? null);
  };
  return {
    mode: v(0),
    mode_meta: v(1),
    "risk:event_lock": v(2),
    "policy:last_update": v(3),
    "policy:entropy": v(4),
    "heartbeat:bot": v(5),
    "resume:soak": v(6),
  };
}

/**
 * Writes one record and returns where it went (file path or s3:// URL): to the WORM bucket of its type when the `s3`
 * section configures one (Object Lock COMPLIANCE, src/s3/objects.ts), else to `panic.s3`, else the snapshot dir.
 */
export async function writeSnapshot(
  config: Config,
  name: string,
  content: unknown,
  type: "snapshots" | "statements" = "snapshots",
): Promise<string> {
  return writeRecord(config, name, `${JSON.stringify(content, null, 2)}\n`, { type });
}

/**
 * Writes one record of any content (a report's Markdown, its chart PNGs) to the same place as writeSnapshot; `name`
 * may hold "/" (a folder of related files). Never overwrites a local file.
 */
export async function writeRecord(
  config: Config,
  name: string,
  body: string | Uint8Array,
  opts: { type?: "snapshots" | "statements"; contentType?: string } = {},
): Promise<string> {
  const type = opts.type ?? "snapshots";
  const contentType = opts.contentType ?? "application/json";
  const section = s3Of(config);
  if (bucketOf(section, type)) {
    const { putRecord } = await import("../s3/objects.js"); // the SDK is loaded only when configured
    return putRecord(section!, type, `${type}/${name}`, body, { contentType });
  }
  const s3 = config.panic.s3;
  if (s3) {
    const { PutObjectCommand, S3Client } = await import("@aws-sdk/client-s3"); // loaded only when configured
    const client = new S3Client({
      region: s3.region,
      ...(s3.endpoint ? { endpoint: s3.endpoint, forcePathStyle: true } : {}),
    });
    const key = `${s3.prefix}${name}`;
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: body, ContentType: contentType }));
    return `s3://${s3.bucket}/${key}`;
  }
  const path = join(config.panic.snapshotDir, name);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, body, { mode: 0o600, flag: "wx" });
  return path;
}
