// The latency soak (`tradeguard soak`): the broker's cheap authenticated read (the one the endpoint_latency guard
// times) at a fixed rate for a while, against the active endpoint or each configured one, and a report of what it
// saw — p50/p90/p99/max of the successful reads (nearest-rank, src/brokers/latency.ts) and every error. One read per
// endpoint is in flight at a time; a read slower than the interval delays the next tick instead of piling up. The
// soak only reads: it needs no role, writes nothing, and runs without Redis (on the primary, and says so).
import type { Broker } from "../brokers/broker.js";
import { type LatencySample, roundMs, summarize, timeRead } from "../brokers/latency.js";
import { abortableSleep } from "../brokers/retry.js";
import { UsageError } from "../errors.js";
import type { OpsDeps } from "./deps.js";

/** Longest soak: a day. */
export const MAX_SOAK_MS = 24 * 60 * 60_000;
/** Distinct error messages kept per endpoint in the report. */
const ERROR_EXAMPLES = 5;

export interface SoakInput {
  broker: string;
  durationMs: number;
  /** Time between two reads of one endpoint (default 1 s). */
  intervalMs?: number;
  /** Soak every configured endpoint (in parallel) instead of the active one only. */
  each?: boolean;
  /** Ends the soak early (Ctrl-C); the report covers what was measured. */
  signal?: AbortSignal;
  onProgress?: (p: { done: number; total: number; errors: number }) => void;
}

/** One endpoint's figures in the report (the JSON contract of `tradeguard soak --json`). */
export interface SoakEndpoint {
  /** The endpoint, or null for a ccxt broker without `endpoints` (ccxt's own URLs). */
  url: string | null;
  active: boolean;
  calls: number;
  ok: number;
  errors: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; min: number; mean: number } | null;
  /** Up to 5 distinct errors, first seen first, with how often each occurred. */
  error_examples: { error: string; count: number; first_at: string }[];
}

export interface SoakReport {
  broker: string;
  kind: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  interval_ms: number;
  /** Ended early by the signal. */
  interrupted: boolean;
  /** The active endpoint when the soak started, and where that came from ("flag" in Redis, or the "default"). */
  active: string | null;
  active_source: "flag" | "default";
  /** Set when the active endpoint could not be read (Redis unreachable): the primary was used. */
  active_note: string | null;
  endpoints: SoakEndpoint[];
}

/** Runs a soak (no role: it only reads). UsageError for an unknown broker, one without a cheap read, bad durations. */
export async function runSoak(deps: OpsDeps, input: SoakInput): Promise<SoakReport> {
  const intervalMs = input.intervalMs ?? 1_000;
  if (!Number.isFinite(input.durationMs) || input.durationMs < 1_000 || input.durationMs > MAX_SOAK_MS)
    throw new UsageError("the soak lasts from 1 second to 24 hours");
  if (!Number.isInteger(intervalMs) || intervalMs < 50 || intervalMs > input.durationMs)
    throw new UsageError("--interval-ms: from 50 ms up to the soak's duration");
  const broker = deps.brokers.find((b) => b.name === input.broker);
  if (!broker) {
    const known = deps.brokers.map((b) => b.name).join(", ") || "none";
    throw new UsageError(`no broker named ${input.broker} is configured (configured: ${known})`);
  }
  if (!broker.ping)
    throw new UsageError(`broker ${broker.name} (${broker.kind}) has no cheap authenticated read to soak`);

  const eps = broker.endpoints;
  await eps?.refresh();
  const view = eps?.view();
  const active = view?.active ?? null;
  const targets: (string | null)[] = eps ? (input.each ? [...eps.urls] : [active!]) : [null];
  const samples = targets.map((): LatencySample[] => []);
  const read = time(broker, deps.config.panic.callTimeoutMs);

  const total = Math.max(1, Math.floor(input.durationMs / intervalMs));
  const started = Date.now();
  const startedAt = deps.now();
  let done = 0;
  let errors = 0;
  for (let i = 0; i < total && !input.signal?.aborted; i++) {
    const wait = started + i * intervalMs - Date.now();
    if (wait > 0) await abortableSleep(wait, input.signal);
    if (input.signal?.aborted) break;
    const at = deps.now().getTime();
    const round = await Promise.all(targets.map((url) => read(url, at, input.signal)));
    round.forEach((s, n) => {
      samples[n]!.push(s);
      if (!s.ok) errors++;
    });
    done++;
    input.onProgress?.({ done, total, errors });
  }

  return {
    broker: broker.name,
    kind: broker.kind,
    started_at: startedAt.toISOString(),
    finished_at: deps.now().toISOString(),
    duration_ms: Date.now() - started,
    interval_ms: intervalMs,
    interrupted: done < total,
    active,
    active_source: view?.activeSource ?? "default",
    active_note: view?.readError ? `active endpoint unknown (${view.readError}): the primary was used` : null,
    endpoints: targets.map((url, n) => ({
      url,
      active: url === active,
      ...summarize(samples[n]!),
      error_examples: examples(samples[n]!),
    })),
  };
}

/** Times one read pinned to `url` (or unpinned for `null`). */
function time(broker: Broker, timeoutMs: number) {
  const pinned = timeRead(broker);
  return async (url: string | null, at: number, signal?: AbortSignal): Promise<LatencySample> => {
    if (url !== null) return pinned(url, at, timeoutMs, signal);
    const started = performance.now();
    try {
      await broker.ping!({ signal, timeoutMs });
      return { ts: at, ms: roundMs(performance.now() - started), ok: true };
    } catch (err) {
      return { ts: at, ms: roundMs(performance.now() - started), ok: false, error: String((err as Error)?.message) };
    }
  };
}

function examples(samples: LatencySample[]): SoakEndpoint["error_examples"] {
  const byError = new Map<string, SoakEndpoint["error_examples"][number]>();
  for (const s of samples) {
    if (s.ok) continue;
    const error = s.error ?? "unknown error";
    const e = byError.get(error);
    if (e) e.count++;
    else byError.set(error, { error, count: 1, first_at: new Date(s.ts).toISOString() });
  }
  return [...byError.values()].slice(0, ERROR_EXAMPLES);
}
