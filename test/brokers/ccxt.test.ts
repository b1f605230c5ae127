// CcxtBroker against Binance USD-M futures (ccxt "binanceusdm") with nock serving replies in the wire format of
// Binance's USDⓈ-M futures REST docs. The endpoints are the ones ccxt 4.5.84 calls (read from
// node_modules/ccxt/js/src/binance.js): GET /fapi/v1/exchangeInfo (loadMarkets), GET /fapi/v1/openOrders,
// DELETE /fapi/v1/allOpenOrders, GET /fapi/v1/leverageBracket + GET /fapi/v3/positionRisk (fetchPositions),
// POST /fapi/v1/order. Signed requests are checked against HMAC-SHA256 of the query with the test secret.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import nock from "nock";
import { afterAll, describe, expect, it } from "vitest";
import { closeClientOrderId } from "../../src/brokers/broker.js";
import { type CcxtBrokerConfig, ccxtFromConfig } from "../../src/brokers/ccxt.js";
import type { CcxtBroker } from "../../src/brokers/ccxt-broker.js";
import { toDecimalString } from "../../src/brokers/ccxt-values.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { BrokerError, ConfigError } from "../../src/errors.js";
import { caught } from "../support/caught.js";
import { interceptBrokerHttp } from "../support/nock.js";

const FAPI = "https://fapi.binance.com";
// The example key pair from Binance's API docs ("SIGNED Endpoint Examples").
const KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const ENV = { BINANCE_API_KEY: KEY, BINANCE_API_SECRET: SECRET };
const BTC = "BTC/USDT:USDT";
const ETH = "ETH/USDT:USDT";

function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(new URL(`./fixtures/binanceusdm/${name}`, import.meta.url), "utf8")) as T;
}

function config(over: Partial<CcxtBrokerConfig> = {}): CcxtBrokerConfig {
  return {
    name: "binance-um",
    kind: "ccxt",
    exchange: "binanceusdm",
    api_key_env: "BINANCE_API_KEY",
    secret_env: "BINANCE_API_SECRET",
    sandbox: false,
    // With keys set, ccxt's binance loadMarkets also calls GET api.binance.com/sapi/v1/capital/config/getall;
    // the kill switch does not need currency metadata, so the test (and the recommended config) turns it off.
    options: { fetchCurrencies: false },
    symbols: [BTC],
    ...over,
  };
}

/** A broker through the real factory; ccxt's default undici transport bypasses nock, so tests use global fetch. */
function makeBroker(over: Partial<CcxtBrokerConfig> = {}): CcxtBroker {
  return ccxtFromConfig(config(over), ENV, 5_000, { enableRateLimit: false, fetchImplementation: globalThis.fetch });
}

/** Interceptors for signed endpoints: they match only with the API key header. */
function signed() {
  return nock(FAPI, { reqheaders: { "X-MBX-APIKEY": KEY } });
}

function serveMarkets(): void {
  nock(FAPI).get("/fapi/v1/exchangeInfo").reply(200, fixture("exchangeInfo.json"));
}

/** Checks the HMAC signature of a signed query/body and returns its parameters (without the signature). */
function verifySigned(query: string): URLSearchParams {
  const at = query.lastIndexOf("&signature=");
  expect(at, `signed request: ${query}`).toBeGreaterThan(0);
  const payload = query.slice(0, at);
  expect(query.slice(at + "&signature=".length)).toBe(createHmac("sha256", SECRET).update(payload).digest("hex"));
  const params = new URLSearchParams(payload);
  expect(Number(params.get("timestamp"))).toBeGreaterThan(1_700_000_000_000);
  expect(params.get("recvWindow")).toBe("10000");
  return params;
}

function queryOf(uri: string): string {
  return uri.slice(uri.indexOf("?") + 1);
}

/** A POST /fapi/v1/order reply (newOrderRespType=RESULT) for a filled market order. */
function filledMarketOrder(form: URLSearchParams, orderId: number, avgPrice: string): Record<string, unknown> {
  const qty = form.get("quantity");
  return {
    orderId,
    symbol: form.get("symbol"),
    status: "FILLED",
    clientOrderId: form.get("newClientOrderId"),
    price: "0.00",
    avgPrice,
    origQty: qty,
    executedQty: qty,
    cumQty: qty,
    cumQuote: "1000.00000",
    timeInForce: "GTC",
    type: "MARKET",
    reduceOnly: form.get("reduceOnly") === "true",
    closePosition: false,
    side: form.get("side"),
    positionSide: form.get("positionSide") ?? "BOTH",
    stopPrice: "0.00",
    workingType: "CONTRACT_PRICE",
    priceProtect: false,
    origType: "MARKET",
    priceMatch: "NONE",
    selfTradePreventionMode: "EXPIRE_MAKER",
    goodTillDate: 0,
    updateTime: 1732521400000,
  };
}

interceptBrokerHttp("Binance");

afterAll(() => {
  nock.enableNetConnect();
});

describe("CcxtBroker (binanceusdm) listOpenOrders", () => {
  it("lists all symbols in one signed GET /fapi/v1/openOrders and keeps Binance's decimal strings", async () => {
    serveMarkets();
    const seen: string[] = [];
    signed()
      .get("/fapi/v1/openOrders")
      .query(true)
      .reply((uri) => {
        seen.push(uri);
        return [200, fixture("openOrders.json")];
      });

    const orders = await makeBroker().listOpenOrders();

    expect(seen).toHaveLength(1);
    const params = verifySigned(queryOf(seen[0]!));
    expect(params.has("symbol")).toBe(false);
    expect(orders).toEqual([
      {
        id: "4075964231",
        clientOrderId: "strat-a-000123",
        symbol: BTC,
        side: "buy",
        qty: "0.300",
        filledQty: "0.100",
        type: "limit",
        status: "open",
        limitPrice: "61000.10",
        notional: null,
      },
      {
        id: "8389765012345",
        clientOrderId: "web_Kx8nQzYv2LbP4sTq",
        symbol: ETH,
        side: "sell",
        qty: "2.750",
        filledQty: "0",
        type: "limit",
        status: "open",
        limitPrice: "3350.07",
        notional: null,
      },
    ]);
  });

  it("HTTP 429 (Binance -1003) → transient BrokerHttpError with status 429 and the Retry-After hint", async () => {
    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).reply(
      429,
      {
        code: -1003,
        msg: "Too many requests; current limit of IP(203.0.113.7) is 2400 requests per minute. Please use the websocket for live updates to avoid polling the API.",
      },
      { "Retry-After": "7" },
    );

    const err = await caught(makeBroker().listOpenOrders());

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err).toBeInstanceOf(BrokerError);
    const e = err as BrokerHttpError;
    expect(e.transient).toBe(true);
    expect(e.httpStatus).toBe(429);
    expect(e.retryAfterMs).toBe(7_000);
    expect(e.userMessage).toMatch(/^binance-um: listOpenOrders: rate limited \(DDoSProtection\)/);
    expect(e.userMessage).not.toMatch(/signature=[0-9a-f]/);
  });

  it("-1102 (mandatory parameter malformed) → non-transient BrokerHttpError with HTTP 400", async () => {
    serveMarkets();
    signed()
      .get("/fapi/v1/openOrders")
      .query(true)
      .reply(400, { code: -1102, msg: "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed." });

    const err = await caught(makeBroker().listOpenOrders());

    expect(err).toBeInstanceOf(BrokerHttpError);
    const e = err as BrokerHttpError;
    expect(e.transient).toBe(false);
    expect(e.httpStatus).toBe(400);
    expect(e.body).toEqual({
      code: -1102,
      msg: "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
    });
    expect(e.userMessage).toContain("rejected (BadRequest)");
    expect(e.userMessage).toContain("-1102");
  });

  it("a truncated JSON body → a clear BrokerError instead of garbage orders", async () => {
    serveMarkets();
    signed()
      .get("/fapi/v1/openOrders")
      .query(true)
      .reply(200, '[{"orderId":4075964231,"symbol":"BTCUSDT","origQty":"0.3');

    const err = await caught(makeBroker().listOpenOrders());

    expect(err).toBeInstanceOf(BrokerError);
    expect(err).toBeInstanceOf(BrokerHttpError);
    const e = err as BrokerHttpError;
    expect(e.userMessage).toContain("response body is not valid JSON");
    expect(e.userMessage).toContain("GET https://fapi.binance.com/fapi/v1/openOrders:");
    expect(e.httpStatus).toBe(200);
    expect(e.transient).toBe(true);
  });

  it("an HTML page with HTTP 200 (e.g. a CDN error page) is rejected the same way", async () => {
    serveMarkets();
    signed()
      .get("/fapi/v1/openOrders")
      .query(true)
      .reply(200, "<html><body>Service temporarily unavailable</body></html>");

    const err = (await caught(makeBroker().listOpenOrders())) as BrokerHttpError;

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.userMessage).toContain("unreadable response (BadResponse)");
  });

  it("a connection reset → transient BrokerHttpError (ccxt NetworkError), no raw error escapes", async () => {
    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).replyWithError({ code: "ECONNRESET", message: "socket hang up" });

    const err = (await caught(makeBroker().listOpenOrders())) as BrokerHttpError;

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(true);
    expect(err.userMessage).toContain("network/availability error (NetworkError)");
  });

  it("a failed market load (exchangeInfo 503) is retried on the next call instead of being cached by ccxt", async () => {
    nock(FAPI).get("/fapi/v1/exchangeInfo").reply(503, "<html>503 Service Unavailable</html>");
    const broker = makeBroker();

    const first = (await caught(broker.listOpenOrders())) as BrokerHttpError;
    expect(first).toBeInstanceOf(BrokerHttpError);
    expect(first.transient).toBe(true);
    expect(first.httpStatus).toBe(503);

    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).reply(200, []);
    await expect(broker.listOpenOrders()).resolves.toEqual([]);
  });

  it("an aborted signal stops before any request with a non-transient 'deadline reached'", async () => {
    const markets = nock(FAPI).get("/fapi/v1/exchangeInfo").reply(200, fixture("exchangeInfo.json"));

    const err = (await caught(makeBroker().listOpenOrders({ signal: AbortSignal.abort() }))) as BrokerHttpError;

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(false);
    expect(err.userMessage).toBe("binance-um: listOpenOrders: deadline reached");
    expect(markets.isDone(), "no request was sent").toBe(false);
    nock.cleanAll();
  });

  it("a call still in flight when the signal aborts is abandoned at once with 'deadline reached'", async () => {
    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).delay(600).reply(200, []);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const started = Date.now();

    const err = (await caught(makeBroker().listOpenOrders({ signal: ac.signal }))) as BrokerHttpError;

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.userMessage).toBe("binance-um: listOpenOrders: deadline reached");
    expect(Date.now() - started).toBeLessThan(500);
  });
});

describe("CcxtBroker (binanceusdm) cancelAll", () => {
  it("cancels per symbol (Binance has no all-symbol cancel): configured symbols plus those with open orders", async () => {
    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).reply(200, fixture("openOrders.json"));
    const deleted: string[] = [];
    signed()
      .delete("/fapi/v1/allOpenOrders")
      .query(true)
      .times(2)
      .reply((uri) => {
        deleted.push(verifySigned(queryOf(uri)).get("symbol")!);
        return [200, { code: 200, msg: "The operation of cancel all open order is done." }];
      });

    const result = await makeBroker({ symbols: [BTC] }).cancelAll({ panicId: "p1" });

    expect(deleted.sort()).toEqual(["BTCUSDT", "ETHUSDT"]);
    expect(result.items).toEqual([
      { ref: "4075964231", ok: true, status: "canceled" },
      { ref: "8389765012345", ok: true, status: "canceled" },
    ]);
  });

  it("reports a configured symbol without open orders by symbol, and a per-symbol failure without failing the rest", async () => {
    serveMarkets();
    signed().get("/fapi/v1/openOrders").query(true).reply(200, []);
    signed()
      .delete("/fapi/v1/allOpenOrders")
      .query((q) => q.symbol === "BTCUSDT")
      .reply(200, { code: 200, msg: "The operation of cancel all open order is done." });
    signed()
      .delete("/fapi/v1/allOpenOrders")
      .query((q) => q.symbol === "ETHUSDT")
      .reply(400, {
        code: -1102,
        msg: "Param 'symbol' or 'origClientOrderIdList' must be sent, but both were empty/null!",
      });

    const result = await makeBroker({ symbols: [BTC, ETH] }).cancelAll({ panicId: "p1" });

    expect(result.items).toHaveLength(2);
    expect(result.items[0]).toEqual({ ref: BTC, ok: true, status: "canceled" });
    expect(result.items[1]).toMatchObject({ ref: ETH, ok: false, status: 400 });
    expect(result.items[1]!.reason).toContain("-1102");
  });
});

describe("CcxtBroker (binanceusdm) positions", () => {
  it("listPositions: GET /fapi/v1/leverageBracket then /fapi/v3/positionRisk; signed quantities, exact strings", async () => {
    serveMarkets();
    signed()
      .get("/fapi/v1/leverageBracket")
      .query((q) => typeof q.signature === "string")
      .reply(200, fixture("leverageBracket.json"));
    signed()
      .get("/fapi/v3/positionRisk")
      .query((q) => typeof q.signature === "string")
      .reply(200, fixture("positionRisk.v3.json"));

    const positions = await makeBroker().listPositions();

    expect(positions).toEqual([
      { symbol: BTC, qty: "0.123", side: "long", marketValue: "7503.00000000", avgEntryPrice: "60500.1" },
      { symbol: ETH, qty: "-2.750", side: "short", marketValue: "-9212.50000000", avgEntryPrice: "3400.35" },
    ]);
  });

  it("closeAll: reduce-only MARKET orders on the opposite side, exact quantities, idempotent newClientOrderId", async () => {
    serveMarkets();
    signed().get("/fapi/v1/leverageBracket").query(true).reply(200, fixture("leverageBracket.json"));
    signed()
      .get("/fapi/v3/positionRisk")
      .query(true)
      .reply(200, [
        ...fixture<unknown[]>("positionRisk.v3.json"),
        // A flat symbol (v3 lists it while it has open orders) must not be closed.
        {
          ...fixture<Record<string, unknown>[]>("positionRisk.v3.json")[0],
          symbol: "ETHUSDT",
          positionAmt: "0.000",
          entryPrice: "0.0",
          notional: "0",
        },
      ]);
    const forms: URLSearchParams[] = [];
    signed()
      .post("/fapi/v1/order")
      .times(2)
      .reply(function (_uri, body) {
        expect(this.req.headers["content-type"]).toBe("application/x-www-form-urlencoded");
        const form = verifySigned(String(body));
        forms.push(form);
        return [
          200,
          filledMarketOrder(form, form.get("symbol") === "BTCUSDT" ? 4075990001 : 8389765099999, "61000.00"),
        ];
      });

    const panicId = "20241125T0800Z";
    const result = await makeBroker().closeAll({ panicId });

    const bySymbol = Object.fromEntries(forms.map((f) => [f.get("symbol"), Object.fromEntries(f)]));
    const common = { type: "MARKET", reduceOnly: "true", newOrderRespType: "RESULT" };
    expect(bySymbol.BTCUSDT).toMatchObject({
      ...common,
      side: "SELL",
      quantity: "0.123",
      newClientOrderId: closeClientOrderId(panicId, BTC),
    });
    expect(bySymbol.ETHUSDT).toMatchObject({
      ...common,
      side: "BUY",
      quantity: "2.75",
      newClientOrderId: closeClientOrderId(panicId, ETH),
    });
    expect(bySymbol.BTCUSDT!.newClientOrderId).toBe("tg-20241125T0800Z-BTCUSDTUSDT");
    expect(bySymbol.BTCUSDT).not.toHaveProperty("price");
    expect(bySymbol.BTCUSDT).not.toHaveProperty("positionSide");
    expect(result.items).toEqual([
      { ref: BTC, ok: true, status: "closed", brokerId: "4075990001" },
      { ref: ETH, ok: true, status: "closed", brokerId: "8389765099999" },
    ]);
  });

  it("closeAll in hedge mode closes each leg by positionSide (ccxt `hedged`), without reduceOnly which Binance rejects there", async () => {
    serveMarkets();
    signed().get("/fapi/v1/leverageBracket").query(true).reply(200, fixture("leverageBracket.json"));
    const [btc] = fixture<Record<string, unknown>[]>("positionRisk.v3.json");
    signed()
      .get("/fapi/v3/positionRisk")
      .query(true)
      .reply(200, [
        { ...btc, positionSide: "LONG" },
        { ...btc, positionSide: "SHORT", positionAmt: "-0.050", notional: "-3050.00000000", entryPrice: "61200.0" },
      ]);
    const forms: Record<string, string>[] = [];
    signed()
      .post("/fapi/v1/order")
      .times(2)
      .reply((_uri, body) => {
        const form = verifySigned(String(body));
        forms.push(Object.fromEntries(form));
        return [200, filledMarketOrder(form, forms.length, "61000.00")];
      });

    const result = await makeBroker().closeAll({ panicId: "h1" });

    const byLeg = Object.fromEntries(forms.map((f) => [f.positionSide, f]));
    expect(byLeg.LONG).toMatchObject({ side: "SELL", quantity: "0.123", type: "MARKET" });
    expect(byLeg.SHORT).toMatchObject({ side: "BUY", quantity: "0.05", type: "MARKET" });
    expect(byLeg.LONG).not.toHaveProperty("reduceOnly");
    expect(result.items.map((i) => i.ok)).toEqual([true, true]);
  });

  it("-2019 (margin insufficient) on one close → that item fails non-transiently, the other still closes", async () => {
    serveMarkets();
    signed().get("/fapi/v1/leverageBracket").query(true).reply(200, fixture("leverageBracket.json"));
    signed().get("/fapi/v3/positionRisk").query(true).reply(200, fixture("positionRisk.v3.json"));
    signed()
      .post("/fapi/v1/order", (form: Record<string, string>) => form.symbol === "BTCUSDT")
      .reply((_uri, body) => [200, filledMarketOrder(verifySigned(String(body)), 4075990001, "61000.00")]);
    signed()
      .post("/fapi/v1/order", (form: Record<string, string>) => form.symbol === "ETHUSDT")
      .reply(400, { code: -2019, msg: "Margin is insufficient." });

    const result = await makeBroker().closeAll({ panicId: "p2" });

    expect(result.items[0]).toEqual({ ref: BTC, ok: true, status: "closed", brokerId: "4075990001" });
    expect(result.items[1]).toMatchObject({ ref: ETH, ok: false, status: 400 });
    expect(result.items[1]!.reason).toContain("rejected (InsufficientFunds)");
    expect(result.items[1]!.reason).toContain("Margin is insufficient.");
  });

  it("-2019 on every close → closeAll throws the non-transient BrokerHttpError", async () => {
    serveMarkets();
    signed().get("/fapi/v1/leverageBracket").query(true).reply(200, fixture("leverageBracket.json"));
    signed().get("/fapi/v3/positionRisk").query(true).reply(200, fixture<unknown[]>("positionRisk.v3.json").slice(1));
    signed().post("/fapi/v1/order").reply(400, { code: -2019, msg: "Margin is insufficient." });

    const err = (await caught(makeBroker().closeAll({ panicId: "p3" }))) as BrokerHttpError;

    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(false);
    expect(err.httpStatus).toBe(400);
    expect(err.userMessage).toContain(`closeAll ${ETH}: rejected (InsufficientFunds)`);
  });
});

describe("decimal strings from ccxt numbers", () => {
  it("never shows binary float noise or exponent notation", () => {
    expect(toDecimalString(0.1 + 0.2)).toBe("0.3");
    expect(toDecimalString(1e-8)).toBe("0.00000001");
    expect(toDecimalString(123456789.123)).toBe("123456789.123");
    expect(toDecimalString(2.75)).toBe("2.75");
    expect(toDecimalString(-9212.5)).toBe("-9212.5");
    expect(toDecimalString(0)).toBe("0");
  });
});

describe("CcxtBroker client order ids", () => {
  it("keeps closeClientOrderId when it fits Binance's 36 chars, else a stable hash of it", () => {
    const broker = makeBroker();
    expect(broker.clientOrderId("p1", BTC)).toBe(closeClientOrderId("p1", BTC));
    const longPanic = "3f1c9a52-7e0b-4c1d-9a8e-2b6f4d0c7e15";
    const id = broker.clientOrderId(longPanic, BTC);
    expect(id).toMatch(/^tg-[0-9a-f]{33}$/);
    expect(id).toBe(broker.clientOrderId(longPanic, BTC));
    expect(id).not.toBe(broker.clientOrderId(longPanic, ETH));
  });
});

describe("ccxtFromConfig", () => {
  it("an unknown exchange id is a ConfigError", () => {
    expect(() => ccxtFromConfig(config({ exchange: "binanceusdx" }), ENV, 5_000)).toThrow(ConfigError);
    expect(() => ccxtFromConfig(config({ exchange: "binanceusdx" }), ENV, 5_000)).toThrow(
      /unknown ccxt exchange id "binanceusdx"/,
    );
  });

  it("a named but unset secret env var, or no credentials at all, is a ConfigError", () => {
    expect(() => ccxtFromConfig(config(), { BINANCE_API_KEY: KEY }, 5_000)).toThrow(/env BINANCE_API_SECRET: required/);
    expect(() => ccxtFromConfig(config({ api_key_env: undefined, secret_env: undefined }), {}, 5_000)).toThrow(
      /needs the credentials apiKey, secret/,
    );
  });

  it("passes credentials, timeout, rate limiting and options through; sandbox switches to the test URLs", () => {
    const live = ccxtFromConfig(config({ options: { recvWindow: 5000 } }), ENV, 4_321);
    expect(live.kind).toBe("ccxt");
    expect(live.exchange.apiKey).toBe(KEY);
    expect(live.exchange.timeout).toBe(4_321);
    expect(live.exchange.enableRateLimit).toBe(true);
    expect(live.exchange.options.recvWindow).toBe(5000);
    expect(live.exchange.options.warnOnFetchOpenOrdersWithoutSymbol).toBe(false);

    const sandbox = ccxtFromConfig(config({ sandbox: true }), ENV, 5_000);
    expect(sandbox.exchange.isSandboxModeEnabled).toBe(true);
    expect(String(sandbox.exchange.urls.api.fapiPrivate)).not.toContain("fapi.binance.com");
  });
});
