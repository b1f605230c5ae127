// The parallel `audit verify` (src/audit/verify-parallel.ts) must give exactly verifyChain's answer over
// readEntries, for intact chains (reached in parallel) and for every kind of damage (reached by falling back), from
// the JSONL file and from the Redis stream.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuditEntry,
  buildEntry,
  EMPTY_HEAD,
  GENESIS_HASH,
  hashBody,
  serializeEntry,
  verifyChain,
} from "../../src/audit/chain.js";
import { type AuditSource, readEntries } from "../../src/audit/log.js";
import { verifySource } from "../../src/audit/verify-parallel.js";
import { redisChunks } from "../../src/audit/verify-redis.js";
import { testRedis } from "../support/redis.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
// Small checkpoint and tail settings, so a few thousand entries have checkpoints, a tail and entries in neither.
const OPTS = { checkpointEvery: 50, tailSignatures: 120 };
const N = 3_000;

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let head = EMPTY_HEAD;
  for (let i = 0; i < n; i++) {
    const e = buildEntry(
      head,
      {
        ts: new Date(Date.UTC(2026, 10, 25, 10) + i * 1000).toISOString(),
        actor: "U1",
        action: i % 2 ? "mode.set" : "panic.confirmed",
        // Padding makes the file span several 1 MB chunks.
        details: { i, pad: "é".repeat(200), nested: { b: 1, a: [1, "x"] } },
      },
      privateKey,
    );
    out.push(e);
    head = { seq: e.seq, hash: e.hash };
  }
  return out;
}

/** Rebuilds hashes from index `from` on, keeping the old signatures (or re-signing with `key`). */
function relink(es: AuditEntry[], from: number, key?: typeof privateKey): AuditEntry[] {
  const out = es.map((e) => ({ ...e }));
  for (let i = from; i < out.length; i++) {
    const e = out[i]!;
    e.seq = i + 1;
    e.prev = i === 0 ? GENESIS_HASH : out[i - 1]!.hash;
    e.hash = hashBody(e);
    if (key) e.sig = buildEntry({ seq: e.seq - 1, hash: e.prev }, e, key).sig;
  }
  return out;
}

const entries = chain(N);
const stored = entries.map(serializeEntry);
const dir = mkdtempSync(join(tmpdir(), "tg-verify-"));
let fileNo = 0;

/** verifySource forced onto the parallel path, and how it got its answer. */
async function parallel(src: AuditSource, opts: Record<string, unknown> = OPTS) {
  let how = "";
  const result = await verifySource(src, publicKey, { ...opts, workers: 2, minEntries: 0, report: (h) => (how = h) });
  return { result, how };
}

async function fileCase(content: string | Buffer, opts: Record<string, unknown> = OPTS) {
  const file = join(dir, `audit-${fileNo++}.jsonl`);
  writeFileSync(file, content);
  const src: AuditSource = { kind: "file", file };
  const expected = await verifyChain(readEntries(src), publicKey, opts);
  return { ...(await parallel(src, opts)), expected };
}

const joined = (ls: (string | Buffer)[]) =>
  Buffer.concat(ls.flatMap((l) => [typeof l === "string" ? Buffer.from(l) : l, Buffer.from("\n")]));

describe("verifySource from the JSONL file", () => {
  it("verifies an intact chain in parallel, with verifyChain's result", async () => {
    for (const opts of [OPTS, {}, { full: true }]) {
      const r = await fileCase(joined(stored), opts);
      expect(r.how).toBe("parallel");
      expect(r.result).toEqual(r.expected);
      expect(r.result).toEqual({ ok: true, entries: N, firstBad: null, reason: null });
    }
  });

  it("gives verifyChain's answer for every kind of damage", async () => {
    const edit = (i: number, f: (e: AuditEntry) => AuditEntry) =>
      stored.map((l, k) => (k === i ? serializeEntry(f({ ...entries[k]! })) : l));
    const cases: Record<string, (string | Buffer)[]> = {
      modified: edit(700, (e) => ({ ...e, details: { ...e.details, i: -1 } })),
      deleted: stored.filter((_, k) => k !== 1_200),
      swapped: stored.map((l, k) => (k === 900 ? stored[901]! : k === 901 ? stored[900]! : l)),
      "modified and relinked, old signatures": relink(
        entries.map((e, k) => (k === 1_500 ? { ...e, actor: "U2" } : e)),
        1_500,
      ).map(serializeEntry),
      "tail re-signed with another key": relink(entries, 2_950, other.privateKey).map(serializeEntry),
      "checkpoint re-signed": relink(entries, 1_049, other.privateKey).map(serializeEntry),
      "valid but not canonical": stored.map((l, k) => (k === 10 ? JSON.stringify(entries[k]) : l)),
      "blank and whitespace lines": stored.flatMap((l, k) => (k === 5 ? [l, "", "   "] : [l])),
      "not JSON": stored.map((l, k) => (k === 2_000 ? `${l}}` : l)),
      "invalid UTF-8": stored.map((l, k) =>
        k === 300 ? Buffer.concat([Buffer.from(l.slice(0, 40)), Buffer.from([0xff]), Buffer.from(l.slice(41))]) : l,
      ),
      "raw CR in ts": stored.map((l, k) => (k === 400 ? l.replace(/"ts":"2026/, '"ts":"\r2026') : l)),
      "escaped line separator in ts": stored.map((l, k) =>
        k === 401 ? l.replace(/"ts":"2026/, '"ts":"\\\u20282026') : l,
      ),
      "seq past the head": stored.map((l, k) => (k === N - 1 ? l.replace(/"seq":\d+/, '"seq":99999') : l)),
    };
    for (const [name, ls] of Object.entries(cases)) {
      const r = await fileCase(joined(ls));
      expect({ name, ...r.result }).toEqual({ name, ...r.expected });
      expect({ name, how: r.how }).toEqual({ name, how: "fallback" });
    }
  });

  it("reads CRLF line ends and a BOM as the line reader does", async () => {
    for (const content of [stored.join("\r\n"), `\uFEFF${stored.join("\n")}\n`, stored.join("\n")]) {
      const r = await fileCase(content);
      expect(r.result).toEqual(r.expected);
    }
  });

  it("agrees with verifyChain on any single flipped byte (property)", async () => {
    const base = joined(stored);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: base.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, x) => {
          const damaged = Buffer.from(base);
          damaged[at] = damaged[at]! ^ x;
          const r = await fileCase(damaged);
          expect(r.result).toEqual(r.expected);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("verifySource from the Redis stream", () => {
  const t = testRedis();
  beforeAll(async () => {
    const p = t.redis.pipeline();
    for (const [i, l] of stored.entries()) p.xadd(t.keys.auditLog, `${i + 1}-0`, "e", l);
    await p.exec();
  });
  afterAll(() => t.cleanup());
  const src = (): AuditSource => ({ kind: "redis", redis: t.redis, keys: t.keys });

  it("verifies an intact chain in parallel, over pages and chunks, with verifyChain's result", async () => {
    const expected = await verifyChain(readEntries(src()), publicKey, OPTS);
    const r = await parallel(src());
    expect(r.how).toBe("parallel");
    expect(r.result).toEqual(expected);
    expect(r.result.ok).toBe(true);
  });

  it("reads the stream of the client's database (SELECT), not database 0", async () => {
    const other = new Redis(`${t.url}/3`, { maxRetriesPerRequest: 1 });
    try {
      await other.del(t.keys.auditLog);
      const p = other.pipeline();
      for (const [i, l] of stored.slice(0, 2_000).entries()) p.xadd(t.keys.auditLog, `${i + 1}-0`, "e", l);
      await p.exec();
      const r = await parallel({ kind: "redis", redis: other, keys: t.keys });
      expect(r.how).toBe("parallel");
      expect(r.result).toEqual({ ok: true, entries: 2_000, firstBad: null, reason: null });
    } finally {
      await other.del(t.keys.auditLog);
      other.disconnect();
    }
  });

  it("gives verifyChain's answer when an entry is damaged, missing its field, or has the field elsewhere", async () => {
    const damage: [string, () => Promise<unknown>][] = [
      ["modified", () => t.redis.xadd(t.keys.auditLog, "4000-0", "e", stored[5]!)],
      ["no e field", () => t.redis.xadd(t.keys.auditLog, "4001-0", "x", "y")],
      ["e as a value", () => t.redis.xadd(t.keys.auditLog, "4002-0", "x", "e", "e", stored[6]!)],
    ];
    for (const [name, apply] of damage) {
      await apply();
      const expected = await verifyChain(readEntries(src()), publicKey, OPTS);
      const r = await parallel(src());
      expect({ name, ...r.result }).toEqual({ name, ...expected });
      expect(r.result.ok).toBe(false);
    }
  });
});

describe("redisChunks", () => {
  const t = testRedis();
  afterAll(() => t.cleanup());

  it("reads the same entries over its own connection as through the client, across pages", async () => {
    const p = t.redis.pipeline();
    for (let i = 0; i < 12_345; i++) {
      if (i % 1_000 === 7) p.xadd(t.keys.auditLog, `${i + 1}-0`, "x", "no e here");
      else if (i % 1_000 === 8) p.xadd(t.keys.auditLog, `${i + 1}-0`, "x", "e", "e", `value ${i} \r\n with "bytes" é`);
      else p.xadd(t.keys.auditLog, `${i + 1}-0`, "e", `entry ${i}`, "other", "field");
    }
    await p.exec();
    const read = async (raw: boolean) => {
      let reader = "";
      const out: string[] = [];
      for await (const c of redisChunks(t.redis, t.keys.auditLog, { raw, onReader: (r) => (reader = r) }))
        for (let k = 0; k < c.spans!.length; k += 2) out.push(c.buf.toString("utf8", c.spans![k], c.spans![k + 1]));
      return { reader, out };
    };
    const expected: string[] = [];
    for await (const e of readEntries({ kind: "redis", redis: t.redis, keys: t.keys })) expected.push(e);
    const viaRaw = await read(true);
    const viaClient = await read(false);
    expect(viaRaw.reader).toBe("raw");
    expect(viaClient.reader).toBe("client");
    expect(viaRaw.out).toEqual(expected);
    expect(viaClient.out).toEqual(expected);
    expect(expected).toHaveLength(12_345);
  });
});
