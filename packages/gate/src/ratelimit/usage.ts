// Reading the quota counters: the usage of the last 15 minutes, 429s in the same window, WebSocket reconnects in the
// last hour. Pure functions over raw Redis values (shared by the api_quota guard and `tradeguard quota`) plus one
// pipelined reader.
import type { Redis } from "ioredis";
import { rateLimitKeys } from "../state/keys.js";

export const BUCKET_MS = 60_000;
/** The quota window: the current one-minute bucket and the 14 before it. */
export const WINDOW_BUCKETS = 15;
export const WINDOW_MS = WINDOW_BUCKETS * BUCKET_MS;
export const HOUR_MS = 3_600_000;

/** One exchange's numbers, as `tradeguard quota --json` prints them. */
export interface ExchangeUsage {
  exchange: string;
  /** Request weight sent in the window. */
  used: number;
  /** The exchange's 15-minute quota; null when neither the config nor the limiter says. */
  limit: number | null;
  /** used / limit (0..1, may exceed 1); null without a limit. */
  pct: number | null;
  window: "15m";
  throttled429: number;
  wsReconnectsLastHour: number;
}

/** The raw values of one exchange, as Redis returns them. */
export interface RawExchangeCounters {
  used: Record<string, string>;
  limit: string | null;
  throttled: Record<string, string>;
  ws: [string, unknown][];
}

/**
 * Sums the minute buckets of the window ending at `nowMs`. One bucket past "now" is included: the limiter stamps
 * with Redis's clock and a reader's clock may lag it by a little (over-counting is the safe side).
 */
export function sumWindow(hash: Record<string, string>, nowMs: number): { total: number; invalid: string[] } {
  const current = Math.floor(nowMs / BUCKET_MS);
  let total = 0;
  const invalid: string[] = [];
  for (const [field, value] of Object.entries(hash)) {
    const bucket = /^\d+$/.test(field) ? Number(field) : Number.NaN;
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (Number.isNaN(bucket) || Number.isNaN(n)) {
      invalid.push(`${field}=${JSON.stringify(value)}`);
      continue;
    }
    if (bucket > current - WINDOW_BUCKETS && bucket <= current + 1) total += n;
  }
  return { total, invalid };
}

/** Counts sorted-set members with a score in (nowMs - windowMs, nowMs + 60 s]; non-numeric scores are reported. */
export function countSince(
  entries: [string, unknown][],
  nowMs: number,
  windowMs = HOUR_MS,
): { count: number; invalid: number } {
  let count = 0;
  let invalid = 0;
  for (const [, score] of entries) {
    if (typeof score !== "number" || !Number.isFinite(score)) invalid++;
    else if (score > nowMs - windowMs && score <= nowMs + 60_000) count++;
  }
  return { count, invalid };
}

/** Parses a quota limit: a positive integer, or null (absent) / "invalid". */
export function parseLimit(raw: string | null): number | null | "invalid" {
  if (raw === null) return null;
  return /^\d{1,15}$/.test(raw.trim()) && Number(raw) > 0 ? Number(raw) : "invalid";
}

/** One exchange's usage from its raw counters; `configuredLimit` (guard config) wins over the limiter's. */
export function summarizeExchange(
  exchange: string,
  raw: RawExchangeCounters,
  nowMs: number,
  configuredLimit?: number,
): { usage: ExchangeUsage; invalid: string[] } {
  const used = sumWindow(raw.used, nowMs);
  const throttled = sumWindow(raw.throttled, nowMs);
  const ws = countSince(raw.ws, nowMs);
  const stored = parseLimit(raw.limit);
  const invalid = [
    ...used.invalid.map((s) => `${rateLimitKeys.used(exchange)} ${s}`),
    ...throttled.invalid.map((s) => `${rateLimitKeys.throttled(exchange)} ${s}`),
    ...(ws.invalid ? [`${rateLimitKeys.wsReconnects(exchange)}: ${ws.invalid} non-numeric score(s)`] : []),
    ...(stored === "invalid" ? [`${rateLimitKeys.limit(exchange)} = ${JSON.stringify(raw.limit)}`] : []),
  ];
  const limit = configuredLimit ?? (typeof stored === "number" ? stored : null);
  return {
    usage: {
      exchange,
      used: used.total,
      limit,
      pct: limit ? used.total / limit : null,
      window: "15m",
      throttled429: throttled.total,
      wsReconnectsLastHour: ws.count,
    },
    invalid,
  };
}

/** Reads the counters of `exchanges` in one pipelined round trip and summarises them. `prefix` is REDIS_PREFIX. */
export async function readQuotaUsage(
  redis: Redis,
  prefix: string,
  exchanges: string[],
  nowMs: number,
  limits: Record<string, number | undefined> = {},
): Promise<{ usage: ExchangeUsage; invalid: string[] }[]> {
  if (exchanges.length === 0) return [];
  const p = redis.pipeline();
  for (const ex of exchanges) {
    p.hgetall(prefix + rateLimitKeys.used(ex));
    p.get(prefix + rateLimitKeys.limit(ex));
    p.hgetall(prefix + rateLimitKeys.throttled(ex));
    p.zrange(prefix + rateLimitKeys.wsReconnects(ex), "0", "-1", "WITHSCORES");
  }
  const res = (await p.exec()) ?? [];
  return exchanges.map((ex, i) => {
    const at = (j: number) => {
      const [err, v] = res[i * 4 + j] ?? [new Error("no reply"), null];
      if (err) throw err;
      return v;
    };
    const flat = at(3) as string[];
    const ws: [string, unknown][] = [];
    for (let k = 0; k + 1 < flat.length; k += 2) ws.push([flat[k]!, Number(flat[k + 1])]);
    return summarizeExchange(
      ex,
      {
        used: at(0) as Record<string, string>,
        limit: at(1) as string | null,
        throttled: at(2) as Record<string, string>,
        ws,
      },
      nowMs,
      limits[ex],
    );
  });
}
