// Audit anchoring wired to the configuration: checkpoints and exported ranges go to the `audit` bucket when one is
// configured, else checkpoints go to TRADEGUARD_HOME/checkpoints.jsonl (and there is no export). The CLI and the bot's
// timer both use this, so there is one implementation of "anchor now".
import { join } from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import { type AnchorResult, anchor, type CheckpointSink, fileCheckpointSink } from "../audit/anchor.js";
import { type ExportResult, type ExportSink, exportLog } from "../audit/export.js";
import type { AuditKeys } from "../audit/keyfile.js";
import type { AuditSource } from "../audit/log.js";
import type { Config } from "../config.js";
import { createS3Client } from "./client.js";
import { bucketOf, s3Of } from "./config.js";
import { s3CheckpointSink, s3ExportSink } from "./objects.js";

export interface Anchoring {
  /** Where checkpoints go (and are read from by `audit verify --checkpoints`). */
  sink: CheckpointSink;
  /** Where the chain is exported; null without an audit bucket. */
  exportSink: ExportSink | null;
  /** Writes a checkpoint of the chain head now (none when the head is already anchored). */
  anchor(): Promise<AnchorResult>;
  /** Exports the entries after the last exported one (null without an audit bucket). */
  exportLog(): Promise<ExportResult | null>;
  /** Anchor, then export; calls made while one runs wait for it (one at a time per process). */
  tick(): Promise<{ anchor: AnchorResult; export: ExportResult | null }>;
}

/** The checkpoint store for a config: the audit bucket, or the local checkpoints.jsonl. */
export function checkpointSinkFor(config: Config, client?: S3Client): CheckpointSink {
  const s3 = s3Of(config);
  const bucket = bucketOf(s3, "audit");
  return s3 && bucket
    ? s3CheckpointSink(client ?? createS3Client(s3), bucket)
    : fileCheckpointSink(join(config.home, "checkpoints.jsonl"));
}

/** Builds the anchoring of one process (the chain in `source`, signed with `signer`). */
export function createAnchoring(deps: {
  config: Config;
  source: AuditSource;
  signer: AuditKeys;
  /** Tests: a client with static credentials. Default: one built from the s3 section. */
  client?: S3Client;
  now?: () => Date;
}): Anchoring {
  const s3 = s3Of(deps.config);
  const bucket = bucketOf(s3, "audit");
  const client = s3 && bucket ? (deps.client ?? createS3Client(s3)) : undefined;
  const now = deps.now ?? (() => new Date());
  const sink = client && bucket ? s3CheckpointSink(client, bucket, now) : checkpointSinkFor(deps.config);
  const exportSink = client && bucket ? s3ExportSink(client, bucket, now) : null;
  let running: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = running.then(fn, fn);
    running = run.catch(() => {});
    return run;
  };
  const doAnchor = () => anchor({ source: deps.source, sink, signer: deps.signer, now });
  const doExport = async () => (exportSink ? exportLog(deps.source, exportSink) : null);
  return {
    sink,
    exportSink,
    anchor: () => serial(doAnchor),
    exportLog: () => serial(doExport),
    tick: () => serial(async () => ({ anchor: await doAnchor(), export: await doExport() })),
  };
}
