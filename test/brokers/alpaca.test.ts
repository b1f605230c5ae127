// Alpaca adapter against nock-mocked replies in the wire format of the official OpenAPI spec
// (shared/specs/alpaca-trading-openapi.yaml), plus a check that the endpoints it calls are in that spec.
import { readFileSync } from "node:fs";
import nock from "nock";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { alpacaFromConfig } from "../../src/brokers/alpaca.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { BrokerError, ConfigError } from "../../src/errors.js";
import {
  ALPACA_BASE,
  ALPACA_KEY_ID,
  ALPACA_SECRET,
  alpacaBroker,
  order,
  position,
  shortXlk,
} from "../support/alpaca.js";
import { caught } from "../support/caught.js";
import { interceptBrokerHttp } from "../support/nock.js";
import { sharedSpec } from "../support/shared-specs.js";

const BASE = ALPACA_BASE;
const KEY_ID = ALPACA_KEY_ID;
const SECRET = ALPACA_SECRET;
const ctx = { panicId: "p1" };
const broker = alpacaBroker;

interceptBrokerHttp("Alpaca");

afterAll(() => {
  nock.enableNetConnect();
});

describe("AlpacaBroker.listOpenOrders", () => {
  it("sends status=open&limit=500&nested=false with both auth headers and maps Order objects", async () => {
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET } })
      .get("/v2/orders")
      .query({ status: "open", limit: "500", nested: "false" })
      .reply(200, [
        order(),
        order({
          id: "f7f25e89-939a-4587-aaf6-414a6b3c341d",
          client_order_id: "52f8574c-96d5-49b6-94c1-2570a268434e",
          symbol: "MSFT",
          notional: "500",
          qty: null,
          order_type: "market",
          type: "market",
          side: "sell",
          limit_price: null,
          status: "accepted",
        }),
        order({
          id: "b6c1a2f0-4a8e-4c43-9f1b-0d1f3e5c7a90",
          client_order_id: "a0d0c9b2-1f4e-4a5d-8c3b-7e6f5d4c3b2a",
          symbol: "TSLA",
          qty: "3.5",
          filled_qty: "1.25",
          status: "partially_filled",
          limit_price: "201.10",
        }),
      ]);
    const orders = await broker().listOpenOrders();
    expect(scope.isDone()).toBe(true);
    expect(orders).toEqual([
      {
        id: "61e69015-8549-4bfd-b9c3-01e75843f47d",
        clientOrderId: "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
        symbol: "AAPL",
        side: "buy",
        qty: "10",
        filledQty: "0",
        type: "limit",
        status: "new",
        limitPrice: "174.25",
        notional: null,
      },
      {
        id: "f7f25e89-939a-4587-aaf6-414a6b3c341d",
        clientOrderId: "52f8574c-96d5-49b6-94c1-2570a268434e",
        symbol: "MSFT",
        side: "sell",
        qty: null,
        filledQty: "0",
        type: "market",
        status: "accepted",
        limitPrice: null,
        notional: "500",
      },
      {
        id: "b6c1a2f0-4a8e-4c43-9f1b-0d1f3e5c7a90",
        clientOrderId: "a0d0c9b2-1f4e-4a5d-8c3b-7e6f5d4c3b2a",
        symbol: "TSLA",
        side: "buy",
        qty: "3.5",
        filledQty: "1.25",
        type: "limit",
        status: "partially_filled",
        limitPrice: "201.10",
        notional: null,
      },
    ]);
  });

  it("rejects a request without the auth headers (nock matches only with both headers)", async () => {
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": "other-key", "APCA-API-SECRET-KEY": SECRET } })
      .get("/v2/orders")
      .query(true)
      .reply(200, []);
    const err = await caught(broker().listOpenOrders());
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain("network error");
    expect(scope.isDone()).toBe(false);
    nock.cleanAll();
  });

  it("pages back with `until` when a page is full (500 orders) and de-duplicates by id", async () => {
    const page1 = Array.from({ length: 500 }, (_, i) =>
      order({
        id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
        submitted_at: `2024-05-01T15:00:00.${String(999 - i).padStart(3, "0")}Z`,
      }),
    );
    const oldest = page1[499]!.submitted_at as string;
    const scope = nock(BASE)
      .get("/v2/orders")
      .query({ status: "open", limit: "500", nested: "false" })
      .reply(200, page1)
      .get("/v2/orders")
      .query({ status: "open", limit: "500", nested: "false", until: oldest })
      .reply(200, [
        page1[499],
        order({ id: "99999999-0000-4000-8000-000000000001", submitted_at: "2024-05-01T14:00:00Z" }),
      ]);
    const orders = await broker().listOpenOrders();
    expect(scope.isDone()).toBe(true);
    expect(orders).toHaveLength(501);
    expect(orders.at(-1)?.id).toBe("99999999-0000-4000-8000-000000000001");
  });
});

describe("AlpacaBroker.listPositions", () => {
  it("maps a long and a short position with signed qty and market value, as strings", async () => {
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET } })
      .get("/v2/positions")
      .reply(200, [position(), shortXlk]);
    const positions = await broker().listPositions();
    expect(scope.isDone()).toBe(true);
    expect(positions).toEqual([
      { symbol: "AAPL", qty: "2", side: "long", marketValue: "348.58", avgEntryPrice: "174.78" },
      { symbol: "XLK", qty: "-24", side: "short", marketValue: "-2011.44", avgEntryPrice: "82.69" },
    ]);
  });

  it("signs a short that the broker reports with positive qty / market_value (the spec does not fix the sign)", async () => {
    const scope = nock(BASE)
      .get("/v2/positions")
      .reply(200, [{ ...shortXlk, qty: "24", market_value: "2011.44" }]);
    const [p] = await broker().listPositions();
    expect(scope.isDone()).toBe(true);
    expect(p).toMatchObject({ qty: "-24", marketValue: "-2011.44", side: "short" });
  });

  it("a long position with a negative qty is rejected as contradictory", async () => {
    const scope = nock(BASE)
      .get("/v2/positions")
      .reply(200, [position({ qty: "-2" })]);
    const err = await caught(broker().listPositions());
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain('body[0]: qty -2 contradicts side "long"');
  });

  it("a positions reply that is an object → BrokerHttpError naming the broker, not a TypeError", async () => {
    const scope = nock(BASE).get("/v2/positions").reply(200, { message: "not a list" });
    const err = await caught(broker().listPositions());
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerError);
    expect(err).not.toBeInstanceOf(TypeError);
    const e = err as BrokerHttpError;
    expect(e.message).toMatch(/^alpaca: GET \/v2\/positions: malformed reply \(HTTP 200\): body: .*array/);
    expect(e.transient).toBe(false);
  });

  it("a position without qty → BrokerHttpError that points at the field", async () => {
    const { qty: _qty, ...noQty } = position();
    const scope = nock(BASE).get("/v2/positions").reply(200, [noQty]);
    const err = await caught(broker().listPositions());
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain("body[0].qty");
  });

  it("a qty sent as a JSON number (not a decimal string) is rejected rather than parsed as a float", async () => {
    const scope = nock(BASE)
      .get("/v2/positions")
      .reply(200, [position({ qty: 2 })]);
    const err = await caught(broker().listPositions());
    expect(scope.isDone()).toBe(true);
    expect((err as Error).message).toMatch(/body\[0\]\.qty/);
  });
});

describe("AlpacaBroker.cancelAll", () => {
  it("maps a 207 with one failed cancel to per-order items", async () => {
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET } })
      .delete("/v2/orders")
      .reply(207, [
        { id: "61e69015-8549-4bfd-b9c3-01e75843f47d", status: 200, body: order({ status: "pending_cancel" }) },
        {
          id: "d56ba3ea-6d04-48ce-8175-817e242ee608",
          status: 500,
          body: { code: 50010000, message: "order is not cancelable" },
        },
      ]);
    const result = await broker().cancelAll(ctx);
    expect(scope.isDone()).toBe(true);
    expect(result.items).toEqual([
      { ref: "61e69015-8549-4bfd-b9c3-01e75843f47d", ok: true, status: 200 },
      { ref: "d56ba3ea-6d04-48ce-8175-817e242ee608", ok: false, status: 500, reason: "order is not cancelable" },
    ]);
  });

  it("accepts the spec's minimal CanceledOrderResponse ({id, status}) and a failure without a body", async () => {
    const scope = nock(BASE)
      .delete("/v2/orders")
      .reply(207, [
        { id: "d56ba3ea-6d04-48ce-8175-817e242ee608", status: 200 },
        { id: "61e69015-8549-4bfd-b9c3-01e75843f47d", status: 422 },
      ]);
    const { items } = await broker().cancelAll(ctx);
    expect(scope.isDone()).toBe(true);
    expect(items.map((i) => [i.ok, i.status, i.reason])).toEqual([
      [true, 200, undefined],
      [false, 422, "HTTP 422"],
    ]);
  });

  it("accepts 200 with an empty array and 204 as nothing to cancel", async () => {
    const scope = nock(BASE).delete("/v2/orders").reply(200, []).delete("/v2/orders").reply(204);
    expect((await broker().cancelAll(ctx)).items).toEqual([]);
    expect((await broker().cancelAll(ctx)).items).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });

  it("a malformed entry becomes a failed item; the others still count", async () => {
    const scope = nock(BASE)
      .delete("/v2/orders")
      .reply(207, [
        { id: "61e69015-8549-4bfd-b9c3-01e75843f47d", status: 200 },
        { id: "d56ba3ea-6d04-48ce-8175-817e242ee608" },
      ]);
    const { items } = await broker().cancelAll(ctx);
    expect(scope.isDone()).toBe(true);
    expect(items[0]).toEqual({ ref: "61e69015-8549-4bfd-b9c3-01e75843f47d", ok: true, status: 200 });
    expect(items[1]).toMatchObject({ ref: "d56ba3ea-6d04-48ce-8175-817e242ee608", ok: false });
    expect(items[1]?.reason).toMatch(/malformed item in DELETE \/v2\/orders reply: body\.status/);
  });

  it("a 207 whose body is not an array → BrokerHttpError", async () => {
    const scope = nock(BASE).delete("/v2/orders").reply(207, { id: "x", status: 200 });
    const err = await caught(broker().cancelAll(ctx));
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain("expected an array of per-item results, got an object");
  });
});

describe("AlpacaBroker.closeAll", () => {
  it("sends cancel_orders=true and maps a 207 with a partial failure", async () => {
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": KEY_ID, "APCA-API-SECRET-KEY": SECRET } })
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(207, [
        {
          symbol: "AAPL",
          status: 200,
          body: order({
            id: "f7f25e89-939a-4587-aaf6-414a6b3c341d",
            client_order_id: "52f8574c-96d5-49b6-94c1-2570a268434e",
            qty: "2",
            side: "sell",
            type: "market",
            order_type: "market",
            limit_price: null,
            status: "accepted",
          }),
        },
        {
          symbol: "XLK",
          status: 403,
          body: { code: 40310000, message: "insufficient qty available for order (requested: 24, available: 0)" },
        },
      ]);
    const { items } = await broker().closeAll(ctx);
    expect(scope.isDone()).toBe(true);
    expect(items).toEqual([
      { ref: "AAPL", ok: true, status: 200, brokerId: "f7f25e89-939a-4587-aaf6-414a6b3c341d" },
      {
        ref: "XLK",
        ok: false,
        status: 403,
        reason: "insufficient qty available for order (requested: 24, available: 0)",
      },
    ]);
  });

  it("accepts the per-item status as a string (PositionClosedReponse.status is typed string in the spec)", async () => {
    const scope = nock(BASE)
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(207, [
        { symbol: "AAPL", status: "200", body: order({ id: "a1b2c3d4-0000-4000-8000-000000000001", side: "sell" }) },
      ]);
    const { items } = await broker().closeAll(ctx);
    expect(scope.isDone()).toBe(true);
    expect(items).toEqual([{ ref: "AAPL", ok: true, status: 200, brokerId: "a1b2c3d4-0000-4000-8000-000000000001" }]);
  });

  it("accepts 204 and 200 [] as nothing to close", async () => {
    const scope = nock(BASE)
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(204)
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(200, []);
    expect((await broker().closeAll(ctx)).items).toEqual([]);
    expect((await broker().closeAll(ctx)).items).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });
});

describe("AlpacaBroker errors", () => {
  it("429 with Retry-After: 2 → transient BrokerHttpError with retryAfterMs 2000", async () => {
    const scope = nock(BASE)
      .get("/v2/positions")
      .reply(429, { code: 42910000, message: "rate limit exceeded" }, { "Retry-After": "2" });
    const err = await caught(broker().listPositions());
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    const e = err as BrokerHttpError;
    expect(e.transient).toBe(true);
    expect(e.retryAfterMs).toBe(2000);
    expect(e.httpStatus).toBe(429);
    expect(e.message).toContain("rate limit exceeded");
  });

  it("500 on DELETE /v2/orders (the spec's whole-request failure) → transient", async () => {
    const scope = nock(BASE).delete("/v2/orders").reply(500, { code: 50010000, message: "failed to cancel orders" });
    const err = (await caught(broker().cancelAll(ctx))) as BrokerHttpError;
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(true);
    expect(err.httpStatus).toBe(500);
  });

  it("403 (bad credentials) → not transient", async () => {
    const scope = nock(BASE).get("/v2/orders").query(true).reply(403, { message: "forbidden." });
    const err = (await caught(broker().listOpenOrders())) as BrokerHttpError;
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(false);
    expect(err.httpStatus).toBe(403);
  });

  it("a reply slower than timeoutMs → transient timeout error", async () => {
    const scope = nock(BASE).get("/v2/positions").delay(1_000).reply(200, []);
    const started = Date.now();
    const err = (await caught(broker(100).listPositions())) as BrokerHttpError;
    expect(Date.now() - started).toBeLessThan(900);
    expect(scope.isDone()).toBe(true);
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect(err.transient).toBe(true);
    expect(err.message).toContain("timed out after 100 ms");
  });

  it("passes ctx.signal through: an aborted panic deadline stops the call and is not transient", async () => {
    const scope = nock(BASE).delete("/v2/positions").query(true).delay(1_000).reply(207, []);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = (await caught(broker(5_000).closeAll({ panicId: "p1", signal: ac.signal }))) as BrokerHttpError;
    expect(scope.isDone()).toBe(true);
    expect(err.message).toContain("deadline reached");
    expect(err.transient).toBe(false);
  });
});

describe("alpacaFromConfig", () => {
  const cfg = {
    name: "alpaca",
    kind: "alpaca" as const,
    base_url: "https://paper-api.alpaca.markets",
    key_id_env: "APCA_API_KEY_ID",
    secret_key_env: "APCA_API_SECRET_KEY",
  };

  it("throws ConfigError naming the missing env var", () => {
    expect(() => alpacaFromConfig(cfg, { APCA_API_KEY_ID: KEY_ID }, 1_000)).toThrow(ConfigError);
    expect(() => alpacaFromConfig(cfg, { APCA_API_KEY_ID: KEY_ID }, 1_000)).toThrow(/APCA_API_SECRET_KEY/);
    expect(() => alpacaFromConfig(cfg, {}, 1_000)).toThrow(/APCA_API_KEY_ID and APCA_API_SECRET_KEY/);
  });

  it("builds an adapter that sends the keys from the named env vars", async () => {
    const b = alpacaFromConfig(
      { ...cfg, name: "alpaca-live", key_id_env: "LIVE_KEY", secret_key_env: "LIVE_SECRET" },
      { LIVE_KEY: "live-key", LIVE_SECRET: "live-secret" },
      1_000,
    );
    expect(b.name).toBe("alpaca-live");
    expect(b.kind).toBe("alpaca");
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": "live-key", "APCA-API-SECRET-KEY": "live-secret" } })
      .get("/v2/positions")
      .reply(200, []);
    expect(await b.listPositions()).toEqual([]);
    expect(scope.isDone()).toBe(true);
  });
});

const openapi = sharedSpec(
  "alpaca-trading-openapi.yaml",
  "this test checks that the endpoints the Alpaca adapter calls are in Alpaca's OpenAPI spec",
);

describe.skipIf(openapi.skip)("Alpaca OpenAPI spec", () => {
  it("documents every path, method and query parameter the adapter uses", () => {
    // biome-ignore lint/suspicious/noExplicitAny: walking an untyped OpenAPI document
    const spec = parse(readFileSync(openapi.require(), "utf8")) as any;
    const orders = spec.paths["/v2/orders"];
    const positions = spec.paths["/v2/positions"];
    expect(orders?.get, "GET /v2/orders").toBeDefined();
    expect(orders?.delete, "DELETE /v2/orders").toBeDefined();
    expect(positions?.get, "GET /v2/positions").toBeDefined();
    expect(positions?.delete, "DELETE /v2/positions").toBeDefined();

    const names = (op: { parameters?: { in: string; name: string }[] }) =>
      (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name);
    expect(names(orders.get)).toEqual(expect.arrayContaining(["status", "limit", "nested", "until"]));
    expect(names(positions.delete)).toContain("cancel_orders");

    // The multi-status shapes the adapter parses.
    expect(Object.keys(orders.delete.responses)).toContain("207");
    expect(Object.keys(positions.delete.responses)).toContain("207");
    expect(Object.keys(spec.components.schemas.CanceledOrderResponse.properties)).toEqual(
      expect.arrayContaining(["id", "status"]),
    );
    expect(Object.keys(spec.components.schemas.PositionClosedReponse.properties)).toEqual(
      expect.arrayContaining(["symbol", "status", "body"]),
    );
    expect(spec.components.securitySchemes.API_Key.name).toBe("APCA-API-KEY-ID");
    expect(spec.components.securitySchemes.API_Secret.name).toBe("APCA-API-SECRET-KEY");
  });
});
