// The generic CSV statement (docs/recon.md) for a broker without an adapter of its own: fills, fees, non-trade cash
// movements, end-of-day positions and opening/closing cash, one record per row, for one date or many. Parsed with
// csv-parse's streaming API (quoted fields with commas, quotes and newlines work), never by splitting on commas.
// Every row is validated; a bad one is an InputError naming the file and the line it starts on ("statement.csv:17").
// With a `sink` (the Reconciler), the date's fills, fees and positions go to it as they are read instead of into
// the Statement, so a statement of any size is read in constant memory.
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { CsvError, parse } from "csv-parse";
import { UsageError } from "../errors.js";
import { parseFixed } from "./fixed.js";
import { isCalendarDate, tradeDate } from "./trade-date.js";
import type { InputError, Side, Statement, StatementFee, StatementFill, StatementPosition } from "./types.js";

/** The columns every generic CSV statement has, by name (any order; extra columns are ignored). */
export const CSV_COLUMNS = [
  "record",
  "date",
  "time",
  "order_id",
  "symbol",
  "side",
  "qty",
  "price",
  "amount",
  "description",
] as const;
type Column = (typeof CSV_COLUMNS)[number];

/** Per record type: the columns it must fill and may fill (`description` always may; any other must be empty). */
const RECORDS: Record<string, { required: Column[]; optional: Column[] }> = {
  fill: { required: ["date", "time", "order_id", "symbol", "side", "qty", "price"], optional: [] },
  fee: { required: ["date", "amount"], optional: ["time", "order_id", "symbol"] },
  cash: { required: ["date", "amount"], optional: ["time", "symbol"] },
  position: { required: ["date", "symbol", "qty"], optional: [] },
  opening_cash: { required: ["date", "amount"], optional: [] },
  closing_cash: { required: ["date", "amount"], optional: [] },
};
const RECORD_TYPES = Object.keys(RECORDS).join(" | ");
/** Thrown from the on_record hook to stop reading (a bad header: no row can be read). */
const STOP = new Error("stop");
const SIDES: ReadonlySet<string> = new Set(["buy", "sell", "sell_short"]);

/**
 * Where a streaming statement reader puts the date's items as it reads them; the Reconciler is one. A reader given a
 * sink returns its Statement without them (empty lists), with the rows, errors and cash as usual.
 */
export interface StatementSink {
  addStatementFill(f: StatementFill): void;
  addStatementFee(f: StatementFee): void;
  addStatementPositions(positions: Iterable<StatementPosition>): void;
}

/** What to read a CSV statement for: the date, and where its items go when they are streamed. */
export interface CsvStatementOptions {
  /** The trade date (America/New_York, YYYY-MM-DD). */
  date: string;
  sink?: StatementSink;
}

/** Reads a generic CSV statement file into the Statement of `date` (America/New_York, YYYY-MM-DD), streaming. */
export function readCsvStatement(file: string, opts: CsvStatementOptions): Promise<Statement> {
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  return parseCsvStatement(source, basename(file), opts, file);
}

/** Parses a generic CSV statement from a stream or a string; `label` names it in errors ("statement.csv:17"). */
export async function parseCsvStatement(
  input: NodeJS.ReadableStream | string,
  label: string,
  opts: CsvStatementOptions,
  path = label,
): Promise<Statement> {
  if (!isCalendarDate(opts.date)) throw new UsageError(`date: not a calendar date (${JSON.stringify(opts.date)})`);
  const source = typeof input === "string" ? Readable.from([input]) : input;
  const sheet = new CsvSheet(label, opts.date, opts.sink ?? null);
  // Rows are taken in csv-parse's on_record hook, synchronously and in order, so every row before a fatal CSV error
  // (an unclosed quote) is still validated and counted; nothing is buffered, nothing emitted downstream.
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_records_with_empty_values: true,
    on_record: (record: string[], info: { lines: number }) => {
      let line = info.lines; // where the record ends: step back over the line breaks inside its quoted fields
      for (const f of record) for (let i = f.indexOf("\n"); i >= 0; i = f.indexOf("\n", i + 1)) line--;
      if (!sheet.row(record, line)) throw STOP;
      return null;
    },
  });
  let readError: UsageError | null = null;
  source.on("error", (err: NodeJS.ErrnoException) => {
    readError = new UsageError(`${path}: cannot read (${err.code ?? err.message})`);
    parser.destroy(readError);
  });
  source.pipe(parser);
  try {
    await finished(parser.resume());
  } catch (err) {
    if (readError) throw readError;
    if (err !== STOP) {
      if (!(err instanceof CsvError)) throw err;
      const at = (err as CsvError & { lines?: number }).lines;
      sheet.fatal(at ? `${label}:${at}` : label, `not valid CSV (${err.message}); the rest of ${label} was not read`);
    }
  } finally {
    if ("destroy" in source && typeof source.destroy === "function") source.destroy();
  }
  return sheet.finish();
}

/** One CSV statement being read: the header's column positions, then the rows of the date. */
class CsvSheet {
  private index: Record<Column, number> | null = null;
  private width = 0;
  private readonly fills: StatementFill[] = [];
  private readonly fees: StatementFee[] = [];
  private readonly positions: StatementPosition[] = [];
  private readonly positionAt = new Map<string, string>();
  private readonly errors: InputError[] = [];
  private rows = 0;
  private opening: { amount: bigint; where: string } | null = null;
  private closing: { amount: bigint; where: string } | null = null;
  private movements = 0n;
  private firstMovement: string | null = null;
  private cut = false;

  constructor(
    private readonly label: string,
    private readonly date: string,
    private readonly sink: StatementSink | null,
  ) {}

  /** Takes the header or one record; false when the file cannot be read further (a bad header). */
  row(fields: string[], line: number): boolean {
    if (!this.index) return this.header(fields, line);
    this.rows++;
    const where = `${this.label}:${line}`;
    const problems =
      fields.length === this.width
        ? this.record(fields, where)
        : [`expected ${this.width} fields, got ${fields.length}`];
    if (problems.length > 0)
      this.error(
        where,
        problems.slice(0, 3).join("; ") + (problems.length > 3 ? ` (+${problems.length - 3} more)` : ""),
      );
    return true;
  }

  error(where: string, reason: string): void {
    this.errors.push({ where, reason });
  }

  /** An error that ends the read: what was not read cannot be checked for completeness (the cash lines). */
  fatal(where: string, reason: string): void {
    this.error(where, reason);
    this.cut = true;
  }

  finish(): Statement {
    if (!this.index && this.errors.length === 0) this.error(this.label, "empty: no header row");
    let cash: Statement["cash"] = null;
    const any = this.opening ?? this.closing ?? this.firstMovement;
    if (any && !this.cut) {
      const missing = [!this.opening && "opening_cash", !this.closing && "closing_cash"].filter(Boolean);
      if (missing.length > 0) {
        const at = typeof any === "string" ? any : any.where;
        this.error(
          this.label,
          `${missing.join(" and ")}: missing for ${this.date} (cash records of the date at ${at})`,
        );
      } else {
        cash = {
          opening: this.opening!.amount,
          closing: this.closing!.amount,
          movements: this.movements,
          where: this.closing!.where,
        };
      }
    }
    // A CSV statement is an end-of-day statement: its position records are the whole book, none means flat.
    return {
      fills: this.fills,
      fees: this.fees,
      positions: this.positions,
      cash,
      rows: this.rows,
      errors: this.errors,
    };
  }

  private header(fields: string[], line: number): boolean {
    const names = fields.map((f) => f.trim());
    const index = {} as Record<Column, number>;
    const dup = names.filter((n, i) => n !== "" && names.indexOf(n) !== i);
    const missing = CSV_COLUMNS.filter((c) => !names.includes(c));
    if (missing.length > 0 || dup.length > 0) {
      const reasons = [];
      if (missing.length > 0) reasons.push(`missing column${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`);
      if (dup.length > 0) reasons.push(`duplicate column${dup.length > 1 ? "s" : ""}: ${[...new Set(dup)].join(", ")}`);
      this.error(`${this.label}:${line}`, reasons.join("; "));
      return false;
    }
    for (const c of CSV_COLUMNS) index[c] = names.indexOf(c);
    this.index = index;
    this.width = fields.length;
    return true;
  }

  /** Validates one record and, when it is of the date, keeps it; returns what is wrong with it. */
  private record(fields: string[], where: string): string[] {
    const index = this.index!;
    const v = (c: Column) => fields[index[c]]!.trim();
    const type = v("record");
    const spec = RECORDS[type];
    if (!spec) return [type ? `record: not one of ${RECORD_TYPES} (${JSON.stringify(type)})` : "record: missing"];
    const problems: string[] = [];
    for (const c of CSV_COLUMNS) {
      if (c === "record" || c === "description") continue;
      const given = v(c) !== "";
      if (spec.required.includes(c)) {
        if (!given) problems.push(`${c}: missing`);
      } else if (given && !spec.optional.includes(c))
        problems.push(`${c}: not used by a ${type} record (must be empty)`);
    }
    if (problems.length > 0) return problems;
    const date = v("date");
    if (!isCalendarDate(date)) problems.push(`date: not a date YYYY-MM-DD (${JSON.stringify(date)})`);
    const num = (c: Column, check?: (x: bigint) => string | null): bigint => {
      const r = parseFixed(v(c));
      const bad = typeof r === "string" ? r : check?.(r);
      if (bad) problems.push(`${c}: ${bad}`);
      return typeof r === "bigint" ? r : 0n;
    };
    const ours = date === this.date;
    switch (type) {
      case "fill": {
        const ts = v("time");
        const day = tradeDate(ts);
        if (!day) problems.push(`time: not an ISO-8601 time with an offset (${JSON.stringify(ts)})`);
        else if (day !== date) problems.push(`date: ${date} is not the New York trade date of time ${ts} (${day})`);
        const side = v("side");
        if (!SIDES.has(side)) problems.push(`side: not one of buy | sell | sell_short (${JSON.stringify(side)})`);
        const qty = num("qty", (x) => (x > 0n ? null : "not positive"));
        const price = num("price", (x) => (x >= 0n ? null : "negative"));
        if (problems.length === 0 && ours) {
          const f = {
            orderId: v("order_id"),
            symbol: v("symbol"),
            side: side as Side,
            qty,
            price,
            ts,
            tradeDate: date,
            where,
          };
          if (this.sink) this.sink.addStatementFill(f);
          else this.fills.push(f);
        }
        break;
      }
      case "fee": {
        const amount = num("amount");
        if (problems.length === 0 && ours) {
          const f = { symbol: v("symbol") || null, amount, tradeDate: date, where };
          if (this.sink) this.sink.addStatementFee(f);
          else this.fees.push(f);
        }
        break;
      }
      case "position": {
        const qty = num("qty");
        const symbol = v("symbol");
        const seen = ours ? this.positionAt.get(symbol) : undefined;
        if (seen) problems.push(`symbol: a second position for ${symbol} on ${date} (first at ${seen})`);
        if (problems.length === 0 && ours) {
          this.positionAt.set(symbol, where);
          if (this.sink) this.sink.addStatementPositions([{ symbol, qty, where }]);
          else this.positions.push({ symbol, qty, where });
        }
        break;
      }
      case "cash": {
        const amount = num("amount");
        if (problems.length === 0 && ours) {
          this.movements += amount;
          this.firstMovement ??= where;
        }
        break;
      }
      default: {
        const amount = num("amount");
        const key = type === "opening_cash" ? "opening" : "closing";
        const seen = ours ? this[key] : null;
        if (seen) problems.push(`record: a second ${type} for ${date} (first at ${seen.where})`);
        if (problems.length === 0 && ours) this[key] = { amount, where };
      }
    }
    return problems;
  }
}
