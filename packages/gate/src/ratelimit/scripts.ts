// The limiter's Lua scripts. Each runs atomically in Redis, so every trading process sharing the Redis sees one
// bucket per endpoint. Time is Redis's own clock (TIME) unless a caller passes one (tests, simulations): processes on
// different hosts then agree on "now" without trusting each other's clocks.

/** Shared preamble: ARGV[1] is the caller's clock in ms, or "" for Redis TIME. */
const NOW = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
`;

/** Adds `n` to the current minute bucket of a counter hash and prunes buckets older than the window. */
const BUMP = `
local function bump(key, n, bucket_ms, window, ttl)
  local bucket = math.floor(now / bucket_ms)
  local v = redis.call('HINCRBY', key, bucket, n)
  if v == n then
    for _, f in ipairs(redis.call('HKEYS', key)) do
      local b = tonumber(f)
      if b == nil or b <= bucket - window then redis.call('HDEL', key, f) end
    end
  end
  redis.call('PEXPIRE', key, ttl)
end
`;

/**
 * GCRA (generic cell rate algorithm, ITU-T I.371; the same arithmetic as a token bucket of `burst` tokens refilled
 * one every `interval` ms). KEYS: gcra, backoff, used, limit, exchanges. ARGV: now|"", interval ms, burst, cost,
 * quota limit|"", exchange, bucket ms, window buckets, counter ttl ms.
 * Returns {allowed 0/1, retry_after_ms (string), remaining, reason}.
 */
export const ACQUIRE = `${NOW}${BUMP}
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
if ARGV[5] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[5] then redis.call('SET', KEYS[4], ARGV[5]) end
redis.call('SADD', KEYS[5], ARGV[6])
local hold = tonumber(redis.call('GET', KEYS[2]) or '') or 0
if hold > now then
  return {0, tostring(math.ceil(hold - now)), 0, 'backoff'}
end
local tau = interval * burst
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local new_tat = tat + interval * cost
local allow_at = new_tat - tau
if allow_at > now then
  local left = math.floor((tau - (tat - now)) / interval)
  if left < 0 then left = 0 end
  return {0, tostring(math.ceil(allow_at - now)), left, 'rate'}
end
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
bump(KEYS[3], cost, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
return {1, '0', math.floor((tau - (new_tat - now)) / interval), 'ok'}
`;

/**
 * A 429: one more strike, a wait of full jitter over base·2^(strikes-1) capped at cap, at least Retry-After, and the
 * exchange's backoff extended to now + wait (never shortened). KEYS: strikes, backoff, 429 hash, exchanges.
 * ARGV: now|"", retry_after_ms|"", base ms, cap ms, u in [0,1), strike reset ms, bucket ms, window buckets,
 * counter ttl ms, exchange. Returns {wait ms, strikes, backoff left ms}.
 */
export const RECORD_429 = `${NOW}${BUMP}
local strikes = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
local ceiling = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (strikes - 1))
local wait = math.floor(tonumber(ARGV[5]) * ceiling)
local ra = tonumber(ARGV[2])
if ra and ra > 0 and math.ceil(ra) > wait then wait = math.ceil(ra) end
local hold = tonumber(redis.call('GET', KEYS[2]) or '') or 0
local untl = now + wait
if untl > hold then
  if wait > 0 then redis.call('SET', KEYS[2], string.format('%.3f', untl), 'PX', math.max(1, math.ceil(wait))) end
  hold = untl
end
bump(KEYS[3], 1, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]))
redis.call('SADD', KEYS[4], ARGV[10])
local left = hold - now
if left < 0 then left = 0 end
return {wait, strikes, math.ceil(left)}
`;

/**
 * A WebSocket reconnect. KEYS: reconnects zset, exchanges. ARGV: now|"", member suffix, window ms, exchange.
 * Returns the reconnects within the window.
 */
export const RECORD_RECONNECT = `${NOW}
redis.call('ZADD', KEYS[1], now, string.format('%.3f', now) .. '-' .. ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) + 60000)
redis.call('SADD', KEYS[2], ARGV[4])
return redis.call('ZCARD', KEYS[1])
`;
