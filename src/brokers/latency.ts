// Latency samples of broker endpoints and what is judged from them: the sliding window the endpoint_latency guard
// keeps per endpoint in Redis (`<prefix>endpoint:latency:<broker>:<url>`, docs/redis-keys.md) and the soak's report.
// Latencies are milliseconds (0.1 ms resolution). Percentiles are nearest-rank (the value at rank ⌈p/100 · n⌉ of the
// sorted sample), so every reported figure is one that was measured: with fewer than 100 samples, p99 is the maximum.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";
import type { Broker } from "./broker.js";

/** One cheap authenticated read against one endpoint. `ts`: epoch ms it was taken at; `ms`: how long it took. */
export const sampleSchema = z
  .object({
    ts: z.number().int().nonnegative(),
    ms: z.number().nonnegative().finite(),
    ok: z.boolean(),
    error: z.string().max(500).optional(),
  })
  .strict();
export type LatencySample = z.infer<typeof sampleSchema>;

/** Rounds a duration to 0.1 ms (what samples store and reports print). */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The list entry for a sample (JSON). */
export function encodeSample(s: LatencySample): string {
  return JSON.stringify(s.error === undefined ? { ts: s.ts, ms: s.ms, ok: s.ok } : s);
}

/** Parses list entries; an entry that is not a sample is counted (and the first one described), never thrown. */
export function decodeSamples(raw: readonly string[]): {
  samples: LatencySample[];
  invalid: number;
  problem: string | null;
} {
  const samples: LatencySample[] = [];
  let invalid = 0;
  let problem: string | null = null;
  raw.forEach((entry, i) => {
    let value: unknown;
    try {
      value = JSON.parse(entry);
    } catch {
      value = undefined;
    }
    const r = sampleSchema.safeParse(value);
    if (r.success) samples.push(r.data);
    else {
      invalid++;
      problem ??= `entry ${i} ${JSON.stringify(entry.slice(0, 60))}: ${r.error?.issues[0]?.message ?? "not JSON"}`;
    }
  });
  return { samples, invalid, problem };
}

/** Nearest-rank percentile of an ascending, non-empty list (p in (0, 100]). */
export function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** p50/p90/p99/max/min/mean over the successful reads, and how many failed. Latency figures null when none succeeded. */
export interface LatencySummary {
  calls: number;
  ok: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; min: number; mean: number } | null;
}

/** Summarises reads (`ok` ones for the latency figures). */
export function summarize(samples: readonly { ms: number; ok: boolean }[]): LatencySummary {
  const ok = samples
    .filter((s) => s.ok)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const mean = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : 0;
  return {
    calls: samples.length,
    ok: ok.length,
    errors: samples.length - ok.length,
    latency_ms: ok.length
      ? {
          p50: percentile(ok, 50),
          p90: percentile(ok, 90),
          p99: percentile(ok, 99),
          max: ok[ok.length - 1]!,
          min: ok[0]!,
          mean: roundMs(mean),
        }
      : null,
  };
}

/** When an endpoint counts as breaching, failing and healthy (the endpoint_latency guard's settings). */
export interface BreachRule {
  /** The percentile judged (50 or 99). */
  percentile: number;
  /** Breach: the percentile above this (strictly). */
  thresholdMs: number;
  /** The sliding window the percentile is taken over. */
  windowMs: number;
  /** A breach that held at every sample for this long is sustained. */
  durationMs: number;
  /** Fewer reads than this in a window: not judged (no breach). */
  minSamples: number;
  /** This many failed reads in a row: failing. */
  maxFailures: number;
}

/** The window ending at `t`: the percentile over (t − window, t], a failed read counting as slower than any threshold. */
export function windowAt(
  samples: readonly LatencySample[],
  t: number,
  rule: BreachRule,
): { n: number; value: number | null; breach: boolean } {
  const inWindow = samples.filter((s) => s.ts <= t && s.ts > t - rule.windowMs);
  if (inWindow.length < rule.minSamples) return { n: inWindow.length, value: null, breach: false };
  const sorted = inWindow.map((s) => (s.ok ? s.ms : Number.POSITIVE_INFINITY)).sort((a, b) => a - b);
  const value = percentile(sorted, rule.percentile);
  return { n: inWindow.length, value, breach: value > rule.thresholdMs };
}

/** What the window says about one endpoint at `now`. */
export interface EndpointHealth {
  /** Reads in the current window. */
  n: number;
  /** The judged percentile now (Infinity when failed reads reach it), or null when not judged (too few reads). */
  value: number | null;
  breach: boolean;
  /** Epoch ms since which every sample point (and now) breached, or null. */
  breachSince: number | null;
  /** The breach has held for `durationMs`. */
  sustained: boolean;
  consecutiveFailures: number;
  /** `maxFailures` failed reads in a row. */
  failing: boolean;
  /** The newest read succeeded and the window does not breach: a failover may go here. */
  healthy: boolean;
  lastError: string | null;
  /** Epoch ms of the newest read, or null when there is none. */
  lastAt: number | null;
}

/**
 * Judges one endpoint from its samples (any order) at `now`. The breach is re-judged at every sample time, newest
 * first, back to the first point that did not breach: it is sustained when that trailing run of breaching points
 * began at least `durationMs` ago. (A window list that is too short for duration + window cannot show a sustained
 * breach: size `max_samples` for it.)
 */
export function assess(samples: readonly LatencySample[], now: number, rule: BreachRule): EndpointHealth {
  const past = samples.filter((s) => s.ts <= now).sort((a, b) => b.ts - a.ts);
  let consecutiveFailures = 0;
  while (consecutiveFailures < past.length && !past[consecutiveFailures]!.ok) consecutiveFailures++;
  const current = windowAt(past, now, rule);
  let breachSince: number | null = null;
  if (current.breach) {
    breachSince = now;
    const points = [...new Set(past.map((s) => s.ts))].filter((t) => t < now);
    for (const t of points) {
      if (!windowAt(past, t, rule).breach) break;
      breachSince = t;
    }
  }
  const newest = past[0];
  return {
    n: current.n,
    value: current.value,
    breach: current.breach,
    breachSince,
    sustained: breachSince !== null && now - breachSince >= rule.durationMs,
    consecutiveFailures,
    failing: consecutiveFailures >= rule.maxFailures,
    healthy: newest?.ok === true && !current.breach,
    lastError: past.find((s) => !s.ok)?.error ?? null,
    lastAt: newest?.ts ?? null,
  };
}

/**
 * Times one `ping` of `broker` pinned to `url`, stamped `at` (the tick's clock); never throws: a failure is a failed
 * sample carrying the error.
 */
export function timeRead(
  broker: Broker,
): (url: string, at: number, timeoutMs: number, signal?: AbortSignal) => Promise<LatencySample> {
  return async (url, at, timeoutMs, signal) => {
    const started = performance.now();
    try {
      if (!broker.ping || !broker.endpoints) throw new Error(`${broker.name} has no cheap read to time`);
      const ping = broker.ping.bind(broker);
      await broker.endpoints.using(url, () => ping({ signal, timeoutMs }));
      return { ts: at, ms: roundMs(performance.now() - started), ok: true };
    } catch (err) {
      const error = String((err as Error)?.message ?? err).slice(0, 300);
      return { ts: at, ms: roundMs(performance.now() - started), ok: false, error };
    }
  };
}

/** Appends samples to their endpoints' windows: LPUSH, LTRIM to `maxSamples`, PEXPIRE `keepMs`, in one pipeline. */
export async function appendSamples(
  redis: Redis,
  keys: Keys,
  samples: readonly { broker: string; url: string; sample: LatencySample }[],
  opts: { maxSamples: number; keepMs: number },
): Promise<void> {
  if (samples.length === 0) return;
  const p = redis.pipeline();
  for (const s of samples) {
    const key = keys.endpointLatency(s.broker, s.url);
    p.lpush(key, encodeSample(s.sample))
      .ltrim(key, 0, opts.maxSamples - 1)
      .pexpire(key, opts.keepMs);
  }
  const failed = ((await p.exec()) ?? []).find(([err]) => err);
  if (failed) throw failed[0];
}

/** Reads one endpoint's window (newest first, at most `limit` samples); unreadable entries are counted. */
export async function readWindow(
  redis: Redis,
  keys: Keys,
  broker: string,
  url: string,
  limit = 1_000,
): Promise<ReturnType<typeof decodeSamples>> {
  return decodeSamples(await redis.lrange(keys.endpointLatency(broker, url), 0, limit - 1));
}
