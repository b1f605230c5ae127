// Backoff after HTTP 429: exponential with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
// never shorter than the server's Retry-After (RFC 9110 §10.2.3). The Lua script in scripts.ts computes the same
// curve atomically; this is the reference the tests hold it to.

/** Parses a Retry-After header (seconds or HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  // RFC 9110 §10.2.3: delay-seconds (digits only) or an HTTP-date (IMF-fixdate).
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

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
