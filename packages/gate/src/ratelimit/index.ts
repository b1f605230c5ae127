// A Redis-shared rate limiter for the trading processes: one GCRA bucket per "<exchange>:<endpoint>" shared by every
// process on the same Redis, an exchange-wide backoff after HTTP 429 (exponential, full jitter, at least Retry-After),
// and the counters tradeguard's api_quota guard and `tradeguard quota` read (weight used per 15 minutes, 429s,
// WebSocket reconnects per hour). Import it as `@tradeguard/gate/ratelimit` (packages/gate; the bot re-exports it as
// `tradeguard/ratelimit`); it creates no connection itself: pass it your ioredis client.
//
//   const limiter = createRateLimiter(redis, { prefix: process.env.REDIS_PREFIX ?? "",
//     limits: { "binance:orders": { rate: 50, per: 10_000 } }, quotas: { binance: 18_000 } });
//   const r = await limiter.acquire("binance:orders");          // { allowed, retryAfterMs, remaining, reason }
//   const res = await fetch(...);
//   if (res.status === 429) await limiter.record429("binance:orders", res.headers.get("retry-after"));
//   ws.on("open", () => limiter.recordReconnect("binance"));
import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import { rateLimitKeys } from "../state/keys.js";
import { type BackoffPolicy, DEFAULT_BACKOFF, parseRetryAfter } from "./backoff.js";
import { EXCHANGE_RE, LIMIT_NAME_RE, parseLimitName } from "./keys.js";
import { ACQUIRE, RECORD_429, RECORD_RECONNECT } from "./scripts.js";
import { BUCKET_MS, type ExchangeUsage, HOUR_MS, readQuotaUsage, WINDOW_BUCKETS } from "./usage.js";

export { rateLimitKeys } from "../state/keys.js";
export { backoffDelayMs, DEFAULT_BACKOFF, parseRetryAfter } from "./backoff.js";
export { EXCHANGE_RE, parseLimitName } from "./keys.js";
export { type ExchangeUsage, readQuotaUsage, summarizeExchange } from "./usage.js";

/** Counter hashes live one bucket longer than the window. */
const COUNTER_TTL_MS = (WINDOW_BUCKETS + 2) * BUCKET_MS;

const limitSpec = z
  .object({
    /** Requests (weight units) allowed per `per` milliseconds, sustained. */
    rate: z.number().positive(),
    /** The period of `rate`, in milliseconds. */
    per: z.number().int().positive(),
    /** Requests that may go at once from a full bucket (default: `rate`, i.e. a whole period's worth). */
    burst: z.number().int().positive().optional(),
  })
  .strict();

const optionsSchema = z
  .object({
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]*$/)
      .default(""),
    limits: z.record(z.string().regex(LIMIT_NAME_RE, '"<exchange>:<endpoint>"'), limitSpec),
    /** The exchange's quota per 15 minutes, in the same weight units; written to Redis for the guard and the CLI. */
    quotas: z.record(z.string().regex(EXCHANGE_RE), z.number().int().positive()).default({}),
    backoff: z
      .object({
        baseMs: z.number().int().positive().default(DEFAULT_BACKOFF.baseMs),
        capMs: z.number().int().positive().default(DEFAULT_BACKOFF.capMs),
        /** Consecutive 429s are forgotten this long after the last one. */
        strikeResetMs: z.number().int().positive().default(600_000),
      })
      .strict()
      .default({ baseMs: DEFAULT_BACKOFF.baseMs, capMs: DEFAULT_BACKOFF.capMs, strikeResetMs: 600_000 }),
  })
  .strict();

export type RateLimiterOptions = z.input<typeof optionsSchema> & {
  /** Draws the jitter (default Math.random). */
  random?: () => number;
  /** The clock in epoch ms; default: Redis's TIME, so every process shares one clock. */
  clock?: () => number;
};

export interface AcquireResult {
  allowed: boolean;
  /** When not allowed: how long until this request would be (0 when allowed). */
  retryAfterMs: number;
  /** Unit-cost requests that could still go immediately after this one. */
  remaining: number;
  /** "rate": the endpoint's bucket is empty; "backoff": the exchange is backing off after a 429. */
  reason: "ok" | "rate" | "backoff";
}

export interface BackoffResult {
  /** The wait this 429 asks for (jittered, at least Retry-After). */
  delayMs: number;
  /** Consecutive 429s of the exchange, this one included. */
  strikes: number;
  /** How long the exchange's backoff still runs (an earlier, longer one is kept). */
  backoffMs: number;
}

type ScriptClient = Redis & {
  tgRlAcquire(...args: (string | number)[]): Promise<[number, string, number, string]>;
  tgRl429(...args: (string | number)[]): Promise<[number, number, number]>;
  tgRlReconnect(...args: (string | number)[]): Promise<number>;
};

/** Builds a limiter over `redis` (any ioredis client; the limiter defines three Lua commands on it). */
export function createRateLimiter(redis: Redis, options: RateLimiterOptions) {
  const { random = Math.random, clock, ...rest } = options;
  const opts = optionsSchema.parse(rest);
  const r = redis as ScriptClient;
  if (typeof r.tgRlAcquire !== "function") {
    redis.defineCommand("tgRlAcquire", { numberOfKeys: 5, lua: ACQUIRE });
    redis.defineCommand("tgRl429", { numberOfKeys: 4, lua: RECORD_429 });
    redis.defineCommand("tgRlReconnect", { numberOfKeys: 2, lua: RECORD_RECONNECT });
  }
  const k = (name: string) => opts.prefix + name;
  const now = () => (clock ? String(clock()) : "");
  const exchangeOf = (exchange: string) => {
    if (!EXCHANGE_RE.test(exchange))
      throw new RangeError(`exchange ${JSON.stringify(exchange)}: expected a lowercase id`);
    return exchange;
  };

  const limiter = {
    /** Takes `cost` from the bucket of `name` ("<exchange>:<endpoint>") if it has them; never waits. */
    async acquire(name: string, cost = 1): Promise<AcquireResult> {
      const spec = opts.limits[name];
      if (!spec) throw new RangeError(`rate limit ${JSON.stringify(name)} is not configured`);
      const burst = spec.burst ?? Math.max(1, Math.floor(spec.rate));
      if (!Number.isInteger(cost) || cost < 1 || cost > burst)
        throw new RangeError(`cost ${cost}: expected an integer from 1 to the burst (${burst})`);
      const { exchange, endpoint } = parseLimitName(name);
      const quota = opts.quotas[exchange];
      const [allowed, retry, remaining, reason] = await r.tgRlAcquire(
        k(rateLimitKeys.gcra(exchange, endpoint)),
        k(rateLimitKeys.backoff(exchange)),
        k(rateLimitKeys.used(exchange)),
        k(rateLimitKeys.limit(exchange)),
        k(rateLimitKeys.exchanges),
        now(),
        spec.per / spec.rate,
        burst,
        cost,
        quota === undefined ? "" : String(quota),
        exchange,
        BUCKET_MS,
        WINDOW_BUCKETS,
        COUNTER_TTL_MS,
      );
      return {
        allowed: allowed === 1,
        retryAfterMs: Number(retry),
        remaining: Number(remaining),
        reason: reason as AcquireResult["reason"],
      };
    },

    /** Like acquire, but waits (up to `maxWaitMs`) until the request may go; resolves false if it may not in time. */
    async take(name: string, cost = 1, wait: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<boolean> {
      const deadline = Date.now() + (wait.maxWaitMs ?? 30_000);
      for (;;) {
        if (wait.signal?.aborted) return false;
        const res = await limiter.acquire(name, cost);
        if (res.allowed) return true;
        if (wait.signal?.aborted || Date.now() + res.retryAfterMs > deadline) return false;
        await new Promise<void>((resolve) => {
          const onAbort = () => {
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(
            () => {
              wait.signal?.removeEventListener("abort", onAbort);
              resolve();
            },
            Math.max(1, res.retryAfterMs),
          );
          wait.signal?.addEventListener("abort", onAbort, { once: true });
        });
      }
    },

    /**
     * Records an HTTP 429 for `name`'s exchange and backs the whole exchange off. `retryAfter` is the Retry-After
     * header (seconds or HTTP date) or a number of milliseconds.
     */
    async record429(name: string, retryAfter?: string | number | null): Promise<BackoffResult> {
      const exchange = name.includes(":") ? parseLimitName(name).exchange : exchangeOf(name);
      const ra =
        typeof retryAfter === "number" ? retryAfter : parseRetryAfter(retryAfter ?? null, clock ? clock() : Date.now());
      const policy: BackoffPolicy = opts.backoff;
      const [delayMs, strikes, backoffMs] = await r.tgRl429(
        k(rateLimitKeys.strikes(exchange)),
        k(rateLimitKeys.backoff(exchange)),
        k(rateLimitKeys.throttled(exchange)),
        k(rateLimitKeys.exchanges),
        now(),
        ra === undefined || !Number.isFinite(ra) ? "" : String(ra),
        policy.baseMs,
        policy.capMs,
        String(Math.min(Math.max(random(), 0), 1 - Number.EPSILON)),
        opts.backoff.strikeResetMs,
        BUCKET_MS,
        WINDOW_BUCKETS,
        COUNTER_TTL_MS,
        exchange,
      );
      return { delayMs: Number(delayMs), strikes: Number(strikes), backoffMs: Number(backoffMs) };
    },

    /** Forgets the exchange's consecutive 429s (call after a successful request following a backoff). */
    async recordSuccess(nameOrExchange: string): Promise<void> {
      const exchange = nameOrExchange.includes(":")
        ? parseLimitName(nameOrExchange).exchange
        : exchangeOf(nameOrExchange);
      await redis.del(k(rateLimitKeys.strikes(exchange)));
    },

    /** Records a WebSocket reconnect; resolves with the exchange's reconnects in the last hour. */
    async recordReconnect(exchange: string): Promise<number> {
      exchangeOf(exchange);
      return Number(
        await r.tgRlReconnect(
          k(rateLimitKeys.wsReconnects(exchange)),
          k(rateLimitKeys.exchanges),
          now(),
          randomBytes(4).toString("hex"),
          HOUR_MS,
          exchange,
        ),
      );
    },

    /** Usage of the given exchanges (default: every exchange seen in Redis), as `tradeguard quota` shows it. */
    async usage(exchanges?: string[]): Promise<ExchangeUsage[]> {
      const list =
        exchanges ?? (await redis.smembers(k(rateLimitKeys.exchanges))).filter((e) => EXCHANGE_RE.test(e)).sort();
      const at = clock ? clock() : Date.now();
      return (await readQuotaUsage(redis, opts.prefix, list, at, opts.quotas)).map((u) => u.usage);
    },
  };
  return limiter;
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
