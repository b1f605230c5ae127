// The audit chain: each entry carries the SHA-256 of its canonical body and the previous entry's hash, and an
// Ed25519 signature over its hash (the 32 digest bytes). Any modified, deleted, inserted or reordered entry breaks
// the seq sequence or the hash links; a rewritten tail fails the signature check at the next checkpoint or the head.
import { createHash, type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import { canonicalJson } from "./canonical.js";

export const GENESIS_HASH = "0".repeat(64);
/** In the default mode, signatures are verified on every entry whose seq is a multiple of this… */
export const CHECKPOINT_EVERY = 1000;
/** …and on the last this many entries (so a chain of up to this length is verified in full). */
export const TAIL_SIGNATURES = 10_000;

export interface AuditBody {
  seq: number;
  ts: string;
  actor: string;
  action: string;
  details: Record<string, unknown>;
  prev: string;
}

export interface AuditEntry extends AuditBody {
  hash: string;
  sig: string;
}

export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

const entrySchema = z
  .object({
    seq: z.number().int().positive(),
    ts: z.string(),
    actor: z.string(),
    action: z.string(),
    details: z.record(z.string(), z.unknown()),
    prev: z.string().regex(/^[0-9a-f]{64}$/),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    sig: z.string().min(1),
  })
  .strict();

/** SHA-256 hex of the canonical JSON of the entry body. */
export function hashBody(body: AuditBody): string {
  const { seq, ts, actor, action, details, prev } = body;
  return createHash("sha256").update(canonicalJson({ seq, ts, actor, action, details, prev })).digest("hex");
}

/** Builds the next signed entry after `head`. */
export function buildEntry(
  head: ChainHead,
  input: { ts: string; actor: string; action: string; details: Record<string, unknown> },
  privateKey: KeyObject,
): AuditEntry {
  const body: AuditBody = {
    seq: head.seq + 1,
    ts: input.ts,
    actor: input.actor,
    action: input.action,
    details: input.details,
    prev: head.hash,
  };
  const hash = hashBody(body);
  const sig = sign(null, Buffer.from(hash, "hex"), privateKey).toString("base64");
  return { ...body, hash, sig };
}

/** The stored form of an entry: canonical JSON of all eight fields. */
export function serializeEntry(entry: AuditEntry): string {
  return canonicalJson(entry);
}

/** True when `sig` is a valid Ed25519 signature of `hash` by `publicKey`. */
export function verifySignature(hash: string, sig: string, publicKey: KeyObject): boolean {
  try {
    return verify(null, Buffer.from(hash, "hex"), publicKey, Buffer.from(sig, "base64"));
  } catch {
    return false;
  }
}

/** The fields after `details` in a canonically stored entry: hash, prev, seq, sig, ts (anchored at the end). */
export const CANONICAL_TAIL =
  /,"hash":"([0-9a-f]{64})","prev":"([0-9a-f]{64})","seq":([1-9]\d{0,15}),"sig":"([A-Za-z0-9+/]+={0,2})","ts":("(?:[^"\\]|\\.)*")\}$/;

export interface VerifyResult {
  ok: boolean;
  entries: number;
  firstBad: number | null;
  reason: string | null;
}

/**
 * Verifies a chain given as its stored strings, in stored order. `full` checks every signature. The default checks
 * every hash link, and the signatures of every checkpoint and of the last TAIL_SIGNATURES entries (Ed25519
 * verification is ~40× slower than SHA-256: this keeps a million entries within seconds while the hash links tie
 * every entry to a signed one). `firstBad` is the earliest entry found bad.
 */
export async function verifyChain(
  lines: AsyncIterable<string> | Iterable<string>,
  publicKey: KeyObject,
  opts: { full?: boolean; checkpointEvery?: number; tailSignatures?: number } = {},
): Promise<VerifyResult> {
  const every = opts.checkpointEvery ?? CHECKPOINT_EVERY;
  const tailSize = opts.full ? 0 : (opts.tailSignatures ?? TAIL_SIGNATURES);
  // Entries whose signature is still to be checked (the most recent non-checkpoint entries), oldest first.
  const tail: { seq: number; hash: string; sig: string }[] = [];
  let tailStart = 0;
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let count = 0;
  const bad = (seq: number, reason: string): VerifyResult => ({ ok: false, entries: count, firstBad: seq, reason });
  const signatureReason = (seq: number) =>
    `seq ${seq}: signature is not valid for this public key (entry or chain re-signed)`;
  /** The earliest pending tail entry with a bad signature, if any. */
  const checkTail = (): VerifyResult | null => {
    for (let i = tailStart; i < tail.length; i++) {
      const t = tail[i]!;
      if (!verifySignature(t.hash, t.sig, publicKey)) return bad(t.seq, signatureReason(t.seq));
    }
    return null;
  };

  /** Checks (or queues) the signature of an entry whose links are good, and moves the chain on. */
  const accept = (seq: number, hash: string, sig: string): VerifyResult | null => {
    if (opts.full || seq % every === 0) {
      if (!verifySignature(hash, sig, publicKey)) return checkTail() ?? bad(seq, signatureReason(seq));
    } else if (tailSize > 0) {
      tail.push({ seq, hash, sig });
      if (tail.length - tailStart > tailSize) tailStart++;
      if (tailStart > 4 * tailSize) {
        tail.splice(0, tailStart);
        tailStart = 0;
      }
    }
    prevHash = hash;
    expectedSeq++;
    return null;
  };

  for await (const raw of lines) {
    if (raw.trim() === "") continue;
    // Fast path for entries stored canonically (as every writer stores them): the fields after `details` have a
    // fixed shape, so the body's canonical JSON is the stored text without `hash` and `sig`. A body hashing to the
    // linked hash is byte for byte what the writer hashed, so it needs no parse. Anything else takes the full path.
    const fast = CANONICAL_TAIL.exec(raw);
    if (fast && raw.startsWith('{"action":')) {
      const [, hash, prev, seqText, sig, ts] = fast as unknown as [string, string, string, string, string, string];
      const seq = Number(seqText);
      if (seq === expectedSeq && prev === prevHash) {
        const body = `${raw.slice(0, fast.index)},"prev":"${prev}","seq":${seqText},"ts":${ts}}`;
        if (createHash("sha256").update(body).digest("hex") === hash) {
          count++;
          const failed = accept(seq, hash, sig);
          if (failed) return failed;
          continue;
        }
      }
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return checkTail() ?? bad(expectedSeq, `entry at position ${count + 1} is not valid JSON`);
    }
    const r = entrySchema.safeParse(parsed);
    if (!r.success) {
      const seq =
        typeof (parsed as { seq?: unknown })?.seq === "number" ? (parsed as { seq: number }).seq : expectedSeq;
      return (
        checkTail() ??
        bad(
          seq,
          `entry at position ${count + 1} is malformed: ${r.error.issues[0]?.path.join(".")} ${r.error.issues[0]?.message}`,
        )
      );
    }
    const e = r.data as AuditEntry;
    count++;
    if (e.seq !== expectedSeq) {
      const what = e.seq > expectedSeq ? "missing (deleted?)" : "duplicated or out of order";
      return (
        checkTail() ??
        bad(Math.min(e.seq, expectedSeq), `expected seq ${expectedSeq} but found ${e.seq}: an entry is ${what}`)
      );
    }
    if (e.prev !== prevHash) {
      return (
        checkTail() ??
        bad(
          e.seq,
          `seq ${e.seq}: prev does not match the hash of seq ${e.seq - 1} (entry inserted, removed or modified)`,
        )
      );
    }
    if (hashBody(e) !== e.hash)
      return checkTail() ?? bad(e.seq, `seq ${e.seq}: hash does not match its content (entry modified)`);
    const failed = accept(e.seq, e.hash, e.sig);
    if (failed) return failed;
  }
  return checkTail() ?? { ok: true, entries: count, firstBad: null, reason: null };
}
