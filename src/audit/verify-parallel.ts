// `audit verify` of a whole stored chain on several cores. The stored bytes are streamed in chunks of whole entries
// (the JSONL file read in 4 MB blocks, the Redis stream in XRANGE pages read as bytes) to worker threads, each of
// which checks its chunk with verifyChain's fast path (canonically stored entries: seq, prev and the body hash from
// the fixed tail, no JSON.parse) and the signatures the default mode checks; the main thread only reads and ties the
// chunks together (seq and prev across chunk ends). This path can only say "ok": anything it does not accept (a
// broken link, a bad hash or signature, an entry not stored canonically, bytes the line reader would decode or split
// differently) makes it stop and hand the whole source to verifyChain, which gives the one answer, so the result is
// always verifyChain's. Small chains and single-core machines go to verifyChain directly.

import type { KeyObject } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CHECKPOINT_EVERY, GENESIS_HASH, TAIL_SIGNATURES, type VerifyResult, verifyChain } from "./chain.js";
import { type AuditSource, readEntries, readFileHead } from "./log.js";
import { type Chunk, redisChunks } from "./verify-redis.js";

/** Below this many entries a chain is verified on the main thread (starting workers costs more than it saves). */
export const PARALLEL_MIN_ENTRIES = 20_000;
const FILE_CHUNK = 1 << 20;

export interface VerifyOptions {
  full?: boolean;
  checkpointEvery?: number;
  tailSignatures?: number;
  /** Worker threads (default: one per core, at most 4); fewer than 2 means verifyChain on this thread. */
  workers?: number;
  /** Chains shorter than this go to verifyChain directly (default PARALLEL_MIN_ENTRIES). */
  minEntries?: number;
  /** Told how the answer was reached: in parallel, by verifyChain alone, or by verifyChain after the parallel path. */
  report?: (how: "parallel" | "sequential" | "fallback") => void;
  /**
   * Told how far the verification is, every PROGRESS_EVERY entries or so: `done` entries checked of `total` (the
   * head's seq; null when it cannot be read). A fallback to verifyChain starts again from 0.
   */
  onProgress?: (p: { done: number; total: number | null }) => void;
}

/** How many entries between two onProgress calls (a call costs next to nothing; the caller throttles drawing). */
export const PROGRESS_EVERY = 5_000;

interface ChunkResult {
  ok: boolean;
  count: number;
  firstSeq: number;
  firstPrev: string;
  lastSeq: number;
  lastHash: string;
}

// The worker: verifyChain's fast path over bytes, with the same tests in the same order: the entry starts with
// {"action":, its tail matches CANONICAL_TAIL (checked byte by byte below, exactly as the regex reads the UTF-8
// text: hex, digits, base64, and a ts string whose escapes may not take a line terminator), seq and prev follow the
// previous entry, the SHA-256 of the body (the stored bytes without hash and sig) is the hash, and the signature
// holds where the default mode (or --full) checks it. Any start of the tail that passes is the regex's match (a
// match leaves no `,"hash":"` after its start), so it is looked for where a usual entry has it, then as the last
// `,"hash":"`. Bytes that are not UTF-8, or a CR in a JSONL chunk (readline splits lines there), would be read
// differently by the line reader: the chunk is refused.
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const crypto = require("node:crypto");
const { isUtf8 } = require("node:buffer");
const { publicKey, every, tailFrom, full } = workerData;
const sha256 = crypto.hash
  ? (b) => crypto.hash("sha256", b, "hex")
  : (b) => crypto.createHash("sha256").update(b).digest("hex");
const sigOk = (hash, sig) => {
  try { return crypto.verify(null, Buffer.from(hash, "hex"), publicKey, Buffer.from(sig, "base64")); } catch { return false; }
};
const HEX = new Uint8Array(256);
for (const c of "0123456789abcdef") HEX[c.charCodeAt(0)] = 1;
const B64 = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") B64[c.charCodeAt(0)] = 1;
const START = Buffer.from('{"action":');
const MARK = Buffer.from(',"hash":"');
const PREV = Buffer.from('","prev":"');
const SEQ = Buffer.from('","seq":');
const SIG = Buffer.from(',"sig":"');
const TS = Buffer.from('","ts":"');
const lit = (buf, at, l) => { for (let i = 0; i < l.length; i++) if (buf[at + i] !== l[i]) return false; return true; };
const hex64 = (buf, at) => { for (let i = at; i < at + 64; i++) if (!HEX[buf[i]]) return false; return true; };
let sigMark = 0, sigEnd = 0;
// The canonical tail from q to e, as CANONICAL_TAIL; sets sigMark (where ,"sig":" starts) and sigEnd.
const tailAt = (buf, q, e) => {
  let p = q;
  if (e - q < 180 || !lit(buf, p, MARK) || !hex64(buf, p + 9) || !lit(buf, p + 73, PREV) || !hex64(buf, p + 83)) return false;
  if (!lit(buf, p + 147, SEQ)) return false;
  p += 155;
  const seqAt = p;
  if (buf[p] < 0x31 || buf[p] > 0x39) return false;
  while (++p < e && buf[p] >= 0x30 && buf[p] <= 0x39);
  if (p - seqAt > 16 || !lit(buf, p, SIG)) return false;
  sigMark = p;
  p += 8;
  const sigAt = p;
  while (p < e && B64[buf[p]]) p++;
  if (p === sigAt) return false;
  if (buf[p] === 0x3d) p++;
  if (buf[p] === 0x3d) p++;
  if (!lit(buf, p, TS)) return false;
  sigEnd = p;
  for (p += 8; ; p++) {
    if (p >= e) return false;
    const c = buf[p];
    if (c === 0x22) break;
    if (c === 0x5c) {
      const d = buf[++p];
      if (p >= e || d === 0x0a || d === 0x0d) return false;
      if (d === 0xe2 && buf[p + 1] === 0x80 && (buf[p + 2] === 0xa8 || buf[p + 2] === 0xa9)) return false;
    }
  }
  return p === e - 2 && buf[e - 1] === 0x7d;
};
// Where a usual entry's tail starts (ts of 24 characters, a signature of 88), or -1.
const guess = (buf, s, e) => {
  let d = e - 130;
  if (d - 155 < s) return -1;
  while (buf[d - 1] >= 0x30 && buf[d - 1] <= 0x39 && d > s) d--;
  return d - 155;
};
const check = (buf, spans) => {
  const no = { ok: false };
  if (!isUtf8(buf) || (!spans && buf.indexOf(13) >= 0)) return no;
  const r = { ok: true, count: 0, firstSeq: 0, firstPrev: "", lastSeq: 0, lastHash: "" };
  const n = spans ? spans.length : 0;
  for (let s = 0, k = 0, e = 0; spans ? k < n : s < buf.length; s = spans ? s : e + 1) {
    if (spans) { s = spans[k++]; e = spans[k++]; }
    else { e = buf.indexOf(10, s); if (e < 0) e = buf.length; }
    if (e > s) {
      if (e - s < START.length || !lit(buf, s, START)) return no;
      let q = guess(buf, s, e);
      if (q < s || !tailAt(buf, q, e)) {
        q = buf.lastIndexOf(MARK, e - MARK.length);
        if (q < s || !tailAt(buf, q, e)) return no;
      }
      const hash = buf.toString("latin1", q + 9, q + 73);
      const prev = buf.toString("latin1", q + 83, q + 147);
      const seq = sigMark - q - 155 < 16 ? digits(buf, q + 155, sigMark) : Number(buf.toString("latin1", q + 155, sigMark));
      if (r.count === 0) { r.firstSeq = seq; r.firstPrev = prev; }
      else if (seq !== r.lastSeq + 1 || prev !== r.lastHash) return no;
      const sig = full || seq % every === 0 || seq >= tailFrom ? buf.toString("latin1", sigMark + 8, sigEnd) : null;
      // The body, in place: the stored bytes with the hash and sig fields taken out.
      buf.copyWithin(q, q + 74, sigMark);
      const at = q + sigMark - q - 74;
      buf.copyWithin(at, sigEnd + 1, e);
      if (sha256(buf.subarray(s, at + e - sigEnd - 1)) !== hash) return no;
      if (sig !== null && !sigOk(hash, sig)) return no;
      r.count++; r.lastSeq = seq; r.lastHash = hash;
    }
  }
  return r;
};
const digits = (buf, a, b) => { let v = 0; for (let i = a; i < b; i++) v = v * 10 + buf[i] - 0x30; return v; };
parentPort.on("message", (m) => {
  let r;
  try { r = check(Buffer.from(m.buf, 0, m.length), m.spans); } catch { r = { ok: false }; }
  parentPort.postMessage({ id: m.id, ...r });
});
`;

/** Verifies the whole stored chain of `source` as verifyChain(readEntries(source)) does, with the same result. */
export async function verifySource(
  source: AuditSource,
  publicKey: KeyObject,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const { workers: w, minEntries, report, onProgress, ...chainOpts } = opts;
  const workers = w ?? Math.min(4, availableParallelism());
  const head = workers >= 2 || onProgress ? await headSeq(source) : null;
  const sequential = (how: "sequential" | "fallback" = "sequential") => {
    report?.(how);
    const entries = readEntries(source);
    return verifyChain(onProgress ? counted(entries, head, onProgress) : entries, publicKey, chainOpts);
  };
  if (workers < 2) return sequential();
  if (head === null || head < (minEntries ?? PARALLEL_MIN_ENTRIES)) return sequential();
  const every = chainOpts.checkpointEvery ?? CHECKPOINT_EVERY;
  const tailSize = chainOpts.full ? 0 : (chainOpts.tailSignatures ?? TAIL_SIGNATURES);
  // The default mode checks the signatures of the last `tailSize` non-checkpoint entries; a chain of at least `head`
  // entries has them all at or after this seq (checking a few more changes nothing).
  const tailFrom =
    tailSize > 0 ? Math.max(1, head - tailSize - Math.ceil(tailSize / Math.max(1, every - 1)) - 2) : Infinity;
  const chunks = source.kind === "file" ? fileChunks(source.file) : redisChunks(source.redis, source.keys.auditLog);
  const pool = new Pool(workers, { publicKey, every, tailFrom, full: Boolean(chainOpts.full) });
  let result: VerifyResult | null = null;
  try {
    result = await pool.run(chunks, head, onProgress);
  } catch {
    // Whatever went wrong reading here (a reply not as expected, a lost connection), verifyChain reads it again.
  } finally {
    await chunks.return(undefined);
    await pool.close();
  }
  if (!result) return sequential("fallback");
  report?.("parallel");
  return result;
}

/** `lines` as they are, telling `onProgress` every PROGRESS_EVERY lines and at the end. */
async function* counted(
  lines: AsyncIterable<string>,
  total: number | null,
  onProgress: NonNullable<VerifyOptions["onProgress"]>,
): AsyncGenerator<string> {
  let done = 0;
  for await (const line of lines) {
    yield line;
    if (++done % PROGRESS_EVERY === 0) onProgress({ done, total });
  }
  onProgress({ done, total });
}

/** The seq of the stored head entry, or null when it cannot be read (verifyChain then says why). */
async function headSeq(source: AuditSource): Promise<number | null> {
  try {
    if (source.kind === "file") return readFileHead(source.file)?.seq ?? null;
    const rows = await source.redis.xrevrange(source.keys.auditLog, "+", "-", "COUNT", 1);
    const f = rows[0]?.[1];
    const seq = f ? (JSON.parse(f[f.indexOf("e") + 1] ?? "{}") as { seq?: unknown }).seq : null;
    return typeof seq === "number" && Number.isSafeInteger(seq) ? seq : null;
  } catch {
    return null;
  }
}

/** Runs chunks through the workers and ties them together; null as soon as anything is not accepted. */
class Pool {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<number, (r: ChunkResult) => void>();

  constructor(n: number, workerData: Record<string, unknown>) {
    for (let i = 0; i < n; i++) {
      const worker = new Worker(WORKER, { eval: true, workerData });
      worker.on("message", (r: ChunkResult & { id: number }) => this.settle(r.id, r));
      // A worker that dies fails every chunk it held: the chain then goes to verifyChain.
      worker.on("error", () => {
        for (const id of [...this.waiting.keys()]) this.settle(id, { ok: false } as ChunkResult);
      });
      this.workers.push(worker);
    }
  }

  async run(
    chunks: AsyncIterable<Chunk>,
    head: number,
    onProgress?: VerifyOptions["onProgress"],
  ): Promise<VerifyResult | null> {
    const inFlight: Promise<ChunkResult>[] = [];
    let id = 0;
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let count = 0;
    const take = async (): Promise<boolean> => {
      const r = await inFlight.shift()!;
      if (!r.ok) return false;
      if (r.count === 0) return true;
      if (r.firstSeq !== expectedSeq || r.firstPrev !== prevHash) return false;
      expectedSeq = r.lastSeq + 1;
      prevHash = r.lastHash;
      count += r.count;
      onProgress?.({ done: count, total: head });
      return true;
    };
    for await (const chunk of chunks) {
      inFlight.push(this.submit(id++, chunk));
      if (inFlight.length >= 2 * this.workers.length && !(await take())) return null;
    }
    while (inFlight.length > 0) if (!(await take())) return null;
    // Fewer entries than the head read at the start: the tail signatures checked were not the last ones.
    if (expectedSeq - 1 < head) return null;
    return { ok: true, entries: count, firstBad: null, reason: null };
  }

  private submit(id: number, chunk: Chunk): Promise<ChunkResult> {
    const worker = this.workers[id % this.workers.length]!;
    const done = new Promise<ChunkResult>((resolve) => this.waiting.set(id, resolve));
    const buf = chunk.buf.buffer as ArrayBuffer;
    const transfer: ArrayBuffer[] = [buf];
    if (chunk.spans) transfer.push(chunk.spans.buffer as ArrayBuffer);
    worker.postMessage({ id, buf, length: chunk.buf.length, spans: chunk.spans }, transfer);
    return done;
  }

  private settle(id: number, r: ChunkResult): void {
    const resolve = this.waiting.get(id);
    this.waiting.delete(id);
    resolve?.(r);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** The file in blocks of whole lines, each in a buffer of its own (transferred to a worker, not copied). */
async function* fileChunks(file: string): AsyncGenerator<Chunk> {
  const fd = openSync(file, "r");
  try {
    let carry = Buffer.alloc(0);
    for (;;) {
      const buf = Buffer.allocUnsafeSlow(carry.length + FILE_CHUNK);
      carry.copy(buf, 0);
      const n = readSync(fd, buf, carry.length, FILE_CHUNK, null);
      const filled = carry.length + n;
      if (n === 0) {
        if (filled > 0) yield { buf: buf.subarray(0, filled), spans: null };
        return;
      }
      const last = buf.lastIndexOf(10, filled - 1);
      carry = last < 0 ? Buffer.from(buf.subarray(0, filled)) : Buffer.from(buf.subarray(last + 1, filled));
      if (last >= 0) yield { buf: buf.subarray(0, last + 1), spans: null };
    }
  } finally {
    closeSync(fd);
  }
}
