// Property: a statement generated from the same fills as the ledger (the same executions split into different
// partial fills, fees and positions derived from them) always reconciles ok; perturbing it by the smallest amount
// that crosses a threshold yields exactly the expected mismatch, and one unit less yields none.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Reconciler } from "../../src/recon/compare.js";
import { CENT, CENT_PRODUCT, ONE } from "../../src/recon/fixed.js";
import { parseLedgerFill } from "../../src/recon/ledger.js";
import { tradeDate } from "../../src/recon/trade-date.js";
import type { LedgerFill, ReconResult, Side, Statement, StatementFill } from "../../src/recon/types.js";

const DATE = "2026-12-01";
const DAYS = ["2026-11-27", "2026-11-30", DATE, "2026-12-02"];
const E8 = 10n ** 10n; // 10^-8 in fixed

/** Splits n units into parts at the given cut points (each part ≥ 1 unit). */
function split(n: bigint, cuts: bigint[]): bigint[] {
  const points = [...new Set(cuts.map((c) => (n > 1n ? (c % (n - 1n)) + 1n : 0n)).filter((c) => c > 0n))].sort(
    (a, b) => (a < b ? -1 : 1),
  );
  const parts: bigint[] = [];
  let prev = 0n;
  for (const p of [...points, n]) {
    parts.push(p - prev);
    prev = p;
  }
  return parts;
}

const cuts = fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { maxLength: 2 });
const execution = fc.record({
  qty: fc.bigInt({ min: 1n, max: 10n ** 10n }), // up to 100 with 8 decimals
  price: fc.bigInt({ min: 1n, max: 10n ** 12n }), // up to 10 000 with 8 decimals
  ours: cuts,
  theirs: cuts,
  fees: fc.array(fc.bigInt({ min: 0n, max: 10_000n }), { minLength: 3, maxLength: 3 }),
});
const order = fc.record({
  symbol: fc.constantFrom("AAPL", "MSFT", "BTC/USD"),
  side: fc.constantFrom<Side>("buy", "sell", "sell_short"),
  day: fc.constantFrom(0, 1, 2, 2, 2, 3),
  executions: fc.array(execution, { minLength: 1, maxLength: 3 }),
});
const day = fc.record({
  orders: fc.array(order, { minLength: 1, maxLength: 12 }),
  opening: fc.bigInt({ min: 0n, max: 10n ** 8n }),
  movements: fc.bigInt({ min: -(10n ** 6n), max: 10n ** 6n }),
  statementFirst: fc.boolean(),
  swaps: fc.array(fc.nat(), { maxLength: 5 }),
});

interface Day {
  ledger: LedgerFill[];
  statement: Statement;
  statementFirst: boolean;
}

type DayInput = typeof day extends fc.Arbitrary<infer T> ? T : never;

function build(d: DayInput): Day {
  const ledger: LedgerFill[] = [];
  const fills: StatementFill[] = [];
  let second = 0;
  let seq = 0;
  d.orders.forEach((o, oi) => {
    const orderId = `O${oi}`;
    for (const x of o.executions) {
      const ts = new Date(Date.parse(`${DAYS[o.day]}T15:00:00Z`) + ++second * 1000).toISOString();
      const price = x.price * E8;
      split(x.qty, x.ours).forEach((part, i) => {
        const raw = {
          fill_id: `F${++seq}`,
          order_id: orderId,
          broker: "alpaca",
          symbol: o.symbol,
          side: o.side,
          qty: formatUnits(part, 8),
          price: formatUnits(x.price, 8),
          fee: formatUnits(x.fees[i % 3]!, 4),
          ts,
        };
        const f = parseLedgerFill(raw, `ledger.jsonl:${seq}`);
        if (!("fillId" in f)) throw new Error(f.reason);
        ledger.push(f);
      });
      if (o.day === 3) continue; // after the date: in the ledger only (the statement is of the date)
      for (const part of split(x.qty, x.theirs)) {
        fills.push({
          orderId,
          symbol: o.symbol,
          side: o.side,
          qty: part * E8,
          price,
          ts,
          tradeDate: tradeDate(ts)!,
          where: `activities.json[${fills.length}]`,
        });
      }
    }
  });
  // Execution order, then slightly out of order as several writers would leave it: swap neighbours that are at
  // most 5 s apart (inside the reorder window).
  ledger.sort((a, b) => a.tsMs - b.tsMs);
  for (const s of d.swaps) {
    const i = s % Math.max(1, ledger.length - 1);
    const [a, b] = [ledger[i], ledger[i + 1]];
    if (a && b && b.tsMs - a.tsMs <= 5_000) [ledger[i], ledger[i + 1]] = [b, a];
  }
  const fees = new Map<string, bigint>();
  const positions = new Map<string, bigint>();
  let tradeCash = 0n;
  for (const f of ledger) {
    if (f.tradeDate > DATE) continue;
    positions.set(f.symbol, (positions.get(f.symbol) ?? 0n) + (f.side === "buy" ? f.qty : -f.qty));
    if (f.tradeDate !== DATE) continue;
    fees.set(f.symbol, (fees.get(f.symbol) ?? 0n) + f.fee);
    tradeCash += (f.side === "buy" ? -1n : 1n) * f.qty * f.price - f.fee * ONE;
  }
  const opening = d.opening * ONE;
  const movements = d.movements * ONE;
  const statement: Statement = {
    fills,
    fees: [...fees]
      .filter(([, v]) => v !== 0n)
      .map(([symbol, amount], i) => ({ symbol, amount, tradeDate: DATE, where: `fees[${i}]` })),
    positions: [...positions]
      .filter(([, q]) => q !== 0n)
      .map(([symbol, qty]) => ({ symbol, qty, where: `positions[${symbol}]` })),
    cash: { opening, movements, closing: opening + movements + tradeCash / ONE, where: "cash" },
    rows: fills.length,
    errors: [],
  };
  return { ledger, statement, statementFirst: d.statementFirst };
}

function formatUnits(n: bigint, decimals: number): string {
  const s = n.toString().padStart(decimals + 1, "0");
  return `${s.slice(0, -decimals)}.${s.slice(-decimals)}`;
}

function run(d: Day, statement = d.statement): ReconResult {
  const r = new Reconciler({ date: DATE });
  if (d.statementFirst) r.addStatement(statement);
  for (const f of d.ledger) r.addLedger(f);
  if (!d.statementFirst) r.addStatement(statement);
  return r.result();
}

const withFill = (s: Statement, i: number, f: (x: StatementFill) => StatementFill): Statement => ({
  ...s,
  fills: s.fills.map((x, j) => (j === i ? f(x) : x)),
});

/** Index of a statement fill of the date, chosen by `pick`; null when the day has none. */
function dateFill(s: Statement, pick: number): number | null {
  const idx = s.fills.flatMap((f, i) => (f.tradeDate === DATE ? [i] : []));
  return idx.length ? idx[pick % idx.length]! : null;
}

describe("Reconciler property: a statement generated from the same fills", () => {
  it("always reconciles ok", () => {
    fc.assert(
      fc.property(day, (g) => {
        const r = run(build(g));
        expect(r.errors).toEqual([]);
        expect(r.mismatches).toEqual([]);
        expect(r.ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("one fill's qty off by 10^-18 is exactly one `qty` mismatch on its order", () => {
    fc.assert(
      fc.property(day, fc.nat(), fc.boolean(), (g, pick, up) => {
        const d = build(g);
        const i = dateFill(d.statement, pick);
        if (i === null) return;
        const target = d.statement.fills[i]!;
        const r = run(
          d,
          withFill(d.statement, i, (x) => ({ ...x, qty: x.qty + (up ? 1n : -1n) })),
        );
        expect(r.mismatches.map((m) => [m.kind, m.order_id])).toEqual([["qty", target.orderId]]);
      }),
    );
  });

  it("one fill's price moved by the smallest step that moves the notional a cent is exactly one `price` mismatch", () => {
    fc.assert(
      fc.property(day, fc.nat(), (g, pick) => {
        const d = build(g);
        const i = dateFill(d.statement, pick);
        if (i === null) return;
        const target = d.statement.fills[i]!;
        const step = (CENT_PRODUCT + target.qty - 1n) / target.qty; // ceil(0.01 / qty), in fixed units of price
        const crossed = run(
          d,
          withFill(d.statement, i, (x) => ({ ...x, price: x.price + step })),
        );
        expect(crossed.mismatches.map((m) => [m.kind, m.order_id])).toEqual([["price", target.orderId]]);
        const below = run(
          d,
          withFill(d.statement, i, (x) => ({ ...x, price: x.price + step - 1n })),
        );
        expect(below.mismatches).toEqual([]);
      }),
    );
  });

  it("a statement fee off by one cent is exactly one `fees` mismatch; a cent less one unit is none", () => {
    fc.assert(
      fc.property(day, fc.nat(), (g, pick) => {
        const d = build(g);
        const fees = d.statement.fees;
        if (!fees.length) return;
        const k = pick % fees.length;
        const bump = (by: bigint) => ({
          ...d.statement,
          fees: fees.map((f, j) => (j === k ? { ...f, amount: f.amount + by } : f)),
        });
        expect(run(d, bump(CENT)).mismatches.map((m) => [m.kind, m.symbol])).toEqual([["fees", fees[k]!.symbol]]);
        expect(run(d, bump(CENT - 1n)).mismatches).toEqual([]);
      }),
    );
  });

  it("an order dropped from the statement is exactly one `missing_in_statement`", () => {
    fc.assert(
      fc.property(day, fc.nat(), (g, pick) => {
        const d = build(g);
        const i = dateFill(d.statement, pick);
        if (i === null) return;
        const gone = d.statement.fills[i]!.orderId;
        const r = run(d, { ...d.statement, fills: d.statement.fills.filter((f) => f.orderId !== gone) });
        expect(r.mismatches.map((m) => [m.kind, m.order_id])).toEqual([["missing_in_statement", gone]]);
      }),
    );
  });
});
