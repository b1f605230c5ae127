// The audit log: one hash chain in the Redis stream `audit:log` (field `e`, stream id `<seq>-0`), mirrored to the
// JSONL file AUDIT_FILE. Appends from any number of processes form one chain: the commit is a Lua script that
// checks the chain head it was built on, so a writer that lost a race rebuilds on the new head and retries.
import {
  appendFileSync,
  closeSync,
  createReadStream,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  statSync,
} from "node:fs";
import { dirname } from "node:path";
import { createInterface } from "node:readline";
import type { Redis } from "ioredis";
import type { Logger } from "../log.js";
import type { Keys } from "../state/keys.js";
import { connectionLost, isConnectionError } from "../state/redis.js";
import { type AuditEntry, buildEntry, type ChainHead, EMPTY_HEAD, serializeEntry, verifySignature } from "./chain.js";
import type { AuditKeys } from "./keyfile.js";

// KEYS[1] = stream. ARGV[1] = seq of the head the batch was built on, ARGV[2] = its hash, ARGV[3..] = entries.
// Returns {1} when appended, {0, headSeq, headHash} when the head moved (the caller rebuilds and retries).
const APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq, hash = 0, '${"0".repeat(64)}'
if #last > 0 then
  local f = last[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'e' then
      local e = cjson.decode(f[i + 1])
      seq, hash = e.seq, e.hash
    end
  end
end
if tostring(seq) ~= ARGV[1] or hash ~= ARGV[2] then return {0, tostring(seq), hash} end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], tostring(seq + i - 2) .. '-0', 'e', ARGV[i])
end
return {1}
`;

interface Pending {
  actor: string;
  action: string;
  details: Record<string, unknown>;
  ts: string;
  resolve: (e: AuditEntry) => void;
  reject: (err: unknown) => void;
}

const fileLocks = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier mirror write to the same file in this process. */
function withFileLock<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
  const prev = fileLocks.get(file) ?? Promise.resolve();
  const run = prev.then(fn);
  fileLocks.set(
    file,
    run.then(
      () => {},
      () => {},
    ),
  );
  return run;
}

/** Reads the last complete entry of a JSONL audit file (null when empty or absent). */
export function readFileHead(file: string): ChainHead | null {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return null;
  }
  try {
    const size = fstatSync(fd).size;
    let window = 64 * 1024;
    while (true) {
      const start = Math.max(0, size - window);
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      const lines = buf
        .toString("utf8")
        .split("\n")
        .filter((l) => l.trim() !== "");
      // The first line of a partial window may be cut; only trust it when the window reaches the file start.
      const usable = start === 0 ? lines : lines.slice(1);
      const lastLine = usable[usable.length - 1];
      if (lastLine) {
        const e = JSON.parse(lastLine) as AuditEntry;
        return { seq: e.seq, hash: e.hash };
      }
      if (start === 0) return null;
      window *= 4;
    }
  } finally {
    closeSync(fd);
  }
}

export type AuditSource = { kind: "redis"; redis: Redis; keys: Keys } | { kind: "file"; file: string };

/** Streams the stored entries (raw canonical JSON strings) in chain order. */
export async function* readEntries(
  source: AuditSource,
  opts: { fromSeq?: number; pageSize?: number } = {},
): AsyncGenerator<string> {
  if (source.kind === "file") {
    const rl = createInterface({
      input: createReadStream(source.file, { encoding: "utf8" }),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    for await (const line of rl) yield line;
    return;
  }
  const page = opts.pageSize ?? 5_000;
  const fetch = (from: string) => source.redis.xrange(source.keys.auditLog, from, "+", "COUNT", page);
  let next: Promise<[string, string[]][]> | null = fetch(opts.fromSeq && opts.fromSeq > 1 ? `${opts.fromSeq}-0` : "-");
  while (next) {
    const rows: [string, string[]][] = await next;
    // The next page is on its way while the caller works through this one.
    next = rows.length < page ? null : fetch(`(${rows[rows.length - 1]![0]}`);
    for (const [, fields] of rows) {
      const i = fields.indexOf("e");
      yield i >= 0 ? (fields[i + 1] ?? "") : "";
    }
  }
}

/** Reads the last `n` entries. */
export async function tailEntries(source: AuditSource, n: number): Promise<string[]> {
  if (source.kind === "redis") {
    const rows = await source.redis.xrevrange(source.keys.auditLog, "+", "-", "COUNT", n);
    return rows.reverse().map(([, f]) => f[f.indexOf("e") + 1] ?? "");
  }
  const out: string[] = [];
  for await (const line of readEntries(source)) {
    if (line.trim() === "") continue;
    out.push(line);
    if (out.length > n) out.shift();
  }
  return out;
}

/** What callers append: who did what, with the details that prove it. */
export interface AuditInput {
  actor: string;
  action: string;
  details?: Record<string, unknown>;
}

/**
 * Appends signed entries. Calls made while a commit is in flight are batched into the next commit (one Lua call,
 * one signature each), which keeps the order of calls within a process and the throughput high.
 * Without Redis (`redis: null`, or Redis unreachable), entries are chained onto the audit file alone.
 */
export class AuditLog {
  private head: ChainHead | null = null;
  private queue: Pending[] = [];
  private flushing = false;
  /** Size and head of the audit file after this process's last write (skips re-reading an untouched file). */
  private fileState: { size: number; head: ChainHead } | null = null;
  private headChecked = false;
  /** Entries are going to the file only because Redis is unreachable. */
  private offline = false;
  private readonly redis: Redis | null;

  constructor(
    private readonly deps: { redis: Redis | null; keys: Keys; signer: AuditKeys; file: string; log: Logger },
  ) {
    this.redis = deps.redis;
    if (this.redis) this.redis.defineCommand("tgAuditAppend", { numberOfKeys: 1, lua: APPEND });
    mkdirSync(dirname(deps.file), { recursive: true, mode: 0o700 });
  }

  /** Resolves once every entry appended so far is committed (or failed), or after `timeoutMs`; false on timeout. */
  async drained(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.flushing || this.queue.length > 0) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  /** Appends one entry and resolves with it once it is committed (Redis) and mirrored (file). */
  append(input: AuditInput): Promise<AuditEntry> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        actor: input.actor,
        action: input.action,
        details: input.details ?? {},
        ts: new Date().toISOString(),
        resolve,
        reject,
      });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 256);
        try {
          const entries = !this.redis
            ? await this.commitFileOnly(batch)
            : connectionLost(this.redis)
              ? await this.toFile(new Error(`Connection is closed (${this.redis.status})`), batch)
              : await this.commitRedis(batch).catch((err) => this.toFile(err, batch));
          for (const [i, p] of batch.entries()) p.resolve(entries[i]!);
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Redis did not take the batch — unreachable, or refusing (READONLY during a failover, LOADING, OOM, BUSY…): the
   * entries are chained onto the local file instead, never dropped. Said once per outage, not once per entry.
   */
  private async toFile(err: unknown, batch: Pending[]): Promise<AuditEntry[]> {
    if (!this.offline)
      this.deps.log.error(
        { err },
        isConnectionError(err)
          ? "audit: Redis unreachable, chaining entries onto the local audit file only"
          : "audit: Redis refused the append, chaining entries onto the local audit file only",
      );
    this.offline = true;
    this.head = null;
    this.fileState = null;
    return this.commitFileOnly(batch);
  }

  private build(head: ChainHead, batch: Pending[]): AuditEntry[] {
    const out: AuditEntry[] = [];
    let h = head;
    for (const p of batch) {
      const e = buildEntry(h, p, this.deps.signer.privateKey);
      out.push(e);
      h = { seq: e.seq, hash: e.hash };
    }
    return out;
  }

  private async commitRedis(batch: Pending[]): Promise<AuditEntry[]> {
    const redis = this.redis as Redis & { tgAuditAppend(...a: string[]): Promise<[number, string?, string?]> };
    let head = this.head ?? (await this.readRedisHead());
    for (let attempt = 0; ; attempt++) {
      const entries = this.build(head, batch);
      const res = await redis.tgAuditAppend(
        this.deps.keys.auditLog,
        String(head.seq),
        head.hash,
        ...entries.map(serializeEntry),
      );
      if (res[0] === 1) {
        if (this.offline) this.deps.log.warn("audit: Redis reachable again; entries go to the Redis chain");
        this.offline = false;
        const last = entries[entries.length - 1]!;
        this.head = { seq: last.seq, hash: last.hash };
        await this.mirror(entries);
        return entries;
      }
      head = { seq: Number(res[1]), hash: String(res[2]) };
      if (attempt > 1000) throw new Error("audit: could not append after 1000 attempts (chain head keeps moving)");
    }
  }

  private async readRedisHead(): Promise<ChainHead> {
    const rows = await this.redis!.xrevrange(this.deps.keys.auditLog, "+", "-", "COUNT", 1);
    const f = rows[0]?.[1];
    if (!f) return EMPTY_HEAD;
    const e = JSON.parse(f[f.indexOf("e") + 1] ?? "{}") as AuditEntry;
    if (!this.headChecked) {
      this.headChecked = true;
      if (!verifySignature(e.hash, e.sig, this.deps.signer.publicKey)) {
        // Two writers with two keys make a chain no single public key verifies: say so where it starts.
        this.deps.log.error(
          { seq: e.seq },
          "audit: the chain head was signed by another key than AUDIT_KEY_FILE; every writer (bot replicas, CLI) must use the same key",
        );
      }
    }
    return { seq: e.seq, hash: e.hash };
  }

  private commitFileOnly(batch: Pending[]): Promise<AuditEntry[]> {
    return withFileLock(this.deps.file, () => {
      const head = readFileHead(this.deps.file) ?? EMPTY_HEAD;
      const entries = this.build(head, batch);
      appendFileSync(this.deps.file, entries.map((e) => `${serializeEntry(e)}\n`).join(""), { mode: 0o600 });
      return entries;
    });
  }

  /**
   * Appends committed entries to the file, filling any gap (entries other processes committed) from Redis. When
   * the file is not a prefix of the Redis chain (it holds entries chained offline while Redis was down), the file is
   * set aside as `<file>.fork-<ms>.jsonl`, a new file is rebuilt from Redis, and an `audit.file_forked` entry anchors
   * the set-aside file's head hash in the signed chain.
   */
  private mirror(entries: AuditEntry[]): Promise<void> {
    const file = this.deps.file;
    return withFileLock(file, async () => {
      try {
        let head = this.trustedFileHead();
        if (!head) {
          head = readFileHead(file) ?? EMPTY_HEAD;
          if (head.seq > 0 && !(await this.onRedisChain(head, entries))) head = this.setAsideFork(head);
        }
        const first = entries[0]!;
        if (first.seq > head.seq + 1 && this.redis) {
          let page: string[] = [];
          for await (const raw of readEntries(
            { kind: "redis", redis: this.redis, keys: this.deps.keys },
            { fromSeq: head.seq + 1 },
          )) {
            if ((JSON.parse(raw) as AuditEntry).seq >= first.seq) break;
            page.push(raw);
            if (page.length >= 5_000) {
              appendFileSync(file, `${page.join("\n")}\n`, { mode: 0o600 });
              page = [];
            }
          }
          if (page.length) appendFileSync(file, `${page.join("\n")}\n`, { mode: 0o600 });
        }
        const fresh = entries.filter((e) => e.seq > head.seq);
        if (fresh.length) appendFileSync(file, `${fresh.map(serializeEntry).join("\n")}\n`, { mode: 0o600 });
        const last = entries[entries.length - 1]!;
        this.fileState = {
          size: fileSize(file),
          head: last.seq > head.seq ? { seq: last.seq, hash: last.hash } : head,
        };
      } catch (err) {
        this.fileState = null;
        // The chain in Redis is the record; a failed mirror is logged loudly but does not fail the operation.
        this.deps.log.error({ err, file }, "audit: could not mirror entries to the audit file");
      }
    });
  }

  /** The file head this process wrote last, if nobody has touched the file since. */
  private trustedFileHead(): ChainHead | null {
    if (!this.fileState) return null;
    return fileSize(this.deps.file) === this.fileState.size ? this.fileState.head : null;
  }

  /** True when the file's head entry is the entry with that seq in the Redis chain. */
  private async onRedisChain(head: ChainHead, entries: AuditEntry[]): Promise<boolean> {
    const inBatch = entries.find((e) => e.seq === head.seq);
    if (inBatch) return inBatch.hash === head.hash;
    if (!this.redis) return true;
    const rows = await this.redis.xrange(this.deps.keys.auditLog, `${head.seq}-0`, `${head.seq}-0`);
    const f = rows[0]?.[1];
    if (!f) return false;
    return (JSON.parse(f[f.indexOf("e") + 1] ?? "{}") as AuditEntry).hash === head.hash;
  }

  private setAsideFork(head: ChainHead): ChainHead {
    const file = this.deps.file;
    const forkFile = `${file}.fork-${Date.now()}.jsonl`;
    renameSync(file, forkFile);
    this.deps.log.error(
      { file, forkFile },
      "audit: the audit file holds entries that are not in the Redis chain (written while Redis was down); set aside and rebuilt from Redis",
    );
    // Appended after this mirror releases the file lock.
    setImmediate(() => {
      this.append({
        actor: "tradeguard",
        action: "audit.file_forked",
        details: { fork_file: forkFile, fork_head_seq: head.seq, fork_head_hash: head.hash },
      }).catch((err) => this.deps.log.error({ err }, "audit: could not record the set-aside audit file"));
    });
    return EMPTY_HEAD;
  }
}

function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return -1;
  }
}
