// withRetry / isTransient / parseRetryAfter, with an injected sleep and random source and a simulated clock: no real
// waiting happens in these tests.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseRetryAfter } from "../../packages/gate/src/ratelimit/backoff.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { isTransient, type RetryOptions, withRetry } from "../../src/brokers/retry.js";
import { BrokerError } from "../../src/errors.js";

const T0 = new Date("2025-03-14T15:00:00.000Z").getTime();

beforeEach(() => {
  // Only Date is faked: the injected sleep advances the clock, so the deadline logic sees time pass.
  vi.useFakeTimers({ toFake: ["Date"], now: T0 });
});

afterEach(() => {
  vi.useRealTimers();
});

function httpErr(status: number | undefined, opts: { retryAfterMs?: number; tag?: string } = {}): BrokerHttpError {
  const transient = status === undefined || status === 429 || status >= 500;
  return new BrokerHttpError(
    "alpaca",
    `${opts.tag ?? "call"} → ${status === undefined ? "timed out after 200 ms" : `HTTP ${status}`}`,
    status,
    opts.retryAfterMs,
    null,
    transient,
  );
}

/** A sleep that records each wait and advances the fake clock by it. */
function fakeSleep() {
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
    vi.setSystemTime(Date.now() + ms);
  };
  return { waits, sleep };
}

/** fn failing with the given errors in order, then resolving "ok". */
function failing(errors: unknown[]) {
  const calls: number[] = [];
  const fn = async (attempt: number) => {
    calls.push(attempt);
    const e = errors[calls.length - 1];
    if (e !== undefined) throw e;
    return "ok";
  };
  return { fn, calls };
}

async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the call to reject, but it resolved");
}

describe("isTransient", () => {
  it("follows BrokerHttpError.transient; unknown (network-level) errors are transient", () => {
    expect(isTransient(httpErr(429))).toBe(true);
    expect(isTransient(httpErr(503))).toBe(true);
    expect(isTransient(httpErr(undefined))).toBe(true);
    expect(isTransient(httpErr(403))).toBe(false);
    expect(isTransient(new TypeError("fetch failed"))).toBe(true);
  });
});

describe("withRetry", () => {
  it("retries 429, 5xx and timeouts until the call succeeds", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn, calls } = failing([httpErr(429), httpErr(500), httpErr(503), httpErr(undefined)]);
    const onRetry = vi.fn<NonNullable<RetryOptions["onRetry"]>>();
    const v = await withRetry(fn, { deadline: T0 + 60_000, sleep, random: () => 0.5, onRetry });
    expect(v).toBe("ok");
    expect(calls).toEqual([1, 2, 3, 4, 5]);
    expect(waits).toHaveLength(4);
    expect(onRetry).toHaveBeenCalledTimes(4);
    expect(onRetry.mock.calls.map(([i]) => i.attempt)).toEqual([1, 2, 3, 4]);
    expect(onRetry.mock.calls.map(([i]) => (i.error as BrokerHttpError).httpStatus)).toEqual([
      429,
      500,
      503,
      undefined,
    ]);
  });

  it("returns at once without sleeping when the first call succeeds", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn, calls } = failing([]);
    expect(await withRetry(fn, { deadline: T0 + 1_000, sleep })).toBe("ok");
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it("honours Retry-After: the wait is at least the hinted delay, even when the backoff is smaller", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn } = failing([httpErr(429, { retryAfterMs: 3_000 }), httpErr(429, { retryAfterMs: 1_000 })]);
    const onRetry = vi.fn<NonNullable<RetryOptions["onRetry"]>>();
    await withRetry(fn, { deadline: T0 + 60_000, baseMs: 200, sleep, random: () => 0, onRetry });
    expect(waits).toEqual([3_000, 1_000]);
    expect(onRetry.mock.calls.map(([i]) => i.waitMs)).toEqual([3_000, 1_000]);
    expect(Date.now() - T0).toBe(4_000);
  });

  it("takes the backoff when it is longer than Retry-After", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn } = failing([httpErr(503, { retryAfterMs: 50 })]);
    await withRetry(fn, { deadline: T0 + 60_000, baseMs: 200, sleep, random: () => 1 });
    expect(waits).toEqual([200]);
  });

  it("backs off exponentially, capped at maxMs (random = 1 → base·2^(n−1), capped)", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn } = failing(Array.from({ length: 6 }, () => httpErr(500)));
    await withRetry(fn, { deadline: T0 + 600_000, baseMs: 100, maxMs: 1_000, sleep, random: () => 1 });
    expect(waits).toEqual([100, 200, 400, 800, 1_000, 1_000]);
  });

  it("uses full jitter: the wait is random × the capped backoff", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn } = failing(Array.from({ length: 6 }, () => httpErr(500)));
    await withRetry(fn, { deadline: T0 + 600_000, baseMs: 100, maxMs: 1_000, sleep, random: () => 0.5 });
    expect(waits).toEqual([50, 100, 200, 400, 500, 500]);

    const zero = fakeSleep();
    const again = failing([httpErr(500), httpErr(500)]);
    await withRetry(again.fn, { deadline: T0 + 600_000, sleep: zero.sleep, random: () => 0 });
    expect(zero.waits).toEqual([0, 0]);
  });

  it("defaults to base 200 ms and max 5 s", async () => {
    const { waits, sleep } = fakeSleep();
    const { fn } = failing(Array.from({ length: 7 }, () => httpErr(500)));
    await withRetry(fn, { deadline: T0 + 600_000, sleep, random: () => 1 });
    expect(waits).toEqual([200, 400, 800, 1_600, 3_200, 5_000, 5_000]);
  });

  it("a non-transient error (403) is thrown at once after one call", async () => {
    const { waits, sleep } = fakeSleep();
    const forbidden = httpErr(403);
    const { fn, calls } = failing([forbidden]);
    const err = await caught(withRetry(fn, { deadline: T0 + 60_000, sleep, random: () => 1 }));
    expect(err).toBe(forbidden);
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it("a non-transient error after transient ones stops the retries", async () => {
    const { sleep } = fakeSleep();
    const forbidden = httpErr(403);
    const { fn, calls } = failing([httpErr(500), forbidden, httpErr(500)]);
    expect(await caught(withRetry(fn, { deadline: T0 + 60_000, sleep, random: () => 1 }))).toBe(forbidden);
    expect(calls).toEqual([1, 2]);
  });

  it("stops and throws the last error when the next wait would pass the deadline", async () => {
    const { waits, sleep } = fakeSleep();
    const errors = [1, 2, 3, 4, 5].map((n) => httpErr(500, { tag: `attempt ${n}` }));
    const { fn, calls } = failing(errors);
    // waits 200 (t=200), 400 (t=600); the next (800) would end at 1400 > deadline 1000.
    const err = await caught(withRetry(fn, { deadline: T0 + 1_000, sleep, random: () => 1 }));
    expect(calls).toEqual([1, 2, 3]);
    expect(waits).toEqual([200, 400]);
    expect(err).toBe(errors[2]);
    expect(Date.now()).toBeLessThanOrEqual(T0 + 1_000);
  });

  it("a Retry-After beyond the deadline ends the retries at once", async () => {
    const { waits, sleep } = fakeSleep();
    const limited = httpErr(429, { retryAfterMs: 30_000 });
    const { fn, calls } = failing([limited]);
    expect(await caught(withRetry(fn, { deadline: T0 + 5_000, sleep, random: () => 0 }))).toBe(limited);
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it("stops when the signal aborts during a wait and throws the last error", async () => {
    const ac = new AbortController();
    const waits: number[] = [];
    const sleep = async (ms: number, signal?: AbortSignal) => {
      waits.push(ms);
      expect(signal).toBe(ac.signal);
      if (waits.length === 2) ac.abort();
    };
    const errors = [httpErr(500, { tag: "a1" }), httpErr(500, { tag: "a2" }), httpErr(500, { tag: "a3" })];
    const { fn, calls } = failing(errors);
    const err = await caught(withRetry(fn, { deadline: T0 + 60_000, signal: ac.signal, sleep, random: () => 1 }));
    expect(calls).toEqual([1, 2]);
    expect(waits).toHaveLength(2);
    expect(err).toBe(errors[1]);
  });

  it("does not retry when the signal is already aborted", async () => {
    const { waits, sleep } = fakeSleep();
    const ac = new AbortController();
    ac.abort();
    const { fn, calls } = failing([httpErr(500)]);
    await expect(withRetry(fn, { deadline: T0 + 60_000, signal: ac.signal, sleep })).rejects.toBeInstanceOf(
      BrokerHttpError,
    );
    expect(calls).toEqual([1]);
    expect(waits).toEqual([]);
  });

  it("the default sleep really waits and is cut short by the signal", async () => {
    vi.useRealTimers();
    const ac = new AbortController();
    const { fn, calls } = failing([httpErr(429, { retryAfterMs: 10_000 }), httpErr(500)]);
    setTimeout(() => ac.abort(), 30);
    const started = Date.now();
    const err = await caught(withRetry(fn, { deadline: Date.now() + 60_000, signal: ac.signal }));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(calls).toEqual([1]);
    expect((err as BrokerHttpError).httpStatus).toBe(429);
  });

  it("plain BrokerErrors (data or logic errors, not HTTP) are not retried", async () => {
    const { sleep } = fakeSleep();
    const { fn, calls } = failing([new BrokerError("paper", "order o1 in Redis is malformed")]);
    await expect(withRetry(fn, { deadline: T0 + 60_000, sleep, random: () => 0 })).rejects.toThrow(/malformed/);
    expect(calls).toEqual([1]);
  });

  it("unknown errors from network libraries are retried", async () => {
    const { sleep } = fakeSleep();
    const { fn, calls } = failing([new TypeError("fetch failed")]);
    expect(await withRetry(fn, { deadline: T0 + 60_000, sleep, random: () => 0 })).toBe("ok");
    expect(calls).toEqual([1, 2]);
  });
});

describe("parseRetryAfter", () => {
  it("parses delay-seconds", () => {
    expect(parseRetryAfter("1")).toBe(1_000);
    expect(parseRetryAfter("0")).toBe(0);
    expect(parseRetryAfter("120")).toBe(120_000);
  });

  it("parses an HTTP-date relative to now; a past date is 0", () => {
    const now = Date.parse("Wed, 21 Oct 2015 07:28:00 GMT");
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:05 GMT", now)).toBe(5_000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:27:00 GMT", now)).toBe(0);
  });

  it("missing or garbage → undefined", () => {
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("")).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
    expect(parseRetryAfter("abc")).toBeUndefined();
  });

  // Regression: parseRetryAfter once accepted anything Number() or Date.parse accepted (RFC 9110 §10.2.3).
  it.each([["0x10"], ["1e3"], ["-5"], ["garbage 2024"], ["  "]])("malformed %j → undefined", (value) => {
    expect(parseRetryAfter(value, T0)).toBeUndefined();
  });
});
