// Retries for broker calls during a panic: 429, 5xx, network errors and timeouts are retried with exponential
// backoff and full jitter, honouring Retry-After, until the call succeeds or the panic's deadline is reached.
import { BrokerError } from "../errors.js";
import { BrokerHttpError } from "./http.js";

export interface RetryOptions {
  /** Absolute deadline (epoch ms): no attempt starts and no wait extends past it. */
  deadline: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; waitMs: number; error: unknown }) => void;
  /** Injected for tests. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/**
 * True for failures worth retrying: HTTP errors flagged transient (429, 5xx, network, timeout) and unknown errors
 * from network libraries. A BrokerError that is not an HTTP error is a data or logic error: retrying cannot help.
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof BrokerHttpError) return err.transient;
  if (err instanceof BrokerError) return false;
  return true;
}

/** Sleeps `ms`, or less when `signal` aborts; the abort listener is removed either way (one signal serves many). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

const defaultSleep = abortableSleep;

/** Calls `fn` until it succeeds, a non-transient error occurs, or the deadline passes (then the last error is thrown). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const base = opts.baseMs ?? 200;
  const max = opts.maxMs ?? 5_000;
  const sleep = opts.sleep ?? defaultSleep;
  const random = opts.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || opts.signal?.aborted) throw err;
      const backoff = Math.floor(random() * Math.min(max, base * 2 ** (attempt - 1)));
      const hinted = err instanceof BrokerHttpError ? err.retryAfterMs : undefined;
      const waitMs = Math.max(backoff, hinted ?? 0);
      if (Date.now() + waitMs >= opts.deadline) throw err;
      opts.onRetry?.({ attempt, waitMs, error: err });
      await sleep(waitMs, opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
