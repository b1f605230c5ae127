// The latency window's arithmetic, against hand-computed cases: nearest-rank percentiles, the soak summary, the
// sample format (garbage counted, never thrown), and the breach judgement at, just below and just above the
// threshold and the duration, with the clock passed in; and the window in Redis stays bounded.
import { afterAll, describe, expect, it } from "vitest";
import {
  appendSamples,
  assess,
  type BreachRule,
  decodeSamples,
  encodeSample,
  type LatencySample,
  percentile,
  readWindow,
  summarize,
  windowAt,
} from "../../src/brokers/latency.js";
import { testRedis } from "../support/redis.js";

const T0 = Date.parse("2026-12-01T15:00:00.000Z");
const RULE: BreachRule = {
  percentile: 99,
  thresholdMs: 200,
  windowMs: 30_000,
  durationMs: 60_000,
  minSamples: 3,
  maxFailures: 3,
};

/** One sample every 10 s from `from` to `to` (inclusive), each `ms` long (or failed when ms is null). */
function every10s(from: number, to: number, ms: number | null): LatencySample[] {
  const out: LatencySample[] = [];
  for (let t = from; t <= to; t += 10_000)
    out.push(ms === null ? { ts: t, ms: 3000, ok: false, error: "timed out" } : { ts: t, ms, ok: true });
  return out;
}

describe("percentile (nearest rank)", () => {
  it("takes the value at rank ⌈p/100·n⌉", () => {
    const xs = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
    expect(percentile(xs, 50)).toBe(50); // rank 5
    expect(percentile(xs, 90)).toBe(90); // rank 9
    expect(percentile(xs, 99)).toBe(100); // rank ⌈9.9⌉ = 10
    expect(percentile([7], 50)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2); // rank 2, not the interpolated 2.5
  });

  it("with 200 samples p99 is the 198th, not the maximum", () => {
    const xs = Array.from({ length: 200 }, (_, i) => i + 1);
    expect(percentile(xs, 99)).toBe(198);
  });
});

describe("summarize", () => {
  it("reports p50/p90/p99/max/min/mean of the successful reads and counts the failed ones", () => {
    const s = summarize([
      { ms: 12.5, ok: true },
      { ms: 10, ok: true },
      { ms: 3000, ok: false },
      { ms: 40, ok: true },
      { ms: 11, ok: true },
    ]);
    expect(s).toEqual({
      calls: 5,
      ok: 4,
      errors: 1,
      latency_ms: { p50: 11, p90: 40, p99: 40, max: 40, min: 10, mean: 18.4 }, // (10+11+12.5+40)/4 = 18.375
    });
    expect(summarize([{ ms: 5, ok: false }]).latency_ms).toBeNull();
  });
});

describe("sample format", () => {
  it("round-trips and counts unreadable entries without throwing", () => {
    const good: LatencySample = { ts: T0, ms: 12.3, ok: true };
    const bad: LatencySample = { ts: T0, ms: 3000, ok: false, error: "HTTP 503" };
    const d = decodeSamples([
      encodeSample(good),
      "garbage",
      JSON.stringify({ ts: T0, ms: -1, ok: true }),
      encodeSample(bad),
    ]);
    expect(d.samples).toEqual([good, bad]);
    expect(d.invalid).toBe(2);
    expect(d.problem).toMatch(/^entry 1 "garbage"/);
  });
});

describe("windowAt", () => {
  it("is not judged below min_samples, and counts a failed read as slower than any threshold", () => {
    const two = every10s(T0, T0 + 10_000, 500);
    expect(windowAt(two, T0 + 10_000, RULE)).toEqual({ n: 2, value: null, breach: false });
    const withFailure = [...every10s(T0, T0 + 10_000, 5), ...every10s(T0 + 20_000, T0 + 20_000, null)];
    expect(windowAt(withFailure, T0 + 20_000, RULE)).toEqual({ n: 3, value: Number.POSITIVE_INFINITY, breach: true });
  });

  it("takes (t − window, t]: a sample exactly window old is out", () => {
    const s = [...every10s(T0, T0, 900), ...every10s(T0 + 10_000, T0 + 30_000, 5)];
    expect(windowAt(s, T0 + 30_000, RULE)).toMatchObject({ n: 3, value: 5, breach: false });
    expect(windowAt(s, T0 + 29_999, RULE)).toMatchObject({ n: 3, value: 900, breach: true });
  });
});

describe("assess: the threshold", () => {
  const now = T0 + 120_000;
  it("at the threshold: no breach (it must be exceeded)", () => {
    expect(assess(every10s(T0, now, 200), now, RULE)).toMatchObject({ breach: false, sustained: false, healthy: true });
  });
  it("just below: no breach", () => {
    expect(assess(every10s(T0, now, 199.9), now, RULE)).toMatchObject({ breach: false, sustained: false });
  });
  it("just above for longer than the duration: a sustained breach since the first point judged", () => {
    const h = assess(every10s(T0, now, 200.1), now, RULE);
    // The first window with min_samples (3) reads ends at T0 + 20 s; every point since breached.
    expect(h).toMatchObject({ breach: true, breachSince: T0 + 20_000, sustained: true, healthy: false, value: 200.1 });
  });
});

describe("assess: the duration", () => {
  const start = T0 + 20_000; // first judged point of a slow run that starts at T0
  it("just below the duration: not sustained", () => {
    const now = start + RULE.durationMs - 1;
    const h = assess([...every10s(T0, start + 50_000, 300), { ts: now, ms: 300, ok: true }], now, RULE);
    expect(h.breachSince).toBe(start);
    expect(h.sustained).toBe(false);
  });
  it("at the duration: sustained", () => {
    const now = start + RULE.durationMs;
    const h = assess(every10s(T0, now, 300), now, RULE);
    expect(h).toMatchObject({ breachSince: start, sustained: true });
  });
  it("a point that did not breach restarts the clock", () => {
    // Fast reads long enough to clear a whole window, then slow again: the breach begins anew.
    const s = [
      ...every10s(T0, T0 + 40_000, 300),
      ...every10s(T0 + 50_000, T0 + 80_000, 5),
      ...every10s(T0 + 90_000, T0 + 150_000, 300),
    ];
    const h = assess(s, T0 + 150_000, RULE);
    expect(h.breachSince).toBe(T0 + 90_000);
    expect(h.sustained).toBe(true); // 60 s at T0 + 150 s
    expect(assess(s, T0 + 140_000, RULE).sustained).toBe(false);
  });
});

describe("assess: failures", () => {
  it("counts failed reads in a row from the newest and calls max_failures failing", () => {
    const ok = every10s(T0, T0 + 20_000, 5);
    const two = [...ok, ...every10s(T0 + 30_000, T0 + 40_000, null)];
    expect(assess(two, T0 + 40_000, RULE)).toMatchObject({ consecutiveFailures: 2, failing: false, healthy: false });
    const three = [...two, ...every10s(T0 + 50_000, T0 + 50_000, null)];
    expect(assess(three, T0 + 50_000, RULE)).toMatchObject({
      consecutiveFailures: 3,
      failing: true,
      lastError: "timed out",
    });
    const recovered = [...three, { ts: T0 + 60_000, ms: 5, ok: true }];
    expect(assess(recovered, T0 + 60_000, RULE)).toMatchObject({ consecutiveFailures: 0, failing: false });
  });

  it("ignores samples from the future (another replica's clock) and an empty window is not healthy", () => {
    expect(assess([{ ts: T0 + 1, ms: 5, ok: true }], T0, RULE)).toMatchObject({ lastAt: null, healthy: false });
  });
});

describe("the window in Redis", () => {
  const t = testRedis();
  afterAll(() => t.cleanup());

  it("keeps the newest max_samples, newest first, with a TTL; a broken entry is counted when read back", async () => {
    const url = "https://api.alpaca.markets";
    for (let i = 0; i < 15; i++)
      await appendSamples(t.redis, t.keys, [{ broker: "alp", url, sample: { ts: T0 + i * 1000, ms: i, ok: true } }], {
        maxSamples: 10,
        keepMs: 600_000,
      });
    const key = t.keys.endpointLatency("alp", url);
    expect(key).toBe(`${t.prefix}endpoint:latency:alp:${url}`);
    expect(await t.redis.llen(key)).toBe(10);
    expect(await t.redis.pttl(key)).toBeGreaterThan(0);
    await t.redis.rpush(key, "not a sample");
    const w = await readWindow(t.redis, t.keys, "alp", url);
    expect(w.samples.map((s) => s.ms)).toEqual([14, 13, 12, 11, 10, 9, 8, 7, 6, 5]);
    expect(w.invalid).toBe(1);
  });
});
