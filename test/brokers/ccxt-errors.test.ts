// ccxt exceptions → BrokerHttpError (transient or not, status and Retry-After from the recorded response, signatures
// redacted), the response recorder on a stub exchange's error hooks, and abortable's deadline.
import {
  BadResponse,
  DDoSProtection,
  type Exchange,
  ExchangeNotAvailable,
  InsufficientFunds,
  RateLimitExceeded,
  RequestTimeout,
} from "ccxt";
import { describe, expect, it, vi } from "vitest";
import {
  abortable,
  DeadlineReached,
  type ResponseMeta,
  recordResponseMeta,
  toBrokerHttpError,
} from "../../src/brokers/ccxt-errors.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { caught } from "../support/caught.js";

const none = new WeakMap<object, ResponseMeta>();

describe("toBrokerHttpError", () => {
  it("rate limits and network/response trouble are transient; a venue rejection is not", () => {
    const cases: [unknown, boolean, number | undefined, string][] = [
      [new RateLimitExceeded("too many"), true, 429, "rate limited (RateLimitExceeded)"],
      [new DDoSProtection("slow down"), true, 429, "rate limited (DDoSProtection)"],
      [new RequestTimeout("timed out"), true, undefined, "network/availability error (RequestTimeout)"],
      [new ExchangeNotAvailable("503"), true, undefined, "network/availability error (ExchangeNotAvailable)"],
      [new BadResponse("not json"), true, undefined, "unreadable response (BadResponse)"],
      [new InsufficientFunds("-2019"), false, undefined, "rejected (InsufficientFunds)"],
      [new TypeError("x is undefined"), false, undefined, "unexpected response or error (TypeError)"],
      ["a string", false, undefined, "unexpected response or error (string)"],
    ];
    for (const [err, transient, status, what] of cases) {
      const mapped = toBrokerHttpError("binance-um", "cancelAll", err, none);
      expect(mapped, what).toBeInstanceOf(BrokerHttpError);
      expect(mapped.transient, what).toBe(transient);
      expect(mapped.httpStatus, what).toBe(status);
      expect(mapped.userMessage, what).toContain(`binance-um: cancelAll: ${what}: `);
      expect(mapped.cause, what).toBe(err);
    }
  });

  it("takes status, Retry-After and body from the recorded response, and passes a BrokerHttpError through", () => {
    const err = new RateLimitExceeded("binanceusdm 418");
    const responses = new WeakMap<object, ResponseMeta>([[err, { status: 418, retryAfterMs: 7000, body: { c: 1 } }]]);
    const mapped = toBrokerHttpError("b", "op", err, responses);
    expect(mapped.httpStatus).toBe(418);
    expect(mapped.retryAfterMs).toBe(7000);
    expect(mapped.body).toEqual({ c: 1 });

    const already = new BrokerHttpError("b", "op: deadline reached", undefined, undefined, undefined, false);
    expect(toBrokerHttpError("b", "op", already, responses)).toBe(already);
  });

  it("redacts request signatures and caps the venue's message", () => {
    const url = "https://fapi.binance.com/fapi/v1/order?symbol=BTCUSDT&timestamp=1&signature=0123abcdef";
    const mapped = toBrokerHttpError("b", "op", new InsufficientFunds(`${url}&x=1 ${"y".repeat(600)}`), none);
    expect(mapped.userMessage).toContain("timestamp=1&signature=<redacted>&x=1");
    expect(mapped.userMessage).not.toContain("0123abcdef");
    expect(mapped.userMessage.length).toBeLessThan(560);
  });

  it("redacts every credential a venue may echo: keys, secrets, passphrases, tokens (query, JSON, headers)", () => {
    const echoed = [
      "GET /api/v3/account?apiKey=AKIAKEY1&timestamp=2&client_secret=SEC2",
      '{"X-MBX-APIKEY": "HDR3", "OK-ACCESS-PASSPHRASE":"PASS4", "access_token":"TOK5"}',
      "secret: SEC6, sign=SIG7",
    ].join(" ");
    const msg = toBrokerHttpError("b", "op", new InsufficientFunds(echoed), none).userMessage;
    for (const leaked of ["AKIAKEY1", "SEC2", "HDR3", "PASS4", "TOK5", "SEC6", "SIG7"])
      expect(msg).not.toContain(leaked);
    expect(msg).toContain("apiKey=<redacted>&timestamp=2");
  });
});

/** A stand-in for a ccxt exchange: only the two hooks recordResponseMeta wraps, as spies with scripted outcomes. */
function stubExchange(onErrors: () => unknown, onStatus: () => void = () => {}) {
  const handleErrors = vi.fn(onErrors);
  const handleHttpStatusCode = vi.fn(onStatus);
  const exchange = { id: "stubex", handleErrors, handleHttpStatusCode } as unknown as Exchange;
  return { handleErrors, handleHttpStatusCode, exchange };
}

describe("recordResponseMeta", () => {
  it("remembers status, Retry-After and the parsed body behind an error ccxt's handleErrors throws", () => {
    const venueErr = new RateLimitExceeded("-1003");
    const { handleErrors, exchange } = stubExchange(() => {
      throw venueErr;
    });
    const responses = recordResponseMeta(exchange);
    const body = '{"code":-1003}';
    const parsed = { code: -1003 };
    expect(() =>
      exchange.handleErrors(429, "", "https://x/y?sig=1", "GET", { "retry-after": "7" }, body, parsed, {}, ""),
    ).toThrow(venueErr);
    expect(handleErrors).toHaveBeenCalledOnce();
    expect(responses.get(venueErr)).toEqual({ status: 429, retryAfterMs: 7000, body: parsed });
  });

  it("a 2xx body that looks like JSON or HTML but did not parse is a BadResponse; other bodies reach ccxt", () => {
    const { handleErrors, exchange } = stubExchange(() => undefined);
    const responses = recordResponseMeta(exchange);
    const err = (() => {
      try {
        exchange.handleErrors(
          200,
          "OK",
          "https://x/fapi/v1/openOrders?signature=s",
          "GET",
          {},
          '[{"id":',
          undefined,
          {},
          "",
        );
      } catch (e) {
        return e;
      }
      throw new Error("expected a BadResponse");
    })();
    expect(err).toBeInstanceOf(BadResponse);
    expect((err as Error).message).toBe(
      'stubex GET https://x/fapi/v1/openOrders: response body is not valid JSON: [{"id":',
    );
    expect(responses.get(err as object)).toMatchObject({ status: 200, body: '[{"id":' });
    expect(handleErrors).not.toHaveBeenCalled();

    exchange.handleErrors(200, "OK", "https://x", "GET", {}, "ok", undefined, {}, "");
    exchange.handleErrors(200, "OK", "https://x", "GET", {}, "{}", {}, {}, "");
    expect(handleErrors).toHaveBeenCalledTimes(2);
  });

  it("remembers the status behind an error thrown by handleHttpStatusCode", () => {
    const httpErr = new ExchangeNotAvailable("503");
    const { exchange } = stubExchange(
      () => undefined,
      () => {
        throw httpErr;
      },
    );
    const responses = recordResponseMeta(exchange);
    expect(() => exchange.handleHttpStatusCode(503, "Service Unavailable", "https://x", "GET", "down")).toThrow(
      httpErr,
    );
    expect(responses.get(httpErr)).toEqual({ status: 503, retryAfterMs: undefined, body: "down" });
  });
});

describe("abortable", () => {
  it("without a signal is the promise itself; with a live signal it settles like the promise", async () => {
    const p = Promise.resolve(1);
    expect(abortable(p)).toBe(p);
    const signal = new AbortController().signal;
    await expect(abortable(Promise.resolve(2), signal)).resolves.toBe(2);
    const boom = new Error("boom");
    expect(await caught(abortable(Promise.reject(boom), signal))).toBe(boom);
  });

  it("an aborted signal rejects with DeadlineReached at once; the abandoned call's failure is swallowed", async () => {
    const ac = new AbortController();
    ac.abort();
    // Without abortable's catch on the abandoned promise this is an unhandled rejection, which fails the vitest run.
    expect(await caught(abortable(Promise.reject(new Error("late")), ac.signal))).toBeInstanceOf(DeadlineReached);
  });

  it("an abort while the call is in flight abandons it: DeadlineReached at once, whatever it does later", async () => {
    const ac = new AbortController();
    let fail: (e: Error) => void = () => {};
    const inFlight = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const result = abortable(inFlight, ac.signal);
    ac.abort();
    expect(await caught(result)).toBeInstanceOf(DeadlineReached);
    fail(new Error("socket closed after the deadline"));
    expect(await caught(result)).toBeInstanceOf(DeadlineReached);
  });
});
