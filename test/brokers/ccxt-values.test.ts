// toOpenOrder / toPosition: ccxt's parsed numbers become decimal strings, keeping the venue's own digits from `info`
// only when they agree with ccxt's number. Payloads are shaped like ccxt's unified Order/Position with Binance USD-M
// raw fields in `info` (origQty, executedQty, positionAmt, notional, entryPrice).
import type { Order } from "ccxt";
import { describe, expect, it } from "vitest";
import { type LivePosition, toOpenOrder, toPosition } from "../../src/brokers/ccxt-values.js";

const BTC = "BTC/USDT:USDT";

function order(over: Record<string, unknown> = {}): Order {
  return {
    id: "8886774",
    clientOrderId: "abc",
    symbol: BTC,
    side: "buy",
    type: "limit",
    status: "open",
    amount: 0.1,
    filled: 0,
    price: 65000.5,
    info: { origQty: "0.100", executedQty: "0.000", price: "65000.50" },
    ...over,
  } as unknown as Order;
}

function position(over: Record<string, unknown> = {}): LivePosition {
  return {
    symbol: BTC,
    side: "short",
    contracts: 0.01,
    notional: -650.5,
    entryPrice: 65050,
    info: { positionAmt: "-0.010", notional: "-650.50000000", entryPrice: "65050.0" },
    ...over,
  } as unknown as LivePosition;
}

/** An `unexpected` callback that records what it was told and returns a recognisable error. */
function recorder(): { fail: (what: string) => Error; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    fail: (what) => {
      seen.push(what);
      return new Error(`unexpected: ${what}`);
    },
  };
}

describe("toOpenOrder", () => {
  it("keeps the venue's digits (trailing zeros included) when they equal ccxt's number", () => {
    const { fail, seen } = recorder();
    expect(toOpenOrder(order(), fail)).toEqual({
      id: "8886774",
      clientOrderId: "abc",
      symbol: BTC,
      side: "buy",
      qty: "0.100",
      filledQty: "0.000",
      type: "limit",
      status: "open",
      limitPrice: "65000.50",
      notional: null,
    });
    expect(seen).toEqual([]);
  });

  it("ignores a venue string that disagrees with ccxt's number and never shows float noise", () => {
    const o = order({ amount: 0.1 + 0.2, filled: 0.1, info: { origQty: "0.25", executedQty: "garbage" } });
    const out = toOpenOrder(o, recorder().fail);
    expect(out.qty).toBe("0.3");
    expect(out.filledQty).toBe("0.1");
    expect(out.limitPrice).toBe("65000.5");
  });

  it("writes an exponent-form venue string as a plain decimal, and strips a sign from the magnitude", () => {
    const o = order({ amount: 1e-8, info: { qty: "1E-8", executedQty: "-0.000" } });
    const out = toOpenOrder(o, recorder().fail);
    expect(out.qty).toBe("0.00000001");
    expect(out.filledQty).toBe("0.000");
  });

  it("a market order has no limit price; a notional order (no amount) reports its cost as notional", () => {
    const market = toOpenOrder(order({ type: "market" }), recorder().fail);
    expect(market.limitPrice).toBeNull();
    const notional = toOpenOrder(order({ amount: undefined, cost: 250.1, info: {} }), recorder().fail);
    expect(notional.qty).toBeNull();
    expect(notional.notional).toBe("250.1");
    expect(toOpenOrder(order({ filled: undefined, info: {} }), recorder().fail).filledQty).toBe("0");
  });

  it("defaults type and status, and keeps a missing client order id as null", () => {
    const out = toOpenOrder(order({ type: undefined, status: undefined, clientOrderId: undefined }), recorder().fail);
    expect(out.type).toBe("unknown");
    expect(out.status).toBe("open");
    expect(out.clientOrderId).toBeNull();
  });

  it("reports an order without id or symbol, or with a side other than buy/sell, through `unexpected`", () => {
    const r = recorder();
    expect(() => toOpenOrder(order({ id: undefined }), r.fail)).toThrow("unexpected: an order without id or symbol");
    expect(() => toOpenOrder(order({ symbol: 42 }), r.fail)).toThrow("an order without id or symbol");
    expect(() => toOpenOrder(order({ side: "short" }), r.fail)).toThrow("order 8886774 has side short");
    expect(r.seen).toHaveLength(3);
  });
});

describe("toPosition", () => {
  it("signs qty and market value of a short, keeping the venue's digits", () => {
    const { fail, seen } = recorder();
    expect(toPosition(position(), fail)).toEqual({
      symbol: BTC,
      qty: "-0.010",
      side: "short",
      marketValue: "-650.50000000",
      avgEntryPrice: "65050.0",
    });
    expect(seen).toEqual([]);
  });

  it("a long stays unsigned; without a side a negative contract count means short", () => {
    const long = toPosition(
      position({ side: "long", notional: 650.5, info: { positionAmt: "0.010", notional: "650.5" } }),
      recorder().fail,
    );
    expect(long.qty).toBe("0.010");
    expect(long.marketValue).toBe("650.5");
    const inferred = toPosition(position({ side: undefined, contracts: -2, info: {} }), recorder().fail);
    expect(inferred.side).toBe("short");
    expect(inferred.qty).toBe("-2");
  });

  it("a zero notional on a short gets no minus sign; a missing notional or entry price is null", () => {
    const zero = toPosition(position({ notional: 0, info: { notional: "0.00" } }), recorder().fail);
    expect(zero.marketValue).toBe("0.00");
    const none = toPosition(position({ notional: undefined, entryPrice: null, info: {} }), recorder().fail);
    expect(none.marketValue).toBeNull();
    expect(none.avgEntryPrice).toBeNull();
  });

  it("a position with neither side nor a negative count is reported through `unexpected`", () => {
    const r = recorder();
    expect(() => toPosition(position({ side: undefined, contracts: 3 }), r.fail)).toThrow(
      `unexpected: position ${BTC} has no side`,
    );
    expect(r.seen).toEqual([`position ${BTC} has no side`]);
  });
});
