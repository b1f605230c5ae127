import { EventEmitter } from "node:events";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  createRateLimiter,
  parseRetryAfter,
  type RateLimiterOptions,
} from "../../packages/gate/src/ratelimit/index.js";
import { BUCKET_MS } from "../../packages/gate/src/ratelimit/usage.js";
import { testRedis } from "../support/redis.js";

const T0 = Date.parse("2026-11-25T15:00:00.000Z");

describe("rate limiter (GCRA in Redis)", () => {
  let r: ReturnType<typeof testRedis>;
  let now: number;
  const limiter = (over: Partial<RateLimiterOptions> = {}, client = r.redis) =>
    createRateLimiter(client, {
      prefix: r.prefix,
      limits: { "binance:orders": { rate: 10, per: 1000, burst: 5 }, "binance:depth": { rate: 100, per: 1000 } },
      quotas: { binance: 18_000 },
      clock: () => now,
      random: () => 0.5,
      ...over,
    });
  beforeEach(() => {
    r = testRedis();
    now = T0;
  });
  afterEach(() => r.cleanup());

  it("allows a burst, then one request per interval", async () => {
    const l = limiter();
    const got = [];
    for (let i = 0; i < 6; i++) got.push(await l.acquire("binance:orders"));
    expect(got.map((g) => [g.allowed, g.remaining])).toEqual([
      [true, 4],
      [true, 3],
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(got[5]).toMatchObject({ reason: "rate", retryAfterMs: 100 });
    now = T0 + 99;
    expect((await l.acquire("binance:orders")).allowed).toBe(false);
    now = T0 + 100;
    expect(await l.acquire("binance:orders")).toEqual({ allowed: true, retryAfterMs: 0, remaining: 0, reason: "ok" });
  });

  it("charges weight (cost) and refuses what does not fit without taking anything", async () => {
    const l = limiter();
    expect((await l.acquire("binance:orders", 4)).remaining).toBe(1);
    const no = await l.acquire("binance:orders", 2);
    expect(no).toMatchObject({ allowed: false, reason: "rate", retryAfterMs: 100, remaining: 1 });
    expect((await l.acquire("binance:orders", 1)).allowed).toBe(true);
    await expect(l.acquire("binance:orders", 6)).rejects.toThrow(/cost 6/);
    await expect(l.acquire("binance:orders", 0)).rejects.toThrow(/cost 0/);
    await expect(l.acquire("kraken:orders")).rejects.toThrow(/not configured/);
  });

  it("shares one bucket between processes (two connections, two limiter instances)", async () => {
    const a = limiter();
    const b = limiter({}, r.connect());
    for (let i = 0; i < 3; i++) expect((await a.acquire("binance:orders")).allowed).toBe(true);
    for (let i = 0; i < 2; i++) expect((await b.acquire("binance:orders")).allowed).toBe(true);
    expect((await b.acquire("binance:orders")).allowed).toBe(false);
    expect((await a.acquire("binance:orders")).allowed).toBe(false);
  });

  it("never lets more than burst + elapsed/interval through (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 250 }), fc.integer({ min: 1, max: 3 })), {
          minLength: 1,
          maxLength: 60,
        }),
        async (steps) => {
          const name = `p${Math.random().toString(36).slice(2, 8)}:orders`;
          const l = createRateLimiter(r.redis, {
            prefix: r.prefix,
            limits: { [name]: { rate: 20, per: 1000, burst: 4 } },
            clock: () => now,
          });
          now = T0;
          let sent = 0;
          for (const [dt, cost] of steps) {
            now += dt;
            const res = await l.acquire(name, cost);
            if (res.allowed) sent += cost;
            // interval 50 ms: at most 4 + elapsed/50 units by now
            expect(sent).toBeLessThanOrEqual(4 + Math.floor((now - T0) / 50));
            if (!res.allowed) expect(res.retryAfterMs).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it("counts the weight it lets through per minute, writes the quota limit and registers the exchange", async () => {
    const l = limiter();
    await l.acquire("binance:orders", 3);
    await l.acquire("binance:orders", 3); // refused: 2 left
    await l.acquire("binance:depth", 7);
    const bucket = String(Math.floor(T0 / BUCKET_MS));
    expect(await r.redis.hgetall(`${r.prefix}quota:binance:used`)).toEqual({ [bucket]: "10" });
    expect(await r.redis.get(`${r.prefix}quota:binance:limit`)).toBe("18000");
    expect(await r.redis.smembers(`${r.prefix}quota:exchanges`)).toEqual(["binance"]);
    const ttl = await r.redis.pttl(`${r.prefix}quota:binance:used`);
    expect(ttl).toBeGreaterThan(15 * BUCKET_MS);
    // 20 minutes later a new bucket prunes those older than the window.
    now = T0 + 20 * BUCKET_MS;
    await l.acquire("binance:depth");
    expect(Object.keys(await r.redis.hgetall(`${r.prefix}quota:binance:used`))).toEqual([
      String(Math.floor(now / BUCKET_MS)),
    ]);
    expect(await l.usage()).toEqual([
      {
        exchange: "binance",
        used: 1,
        limit: 18_000,
        pct: 1 / 18_000,
        window: "15m",
        throttled429: 0,
        wsReconnectsLastHour: 0,
      },
    ]);
  });

  it("uses Redis's clock when none is given", async () => {
    const l = createRateLimiter(r.redis, { prefix: r.prefix, limits: { "okx:orders": { rate: 1, per: 60_000 } } });
    expect((await l.acquire("okx:orders")).allowed).toBe(true);
    const second = await l.acquire("okx:orders");
    expect(second.allowed).toBe(false);
    expect(second.retryAfterMs).toBeGreaterThan(59_000);
    expect(second.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it("take() waits for the bucket, and gives up past maxWaitMs", async () => {
    const l = createRateLimiter(r.redis, {
      prefix: r.prefix,
      limits: { "okx:fast": { rate: 1, per: 20, burst: 1 }, "okx:slow": { rate: 1, per: 60_000, burst: 1 } },
    });
    expect(await l.take("okx:fast")).toBe(true);
    expect(await l.take("okx:fast")).toBe(true); // waited ~20 ms
    expect(await l.take("okx:slow")).toBe(true);
    expect(await l.take("okx:slow", 1, { maxWaitMs: 1000 })).toBe(false);
  });

  it("take() with a long-lived signal neither leaks abort listeners nor acquires after the abort", async () => {
    const l = createRateLimiter(r.redis, { prefix: r.prefix, limits: { "okx:slow2": { rate: 1, per: 60, burst: 1 } } });
    const ctl = new AbortController();
    for (let i = 0; i < 15; i++) expect(await l.take("okx:slow2", 1, { signal: ctl.signal })).toBe(true);
    expect(EventEmitter.getEventListeners(ctl.signal, "abort")).toHaveLength(0);
    ctl.abort();
    expect(await l.take("okx:slow2", 1, { signal: ctl.signal })).toBe(false);
  });

  it("writes the exchange quota only when it changes, not on every request", async () => {
    const l = createRateLimiter(r.redis, {
      prefix: r.prefix,
      limits: { "kraken:orders": { rate: 100, per: 1000 } },
      quotas: { kraken: 1000 },
    } as never);
    const key = `${r.prefix}quota:kraken:limit`;
    const sub = r.connect();
    const previous = ((await r.redis.config("GET", "notify-keyspace-events")) as string[])[1] ?? "";
    await r.redis.config("SET", "notify-keyspace-events", "K$");
    try {
      const writes: string[] = [];
      await sub.subscribe(`__keyspace@0__:${key}`);
      sub.on("message", (_c, event) => writes.push(event));
      await l.acquire("kraken:orders");
      await l.acquire("kraken:orders");
      await l.acquire("kraken:orders");
      await new Promise((res) => setTimeout(res, 50));
      expect(await r.redis.get(key)).toBe("1000");
      expect(writes).toEqual(["set"]); // the first request writes it; the others find it unchanged
    } finally {
      await r.redis.config("SET", "notify-keyspace-events", previous);
    }
  });

  it("rejects bad options", () => {
    expect(() => createRateLimiter(r.redis, { limits: { orders: { rate: 1, per: 1000 } } })).toThrow();
    expect(() => createRateLimiter(r.redis, { limits: { "Binance:orders": { rate: 1, per: 1000 } } })).toThrow();
    expect(() => createRateLimiter(r.redis, { limits: { "binance:orders": { rate: 0, per: 1000 } } })).toThrow();
    expect(() => createRateLimiter(r.redis, { limits: {}, prefix: "bad prefix" })).toThrow();
  });
});

describe("backoff after 429 (exponential, full jitter, Retry-After)", () => {
  let r: ReturnType<typeof testRedis>;
  let now: number;
  beforeEach(() => {
    r = testRedis();
    now = T0;
  });
  afterEach(() => r.cleanup());

  const make = (u: number | (() => number), extra: Partial<RateLimiterOptions> = {}) =>
    createRateLimiter(r.redis, {
      prefix: r.prefix,
      limits: { "bybit:orders": { rate: 100, per: 1000 }, "bybit:positions": { rate: 100, per: 1000 } },
      backoff: { baseMs: 500, capMs: 8_000 },
      clock: () => now,
      random: typeof u === "number" ? () => u : u,
      ...extra,
    });

  it("doubles the ceiling per consecutive 429 up to the cap", async () => {
    const l = make(0.999999);
    const delays = [];
    for (let i = 0; i < 7; i++) delays.push((await l.record429("bybit:orders")).delayMs);
    expect(delays).toEqual([499, 999, 1999, 3999, 7999, 7999, 7999]);
  });

  it("draws uniformly below the ceiling (full jitter)", async () => {
    const l = make(0);
    expect((await l.record429("bybit:orders")).delayMs).toBe(0);
    expect(backoffDelayMs(3, 0.25, { baseMs: 500, capMs: 8_000 })).toBe(500);
  });

  it("honours Retry-After in seconds, as an HTTP date, or in ms, when longer than the draw", async () => {
    const l = make(0.1);
    expect(await l.record429("bybit:orders", "3")).toMatchObject({ delayMs: 3000, strikes: 1, backoffMs: 3000 });
    expect((await l.record429("bybit", new Date(T0 + 7_000).toUTCString())).delayMs).toBe(7000);
    expect((await l.record429("bybit", 12_345)).delayMs).toBe(12_345);
    expect((await l.record429("bybit", "garbage")).delayMs).toBe(Math.floor(0.1 * 4000));
    expect(parseRetryAfter("120")).toBe(120_000);
  });

  it("holds every endpoint of the exchange until the backoff ends, never shortening it", async () => {
    const l = make(0.5);
    await l.record429("bybit:orders", "10");
    now = T0 + 1_000;
    const short = await l.record429("bybit:orders"); // draws 0.5 * 1000 = 500 ms: the 10 s hold stays
    expect(short).toMatchObject({ delayMs: 500, strikes: 2, backoffMs: 9_000 });
    expect(await l.acquire("bybit:positions")).toEqual({
      allowed: false,
      retryAfterMs: 9_000,
      remaining: 0,
      reason: "backoff",
    });
    now = T0 + 10_000;
    expect((await l.acquire("bybit:positions")).allowed).toBe(true);
  });

  it("counts 429s per minute and forgets strikes on success", async () => {
    const l = make(0.5);
    await l.record429("bybit:orders");
    await l.record429("bybit:orders");
    const pttl = await r.redis.pttl(`${r.prefix}ratelimit:strikes:bybit`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(600_000);
    expect(await r.redis.hgetall(`${r.prefix}quota:bybit:429`)).toEqual({ [String(Math.floor(T0 / BUCKET_MS))]: "2" });
    await l.recordSuccess("bybit:orders");
    expect((await l.record429("bybit:orders")).strikes).toBe(1);
  });

  it("computes in Lua exactly what backoffDelayMs computes (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.option(fc.integer({ min: 0, max: 120_000 }), { nil: undefined }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 2_000 }),
        async (u, retryAfter, attempts, baseMs) => {
          const ex = `x${Math.random().toString(36).slice(2, 8)}`;
          const policy = { baseMs, capMs: baseMs * 16 };
          const l = createRateLimiter(r.redis, {
            prefix: r.prefix,
            limits: {},
            backoff: policy,
            clock: () => T0,
            random: () => u,
          });
          for (let attempt = 1; attempt <= attempts; attempt++) {
            const res = await l.record429(ex, retryAfter);
            expect(res.strikes).toBe(attempt);
            expect(res.delayMs).toBe(backoffDelayMs(attempt, u, policy, retryAfter));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("WebSocket reconnect counter", () => {
  let r: ReturnType<typeof testRedis>;
  afterEach(() => r.cleanup());

  it("counts reconnects within the last hour and prunes older ones", async () => {
    r = testRedis();
    let now = T0;
    const l = createRateLimiter(r.redis, { prefix: r.prefix, limits: {}, clock: () => now });
    expect(await l.recordReconnect("kraken")).toBe(1);
    now = T0 + 1_000;
    expect(await l.recordReconnect("kraken")).toBe(2);
    now = T0 + 3_600_000; // the first one is exactly an hour old: out
    expect(await l.recordReconnect("kraken")).toBe(2);
    expect(await r.redis.zcard(`${r.prefix}ws:kraken:reconnects`)).toBe(2);
    expect((await l.usage(["kraken"]))[0]).toMatchObject({
      exchange: "kraken",
      wsReconnectsLastHour: 2,
      limit: null,
      pct: null,
    });
    await expect(l.recordReconnect("Kraken Pro")).rejects.toThrow(/lowercase/);
  });
});
