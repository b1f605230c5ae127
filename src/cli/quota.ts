// tradeguard quota — API quota use per exchange (15-minute window), 429s and WebSocket reconnects, from the counters
// the trading processes' rate limiter keeps in Redis (src/ratelimit/).
import { EXCHANGE_RE, type ExchangeUsage, readQuotaUsage } from "@tradeguard/gate/ratelimit";
import type { Command } from "commander";
import type { ApiQuotaConfig } from "../jobs/api-quota.js";
import { rateLimitKeys } from "../state/keys.js";
import { printJson, requireRedis, withRuntime } from "./context.js";
import { paint, table } from "./style.js";

/** Registers quota. */
export function registerQuota(program: Command): void {
  program
    .command("quota")
    .description("API quota use per exchange (last 15 minutes), 429s and WebSocket reconnects (last hour)")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "quota");
        const configured = (rt.config.guards.api_quota?.settings as ApiQuotaConfig | undefined)?.exchanges ?? {};
        const seen = (await rt.redis.smembers(rt.keys.raw(rateLimitKeys.exchanges))).filter((e) => EXCHANGE_RE.test(e));
        const exchanges = [...new Set([...Object.keys(configured), ...seen])].sort();
        const limits = Object.fromEntries(Object.entries(configured).map(([e, s]) => [e, s.limit_15m]));
        const rows: ExchangeUsage[] = (
          await readQuotaUsage(rt.redis, rt.keys.prefix, exchanges, Date.now(), limits)
        ).map((r) => r.usage);
        if (opts.json) return printJson({ exchanges: rows });
        if (rows.length === 0) {
          process.stdout.write(
            "no exchanges: none configured under guards.api_quota.exchanges and no limiter has written counters\n",
          );
          return;
        }
        const cells = rows.map((r) => [
          r.exchange,
          r.pct === null ? "n/a" : paint(r.pct >= 0.8 ? "yellow" : "reset", `${(r.pct * 100).toFixed(1)}%`),
          `${r.used} / ${r.limit === null ? "?" : r.limit}`,
          String(r.throttled429),
          String(r.wsReconnectsLastHour),
        ]);
        process.stdout.write(
          `${table(["exchange", "used (15m)", "requests / limit", "429s", "ws reconnects/h"], cells)}\n`,
        );
      });
    });
}
