// Audit anchoring: a signed checkpoint of the chain head, {seq, hash, ts, sig}, kept where the writers cannot rewrite
// it (an S3 bucket under Object Lock COMPLIANCE, or a local file). The chain alone cannot show that its newest entries
// were deleted, or that someone holding the key rewrote it; a checkpoint can (CloudTrail's signed digest files are the
// model). This module does not know S3: the store is a CheckpointSink (src/s3 has the bucket one).

import { type KeyObject, sign, verify } from "node:crypto";
import { appendFileSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, readSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { TradeguardError } from "../errors.js";
import { canonicalJson } from "./canonical.js";
import { type AuditEntry, type ChainHead, hashBody, verifySignature } from "./chain.js";
import type { AuditKeys } from "./keyfile.js";
import { type AuditSource, tailEntries } from "./log.js";

export interface Checkpoint {
  seq: number;
  hash: string;
  ts: string;
  /** Base64 Ed25519 signature over the UTF-8 bytes of canonicalJson({seq, hash, ts}). */
  sig: string;
}

const checkpointSchema = z
  .object({
    seq: z.number().int().positive(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    ts: z.string().min(1),
    sig: z.string().min(1),
  })
  .strict();

/** Where checkpoints are kept. Writes must be append-only: nothing here ever deletes or overwrites one. */
export interface CheckpointSink {
  /** For messages: "s3://desk-audit/checkpoints/", "/home/ops/.tradeguard/checkpoints.jsonl". */
  readonly location: string;
  /** Stores one checkpoint; resolves with where it went. */
  write(cp: Checkpoint): Promise<string>;
  /** True when a checkpoint of this seq is already stored (so an unchanged head is not anchored twice). */
  isAnchored(seq: number): Promise<boolean>;
  /** Every stored checkpoint (every version), and any that were hidden (an S3 delete marker). */
  readAll(): Promise<CheckpointListing>;
}

export interface StoredCheckpoint {
  where: string;
  text: string;
}

export interface CheckpointListing {
  checkpoints: StoredCheckpoint[];
  /** Checkpoints someone tried to delete (tradeguard never deletes one). */
  hidden: { seq: number | null; where: string }[];
}

/** Refusal to anchor a head that does not verify. */
export class AnchorRefusedError extends TradeguardError {
  constructor(message: string) {
    super(message, "anchor_refused");
  }
}

/** The bytes a checkpoint signature covers. */
function signedBytes(cp: Pick<Checkpoint, "seq" | "hash" | "ts">): Buffer {
  return Buffer.from(canonicalJson({ seq: cp.seq, hash: cp.hash, ts: cp.ts }), "utf8");
}

/** Signs a checkpoint of `head` taken at `ts`. */
export function signCheckpoint(head: ChainHead, ts: string, privateKey: KeyObject): Checkpoint {
  const sig = sign(null, signedBytes({ seq: head.seq, hash: head.hash, ts }), privateKey).toString("base64");
  return { seq: head.seq, hash: head.hash, ts, sig };
}

/** True when the checkpoint's signature is valid for `publicKey`. */
export function checkpointSignatureValid(cp: Checkpoint, publicKey: KeyObject): boolean {
  try {
    return verify(null, signedBytes(cp), publicKey, Buffer.from(cp.sig, "base64"));
  } catch {
    return false;
  }
}

/** The stored form of a checkpoint (canonical JSON, one line). */
export function serializeCheckpoint(cp: Checkpoint): string {
  return canonicalJson(cp);
}

/** Parses a stored checkpoint; a string is why it is not one. */
export function parseCheckpoint(text: string): Checkpoint | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  const r = checkpointSchema.safeParse(v);
  return r.success
    ? r.data
    : `malformed (${r.error.issues[0]?.path.join(".") || "checkpoint"}: ${r.error.issues[0]?.message})`;
}

/** A checkpoint store in a local JSONL file (0600 in a 0700 directory): the fallback when no S3 is configured. */
export function fileCheckpointSink(file: string): CheckpointSink {
  const lastLine = (): string | null => {
    let fd: number;
    try {
      fd = openSync(file, "r");
    } catch {
      return null;
    }
    try {
      const buf = Buffer.alloc(4096); // a checkpoint line is ~200 bytes
      const size = fstatSync(fd).size;
      const n = readSync(fd, buf, 0, Math.min(4096, size), Math.max(0, size - 4096));
      return buf.subarray(0, n).toString("utf8").trimEnd().split("\n").pop() ?? null;
    } finally {
      closeSync(fd);
    }
  };
  return {
    location: file,
    async write(cp) {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      appendFileSync(file, `${serializeCheckpoint(cp)}\n`, { mode: 0o600 });
      return file;
    },
    async isAnchored(seq) {
      const last = lastLine();
      const cp = last ? parseCheckpoint(last) : null;
      return typeof cp === "object" && cp !== null && cp.seq === seq;
    },
    async readAll() {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
      const checkpoints = text
        .split("\n")
        .map((line, i) => ({ where: `${file}:${i + 1}`, text: line }))
        .filter((c) => c.text.trim() !== "");
      return { checkpoints, hidden: [] };
    },
  };
}

export type AnchorResult =
  | { written: true; seq: number; hash: string; ts: string; location: string }
  | { written: false; seq: number; hash: string | null; reason: string };

/**
 * Writes a checkpoint of the chain head now. The head must verify with the signer's key first (its hash matches its
 * content and its signature is good): a checkpoint vouches for what it anchors.
 */
export async function anchor(deps: {
  source: AuditSource;
  sink: CheckpointSink;
  signer: AuditKeys;
  now?: () => Date;
}): Promise<AnchorResult> {
  const [raw] = await tailEntries(deps.source, 1);
  if (!raw) return { written: false, seq: 0, hash: null, reason: "the audit chain is empty" };
  let e: AuditEntry;
  try {
    e = JSON.parse(raw) as AuditEntry;
  } catch {
    throw new AnchorRefusedError("audit anchor: the chain head is not valid JSON; run tradeguard audit verify");
  }
  if (typeof e.seq !== "number" || hashBody(e) !== e.hash || !verifySignature(e.hash, e.sig, deps.signer.publicKey))
    throw new AnchorRefusedError(
      `audit anchor: the chain head (seq ${e.seq}) does not verify with AUDIT_KEY_FILE's key; not anchored. Run tradeguard audit verify`,
    );
  if (await deps.sink.isAnchored(e.seq))
    return { written: false, seq: e.seq, hash: e.hash, reason: `seq ${e.seq} is already anchored` };
  const ts = (deps.now?.() ?? new Date()).toISOString();
  const cp = signCheckpoint({ seq: e.seq, hash: e.hash }, ts, deps.signer.privateKey);
  const location = await deps.sink.write(cp);
  return { written: true, seq: cp.seq, hash: cp.hash, ts, location };
}

export type CheckpointProblemKind = "truncated" | "rewritten" | "signature" | "malformed" | "hidden";

export interface CheckpointProblem {
  kind: CheckpointProblemKind;
  seq: number | null;
  reason: string;
}

export interface CheckpointVerifyResult {
  ok: boolean;
  /** Checkpoints read (every version). */
  checkpoints: number;
  /** The highest anchored seq, or null without checkpoints. */
  newest: number | null;
  firstBad: number | null;
  reason: string | null;
  problems: CheckpointProblem[];
}

/** hash and seq of a canonically stored entry, read from its fixed tail (as verifyChain's fast path does). */
const SEQ_HASH =
  /,"hash":"([0-9a-f]{64})","prev":"[0-9a-f]{64}","seq":([1-9]\d{0,15}),"sig":"[^"]*","ts":"(?:[^"\\]|\\.)*"\}$/;

/**
 * Checks the chain (its stored lines, in order) against every checkpoint: each must carry a valid signature, the
 * chain must reach the newest one (else **truncated**), and entry N must still have checkpoint N's hash (else
 * **rewritten**). A checkpoint hidden by a delete marker is a problem of its own. `reason` is the first problem.
 */
export async function verifyCheckpoints(
  lines: AsyncIterable<string> | Iterable<string>,
  listing: CheckpointListing,
  publicKey: KeyObject,
): Promise<CheckpointVerifyResult> {
  const problems: CheckpointProblem[] = [];
  const bySeq = new Map<number, { cp: Checkpoint; where: string }[]>();
  for (const s of listing.checkpoints) {
    const cp = parseCheckpoint(s.text);
    if (typeof cp === "string") {
      problems.push({ kind: "malformed", seq: null, reason: `checkpoint ${s.where} is ${cp}` });
      continue;
    }
    if (!checkpointSignatureValid(cp, publicKey)) {
      problems.push({
        kind: "signature",
        seq: cp.seq,
        reason: `checkpoint seq ${cp.seq} (${s.where}): signature is not valid for this public key (forged, or signed with another key)`,
      });
      continue;
    }
    bySeq.set(cp.seq, [...(bySeq.get(cp.seq) ?? []), { cp, where: s.where }]);
  }
  for (const h of listing.hidden)
    problems.push({
      kind: "hidden",
      seq: h.seq,
      reason: `checkpoint${h.seq ? ` seq ${h.seq}` : ""} was deleted (a delete marker hides it: ${h.where}); tradeguard never deletes a checkpoint`,
    });

  const seen = new Set<number>();
  let last = 0;
  for await (const raw of lines) {
    if (raw.trim() === "") continue;
    const m = SEQ_HASH.exec(raw);
    let seq: number;
    let hash: unknown;
    if (m) [seq, hash] = [Number(m[2]), m[1]];
    else {
      // Not canonical: parse it (an unparseable line is verifyChain's finding; here it anchors nothing).
      const e = (() => {
        try {
          return JSON.parse(raw) as { seq?: unknown; hash?: unknown };
        } catch {
          return {};
        }
      })();
      [seq, hash] = [Number(e.seq), e.hash];
    }
    if (!Number.isInteger(seq)) continue;
    last = seq;
    const cps = bySeq.get(seq);
    if (!cps) continue;
    seen.add(seq);
    for (const { cp, where } of cps)
      if (cp.hash !== hash)
        problems.push({
          kind: "rewritten",
          seq,
          reason: `rewritten: entry ${seq} no longer has the hash checkpoint ${where} (${cp.ts}) anchored (${cp.hash.slice(0, 12)}…, now ${String(hash).slice(0, 12)}…)`,
        });
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  const newest = seqs.length ? seqs[seqs.length - 1]! : null;
  for (const seq of seqs) {
    if (seen.has(seq)) continue;
    const cp = bySeq.get(seq)![0]!.cp;
    problems.push(
      seq > last
        ? {
            kind: "truncated",
            seq,
            reason: `truncated: the chain ends at seq ${last}, but checkpoint ${cp.ts} anchored seq ${seq}; entries ${last + 1}–${seq} are gone`,
          }
        : {
            kind: "rewritten",
            seq,
            reason: `rewritten: entry ${seq}, anchored at ${cp.ts}, is missing from the chain`,
          },
    );
  }
  // Report order: a checkpoint that cannot be trusted first, then the earliest rewritten entry, then truncation.
  const rank: Record<CheckpointProblemKind, number> = {
    malformed: 0,
    signature: 0,
    hidden: 1,
    rewritten: 2,
    truncated: 3,
  };
  problems.sort((a, b) => rank[a.kind] - rank[b.kind] || (a.seq ?? 0) - (b.seq ?? 0));
  const first = problems[0];
  return {
    ok: problems.length === 0,
    checkpoints: listing.checkpoints.length,
    newest,
    firstBad: first ? first.seq : null,
    reason: first ? first.reason : null,
    problems,
  };
}
