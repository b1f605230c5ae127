// Venue payloads → our types: ccxt Orders and Positions become OpenOrder / Position with exact decimal strings.
// ccxt parses the venue's decimal strings into doubles; we take the venue's own string from `info` when it agrees
// numerically with ccxt's number (keeps the venue's digits), else the shortest round-trip form of the number.
import type { Position as CcxtPosition, Order } from "ccxt";
import { Decimal } from "decimal.js";
import type { OpenOrder, Position } from "./broker.js";

/** A ccxt position that is actually open. */
export type LivePosition = CcxtPosition & { symbol: string; contracts: number };

// Venue field names that hold the raw decimal behind a ccxt number; used only when they agree numerically.
const ORDER_QTY_KEYS = ["origQty", "qty", "quantity", "orderQty", "size", "sz", "amount", "volume", "vol"] as const;
const ORDER_FILLED_KEYS = [
  "executedQty",
  "cumQty",
  "cumExecQty",
  "filledQty",
  "filled_size",
  "accFillSz",
  "filled",
  "dealSize",
  "vol_exec",
] as const;
const ORDER_PRICE_KEYS = ["price", "px", "limitPrice", "limit_price"] as const;
const POSITION_QTY_KEYS = ["positionAmt", "contracts", "size", "pos", "qty", "currentQty", "positionQty"] as const;
const POSITION_NOTIONAL_KEYS = ["notional", "notionalValue", "positionValue", "notionalUsd"] as const;
const POSITION_ENTRY_KEYS = [
  "entryPrice",
  "avgEntryPrice",
  "avgPx",
  "avgPrice",
  "entry_price",
  "avg_entry_price",
] as const;

const PLAIN_DECIMAL = /^[+-]?\d+(\.\d+)?$/;
const ANY_DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * Magnitude of `value` as an exact decimal string: the venue's own string from `info[keys]` when it equals the
 * number ccxt parsed (keeps the venue's digits), else the shortest round-trip form of the number, never float noise.
 */
function magnitude(value: number | undefined | null, info: unknown, keys: readonly string[]): string | null {
  if (value === undefined || value === null || !Number.isFinite(value)) return null;
  const abs = Math.abs(value);
  if (info && typeof info === "object") {
    for (const key of keys) {
      const raw = (info as Record<string, unknown>)[key];
      if (typeof raw !== "string") continue;
      const s = raw.trim();
      if (!ANY_DECIMAL.test(s)) continue;
      const d = new Decimal(s).abs();
      if (d.toNumber() !== abs) continue;
      return PLAIN_DECIMAL.test(s) ? s.replace(/^[+-]/, "") : d.toFixed();
    }
  }
  return toDecimalString(abs);
}

/** A float as a plain decimal string without binary noise (0.1 + 0.2 → "0.3", 1e-8 → "0.00000001"). */
export function toDecimalString(value: number): string {
  // ccxt parses venue strings into doubles; 15 significant digits always round-trip, and drop float artefacts.
  return new Decimal(value.toPrecision(15)).toFixed();
}

/** Puts a minus sign on a magnitude when `negative`, except on zero (never "-0"). */
function signed(mag: string, negative: boolean): string {
  return negative && !new Decimal(mag).isZero() ? `-${mag}` : mag;
}

/** Converts one ccxt order into an OpenOrder; malformed orders are reported through `unexpected` (which throws). */
export function toOpenOrder(o: Order, unexpected: (what: string) => Error): OpenOrder {
  if (!o || typeof o !== "object" || o.id === undefined || o.id === null || typeof o.symbol !== "string") {
    throw unexpected("an order without id or symbol");
  }
  if (o.side !== "buy" && o.side !== "sell") throw unexpected(`order ${o.id} has side ${String(o.side)}`);
  const type = o.type ?? "unknown";
  const qty = magnitude(o.amount, o.info, ORDER_QTY_KEYS);
  const hasLimit = typeof o.price === "number" && o.price > 0 && type !== "market";
  return {
    id: String(o.id),
    clientOrderId: o.clientOrderId ?? null,
    symbol: o.symbol,
    side: o.side,
    qty,
    filledQty: magnitude(o.filled, o.info, ORDER_FILLED_KEYS) ?? "0",
    type,
    status: o.status ?? "open",
    limitPrice: hasLimit ? magnitude(o.price, o.info, ORDER_PRICE_KEYS) : null,
    notional: qty === null ? magnitude(o.cost, undefined, []) : null,
  };
}

/** Converts one open ccxt position into a Position with signed qty and market value (negative when short). */
export function toPosition(p: LivePosition, unexpected: (what: string) => Error): Position {
  const contracts = p.contracts;
  const side = p.side === "long" || p.side === "short" ? p.side : contracts < 0 ? "short" : undefined;
  if (!side) throw unexpected(`position ${p.symbol} has no side`);
  const short = side === "short";
  const qty = magnitude(contracts, p.info, POSITION_QTY_KEYS) as string;
  const notional = magnitude(p.notional, p.info, POSITION_NOTIONAL_KEYS);
  return {
    symbol: p.symbol,
    qty: signed(qty, short),
    side,
    marketValue: notional === null ? null : signed(notional, short),
    avgEntryPrice: magnitude(p.entryPrice, p.info, POSITION_ENTRY_KEYS),
  };
}
