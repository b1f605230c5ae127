// flattenBroker end to end: the paper broker on the run's real redis-server, and the Alpaca adapter against nock
// replies in the wire format of the official OpenAPI spec (shared/specs/alpaca-trading-openapi.yaml): 207 bulk
// results, 429 + Retry-After, 5xx, partial failures and timeouts.
import nock from "nock";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { brokerOutcomeSchema } from "../../src/brokers/broker.js";
import { type FlattenOptions, flattenBroker } from "../../src/brokers/flatten.js";
import { PaperBroker } from "../../src/brokers/paper.js";
import { ALPACA_BASE, ALPACA_KEY_ID, ALPACA_SECRET, alpacaBroker, order, shortXlk } from "../support/alpaca.js";
import { testRedis } from "../support/redis.js";

const BASE = ALPACA_BASE;
const alpaca = alpacaBroker;

function opts(over: Partial<FlattenOptions> = {}): FlattenOptions {
  return {
    panicId: "p20250314T150000Z-abc123",
    attempt: 1,
    deadline: Date.now() + 10_000,
    settleDelaysMs: [0],
    ...over,
  };
}

const ORDER_A = "61e69015-8549-4bfd-b9c3-01e75843f47d";
const ORDER_B = "d56ba3ea-6d04-48ce-8175-817e242ee608";
const CLOSE_AAPL = "f7f25e89-939a-4587-aaf6-414a6b3c341d";

/** 207 body of DELETE /v2/orders (array of CanceledOrderResponse, with the order as live Alpaca sends it). */
const cancelled207 = [
  { id: ORDER_A, status: 200, body: order({ id: ORDER_A, status: "pending_cancel" }) },
  { id: ORDER_B, status: 200, body: order({ id: ORDER_B, symbol: "MSFT", status: "pending_cancel" }) },
];

/** 207 body of DELETE /v2/positions (array of PositionClosedReponse). */
const closedAapl = {
  symbol: "AAPL",
  status: 200,
  body: order({
    id: CLOSE_AAPL,
    client_order_id: "52f8574c-96d5-49b6-94c1-2570a268434e",
    qty: "2",
    side: "sell",
    type: "market",
    order_type: "market",
    limit_price: null,
    status: "accepted",
  }),
};
const xlkRejected = {
  symbol: "XLK",
  status: 403,
  body: { code: 40310000, message: "insufficient qty available for order (requested: 24, available: 0)" },
};

/** Mocks of the two re-query calls answering "nothing open". */
function flatRequery(scope: nock.Scope, calls?: string[]): nock.Scope {
  return scope
    .get("/v2/orders")
    .query({ status: "open", limit: "500", nested: "false" })
    .reply(() => {
      calls?.push("GET /v2/orders");
      return [200, []];
    })
    .get("/v2/positions")
    .reply(() => {
      calls?.push("GET /v2/positions");
      return [200, []];
    });
}

describe("flattenBroker with the paper broker (real Redis)", () => {
  let t: ReturnType<typeof testRedis>;

  beforeAll(() => {
    t = testRedis();
  });

  afterAll(async () => {
    await t.cleanup();
  });

  it("cancels the book, closes long and short positions and verifies flat in one round", async () => {
    const paper = new PaperBroker("paper", t.redis, t.keys);
    const ids = [
      await paper.placeOrder({ symbol: "AAPL", side: "buy", qty: "10", type: "limit", limitPrice: "174.25" }),
      await paper.placeOrder({ symbol: "MSFT", side: "sell", qty: "3", type: "limit", limitPrice: "401.10" }),
      await paper.placeOrder({ symbol: "BTCUSD", side: "buy", qty: "0.015", type: "limit", limitPrice: "42000" }),
    ];
    await paper.setPosition("AAPL", "20", "174.5");
    await paper.setPosition("ETHUSD", "-1.25", "3100.75");
    const steps: string[] = [];
    const out = await flattenBroker(paper, opts({ onStep: (s) => steps.push(s) }));

    expect(brokerOutcomeSchema.parse(out)).toEqual(out);
    expect(out).toMatchObject({ broker: "paper", kind: "paper", verified: true, rounds: 1, errors: [] });
    expect(out.remaining).toEqual({ orders: [], positions: [] });
    expect(out.cancelled.map((i) => i.ref).sort()).toEqual([...ids].sort());
    expect(out.cancelled.every((i) => i.ok)).toBe(true);
    expect(out.closed.map((i) => [i.ref, i.ok, i.status]).sort()).toEqual([
      ["AAPL", true, "filled"],
      ["ETHUSD", true, "filled"],
    ]);
    expect(steps).toEqual(["cancelled", "closed", "verified"]);
    // Really flat in Redis, not just in the report.
    expect(await paper.listOpenOrders()).toEqual([]);
    expect(await paper.listPositions()).toEqual([]);
  });

  it("an already-flat paper broker is verified with nothing cancelled or closed", async () => {
    const paper = new PaperBroker("empty", t.redis, t.keys);
    const out = await flattenBroker(paper, opts());
    expect(out).toMatchObject({ verified: true, rounds: 1, cancelled: [], closed: [], errors: [] });
  });

  // Regression: latency() once ignored an already-aborted signal, so calls after the deadline still waited.
  it("a paper broker slower than the deadline: not verified, state unknown, and the deadline is kept", async () => {
    const paper = new PaperBroker("slow", t.redis, t.keys, 3_000);
    const out = await flattenBroker(paper, opts({ deadline: Date.now() + 300 }));
    expect(out.verified).toBe(false);
    expect(out.remaining).toBeNull();
    expect(out.errors.join("\n")).toContain("deadline reached");
    expect(out.durationMs).toBeLessThan(1_500);
  });
});

describe("flattenBroker with Alpaca (nock, spec wire format)", () => {
  beforeAll(() => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
  });

  afterEach(() => {
    nock.abortPendingRequests();
    nock.cleanAll();
  });

  afterAll(() => {
    nock.enableNetConnect();
  });

  it("DELETE /v2/orders: 429 with Retry-After: 1, then 207 → retried after ≥ 1 s and verified flat", async () => {
    const calls: string[] = [];
    const scope = nock(BASE, { reqheaders: { "APCA-API-KEY-ID": ALPACA_KEY_ID, "APCA-API-SECRET-KEY": ALPACA_SECRET } })
      .delete("/v2/orders")
      .reply(() => {
        calls.push("DELETE /v2/orders 429");
        return [429, { code: 42910000, message: "rate limit exceeded" }, { "Retry-After": "1" }];
      })
      .delete("/v2/orders")
      .reply(() => {
        calls.push("DELETE /v2/orders 207");
        return [207, cancelled207];
      })
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(() => {
        calls.push("DELETE /v2/positions");
        return [207, []];
      });
    flatRequery(scope);
    const retries: Record<string, unknown>[] = [];
    const started = Date.now();
    const out = await flattenBroker(
      alpaca(),
      opts({ onStep: (step, d) => step === "retry" && retries.push(d), deadline: Date.now() + 15_000 }),
    );
    const elapsed = Date.now() - started;

    expect(scope.isDone()).toBe(true);
    expect(calls).toEqual(["DELETE /v2/orders 429", "DELETE /v2/orders 207", "DELETE /v2/positions"]);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ broker: "alpaca", op: "cancel_all", attempt: 1 });
    expect(retries[0]?.waitMs).toBeGreaterThanOrEqual(1_000);
    expect(String(retries[0]?.error)).toContain("HTTP 429");
    expect(elapsed).toBeGreaterThanOrEqual(990);
    expect(out.verified).toBe(true);
    expect(out.errors).toEqual([]);
    expect(out.cancelled).toEqual([
      { ref: ORDER_A, ok: true, status: 200 },
      { ref: ORDER_B, ok: true, status: 200 },
    ]);
  });

  it("DELETE /v2/positions: 500, then 207 → retried and verified flat", async () => {
    const ops: [string, string][] = [];
    const scope = nock(BASE)
      .delete("/v2/orders")
      .reply(207, [])
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(500, { code: 50010000, message: "internal server error" })
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(207, [closedAapl]);
    flatRequery(scope);
    const out = await flattenBroker(alpaca(), opts({ onCall: (op, outcome) => ops.push([op, outcome]) }));

    expect(scope.isDone()).toBe(true);
    expect(out.verified).toBe(true);
    expect(out.closed).toEqual([{ ref: "AAPL", ok: true, status: 200, brokerId: CLOSE_AAPL }]);
    expect(ops.filter(([op]) => op === "close_all")).toEqual([
      ["close_all", "retry"],
      ["close_all", "ok"],
    ]);
    expect(out.errors).toEqual([]);
  });

  it("a 207 with one position rejected (403) that is still open on re-query → not verified, exactly that left", async () => {
    const scope = nock(BASE)
      .delete("/v2/orders")
      .reply(207, [])
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(207, [closedAapl, xlkRejected])
      .get("/v2/orders")
      .query(true)
      .reply(200, [])
      .get("/v2/positions")
      .reply(200, [shortXlk]);
    const out = await flattenBroker(alpaca(), opts({ maxRounds: 1 }));

    expect(scope.isDone()).toBe(true);
    expect(brokerOutcomeSchema.parse(out)).toEqual(out);
    expect(out.verified).toBe(false);
    expect(out.rounds).toBe(1);
    expect(out.remaining).toEqual({ orders: [], positions: [{ symbol: "XLK", qty: "-24" }] });
    expect(out.closed).toEqual([
      { ref: "AAPL", ok: true, status: 200, brokerId: CLOSE_AAPL },
      {
        ref: "XLK",
        ok: false,
        status: 403,
        reason: "insufficient qty available for order (requested: 24, available: 0)",
      },
    ]);
    expect(out.errors).toContain("XLK: insufficient qty available for order (requested: 24, available: 0)");
  });

  it("rounds repeat cancel → close → re-query while something is left, up to maxRounds", async () => {
    const calls: string[] = [];
    const scope = nock(BASE);
    for (let round = 1; round <= 2; round++) {
      scope
        .delete("/v2/orders")
        .reply(() => {
          calls.push(`r${round} DELETE /v2/orders`);
          return [207, []];
        })
        .delete("/v2/positions")
        .query({ cancel_orders: "true" })
        .reply(() => {
          calls.push(`r${round} DELETE /v2/positions`);
          return [207, [xlkRejected]];
        })
        .get("/v2/orders")
        .query(true)
        .reply(200, [])
        .get("/v2/positions")
        .reply(() => {
          calls.push(`r${round} GET /v2/positions`);
          return [200, [shortXlk]];
        });
    }
    const verifiedSteps: unknown[] = [];
    const out = await flattenBroker(
      alpaca(),
      opts({ maxRounds: 2, onStep: (s, d) => s === "verified" && verifiedSteps.push(d.round) }),
    );

    expect(scope.isDone()).toBe(true);
    expect(calls).toEqual([
      "r1 DELETE /v2/orders",
      "r1 DELETE /v2/positions",
      "r1 GET /v2/positions",
      "r2 DELETE /v2/orders",
      "r2 DELETE /v2/positions",
      "r2 GET /v2/positions",
    ]);
    expect(verifiedSteps).toEqual([1, 2]);
    expect(out).toMatchObject({ verified: false, rounds: 2 });
    expect(out.remaining?.positions).toEqual([{ symbol: "XLK", qty: "-24" }]);
    expect(out.closed.filter((i) => i.ref === "XLK")).toHaveLength(2);
    // The same reason is reported once, not once per round.
    expect(out.errors.filter((e) => e.startsWith("XLK:"))).toHaveLength(1);
  });

  it("every call times out → not verified, remaining null (could not re-query), errors name the timeout/deadline", async () => {
    const scope = nock(BASE)
      .persist()
      .delete("/v2/orders")
      .delay(5_000)
      .reply(207, [])
      .delete("/v2/positions")
      .query(true)
      .delay(5_000)
      .reply(207, [])
      .get("/v2/orders")
      .query(true)
      .delay(5_000)
      .reply(200, [])
      .get("/v2/positions")
      .delay(5_000)
      .reply(200, []);
    const retries: Record<string, unknown>[] = [];
    const deadline = Date.now() + 1_500;
    const out = await flattenBroker(
      alpaca(200),
      opts({ deadline, onStep: (step, d) => step === "retry" && retries.push(d) }),
    );

    expect(brokerOutcomeSchema.parse(out)).toEqual(out);
    expect(out.verified).toBe(false);
    expect(out.remaining).toBeNull();
    expect(out.cancelled).toEqual([]);
    expect(out.closed).toEqual([]);
    expect(out.errors.some((e) => e.startsWith("re-query failed:"))).toBe(true);
    expect(out.errors.join("\n")).toMatch(/timed out after 200 ms|deadline reached/);
    expect(out.errors.some((e) => e.startsWith("cancel all (round 1):"))).toBe(true);
    // The timeouts were retried (they are transient) ...
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(String(retries[0]?.error)).toContain("timed out after 200 ms");
    // ... but not past the panic deadline.
    expect(Date.now()).toBeLessThan(deadline + 1_000);
    scope.persist(false);
  });

  it("cancels open orders before it closes positions", async () => {
    const calls: string[] = [];
    const scope = nock(BASE)
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(() => {
        calls.push("close");
        return [207, [closedAapl]];
      })
      .delete("/v2/orders")
      .reply(() => {
        calls.push("cancel");
        return [207, cancelled207];
      });
    flatRequery(scope, calls);
    const out = await flattenBroker(alpaca(), opts());

    expect(scope.isDone()).toBe(true);
    expect(calls.slice(0, 2)).toEqual(["cancel", "close"]);
    expect(calls.slice(2).sort()).toEqual(["GET /v2/orders", "GET /v2/positions"]);
    expect(out.verified).toBe(true);
  });
});
