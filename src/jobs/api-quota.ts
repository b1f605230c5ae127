// API quota guard. The trading processes count what they send through the shared limiter (@tradeguard/gate/ratelimit):
// request weight per minute, 429s, WebSocket reconnects. Exchanges ban API keys or IPs that keep exceeding their
// quotas, so the guard warns at 80% of an exchange's 15-minute quota and goes critical at 90%, and warns when a
// WebSocket has reconnected more than 3 times in an hour (a flapping feed, or an exchange closing it on purpose).

import { EXCHANGE_RE, type ExchangeUsage, summarizeExchange } from "@tradeguard/gate/ratelimit";
import { z } from "zod";
import { rateLimitKeys } from "../state/keys.js";
import { defineGuard, type Finding, type KeyRead } from "./guard.js";

export const SOP_QUOTA = "sop-api-quota";

const exchangeName = z.string().regex(EXCHANGE_RE, "a lowercase exchange id");
const exchangeSettings = z.object({ limit_15m: z.number().int().positive().optional() }).strict();

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    /** The exchanges to watch: a list of ids, or ids mapped to settings (limit_15m overrides the limiter's quota). */
    exchanges: z
      .union([z.array(exchangeName), z.record(exchangeName, exchangeSettings.nullable())])
      .default([])
      .transform(
        (v): Record<string, { limit_15m?: number }> =>
          Array.isArray(v)
            ? Object.fromEntries(v.map((e) => [e, {}]))
            : Object.fromEntries(Object.entries(v).map(([e, s]) => [e, s ?? {}])),
      ),
    warn_ratio: z.number().gt(0).max(1).default(0.8),
    critical_ratio: z.number().gt(0).max(1).default(0.9),
    ws_reconnects_per_hour: z.number().int().min(0).default(3),
  })
  .strict()
  .refine((c) => c.critical_ratio > c.warn_ratio, {
    message: "critical_ratio must be greater than warn_ratio",
    path: ["critical_ratio"],
  });

export type ApiQuotaConfig = z.infer<typeof configSchema>;

type Values = Record<string, unknown>;
/** Probe result: only the tick's time, so `measure` (which gets no clock) can place the 15-minute window. */
type Probe = { at: number };

const hash = z.record(z.string(), z.string());
// Scores are checked one by one in summarizeExchange (a bad one is reported, the others still count).
const zset = z.array(z.tuple([z.string(), z.unknown()]));

/** Per-exchange usage from the snapshot. Pure. */
export function quotaUsage(
  values: Values,
  nowMs: number,
  c: ApiQuotaConfig,
): { usage: ExchangeUsage; invalid: string[] }[] {
  return Object.entries(c.exchanges).map(([ex, s]) =>
    summarizeExchange(
      ex,
      {
        used: (values[`used:${ex}`] ?? {}) as Record<string, string>,
        limit: (values[`limit:${ex}`] ?? null) as string | null,
        throttled: (values[`r429:${ex}`] ?? {}) as Record<string, string>,
        ws: (values[`ws:${ex}`] ?? []) as [string, unknown][],
      },
      nowMs,
      s.limit_15m,
    ),
  );
}

const pct = (r: number) => `${(r * 100).toFixed(1)}%`;

/** The API quota guard (YAML `guards.api_quota`). */
export const apiQuota = defineGuard<ApiQuotaConfig, Values, Probe>({
  name: "api_quota",
  schedule: "*/30 * * * * *",
  config: configSchema,
  reads(c) {
    const reads: Record<string, KeyRead> = {};
    for (const ex of Object.keys(c.exchanges)) {
      reads[`used:${ex}`] = { key: rateLimitKeys.used(ex), type: "hash", schema: hash };
      reads[`limit:${ex}`] = { key: rateLimitKeys.limit(ex), type: "string", schema: z.string().nullable() };
      reads[`r429:${ex}`] = { key: rateLimitKeys.throttled(ex), type: "hash", schema: hash };
      reads[`ws:${ex}`] = { key: rateLimitKeys.wsReconnects(ex), type: "zset", schema: zset };
    }
    return reads;
  },
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now, c) {
    const findings: Finding[] = [];
    const base = { guard: "api_quota", sop: SOP_QUOTA };
    for (const { usage: u, invalid } of quotaUsage(snapshot.values, now.getTime(), c)) {
      if (invalid.length) {
        findings.push({
          ...base,
          key: `api_quota:${u.exchange}:data_invalid`,
          severity: "warn",
          title: `${u.exchange}: quota counters unreadable`,
          detail: `Skipped: ${invalid.slice(0, 5).join("; ")}${invalid.length > 5 ? "; ..." : ""}. The readable counters are still judged.`,
        });
      }
      if (u.limit === null) {
        if (u.used > 0) {
          findings.push({
            ...base,
            key: `api_quota:${u.exchange}:limit_unknown`,
            severity: "warn",
            title: `${u.exchange}: quota limit unknown`,
            detail: `${u.used} weight sent in 15 min but no quota is known: set guards.api_quota.exchanges.${u.exchange}.limit_15m or the limiter's quotas.${u.exchange}.`,
          });
        }
      } else if (u.pct !== null && u.pct > c.warn_ratio) {
        const critical = u.pct > c.critical_ratio;
        findings.push({
          ...base,
          key: `api_quota:${u.exchange}:quota`,
          severity: critical ? "critical" : "warn",
          title: `${u.exchange}: ${pct(u.pct)} of the 15-minute API quota used`,
          detail: `${u.used} of ${u.limit} weight units in the last 15 minutes; ${u.throttled429} HTTP 429 in the same window. Exchanges ban keys and IPs that keep exceeding their limits.`,
          value: `${pct(u.pct)} (${u.used}/${u.limit})`,
          threshold: pct(critical ? c.critical_ratio : c.warn_ratio),
        });
      }
      if (u.wsReconnectsLastHour > c.ws_reconnects_per_hour) {
        findings.push({
          ...base,
          key: `api_quota:${u.exchange}:ws_reconnects`,
          severity: "warn",
          title: `${u.exchange}: ${u.wsReconnectsLastHour} WebSocket reconnects in the last hour`,
          detail: `More than ${c.ws_reconnects_per_hour} reconnects per hour: market data or order updates may have gaps.`,
          value: `${u.wsReconnectsLastHour}/h`,
          threshold: `${c.ws_reconnects_per_hour}/h`,
        });
      }
    }
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_quota_usage_ratio",
      help: "Share of the exchange's 15-minute API quota used (NaN when the quota is unknown)",
      labelNames: ["exchange"],
    },
    {
      name: "tradeguard_quota_used_15m",
      help: "Request weight sent to the exchange in the last 15 minutes",
      labelNames: ["exchange"],
    },
    {
      name: "tradeguard_quota_limit_15m",
      help: "The exchange's 15-minute API quota (NaN when unknown)",
      labelNames: ["exchange"],
    },
    {
      name: "tradeguard_quota_throttled_15m",
      help: "HTTP 429 responses from the exchange in the last 15 minutes",
      labelNames: ["exchange"],
    },
    {
      name: "tradeguard_ws_reconnects_last_hour",
      help: "WebSocket reconnects to the exchange in the last hour",
      labelNames: ["exchange"],
    },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    if (at === undefined) return [];
    return quotaUsage(snapshot.values, at, c).flatMap(({ usage: u }) => {
      const labels = { exchange: u.exchange };
      return [
        { name: "tradeguard_quota_usage_ratio", labels, value: u.pct ?? Number.NaN },
        { name: "tradeguard_quota_used_15m", labels, value: u.used },
        { name: "tradeguard_quota_limit_15m", labels, value: u.limit ?? Number.NaN },
        { name: "tradeguard_quota_throttled_15m", labels, value: u.throttled429 },
        { name: "tradeguard_ws_reconnects_last_hour", labels, value: u.wsReconnectsLastHour },
      ];
    });
  },
});
