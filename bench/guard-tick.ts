// P5 guard-tick: one runner tick (GuardRunner.runOnce: claim, one pipelined read, validation, evaluate, effects,
// alerts, state) of 20 guards that all declare the same 5,000-symbol price hash ("last|ref" per symbol) and the hash
// of symbols under a short-sale restriction (symbol → since, as `ssr:active` is kept) — each guard writing its
// schemas out itself, as guard files do — and evaluate every symbol. Baseline, interleaved tick by tick: the bare
// pipelined read of the same distinct keys (two HGETALLs) on the same client. Target ≤ 3× the bare read. The guards
// evaluate the way a per-symbol guard does (src/jobs/luld-ssr.ts): over the symbols configured for them, looked up
// in the validated hashes, with no object, array, string or set entry made per symbol.
import { generateKeyPairSync } from "node:crypto";
import { z } from "zod";
import { AuditLog } from "../src/audit/log.js";
import { loadConfig } from "../src/config.js";
import { AlertPipeline, PacedQueue } from "../src/jobs/alerts.js";
import { defineGuard, type Guard } from "../src/jobs/guard.js";
import { GuardRunner } from "../src/jobs/runner.js";
import { createMetrics } from "../src/metrics.js";
import { createKeys } from "../src/state/keys.js";
import { createRedis } from "../src/state/redis.js";
import { silentLog } from "../test/support/log.js";
import {
  type Benchmark,
  fmtMs,
  fmtRatio,
  median,
  type Row,
  ratioOf,
  say,
  targetRow,
  tempDir,
  withRedis,
} from "./lib.js";

const GUARDS = 20;
const SYMBOLS = 5_000;
const TICKS = 40;
const WARMUP = 5;
const TARGET_RATIO = 3;
const SYMBOL_NAMES = Array.from({ length: SYMBOLS }, (_, s) => `S${s}`);

function makeGuard(i: number) {
  const name = `bench_${i}`;
  return defineGuard({
    name,
    schedule: "0 0 1 1 *",
    config: z.object({
      band: z.number().default(0.05 + i / 1000),
      symbols: z.array(z.string()).default(SYMBOL_NAMES),
    }),
    reads: () => ({
      prices: { key: "bench:prices", type: "hash" as const, schema: z.record(z.string(), z.string()) },
      ssr: { key: "bench:ssr", type: "hash" as const, schema: z.record(z.string(), z.string()) },
    }),
    evaluate(s, _now, c) {
      const prices = s.values.prices as Record<string, string>;
      const ssr = s.values.ssr as Record<string, string>;
      let outside = 0;
      for (const sym of c.symbols) {
        const p = prices[sym];
        if (p === undefined) continue;
        // "last|ref": two non-negative decimals, read in one pass over the characters.
        let last = 0;
        let v = 0;
        let div = 1;
        let frac = false;
        for (let i = 0; i < p.length; i++) {
          const ch = p.charCodeAt(i);
          if (ch === 124) {
            last = v / div;
            v = 0;
            div = 1;
            frac = false;
          } else if (ch === 46) frac = true;
          else {
            v = v * 10 + ch - 48;
            if (frac) div *= 10;
          }
        }
        const ref = v / div;
        if (Math.abs(last - ref) > c.band * ref && ssr[sym] === undefined) outside++;
      }
      if (outside === 0) return [];
      const title = `${outside} symbols outside band`;
      return [{ guard: name, key: "outside", severity: "warn" as const, title, detail: "", sop: "sop-luld" }];
    },
  });
}

export const guardTick: Benchmark = {
  id: "P5",
  name: "guard-tick",
  description: `one tick of ${GUARDS} guards × ${SYMBOLS} symbols, all due, vs a bare pipelined read of the same keys`,
  async run(): Promise<Row[]> {
    return withRedis(async (srv) => {
      const tmp = tempDir("guard-tick");
      const redis = createRedis(srv.url, { name: "bench-guard-tick" });
      try {
        // biome-ignore lint/suspicious/noExplicitAny: mixed guard list
        const guards: Guard<any, any, any>[] = Array.from({ length: GUARDS }, (_, i) => makeGuard(i));
        const config = loadConfig({ TRADEGUARD_HOME: tmp.dir, REDIS_URL: srv.url, REDIS_PREFIX: "gt:" }, guards);
        const keys = createKeys("gt:");
        const fields: Record<string, string> = {};
        for (let s = 0; s < SYMBOLS; s++) fields[`S${s}`] = `${100 + (s % 17)}|100`;
        await redis.hset(keys.raw("bench:prices"), fields);
        const ssr = SYMBOL_NAMES.filter((_, s) => s % 3 === 0).map((sym) => [sym, "2026-11-25T14:30:00Z"]);
        await redis.hset(keys.raw("bench:ssr"), Object.fromEntries(ssr));
        const { privateKey, publicKey } = generateKeyPairSync("ed25519");
        const audit = new AuditLog({
          redis,
          keys,
          signer: { privateKey, publicKey, publicPem: "" },
          file: `${tmp.dir}/audit.jsonl`,
          log: silentLog,
        });
        const alerts = new AlertPipeline({
          redis,
          keys,
          queue: new PacedQueue({ announce: async () => null }, silentLog, 0),
          render: () => ({ text: "" }),
          log: silentLog,
        });
        const runner = new GuardRunner({
          redis,
          keys,
          config,
          log: silentLog,
          metrics: createMetrics(),
          guards,
          alerts,
          audit,
          instanceId: "bench",
        });
        const bareRead = async () => {
          const t0 = performance.now();
          await redis.pipeline().hgetall(keys.raw("bench:prices")).hgetall(keys.raw("bench:ssr")).exec();
          return performance.now() - t0;
        };

        const tickMs: number[] = [];
        const readMs: number[] = [];
        let findings = 0;
        for (let i = 0; i < WARMUP + TICKS; i++) {
          const t0 = performance.now();
          const r = await runner.runOnce();
          const tick = performance.now() - t0;
          const read = await bareRead();
          if (r.guards.length !== GUARDS) throw new Error(`tick ran ${r.guards.length} guards, expected ${GUARDS}`);
          findings = r.findings.length;
          if (i >= WARMUP) {
            tickMs.push(tick);
            readMs.push(read);
          }
        }
        const tick = median(tickMs);
        const read = median(readMs);
        say(`tick: median ${fmtMs(tick)} over ${TICKS} ticks (${WARMUP} warm-up ticks excluded), ${findings} findings`);
        say(`baseline: bare pipeline of HGETALL × the 2 distinct keys: median ${fmtMs(read)}`);
        say(`ratio ${fmtRatio(tick / read)}; Redis round trips per tick: ${runner.lastTickRoundTrips}`);
        return [
          targetRow({
            id: "P5",
            bench: "guard-tick",
            metric: `tick, ${GUARDS} guards × ${SYMBOLS} symbols, all due (median)`,
            measured: fmtMs(tick),
            baseline: `bare pipelined read ${fmtMs(read)}`,
            ratio: ratioOf(tick, read),
            target: `≤ ${TARGET_RATIO}×`,
            pass: tick <= TARGET_RATIO * read,
          }),
        ];
      } finally {
        redis.disconnect();
        tmp.remove();
      }
    });
  },
};
