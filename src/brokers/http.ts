// HTTP for broker adapters: timeouts, typed errors with Retry-After, JSON bodies validated by the caller.

import { parseRetryAfter } from "@tradeguard/gate/ratelimit";
import { BrokerError } from "../errors.js";

/** A broker HTTP failure the retry policy can reason about. */
export class BrokerHttpError extends BrokerError {
  constructor(
    broker: string,
    message: string,
    readonly httpStatus: number | undefined,
    readonly retryAfterMs: number | undefined,
    readonly body: unknown,
    readonly transient: boolean,
  ) {
    super(broker, message, httpStatus);
  }
}

/** One JSON request with a per-call timeout; throws BrokerHttpError (transient for 429/5xx/network/timeout). */
export async function requestJson(
  broker: string,
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: unknown;
    timeoutMs: number;
    signal?: AbortSignal;
    okStatuses?: number[];
  },
): Promise<{ status: number; body: unknown }> {
  const timeout = AbortSignal.timeout(init.timeoutMs);
  const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: {
        accept: "application/json",
        ...(init.body !== undefined ? { "content-type": "application/json" } : {}),
        ...init.headers,
      },
      body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
      signal,
    });
  } catch (err) {
    const timedOut = timeout.aborted;
    const aborted = init.signal?.aborted;
    const what = aborted
      ? "deadline reached"
      : timedOut
        ? `timed out after ${init.timeoutMs} ms`
        : `network error: ${(err as Error).message}`;
    throw new BrokerHttpError(
      broker,
      `${init.method} ${new URL(url).pathname}: ${what}`,
      undefined,
      undefined,
      undefined,
      !aborted,
    );
  }
  const text = await res.text().catch(() => "");
  let body: unknown = text;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  } else body = null;
  const ok = init.okStatuses ? init.okStatuses.includes(res.status) : res.ok;
  if (!ok) {
    const transient = res.status === 429 || res.status >= 500;
    const detail =
      typeof body === "object" && body && "message" in body
        ? String((body as { message: unknown }).message)
        : String(text).slice(0, 200);
    throw new BrokerHttpError(
      broker,
      `${init.method} ${new URL(url).pathname} → HTTP ${res.status}${detail ? `: ${detail}` : ""}`,
      res.status,
      parseRetryAfter(res.headers.get("retry-after")),
      body,
      transient,
    );
  }
  return { status: res.status, body };
}
