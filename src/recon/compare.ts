// The comparison itself (issue #11, "What is compared"): our ledger against the broker's statement for one trade date,
// exact to the share and the cent. Both sides are streamed in, in any order and interleaving; nothing is compared
// until `result()`.
//
// - Ledger fills after the date are ignored; fills before it only build the opening FIFO lots; fills of the date
//   also aggregate per order (qty and Σ qty × price) and give the date's fees and trade cash. With a broker filter,
//   other brokers' fills are ignored.
// - Statement fills and fees of another trade date are ignored the same way (a broker's window may be wider than one
//   New York day).
// - Orders are keyed by (order_id, symbol), so an order the two sides book under different symbols shows as missing
//   on each side. Order quantities are signed like positions (bought > 0, sold < 0), so a side mix-up is a `qty`
//   difference. When the quantities differ only `qty` is reported (the notional then differs as a consequence).
// - Fees are compared per symbol; a statement fee without a symbol is compared (as symbol null) against nothing.
// - Thresholds: quantities and positions any difference; notionals, fees and cash a difference of ≥ 0.01.
// - diff = theirs − ours throughout. `rows` counts every ledger item read (any date or broker, errors included)
//   plus the statement's rows.
// Memory: the FIFO's open lots and reorder buffers, and ~300 bytes per order of the date (both sides' totals).
import { FifoLedger } from "./fifo.js";
import { abs, CENT, CENT_PRODUCT, formatFixed, formatMoney, formatProductMoney, ONE } from "./fixed.js";
import { isCalendarDate } from "./trade-date.js";
import type {
  InputError,
  LedgerFill,
  Mismatch,
  MismatchKind,
  ReconResult,
  Side,
  Statement,
  StatementCash,
  StatementFee,
  StatementFill,
  StatementPosition,
  SymbolSummary,
} from "./types.js";

/** What to reconcile: the trade date and, optionally, the only broker whose ledger fills count. */
export interface ReconOptions {
  date: string;
  broker?: string | null;
  /** Reorder window of the FIFO books (default 5 s). */
  windowMs?: number;
}

/** One order's totals on both sides: signed qty (fixed) and Σ qty × price (scale 10^36). */
interface OrderTotals {
  orderId: string;
  symbol: string;
  ours: boolean;
  oursQty: bigint;
  oursNotional: bigint;
  theirs: boolean;
  theirsQty: bigint;
  theirsNotional: bigint;
}

const KIND_ORDER: MismatchKind[] = [
  "missing_in_ledger",
  "missing_in_statement",
  "qty",
  "price",
  "fees",
  "position",
  "cash",
];

const signed = (side: Side, qty: bigint) => (side === "buy" ? qty : -qty);
const add = <K>(m: Map<K, bigint>, k: K, v: bigint) => m.set(k, (m.get(k) ?? 0n) + v);

/** Once the two sides agree, both hold the same BigInt objects: a matched order then costs two totals, not four. */
function share(o: OrderTotals): void {
  if (o.oursQty === o.theirsQty) o.theirsQty = o.oursQty;
  if (o.oursNotional === o.theirsNotional) o.theirsNotional = o.oursNotional;
}

function cmpNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** Deterministic order of mismatches: kind (as MismatchKind lists them), then symbol, then order_id (nulls first). */
export function compareMismatches(a: Mismatch, b: Mismatch): number {
  return (
    KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
    cmpNullable(a.symbol, b.symbol) ||
    cmpNullable(a.order_id, b.order_id)
  );
}

/** Reconciles one trade date: feed both sides (any order), then take `result()` once. */
export class Reconciler {
  readonly date: string;
  readonly broker: string | null;
  private readonly fifo: FifoLedger;
  /** Orders by order_id; an order id seen again under another symbol goes to `otherOrders` (id + symbol). */
  private readonly orders = new Map<string, OrderTotals>();
  private readonly otherOrders = new Map<string, OrderTotals>();
  private readonly ourFees = new Map<string, bigint>();
  private readonly theirFees = new Map<string | null, bigint>();
  private readonly realized = new Map<string, bigint>();
  private readonly active = new Set<string>();
  private theirPositions: Map<string, bigint> | null = null;
  private cash: StatementCash | null = null;
  /** Our trades' cash of the date, scale 10^36: sells − buys − fees. */
  private ourTradeCash = 0n;
  private readonly errors: InputError[] = [];
  private rows = 0;
  private finished: ReconResult | null = null;

  constructor(opts: ReconOptions) {
    if (!isCalendarDate(opts.date)) throw new RangeError(`recon date must be YYYY-MM-DD, got ${opts.date}`);
    this.date = opts.date;
    this.broker = opts.broker ?? null;
    this.fifo = new FifoLedger({
      windowMs: opts.windowMs,
      onBooked: (fill, realized) => {
        if (fill.tradeDate === this.date) add(this.realized, fill.symbol, realized);
      },
    });
  }

  /** Takes one item from a ledger reader (a fill of any date, or a row that could not be read). */
  addLedger(item: LedgerFill | InputError): void {
    this.open();
    this.rows++;
    if (!("fillId" in item)) {
      this.errors.push(item);
      return;
    }
    if ((this.broker !== null && item.broker !== this.broker) || item.tradeDate > this.date) return;
    const late = this.fifo.add(item);
    if (late) {
      this.errors.push(late);
      return;
    }
    if (item.tradeDate !== this.date) return;
    const notional = item.qty * item.price;
    const o = this.order(item.orderId, item.symbol);
    o.ours = true;
    o.oursQty += signed(item.side, item.qty);
    o.oursNotional += notional;
    share(o);
    add(this.ourFees, item.symbol, item.fee);
    this.ourTradeCash += (item.side === "buy" ? -notional : notional) - item.fee * ONE;
    this.active.add(item.symbol);
  }

  /** Takes a whole parsed statement (its rows and errors count too). */
  addStatement(statement: Statement): void {
    this.open();
    this.rows += statement.rows;
    for (const e of statement.errors) this.errors.push(e);
    for (const f of statement.fills) this.addStatementFill(f);
    for (const f of statement.fees) this.addStatementFee(f);
    if (statement.positions) this.addStatementPositions(statement.positions);
    if (statement.cash) this.addStatementCash(statement.cash);
  }

  /** Takes one statement fill (for a parser that streams; rows and errors then go through the other adders). */
  addStatementFill(f: StatementFill): void {
    this.open();
    if (f.tradeDate !== this.date) return;
    const o = this.order(f.orderId, f.symbol);
    o.theirs = true;
    o.theirsQty += signed(f.side, f.qty);
    o.theirsNotional += f.qty * f.price;
    share(o);
  }

  /** Takes one statement fee (a positive amount is a cost to the account). */
  addStatementFee(f: StatementFee): void {
    this.open();
    if (f.tradeDate === this.date) add(this.theirFees, f.symbol, f.amount);
  }

  /** Takes the statement's end-of-day positions (an empty list means flat: positions are then compared). */
  addStatementPositions(positions: Iterable<StatementPosition>): void {
    this.open();
    if (!this.theirPositions) this.theirPositions = new Map();
    const m = this.theirPositions;
    for (const p of positions) {
      if (m.has(p.symbol)) this.errors.push({ where: p.where, reason: `symbol: a second position for ${p.symbol}` });
      else m.set(p.symbol, p.qty);
    }
  }

  /** Takes the statement's cash lines (at most one set per run). */
  addStatementCash(cash: StatementCash): void {
    this.open();
    if (this.cash) this.errors.push({ where: cash.where, reason: `cash: given twice (also ${this.cash.where})` });
    else this.cash = cash;
  }

  /** Counts statement rows read and records statement rows that could not be (for a streaming parser). */
  addStatementRows(rows: number, errors: Iterable<InputError> = []): void {
    this.open();
    this.rows += rows;
    for (const e of errors) this.errors.push(e);
  }

  /** Books what the reorder buffers still hold and compares; later calls return the same result. */
  result(): ReconResult {
    if (this.finished) return this.finished;
    this.fifo.flush();
    const mismatches = [...this.orderMismatches(), ...this.feeMismatches()];
    const eod = new Map<string, bigint>();
    for (const p of this.fifo.positions()) add(eod, p.symbol, p.net);
    if (this.theirPositions) mismatches.push(...positionMismatches(eod, this.theirPositions));
    if (this.cash) mismatches.push(...this.cashMismatches(this.cash));
    mismatches.sort(compareMismatches);
    const symbols = new Set(this.active);
    for (const [s, q] of eod) if (q !== 0n) symbols.add(s);
    const summaries: SymbolSummary[] = [...symbols].sort().map((symbol) => ({
      symbol,
      qty: formatFixed(eod.get(symbol) ?? 0n),
      realized_pnl: formatProductMoney(this.realized.get(symbol) ?? 0n),
      fees: formatMoney(this.ourFees.get(symbol) ?? 0n),
    }));
    this.finished = {
      date: this.date,
      ok: mismatches.length === 0 && this.errors.length === 0,
      rows: this.rows,
      mismatches,
      errors: [...this.errors],
      symbols: summaries,
    };
    return this.finished;
  }

  private open(): void {
    if (this.finished) throw new Error("Reconciler: input added after result()");
  }

  private order(orderId: string, symbol: string): OrderTotals {
    const first = this.orders.get(orderId);
    if (first?.symbol === symbol) return first;
    const map = first ? this.otherOrders : this.orders;
    const key = first ? `${orderId}\u0000${symbol}` : orderId;
    let o = map.get(key);
    if (!o) {
      o = {
        orderId,
        symbol,
        ours: false,
        oursQty: 0n,
        oursNotional: 0n,
        theirs: false,
        theirsQty: 0n,
        theirsNotional: 0n,
      };
      map.set(key, o);
    }
    return o;
  }

  private *orderMismatches(): Generator<Mismatch> {
    for (const o of [...this.orders.values(), ...this.otherOrders.values()]) {
      const base = { symbol: o.symbol, order_id: o.orderId };
      if (!o.theirs) {
        yield { kind: "missing_in_statement", ...base, ours: formatFixed(o.oursQty), theirs: null, diff: null };
      } else if (!o.ours) {
        yield { kind: "missing_in_ledger", ...base, ours: null, theirs: formatFixed(o.theirsQty), diff: null };
      } else if (o.oursQty !== o.theirsQty) {
        const diff = formatFixed(o.theirsQty - o.oursQty);
        yield { kind: "qty", ...base, ours: formatFixed(o.oursQty), theirs: formatFixed(o.theirsQty), diff };
      } else if (abs(o.theirsNotional - o.oursNotional) >= CENT_PRODUCT) {
        const [ours, theirs] = [formatProductMoney(o.oursNotional), formatProductMoney(o.theirsNotional)];
        yield { kind: "price", ...base, ours, theirs, diff: formatProductMoney(o.theirsNotional - o.oursNotional) };
      }
    }
  }

  private *feeMismatches(): Generator<Mismatch> {
    const symbols = new Set<string | null>([...this.ourFees.keys(), ...this.theirFees.keys()]);
    for (const symbol of symbols) {
      const ours = symbol === null ? 0n : (this.ourFees.get(symbol) ?? 0n);
      const theirs = this.theirFees.get(symbol) ?? 0n;
      if (abs(theirs - ours) < CENT) continue;
      const [o, t, diff] = [formatMoney(ours), formatMoney(theirs), formatMoney(theirs - ours)];
      yield { kind: "fees", symbol, order_id: null, ours: o, theirs: t, diff };
    }
  }

  private *cashMismatches(cash: StatementCash): Generator<Mismatch> {
    const ours = (cash.opening + cash.movements) * ONE + this.ourTradeCash;
    const theirs = cash.closing * ONE;
    if (abs(theirs - ours) < CENT_PRODUCT) return;
    const [o, t, diff] = [formatProductMoney(ours), formatProductMoney(theirs), formatProductMoney(theirs - ours)];
    yield { kind: "cash", symbol: null, order_id: null, ours: o, theirs: t, diff };
  }
}

function* positionMismatches(ours: Map<string, bigint>, theirs: Map<string, bigint>): Generator<Mismatch> {
  for (const symbol of new Set([...ours.keys(), ...theirs.keys()])) {
    const [o, t] = [ours.get(symbol) ?? 0n, theirs.get(symbol) ?? 0n];
    if (o === t) continue;
    yield {
      kind: "position",
      symbol,
      order_id: null,
      ours: formatFixed(o),
      theirs: formatFixed(t),
      diff: formatFixed(t - o),
    };
  }
}

/** |x| of a decimal string at scale 10^36 (diffs are at most product scale); null counts as 0. */
function magnitude(s: string | null): bigint {
  const m = s === null ? null : /^-?(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return 0n;
  return BigInt(m[1]!) * 10n ** 36n + BigInt((m[2] ?? "").slice(0, 36).padEnd(36, "0"));
}

/** The `n` differences an alert should show first: missing orders, then the largest |diff|; ties keep result order. */
export function topMismatches(result: ReconResult, n: number): Mismatch[] {
  const missing = (m: Mismatch) => m.kind === "missing_in_ledger" || m.kind === "missing_in_statement";
  return result.mismatches
    .map((m, i) => ({ m, i, size: magnitude(m.diff) }))
    .sort((a, b) => {
      const byMissing = Number(missing(b.m)) - Number(missing(a.m));
      if (byMissing) return byMissing;
      if (a.size !== b.size) return a.size > b.size ? -1 : 1;
      return a.i - b.i;
    })
    .slice(0, Math.max(0, n))
    .map((x) => x.m);
}
