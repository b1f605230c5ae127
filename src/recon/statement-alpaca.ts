// Alpaca's side of a reconciliation: account activities exactly as GET /v2/account/activities returns them (one JSON
// array mixing TradingActivities and NonTradeActivities) and positions exactly as GET /v2/positions returns them
// (shared/specs/alpaca-trading-openapi.yaml), validated entry by entry with zod into the Statement of one date.
// Saved files are streamed: one JSON.parse per entry, never one of the whole file, so a million activities fit.
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { z } from "zod";
import { UsageError } from "../errors.js";
import { parseFixed } from "./fixed.js";
import type { StatementSink } from "./statement-csv.js";
import { isCalendarDate, tradeDate } from "./trade-date.js";
import type { InputError, Statement, StatementFee, StatementFill, StatementPosition } from "./types.js";

/** The spec's `ActivityType` enum, in its order. */
export const ALPACA_ACTIVITY_TYPES: readonly string[] = (
  "FILL TRANS MISC ACATC ACATS CSD CSW DIV DIVCGL DIVCGS DIVFEE DIVFT DIVNRA DIVROC DIVTW DIVTXEX INT INTNRA INTTW " +
  "JNL JNLC JNLS MA NC OPASN OPEXP OPXRC PTC PTR REORG SC SSO SSP CFEE FEE"
).split(" ");
const ACTIVITY_TYPES: ReadonlySet<string> = new Set(ALPACA_ACTIVITY_TYPES);

// What is compared: FILL → fills; FEE (fee in USD) and CFEE (crypto fee) → fees. Every other type is validated
// (id, date, net_amount when present) and counted in `activityCounts`, never compared: the cash ones (CSD, CSW, DIV*,
// INT*, JNL, JNLC, ACATC, PTC, PTR, DIVFEE: dividend and pass-through charges are not fees on our fills) because an
// Alpaca statement has no opening/closing balance to check movements against (Statement.cash is null); the
// position-changing ones below because our ledger does not record them (on the date they show as `position`
// differences, which is what an examiner should see).
const FEE_TYPES: ReadonlySet<string> = new Set(["FEE", "CFEE"]);
/** Non-trade activities that change a position: after the date they make GET /v2/positions impossible to roll back. */
const POSITION_CHANGING: ReadonlySet<string> = new Set(
  "ACATS JNLS MA NC OPASN OPEXP OPXRC REORG SC SSO SSP".split(" "),
);

/** A field as fixed, with parseFixed's wording for a bad value ("qty: not a decimal (\"abc\")"). */
function fixed(check?: (v: bigint) => string | null) {
  return z.unknown().transform((v, ctx) => {
    const r = v === undefined ? "missing" : parseFixed(v);
    const bad = typeof r === "string" ? r : check?.(r);
    if (bad) {
      ctx.addIssue({ code: "custom", message: bad });
      return z.NEVER;
    }
    return r as bigint;
  });
}
const positive = (v: bigint) => (v > 0n ? null : "not positive");
const nonNegative = (v: bigint) => (v >= 0n ? null : "negative");

const text = z.string({
  error: (i) => (i.input === undefined ? "missing" : `not a string (${JSON.stringify(i.input)})`),
});
const required = text.min(1, "empty");
const enumOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, {
    error: (i) => (i.input === undefined ? "missing" : `not one of ${values.join(" | ")} (${JSON.stringify(i.input)})`),
  });
/** An execution time (ISO-8601 with an offset: a zone-less time would be a guess) and its New York trade date. */
const executionTime = required.transform((ts, ctx) => {
  const day = tradeDate(ts);
  if (!day) ctx.addIssue({ code: "custom", message: `not an ISO-8601 time with an offset (${JSON.stringify(ts)})` });
  return { ts, day: day ?? "" };
});
/** A NonTradeActivities `date`: a calendar date as is, or a date-time as its New York date. */
const activityDate = required.transform((s, ctx) => {
  const day = isCalendarDate(s) ? s : tradeDate(s);
  if (!day) ctx.addIssue({ code: "custom", message: `not a date (${JSON.stringify(s)})` });
  return day ?? "";
});

/** Spec `TradingActivities` (activity_type FILL). `side` also takes sell_short, which live Alpaca sends. */
const fillSchema = z.object({
  id: required,
  transaction_time: executionTime,
  type: enumOf(["fill", "partial_fill"]),
  price: fixed(nonNegative),
  qty: fixed(positive),
  side: enumOf(["buy", "sell", "sell_short"]),
  symbol: required,
  order_id: required,
  cum_qty: fixed(nonNegative).optional(),
  leaves_qty: fixed(nonNegative).optional(),
  order_status: text.optional(),
});
/** Spec `NonTradeActivities`; net_amount is required for FEE and CFEE, checked when present for the rest. */
const nonTradeSchema = z.object({
  id: required,
  date: activityDate,
  net_amount: fixed().optional(),
  symbol: text.optional(),
});
/** Spec `Position` (the fields a statement uses). */
const positionSchema = z.object({ symbol: required, qty: fixed(), side: enumOf(["long", "short"]) });

/** The Statement of an Alpaca account, with what was read but not compared. */
export interface AlpacaStatement extends Statement {
  /** Activities read per activity_type, on the date or not. */
  activityCounts: Record<string, number>;
  /** Activities of other dates: read and counted in `rows`, not compared. */
  outsideDate: number;
}

export interface AlpacaStatementOptions {
  /** The trade date (America/New_York, YYYY-MM-DD). */
  date: string;
  /**
   * GET /v2/positions is the book now, not at the date's close: subtract the FILLs of later dates (which must then be
   * among the activities) to get the date's end-of-day positions. Set by the live fetch.
   */
  rollBackPositions?: boolean;
  /** Takes the date's fills and fees as they are read, instead of the Statement (positions stay: see rollBack). */
  sink?: StatementSink;
}

/** Accumulates Alpaca activities and positions, entry by entry, into the Statement of one date. */
export class AlpacaStatementBuilder {
  private readonly fills: StatementFill[] = [];
  private readonly fees: StatementFee[] = [];
  private positions: StatementPosition[] | null = null;
  private readonly positionAt = new Map<string, string>();
  private readonly errors: InputError[] = [];
  private readonly counts: Record<string, number> = {};
  private readonly later = new Map<string, bigint>();
  private readonly unrollable: InputError[] = [];
  private rows = 0;
  private outside = 0;

  constructor(private readonly opts: AlpacaStatementOptions) {}

  /** Adds one raw entry of GET /v2/account/activities; a malformed one becomes an InputError at `where`. */
  activity(raw: unknown, where: string): void {
    this.rows++;
    const reason = this.readActivity(raw, where);
    if (reason) this.errors.push({ where, reason });
  }

  /** Marks positions as supplied (an empty GET /v2/positions means a flat book, not "no positions given"). */
  positionsSupplied(): void {
    this.positions ??= [];
  }

  /** Adds one raw entry of GET /v2/positions, qty signed: negative for a short. */
  position(raw: unknown, where: string): void {
    this.rows++;
    this.positionsSupplied();
    const reason = this.readPosition(raw, where);
    if (reason) this.errors.push({ where, reason });
  }

  /** Records an error that is not one entry's (a file that is not a JSON array, a truncated read). */
  inputError(e: InputError): void {
    this.errors.push(e);
  }

  /** The Statement of the date. */
  finish(): AlpacaStatement {
    let positions = this.positions;
    const errors = [...this.errors];
    if (positions && this.opts.rollBackPositions) {
      if (this.unrollable.length > 0) {
        errors.push(...this.unrollable);
        positions = null;
      } else positions = this.rolledBack(positions);
    }
    return {
      fills: this.fills,
      fees: this.fees,
      positions,
      cash: null,
      rows: this.rows,
      errors,
      activityCounts: this.counts,
      outsideDate: this.outside,
    };
  }

  private readActivity(raw: unknown, where: string): string | undefined {
    if (!isObject(raw)) return `not an object (${describe(raw)})`;
    const type = raw.activity_type;
    if (type === undefined) return "activity_type: missing";
    if (typeof type !== "string" || !ACTIVITY_TYPES.has(type)) {
      return `activity_type: not an Alpaca activity type (${JSON.stringify(type)})`;
    }
    this.counts[type] = (this.counts[type] ?? 0) + 1;
    return type === "FILL" ? this.readFill(raw, where) : this.readNonTrade(type, raw, where);
  }

  private readPosition(raw: unknown, where: string): string | undefined {
    if (!isObject(raw)) return `not an object (${describe(raw)})`;
    const r = positionSchema.safeParse(raw);
    if (!r.success) return zodReason(r.error);
    const { symbol, side } = r.data;
    let qty = r.data.qty;
    // Live Alpaca sends a short as side "short" with qty "-24"; the spec documents neither sign nor "short".
    // Accept either form, never double-negate; a negative "long" is a contradiction, not something to guess at.
    if (side === "short") qty = qty > 0n ? -qty : qty;
    else if (qty < 0n) return `qty: negative (${JSON.stringify(raw.qty)}) but side is "long"`;
    const seen = this.positionAt.get(symbol);
    if (seen) return `symbol: a second position for ${symbol} (first at ${seen})`;
    this.positionAt.set(symbol, where);
    this.positions!.push({ symbol, qty, where });
  }

  private readFill(raw: Record<string, unknown>, where: string): string | undefined {
    const r = fillSchema.safeParse(raw);
    if (!r.success) return zodReason(r.error);
    const f = r.data;
    const { ts, day } = f.transaction_time;
    if (day === this.opts.date) {
      const { order_id: orderId, symbol, side, qty, price } = f;
      const fill = { orderId, symbol, side, qty, price, ts, tradeDate: day, where };
      if (this.opts.sink) this.opts.sink.addStatementFill(fill);
      else this.fills.push(fill);
      return;
    }
    this.outside++;
    if (day > this.opts.date)
      this.later.set(f.symbol, (this.later.get(f.symbol) ?? 0n) + (f.side === "buy" ? f.qty : -f.qty));
  }

  private readNonTrade(type: string, raw: Record<string, unknown>, where: string): string | undefined {
    const r = nonTradeSchema.safeParse(raw);
    if (!r.success) return zodReason(r.error);
    const a = r.data;
    if (FEE_TYPES.has(type) && a.net_amount === undefined) return "net_amount: missing";
    if (a.date !== this.opts.date) {
      this.outside++;
      if (a.date > this.opts.date && POSITION_CHANGING.has(type)) {
        const reason = `activity_type: ${type} on ${a.date} changes positions after ${this.opts.date}, so GET /v2/positions cannot be rolled back to the date`;
        this.unrollable.push({ where, reason });
      }
      return;
    }
    // A fee charged is a negative net_amount; StatementFee.amount is the cost (positive), a refund negative.
    if (!FEE_TYPES.has(type)) return;
    const fee = { symbol: a.symbol || null, amount: -a.net_amount!, tradeDate: a.date, where };
    if (this.opts.sink) this.opts.sink.addStatementFee(fee);
    else this.fees.push(fee);
  }

  private rolledBack(now: StatementPosition[]): StatementPosition[] {
    const out: StatementPosition[] = [];
    const later = new Map(this.later);
    for (const p of now) {
      const moved = later.get(p.symbol) ?? 0n;
      later.delete(p.symbol);
      if (p.qty - moved !== 0n)
        out.push({
          symbol: p.symbol,
          qty: p.qty - moved,
          where: moved ? `${p.where} (rolled back to ${this.opts.date})` : p.where,
        });
    }
    // Closed since the date: flat now, so the date's position was the opposite of what the later fills did.
    for (const [symbol, moved] of later) {
      if (moved !== 0n)
        out.push({ symbol, qty: -moved, where: `positions: ${symbol} (flat now, rolled back to ${this.opts.date})` });
    }
    return out;
  }
}

/** Reads saved Alpaca files (activities, and positions when given) into the Statement of `date`, streaming both. */
export async function readAlpacaStatement(
  files: { activities: string; positions?: string },
  opts: AlpacaStatementOptions,
): Promise<AlpacaStatement> {
  const b = new AlpacaStatementBuilder(opts);
  const end = await streamJsonArray(readText(files.activities), basename(files.activities), (v, w) => b.activity(v, w));
  if (end) b.inputError(end);
  if (files.positions) {
    b.positionsSupplied();
    const e = await streamJsonArray(readText(files.positions), basename(files.positions), (v, w) => b.position(v, w));
    if (e) b.inputError(e);
  }
  return b.finish();
}

async function* readText(path: string): AsyncGenerator<string> {
  const stream = createReadStream(path, { encoding: "utf8", highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) yield chunk as string;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`${path}: cannot read (${code})`);
  } finally {
    stream.destroy();
  }
}

// States of streamJsonArray: before "[", after "[", after ",", in an entry, after an entry, after "]".
const [BEFORE, FIRST, NEXT, VALUE, AFTER, DONE] = [0, 1, 2, 3, 4, 5] as const;
const WS = new Uint8Array(128);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

/**
 * Streams the entries of a JSON document that must be one top-level array: `onEntry` gets each entry (one JSON.parse
 * per entry) and where it is ("activities.json[3]"). Returns null, or the error that ended the read: not an array,
 * a syntax error, or a truncated file (the rest cannot be located reliably, so it is not guessed at).
 */
export async function streamJsonArray(
  source: AsyncIterable<string>,
  label: string,
  onEntry: (value: unknown, where: string) => void,
): Promise<InputError | null> {
  let state: number = BEFORE;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let scalar = false;
  let parts: string[] = [];
  let index = 0;
  const fail = (reason: string): InputError => ({ where: `${label}[${index}]`, reason });
  for await (const chunk of source) {
    let start = 0;
    const n = chunk.length;
    for (let i = 0; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (state === VALUE) {
        let end = -1;
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) {
            inString = false;
            if (depth === 0) end = i + 1;
          }
        } else if (scalar) {
          if (c === 0x2c || c === 0x5d || (c < 128 && WS[c])) end = i--; // the delimiter is read again below
        } else if (c === 0x22) inString = true;
        else if (c === 0x7b || c === 0x5b) depth++;
        else if ((c === 0x7d || c === 0x5d) && --depth === 0) end = i + 1;
        if (end < 0) continue;
        const json = parts.length ? parts.join("") + chunk.slice(start, end) : chunk.slice(start, end);
        parts = [];
        let value: unknown;
        try {
          value = JSON.parse(json);
        } catch (err) {
          return fail(`not valid JSON (${(err as Error).message}); the rest of ${label} was not read`);
        }
        onEntry(value, `${label}[${index++}]`);
        state = AFTER;
        continue;
      }
      if ((c < 128 && WS[c]) || (c === 0xfeff && state === BEFORE)) continue;
      if (state === BEFORE) {
        if (c !== 0x5b) return { where: label, reason: `not a JSON array (${startsLike(c)})` };
        state = FIRST;
      } else if (state === AFTER) {
        if (c === 0x2c) state = NEXT;
        else if (c === 0x5d) state = DONE;
        else
          return fail(
            `not valid JSON (expected "," or "]", got ${JSON.stringify(chunk[i])}); the rest of ${label} was not read`,
          );
      } else if (state === DONE) {
        return { where: label, reason: `not valid JSON (${JSON.stringify(chunk[i])} after the closing "]")` };
      } else if (c === 0x5d) {
        if (state === NEXT) return fail(`not valid JSON (a "," before "]")`);
        state = DONE;
      } else {
        state = VALUE;
        start = i;
        depth = c === 0x7b || c === 0x5b ? 1 : 0;
        inString = c === 0x22;
        scalar = !inString && depth === 0;
      }
    }
    if (state === VALUE) {
      parts.push(chunk.slice(start));
      start = 0;
    }
  }
  if (state === BEFORE) return { where: label, reason: "empty: not a JSON array" };
  if (state !== DONE) return { where: label, reason: `truncated: the array is not closed (after ${index} entries)` };
  return null;
}

function startsLike(c: number): string {
  if (c === 0x7b) return "an object";
  if (c === 0x22) return "a string";
  return `starts with ${JSON.stringify(String.fromCharCode(c))}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}: ${JSON.stringify(v)?.slice(0, 40)}`;
}

/** zod issues as "field: reason" (the first three, ";"-joined). */
function zodReason(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => `${i.path.map(String).join(".") || "entry"}: ${i.message}`);
  return shown.join("; ") + (error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : "");
}
