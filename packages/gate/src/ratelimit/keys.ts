// Validation of the rate limiter's exchange and endpoint names. The key names themselves are in ../state/keys.ts
// (logical, no prefix: the library and the guard runner add `REDIS_PREFIX`); docs/redis-keys.md documents each one.

/** Exchange names: lowercase ccxt-style ids ("binance", "binanceusdm", "coinbase-adv"). */
export const EXCHANGE_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
/** Limiter names: "<exchange>:<endpoint>", e.g. "binance:orders", "alpaca:v2/orders". */
export const LIMIT_NAME_RE = /^([a-z0-9][a-z0-9_.-]{0,63}):([A-Za-z0-9_./-]{1,128})$/;

/** Splits and validates "<exchange>:<endpoint>". */
export function parseLimitName(name: string): { exchange: string; endpoint: string } {
  const m = LIMIT_NAME_RE.exec(name);
  if (!m)
    throw new RangeError(
      `rate limit name ${JSON.stringify(name)}: expected "<exchange>:<endpoint>" (lowercase exchange id)`,
    );
  return { exchange: m[1]!, endpoint: m[2]! };
}
