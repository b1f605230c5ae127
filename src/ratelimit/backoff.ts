// Backoff after HTTP 429: exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
// never shorter than the server's Retry-After (RFC 9110 §10.2.3). The Lua script in scripts.ts computes the same
// curve atomically; this is the reference the tests hold it to.
export { parseRetryAfter } from "../brokers/http.js";

export interface BackoffPolicy {
  /** Ceiling of the first wait (attempt 1). */
  baseMs: number;
  /** No wait is drawn above this (Retry-After may still be longer). */
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 60_000 };

/**
 * The wait after the `attempt`-th consecutive 429: uniform in [0, min(cap, base·2^(attempt-1))) drawn with `u` in
 * [0, 1), or `retryAfterMs` when that is longer.
 */
export function backoffDelayMs(
  attempt: number,
  u: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  retryAfterMs?: number,
): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const drawn = Math.floor(Math.min(Math.max(u, 0), 1) * ceiling);
  return Math.max(drawn, retryAfterMs !== undefined && retryAfterMs > 0 ? Math.ceil(retryAfterMs) : 0);
}
