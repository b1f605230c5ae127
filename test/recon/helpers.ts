// Builders for reconciliation tests: ledger fills go through the real parser (so a test fill is a valid ledger row),
// statement items are built directly in the shape the statement parsers produce.
import { parseFixed } from "../../src/recon/fixed.js";
import { parseLedgerFill } from "../../src/recon/ledger.js";
import { tradeDate } from "../../src/recon/trade-date.js";
import type { LedgerFill, Side, Statement, StatementFee, StatementFill } from "../../src/recon/types.js";

/** A decimal string as fixed; throws on anything else (tests only). */
export function fx(s: string): bigint {
  const v = parseFixed(s);
  if (typeof v === "string") throw new Error(v);
  return v;
}

let seq = 0;

/** A ledger fill from raw strings (defaults: broker "alpaca", buy 1 AAPL @ 100, no fee, 2026-12-01 15:00 UTC). */
export function lf(
  o: Partial<Record<"fill_id" | "order_id" | "broker" | "symbol" | "side" | "qty" | "price" | "fee" | "ts", string>>,
): LedgerFill {
  seq++;
  const raw = {
    fill_id: `f${String(seq).padStart(6, "0")}`,
    order_id: "o1",
    broker: "alpaca",
    symbol: "AAPL",
    side: "buy",
    qty: "1",
    price: "100",
    fee: "0",
    ts: "2026-12-01T15:00:00Z",
    ...o,
  };
  const f = parseLedgerFill(raw, `ledger.jsonl:${seq}`);
  if (!("fillId" in f)) throw new Error(f.reason);
  return f;
}

/** A statement fill (defaults as lf). */
export function sf(o: {
  order_id?: string;
  symbol?: string;
  side?: Side;
  qty?: string;
  price?: string;
  ts?: string;
}): StatementFill {
  const ts = o.ts ?? "2026-12-01T15:00:00Z";
  return {
    orderId: o.order_id ?? "o1",
    symbol: o.symbol ?? "AAPL",
    side: o.side ?? "buy",
    qty: fx(o.qty ?? "1"),
    price: fx(o.price ?? "100"),
    ts,
    tradeDate: tradeDate(ts)!,
    where: `activities.json[${seq++}]`,
  };
}

/** A statement fee (a positive amount is a cost). */
export function sfee(symbol: string | null, amount: string, date = "2026-12-01"): StatementFee {
  return { symbol, amount: fx(amount), tradeDate: date, where: `activities.json[${seq++}]` };
}

/** A statement with defaults for what a test does not care about. */
export function statement(s: Partial<Statement>): Statement {
  const fills = s.fills ?? [];
  const fees = s.fees ?? [];
  return {
    fills,
    fees,
    positions: s.positions ?? null,
    cash: s.cash ?? null,
    rows: s.rows ?? fills.length + fees.length + (s.positions?.length ?? 0),
    errors: s.errors ?? [],
  };
}
