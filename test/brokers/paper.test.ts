// PaperBroker against the run's real redis-server: resting limit orders, market fills at the mark, signed positions,
// cancelAll / closeAll (idempotent per panic), input validation, malformed state and the simulated latency.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { PaperBroker } from "../../src/brokers/paper.js";
import { BrokerError, UserInputError } from "../../src/errors.js";
import { caught } from "../support/caught.js";
import { testRedis } from "../support/redis.js";

let t: ReturnType<typeof testRedis>;

beforeEach(() => {
  t = testRedis();
});

afterEach(async () => {
  await t.cleanup();
});

function paper(latencyMs = 0): PaperBroker {
  return new PaperBroker("paper", t.redis, t.keys, latencyMs);
}

describe("PaperBroker limit orders", () => {
  it("rest until cancelled and are listed with the exact decimal strings given", async () => {
    const b = paper();
    const btc = await b.placeOrder({
      symbol: "BTCUSD",
      side: "buy",
      qty: "0.00012345",
      type: "limit",
      limitPrice: "43250.10",
      clientOrderId: "strat-1",
    });
    const aapl = await b.placeOrder({ symbol: "AAPL", side: "sell", qty: "10", type: "limit", limitPrice: "174.25" });
    const orders = await b.listOpenOrders();
    expect(orders.sort((x, y) => x.symbol.localeCompare(y.symbol))).toEqual([
      {
        id: aapl,
        clientOrderId: null,
        symbol: "AAPL",
        side: "sell",
        qty: "10",
        filledQty: "0",
        type: "limit",
        status: "new",
        limitPrice: "174.25",
        notional: null,
      },
      {
        id: btc,
        clientOrderId: "strat-1",
        symbol: "BTCUSD",
        side: "buy",
        qty: "0.00012345",
        filledQty: "0",
        type: "limit",
        status: "new",
        limitPrice: "43250.10",
        notional: null,
      },
    ]);
    // A resting order does not touch positions.
    expect(await b.listPositions()).toEqual([]);
  });
});

describe("PaperBroker market orders", () => {
  it("fill at the mark and keep a signed position: long, then short, then flat (removed)", async () => {
    const b = paper();
    await b.setPosition("AAPL", "0", "100.5");
    expect(await b.listPositions()).toEqual([]); // a zero position is not listed

    await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "2", type: "market" });
    expect(await b.listPositions()).toEqual([
      { symbol: "AAPL", qty: "2", side: "long", marketValue: "201", avgEntryPrice: "100.5" },
    ]);

    await b.placeOrder({ symbol: "AAPL", side: "sell", qty: "5", type: "market" });
    expect(await b.listPositions()).toEqual([
      { symbol: "AAPL", qty: "-3", side: "short", marketValue: "-301.5", avgEntryPrice: "100.5" },
    ]);

    await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "3", type: "market" });
    expect(await b.listPositions()).toEqual([]);
    // Flat means the position is deleted, not stored as "0".
    expect(await t.redis.hget(t.keys.paperPositions("paper"), "AAPL")).toBeNull();
    // Market orders never rest.
    expect(await b.listOpenOrders()).toEqual([]);
  });

  it("adds decimals exactly: 0.1 + 0.2 → 0.3", async () => {
    const b = paper();
    await b.setPosition("ETHUSD", "0", "3000.5");
    await b.placeOrder({ symbol: "ETHUSD", side: "buy", qty: "0.1", type: "market" });
    await b.placeOrder({ symbol: "ETHUSD", side: "buy", qty: "0.2", type: "market" });
    const [p] = await b.listPositions();
    expect(p?.qty).toBe("0.3");
    expect(p?.marketValue).toBe("900.15");
  });

  it("an idempotent client order id fills only once", async () => {
    const b = paper();
    await b.setPosition("AAPL", "0", "100");
    const first = await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "market", clientOrderId: "c1" });
    const second = await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "market", clientOrderId: "c1" });
    expect(second).toBe(first);
    expect((await b.listPositions())[0]?.qty).toBe("1");
  });

  // Regression: fill() once read and wrote the position in separate steps, losing concurrent fills.
  it("concurrent market fills on one symbol are not lost", async () => {
    const b = paper();
    await b.setPosition("ETHUSD", "0", "3000");
    await Promise.all([
      b.placeOrder({ symbol: "ETHUSD", side: "buy", qty: "0.1", type: "market" }),
      b.placeOrder({ symbol: "ETHUSD", side: "buy", qty: "0.2", type: "market" }),
    ]);
    expect((await b.listPositions())[0]?.qty).toBe("0.3");
  });
});

describe("PaperBroker input validation", () => {
  it.each([["0"], ["-1"], ["abc"], ["1e3"], [""], ["0.000"]])(
    "qty %j → UserInputError, nothing written",
    async (qty) => {
      const b = paper();
      const err = await caught(b.placeOrder({ symbol: "AAPL", side: "buy", qty, type: "limit", limitPrice: "1" }));
      expect(err).toBeInstanceOf(UserInputError);
      expect((err as Error).message).toContain("qty must be a positive decimal");
      expect(await t.redis.exists(t.keys.paperOrders("paper"))).toBe(0);
    },
  );

  it.each([[undefined], ["abc"], ["-1"], ["1e2"]])("limit price %j → UserInputError", async (limitPrice) => {
    const b = paper();
    const err = await caught(b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "limit", limitPrice }));
    expect(err).toBeInstanceOf(UserInputError);
    expect(await b.listOpenOrders()).toEqual([]);
  });

  // Regression: a zero limit price was once accepted.
  it.each([["0"], ["0.00"]])("limit price %j (not positive) → UserInputError", async (limitPrice) => {
    const b = paper();
    const err = await caught(b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "limit", limitPrice }));
    expect(err).toBeInstanceOf(UserInputError);
  });

  it("setPosition rejects non-decimal qty or price", async () => {
    const b = paper();
    await expect(b.setPosition("AAPL", "ten", "100")).rejects.toBeInstanceOf(UserInputError);
    await expect(b.setPosition("AAPL", "1", "-100")).rejects.toBeInstanceOf(UserInputError);
    await expect(b.setPosition("AAPL", "1", "")).rejects.toBeInstanceOf(UserInputError);
    expect(await b.listPositions()).toEqual([]);
  });
});

describe("PaperBroker.cancelAll", () => {
  it("removes every working order and reports each id", async () => {
    const b = paper();
    const ids = [
      await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "limit", limitPrice: "100" }),
      await b.placeOrder({ symbol: "MSFT", side: "sell", qty: "2", type: "limit", limitPrice: "400.5" }),
      await b.placeOrder({ symbol: "BTCUSD", side: "buy", qty: "0.5", type: "limit", limitPrice: "40000" }),
    ];
    const { items } = await b.cancelAll({ panicId: "p1" });
    expect(items.map((i) => i.ref).sort()).toEqual([...ids].sort());
    expect(items.every((i) => i.ok && i.status === 200)).toBe(true);
    expect(await b.listOpenOrders()).toEqual([]);
    // Nothing left to cancel the second time.
    expect((await b.cancelAll({ panicId: "p1" })).items).toEqual([]);
  });
});

describe("PaperBroker.closeAll", () => {
  it("closes a long and a short with the opposite side and leaves nothing", async () => {
    const b = paper();
    await b.setPosition("AAPL", "10", "150");
    await b.setPosition("TSLA", "-5", "200.25");
    const { items } = await b.closeAll({ panicId: "p1" });
    expect(items.sort((x, y) => x.ref.localeCompare(y.ref))).toEqual([
      { ref: "AAPL", ok: true, status: "filled", brokerId: expect.any(String) },
      { ref: "TSLA", ok: true, status: "filled", brokerId: expect.any(String) },
    ]);
    // Same-side orders would have doubled the positions (20 / -10); opposite-side ones flatten them.
    expect(await b.listPositions()).toEqual([]);
    expect(await t.redis.hlen(t.keys.paperPositions("paper"))).toBe(0);
    // The closing orders used the kill switch's deterministic client order ids.
    const fills = await t.redis.hgetall(t.keys.paperFills("paper"));
    expect(Object.keys(fills).sort()).toEqual(["tg-p1-AAPL", "tg-p1-TSLA"]);
    expect(fills["tg-p1-AAPL"]).toBe(items.find((i) => i.ref === "AAPL")?.brokerId);
  });

  it("the same panic twice at once closes each position once: the other reports duplicate, nothing flips", async () => {
    const b = paper();
    await b.setPosition("AAPL", "10", "150");
    await b.setPosition("TSLA", "-5", "200");
    const [r1, r2] = await Promise.all([b.closeAll({ panicId: "p1" }), b.closeAll({ panicId: "p1" })]);
    for (const symbol of ["AAPL", "TSLA"]) {
      const statuses = [...r1.items, ...r2.items].filter((i) => i.ref === symbol).map((i) => i.status);
      expect(statuses.sort(), symbol).toEqual(["duplicate", "filled"]);
    }
    // Not flipped to -10 / +5: nothing is left at all.
    expect(await b.listPositions()).toEqual([]);
    expect(await t.redis.hlen(t.keys.paperPositions("paper"))).toBe(0);
  });

  it("the same panic run again after it closed is a no-op: no reverse position is opened", async () => {
    const b = paper();
    await b.setPosition("AAPL", "10", "150");
    await b.closeAll({ panicId: "p1" });
    expect((await b.closeAll({ panicId: "p1" })).items).toEqual([]);
    expect(await b.listPositions()).toEqual([]);
  });

  it("a replay of the same panic's closing order is reported as duplicate and not filled again", async () => {
    const b = paper();
    await b.setPosition("AAPL", "10", "150");
    const first = await b.closeAll({ panicId: "p1" });
    // The position reappears (e.g. a stale read): the same panic must not send a second closing order.
    await b.setPosition("AAPL", "10", "150");
    const second = await b.closeAll({ panicId: "p1" });
    expect(second.items).toEqual([{ ref: "AAPL", ok: true, status: "duplicate", brokerId: first.items[0]?.brokerId }]);
    expect((await b.listPositions()).map((p) => p.qty)).toEqual(["10"]);
  });
});

describe("PaperBroker malformed state", () => {
  it("a malformed order in Redis → BrokerError naming the order, not a crash", async () => {
    const b = paper();
    await b.placeOrder({ symbol: "AAPL", side: "buy", qty: "1", type: "limit", limitPrice: "100" });
    await t.redis.hset(t.keys.paperOrders("paper"), "bad-1", "{not json");
    const err = await caught(b.listOpenOrders());
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as Error).message).toMatch(/^paper: order bad-1 in Redis is malformed/);
  });

  it("an order with a float qty planted in Redis → BrokerError", async () => {
    const b = paper();
    await t.redis.hset(
      t.keys.paperOrders("paper"),
      "bad-2",
      JSON.stringify({
        id: "bad-2",
        clientOrderId: null,
        symbol: "AAPL",
        side: "buy",
        qty: 1.5,
        type: "limit",
        limitPrice: "100",
        createdAt: new Date().toISOString(),
      }),
    );
    const err = await caught(b.listOpenOrders());
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as Error).message).toContain("order bad-2 in Redis is malformed");
  });

  it("a malformed position in Redis → BrokerError from listPositions and closeAll", async () => {
    const b = paper();
    await t.redis.hset(t.keys.paperPositions("paper"), "AAPL", JSON.stringify({ qty: "1" }));
    const err = await caught(b.listPositions());
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as Error).message).toContain("position AAPL in Redis is malformed");
    await expect(b.closeAll({ panicId: "p1" })).rejects.toBeInstanceOf(BrokerError);
  });
});

describe("PaperBroker latency", () => {
  it("delays every call by latency_ms", async () => {
    const b = paper(30);
    for (const call of [() => b.listOpenOrders(), () => b.listPositions(), () => b.cancelAll({ panicId: "p1" })]) {
      const started = performance.now();
      await call();
      // Timers may fire up to ~1 ms early relative to performance.now(); allow that jitter only.
      expect(performance.now() - started).toBeGreaterThanOrEqual(29);
    }
  });

  it("an aborted signal ends the call with BrokerError 'deadline reached'", async () => {
    const b = paper(5_000);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const started = Date.now();
    const err = await caught(b.closeAll({ panicId: "p1", signal: ac.signal }));
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as Error).message).toBe("paper: deadline reached");
  });
});
