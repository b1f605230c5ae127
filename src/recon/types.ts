// The reconciliation's data: what our trading processes recorded (ledger fills), what the broker's statement says
// (fills, fees, end-of-day positions and cash), and what the comparison found. Money and quantities are fixed
// (src/recon/fixed.ts: BigInt scaled by 10^18); every input item carries `where` it came from, so an error or a
// mismatch names the file and row.

export type Side = "buy" | "sell" | "sell_short";

/** One fill from our ledger (Redis stream `ledger:fills` or a JSONL file), validated. */
export interface LedgerFill {
  fillId: string;
  orderId: string;
  /** The configured broker name. */
  broker: string;
  symbol: string;
  side: Side;
  /** > 0 */
  qty: bigint;
  price: bigint;
  /** ≥ 0, in the account currency. */
  fee: bigint;
  /** ISO-8601 execution time, and its epoch ms. */
  ts: string;
  tsMs: number;
  /** The America/New_York calendar date of the execution (YYYY-MM-DD). */
  tradeDate: string;
  where: string;
}

/** One execution as the broker's statement reports it. */
export interface StatementFill {
  orderId: string;
  symbol: string;
  side: Side;
  qty: bigint;
  price: bigint;
  ts: string;
  tradeDate: string;
  where: string;
}

/** A fee the statement charges (positive = a cost to the account), per symbol where it names one. */
export interface StatementFee {
  symbol: string | null;
  amount: bigint;
  tradeDate: string;
  where: string;
}

/** An end-of-day position per the statement; `qty` signed (negative = short). */
export interface StatementPosition {
  symbol: string;
  qty: bigint;
  where: string;
}

/**
 * The cash lines of a statement that carries them (the generic CSV; Alpaca's activities do not): opening and closing
 * balance of the date and the non-trade cash movements (deposits, withdrawals, interest, …, signed). The check:
 * closing = opening + movements + our trades' cash (sells − buys − fees), to the cent.
 */
export interface StatementCash {
  opening: bigint;
  closing: bigint;
  movements: bigint;
  where: string;
}

/** What a statement for one date holds (positions null when none were supplied). */
export interface Statement {
  fills: StatementFill[];
  fees: StatementFee[];
  positions: StatementPosition[] | null;
  cash: StatementCash | null;
  /** Rows read, and rows that could not be (the run then says "could not reconcile"). */
  rows: number;
  errors: InputError[];
}

/** A row that could not be read: the run says "could not reconcile" and never guesses. */
export interface InputError {
  /** "activities.json[3]", "statement.csv:17", "ledger:fills 1733097600000-0", "ledger.jsonl:12". */
  where: string;
  reason: string;
}

export type MismatchKind =
  | "missing_in_ledger"
  | "missing_in_statement"
  | "qty"
  | "price"
  | "fees"
  | "position"
  | "cash";

/** One difference, as the JSON contract prints it: decimal strings; diff = theirs − ours. */
export interface Mismatch {
  kind: MismatchKind;
  symbol: string | null;
  order_id: string | null;
  ours: string | null;
  theirs: string | null;
  diff: string | null;
}

/** Per symbol: end-of-day position (ledger FIFO), realized P&L of the date (gross of fees) and fees of the date. */
export interface SymbolSummary {
  symbol: string;
  qty: string;
  realized_pnl: string;
  fees: string;
}

/** The result object (`--json`, Redis `recon:statements:<date>`, the snapshot store). */
export interface ReconResult {
  date: string;
  ok: boolean;
  rows: number;
  mismatches: Mismatch[];
  errors: InputError[];
  symbols: SymbolSummary[];
}
