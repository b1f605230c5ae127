// The Redis names of the rate limiter and of the quota counters, in one place. Names are logical (no prefix): the
// library and the guard runner add `REDIS_PREFIX`. docs/redis-keys.md documents each one.

/** Exchange names: lowercase ccxt-style ids ("binance", "binanceusdm", "coinbase-adv"). */
export const EXCHANGE_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** Limiter names: "<exchange>:<endpoint>", e.g. "binance:orders", "alpaca:v2/orders". */
export const LIMIT_NAME_RE = /^([a-z0-9][a-z0-9_.-]{0,63}):([A-Za-z0-9_./-]{1,128})$/;

/** Logical key names; every function takes already-validated names. */
export const rateLimitKeys = {
  /** string: GCRA theoretical arrival time (epoch ms, decimal), PX until the bucket is full again. */
  gcra: (exchange: string, endpoint: string) => `ratelimit:gcra:${exchange}:${endpoint}`,
  /** string: epoch ms until which every endpoint of the exchange waits after a 429, PX until then. */
  backoff: (exchange: string) => `ratelimit:backoff:${exchange}`,
  /** string: consecutive 429s (the backoff exponent), PX `strikeResetMs` after the last one. */
  strikes: (exchange: string) => `ratelimit:strikes:${exchange}`,
  /** hash: epoch minute → request weight sent in that minute; fields older than 15 minutes are pruned. */
  used: (exchange: string) => `quota:${exchange}:used`,
  /** string: the exchange's quota per 15 minutes (weight units), written by the limiter from its config. */
  limit: (exchange: string) => `quota:${exchange}:limit`,
  /** hash: epoch minute → HTTP 429 responses received in that minute. */
  throttled: (exchange: string) => `quota:${exchange}:429`,
  /** sorted set: one member per WebSocket reconnect, score = epoch ms; members older than 1 hour are pruned. */
  wsReconnects: (exchange: string) => `ws:${exchange}:reconnects`,
  /** set: every exchange a limiter has been used for (for `tradeguard quota`). */
  exchanges: "quota:exchanges",
} as const;

/** Splits and validates "<exchange>:<endpoint>". */
export function parseLimitName(name: string): { exchange: string; endpoint: string } {
  const m = LIMIT_NAME_RE.exec(name);
  if (!m)
    throw new RangeError(
      `rate limit name ${JSON.stringify(name)}: expected "<exchange>:<endpoint>" (lowercase exchange id)`,
    );
  return { exchange: m[1]!, endpoint: m[2]! };
}
