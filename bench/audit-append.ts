// audit-append (report only, run when named): 4 AuditLog writers (own ioredis connection and mirror file each, one Redis prefix → one chain)
// append 20,000 entries in total. Baseline: raw Ed25519 signing of as many 32-byte hashes in the same process.
import { randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { verifyChain } from "../src/audit/chain.js";
import { loadAuditKey } from "../src/audit/keyfile.js";
import { AuditLog, readEntries } from "../src/audit/log.js";
import { createKeys } from "../src/state/keys.js";
import { createRedis, type Redis } from "../src/state/redis.js";
import { silentLog } from "../test/support/log.js";
import { type Benchmark, fmtInt, fmtMs, fmtRate, fmtRatio, type Row, ratioOf, say, tempDir, withRedis } from "./lib.js";

const WRITERS = 4;
const TOTAL = 20_000;

type AppendScript = { tgAuditAppend(...args: string[]): Promise<[number, string?, string?]> };

interface ScriptStats {
  calls: number;
  conflicts: number;
  /** Entries sent to the append script (each one was hashed and signed). */
  entriesSent: number;
  scriptMs: number;
}

/** Counts calls, head conflicts and signed entries of the append script on one connection (observation only). */
function instrument(redis: Redis, stats: ScriptStats): void {
  const r = redis as unknown as AppendScript;
  const original = r.tgAuditAppend.bind(r);
  r.tgAuditAppend = async (...args: string[]) => {
    stats.calls++;
    stats.entriesSent += args.length - 3;
    const t0 = performance.now();
    const res = await original(...args);
    stats.scriptMs += performance.now() - t0;
    if (res[0] !== 1) stats.conflicts++;
    return res;
  };
}

export const auditAppend: Benchmark = {
  id: "",
  name: "audit-append",
  description: `${WRITERS} concurrent AuditLog writers, ${fmtInt(TOTAL)} entries, one chain`,
  run: () =>
    withRedis(async (srv) => {
      const tmp = tempDir("append");
      const clients: Redis[] = [];
      try {
        const signer = loadAuditKey(join(tmp.dir, "audit-key.pem"), { create: true });
        const keys = createKeys("bench:append:");

        // Baseline: raw signing of TOTAL 32-byte hashes (after a short warm-up).
        const hashes = Array.from({ length: TOTAL }, () => randomBytes(32));
        for (let i = 0; i < 500; i++) sign(null, hashes[i]!, signer.privateKey);
        const s0 = performance.now();
        for (const h of hashes) sign(null, h, signer.privateKey);
        const signMs = performance.now() - s0;
        const signRate = TOTAL / (signMs / 1000);
        say(
          `baseline: Ed25519 sign of ${fmtInt(TOTAL)} 32-byte hashes: ${fmtMs(signMs)} → ${fmtRate(signRate, "signs")}`,
        );

        const stats: ScriptStats = { calls: 0, conflicts: 0, entriesSent: 0, scriptMs: 0 };
        const writers: AuditLog[] = [];
        const files: string[] = [];
        for (let w = 0; w < WRITERS; w++) {
          const redis = createRedis(srv.url, { name: `bench-writer-${w}` });
          await redis.ping();
          clients.push(redis);
          const file = join(tmp.dir, `writer-${w}`, "audit.jsonl");
          files.push(file);
          writers.push(new AuditLog({ redis, keys, signer, file, log: silentLog }));
          instrument(redis, stats);
        }

        // Every writer gets TOTAL / WRITERS appends, submitted round-robin without waiting (callers in 4 processes
        // appending as fast as they can); each AuditLog batches what queues up while a commit is in flight.
        const t0 = performance.now();
        const pending: Promise<unknown>[] = [];
        for (let i = 0; i < TOTAL / WRITERS; i++) {
          for (let w = 0; w < WRITERS; w++) {
            pending.push(
              writers[w]!.append({ actor: `bench:writer-${w}`, action: "bench.append", details: { writer: w, i } }),
            );
          }
        }
        await Promise.all(pending);
        const appendMs = performance.now() - t0;
        const appendRate = TOTAL / (appendMs / 1000);

        say(
          `measured: ${fmtInt(TOTAL)} appends by ${WRITERS} writers in ${fmtMs(appendMs)} → ${fmtRate(appendRate, "entries")}`,
        );
        say(
          `append script: ${fmtInt(stats.calls)} calls, ${fmtInt(stats.conflicts)} head conflicts (rebuild + re-sign), ` +
            `${fmtInt(stats.entriesSent)} entries signed for ${fmtInt(TOTAL)} committed (${(stats.entriesSent / TOTAL).toFixed(2)}× signing work)`,
        );
        const signingShare = (stats.entriesSent / signRate) * 1000;
        say(
          `  ≈ ${fmtMs(signingShare)} of the ${fmtMs(appendMs)} is signing alone (${((100 * signingShare) / appendMs).toFixed(0)}%, one JS thread)`,
        );
        say(`ratio append/sign: ${fmtRatio(appendRate / signRate)}`);

        // The chain in Redis must be one valid chain of TOTAL entries.
        const v0 = performance.now();
        const check = await verifyChain(readEntries({ kind: "redis", redis: clients[0]!, keys }), signer.publicKey);
        const verifyMs = performance.now() - v0;
        const chainOk = check.ok && check.entries === TOTAL;
        say(
          `verify (Redis, default mode): ${check.ok ? "ok" : `FAILED at seq ${check.firstBad}: ${check.reason}`}, ${fmtInt(check.entries)} entries in ${fmtMs(verifyMs)}`,
        );
        for (const [w, file] of files.entries()) {
          const lines = readFileSync(file, "utf8")
            .split("\n")
            .filter((l) => l !== "");
          const fileCheck = await verifyChain(lines, signer.publicKey);
          say(
            `mirror file of writer ${w}: ${fileCheck.ok ? "ok" : `FAILED: ${fileCheck.reason}`}, ${fmtInt(fileCheck.entries)} entries ` +
              "(a mirror is filled up to its own writer's last commit)",
          );
        }

        const rows: Row[] = [
          {
            id: "",
            bench: "audit-append",
            metric: `append rate, ${WRITERS} writers, ${fmtInt(TOTAL)} entries`,
            measured: fmtRate(appendRate, "entries"),
            baseline: fmtRate(signRate, "signs"),
            ratio: ratioOf(appendRate / signRate, 1),
            target: "- (report only)",
            verdict: "INFO",
          },
          {
            id: "",
            bench: "audit-append",
            metric: "chain verified after the run (Redis)",
            measured: chainOk ? `ok, ${fmtInt(check.entries)} entries` : `FAILED: ${check.reason}`,
            baseline: "-",
            ratio: null,
            target: "- (report only)",
            verdict: "INFO",
          },
        ];
        return rows;
      } finally {
        for (const c of clients) c.disconnect();
        tmp.remove();
      }
    }),
};
