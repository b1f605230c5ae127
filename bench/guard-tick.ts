// guard-tick: one runner tick of 20 guards, each declaring the same 5,000-symbol price hash and a 5,000-member set,
// evaluating every symbol. Reports the time per tick and the Redis round trips per tick, beside the bare pipelined
// read of the same keys (the floor a tick cannot go under) and the round trips of reading per guard and per key.
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
import { type Benchmark, fmtMs, fmtRatio, median, type Row, say, tempDir, withRedis } from "./lib.js";

const GUARDS = 20;
const SYMBOLS = 5_000;
const TICKS = 30;

function makeGuard(i: number) {
  return defineGuard({
    name: `bench_${i}`,
    schedule: "0 0 1 1 *",
    config: z.object({ band: z.number().default(0.05 + i / 1000) }),
    reads: () => ({
      prices: { key: "bench:prices", type: "hash" as const, schema: z.record(z.string(), z.string()) },
      ssr: { key: "bench:ssr", type: "set" as const, schema: z.array(z.string()) },
    }),
    evaluate(s, _now, c) {
      const prices = s.values.prices as Record<string, string>;
      const ssr = new Set(s.values.ssr as string[]);
      let outside = 0;
      for (const [sym, p] of Object.entries(prices)) {
        const [last, ref] = p.split("|").map(Number) as [number, number];
        if (Math.abs(last - ref) / ref > c.band && !ssr.has(sym)) outside++;
      }
      return outside > 0
        ? [
            {
              guard: `bench_${i}`,
              key: "outside",
              severity: "warn" as const,
              title: `${outside} symbols outside band`,
              detail: "",
              sop: "sop-luld",
            },
          ]
        : [];
    },
  });
}

export const guardTick: Benchmark = {
  name: "guard-tick",
  description: `one tick of ${GUARDS} guards over ${SYMBOLS} symbols: time and Redis round trips per tick`,
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
        await redis.sadd(
          keys.raw("bench:ssr"),
          ...Array.from({ length: SYMBOLS }, (_, s) => `S${s}`).filter((_, s) => s % 3 === 0),
        );
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

        await runner.runOnce(); // warm-up (alerts open)
        const tickMs: number[] = [];
        for (let i = 0; i < TICKS; i++) {
          const t0 = performance.now();
          const r = await runner.runOnce();
          tickMs.push(performance.now() - t0);
          if (r.guards.length !== GUARDS) throw new Error(`tick ran ${r.guards.length} guards, expected ${GUARDS}`);
        }
        const roundTrips = runner.lastTickRoundTrips;

        // Baselines: the bare pipelined read of the distinct keys the guards declared (the floor of a tick), and the
        // same read repeated per guard (what a tick would cost without sharing reads between guards).
        const timeRead = async (perGuard: boolean) => {
          const ms: number[] = [];
          for (let i = 0; i < TICKS; i++) {
            const t0 = performance.now();
            const p = redis.pipeline();
            for (let g = 0; g < (perGuard ? GUARDS : 1); g++)
              p.hgetall(keys.raw("bench:prices")).smembers(keys.raw("bench:ssr"));
            await p.exec();
            ms.push(performance.now() - t0);
          }
          return median(ms);
        };
        const read = await timeRead(false);
        const readPerGuard = await timeRead(true);
        const tick = median(tickMs);
        say(
          `  tick median ${fmtMs(tick)} (${TICKS} ticks); bare read of the distinct keys ${fmtMs(read)}; the same read per guard ${fmtMs(readPerGuard)}`,
        );
        say(
          `  Redis round trips per tick: ${roundTrips} (a read per guard and key would be ${GUARDS * 2} for the reads alone)`,
        );
        return [
          {
            bench: "guard-tick",
            metric: `tick of ${GUARDS} guards × ${SYMBOLS} symbols (median)`,
            value: fmtMs(tick),
            baseline: `bare read of distinct keys ${fmtMs(read)}`,
            ratio: fmtRatio(tick / read),
            target: "- (report only)",
            verdict: "INFO",
          },
          {
            bench: "guard-tick",
            metric: "Redis round trips per tick",
            value: String(roundTrips),
            baseline: `${GUARDS * 2} reads if per guard and key`,
            ratio: fmtRatio(roundTrips / (GUARDS * 2)),
            target: "- (report only)",
            verdict: "INFO",
          },
        ];
      } finally {
        redis.disconnect();
        tmp.remove();
      }
    });
  },
};
