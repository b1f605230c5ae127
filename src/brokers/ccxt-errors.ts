// Errors from ccxt: recording the HTTP response behind each ccxt exception, mapping ccxt's error classes to a
// transient / non-transient BrokerHttpError (with signatures redacted), and abandoning a call when the deadline hits.

import { parseRetryAfter } from "@tradeguard/gate/ratelimit";
import {
  BadResponse,
  BaseError,
  DDoSProtection,
  type Exchange,
  NetworkError,
  OperationFailed,
  RateLimitExceeded,
} from "ccxt";
import { BrokerHttpError } from "./http.js";

/** What we learned about the HTTP response behind a ccxt exception (ccxt's errors carry neither status nor headers). */
export interface ResponseMeta {
  status: number;
  retryAfterMs: number | undefined;
  body: unknown;
}

/** Wraps the exchange's error hooks; the returned map gives HTTP status, Retry-After and body per ccxt exception. */
export function recordResponseMeta(ex: Exchange): WeakMap<object, ResponseMeta> {
  const meta = new WeakMap<object, ResponseMeta>();
  const handleErrors = ex.handleErrors.bind(ex);
  const handleHttpStatusCode = ex.handleHttpStatusCode.bind(ex);
  const remember = (err: unknown, status: unknown, headers: unknown, body: unknown) => {
    if (!err || typeof err !== "object" || typeof status !== "number") return;
    const h = (headers ?? {}) as Record<string, unknown>;
    const retryAfter = h["Retry-After"] ?? h["retry-after"];
    meta.set(err, {
      status,
      retryAfterMs: parseRetryAfter(typeof retryAfter === "string" ? retryAfter : null),
      body,
    });
  };
  ex.handleErrors = (status, statusText, url, method, headers, body, response, reqHeaders, reqBody) => {
    // ccxt hands an unparseable 2xx body on as a string (and then "parses" it character by character): a body that
    // looks like JSON or HTML but did not parse is a broken response, not data.
    if (status >= 200 && status < 300 && response === undefined && typeof body === "string" && /^\s*[[{<]/.test(body)) {
      const err = new BadResponse(
        `${ex.id} ${method} ${url.split("?")[0]}: response body is not valid JSON: ${body.slice(0, 120)}`,
      );
      remember(err, status, headers, body);
      throw err;
    }
    try {
      return handleErrors(status, statusText, url, method, headers, body, response, reqHeaders, reqBody);
    } catch (err) {
      remember(err, status, headers, response ?? body);
      throw err;
    }
  };
  ex.handleHttpStatusCode = (status, reason, url, method, body) => {
    try {
      handleHttpStatusCode(status, reason, url, method, body);
    } catch (err) {
      remember(err, status, undefined, body);
      throw err;
    }
  };
  return meta;
}

/** Strips request signatures from an error message and caps its length, so it can go to logs and Slack. */
function redact(message: string): string {
  // The signature and every credential a venue takes in the query string or a header echoed back in its message.
  return message
    .replace(
      /([A-Za-z0-9_-]*(?:signature|sign|api[-_]?key|secret|passphrase|access[-_]?key|token))(["']?\s*[=:]\s*["']?)[^&\s"',}]+/gi,
      "$1$2<redacted>",
    )
    .slice(0, 500);
}

/** Maps anything thrown by ccxt (or by us) to a BrokerHttpError the retry policy understands. */
export function toBrokerHttpError(
  broker: string,
  op: string,
  err: unknown,
  responses: WeakMap<object, ResponseMeta>,
): BrokerHttpError {
  if (err instanceof BrokerHttpError) return err;
  const meta = err && typeof err === "object" ? responses.get(err) : undefined;
  const kind = err instanceof Error ? err.constructor.name : typeof err;
  const detail = redact(err instanceof Error ? err.message : String(err));
  const make = (what: string, status: number | undefined, transient: boolean) => {
    const mapped = new BrokerHttpError(
      broker,
      `${op}: ${what}: ${detail}`,
      status,
      meta?.retryAfterMs,
      meta?.body,
      transient,
    );
    mapped.cause = err;
    return mapped;
  };
  if (err instanceof RateLimitExceeded || err instanceof DDoSProtection) {
    return make(`rate limited (${kind})`, meta?.status ?? 429, true);
  }
  if (err instanceof NetworkError) return make(`network/availability error (${kind})`, meta?.status, true);
  if (err instanceof BadResponse) return make(`unreadable response (${kind})`, meta?.status, true);
  if (err instanceof OperationFailed) return make(`operation failed (${kind})`, meta?.status, true);
  if (err instanceof BaseError) return make(`rejected (${kind})`, meta?.status, false);
  return make(`unexpected response or error (${kind})`, meta?.status, false);
}

/** Thrown by `abortable` when the signal aborts before the call settled. */
export class DeadlineReached extends Error {}

/** Resolves/rejects with `p`, or rejects with DeadlineReached as soon as the signal aborts (the call is abandoned). */
export function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(new DeadlineReached());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      p.catch(() => {});
      reject(new DeadlineReached());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
