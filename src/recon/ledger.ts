// Our side of the reconciliation: the fills the trading processes record, read from the Redis stream
// `<prefix>ledger:fills` or from a JSONL file. Both carry the same flat object of strings per fill (issue #11):
// fill_id, order_id, broker, symbol, side (buy | sell | sell_short), qty (> 0), price (≥ 0), fee (≥ 0, may be "0"),
// ts (ISO-8601 execution time with an offset). Other fields are ignored, so writers may add their own: the optional
// `strategy` and `expected_price` of the slippage guard are read by ledger-slippage.ts, never here, so a malformed one
// cannot make a recon fail.
//
// A row that does not meet the contract becomes an InputError naming the file and line (or the stream entry) and every
// field at fault ("qty: not a decimal (\"abc\")"): the run then says "could not reconcile" and never guesses. Both
// readers stream: they hold one line, or two pages of the stream, at a time.
import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { createInterface } from "node:readline";
import type { Redis } from "ioredis";
import { z } from "zod";
import { parseFixed } from "./fixed.js";
import { parseExecutionTime, tradeDateOfMs } from "./trade-date.js";
import type { InputError, LedgerFill } from "./types.js";

/** Entries per XRANGE page when reading the ledger stream. */
export const STREAM_PAGE = 5_000;
/** The logical name of the ledger stream, as `where` names it. */
export const LEDGER_STREAM = "ledger:fills";

function kindOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s);
}

const text = z
  .string({ error: (iss) => (iss.input === undefined ? "missing" : `expected a string, got ${kindOf(iss.input)}`) })
  .min(1, "empty");
const decimalText = z.string({
  error: (iss) => (iss.input === undefined ? "missing" : `not a decimal string (${JSON.stringify(iss.input)})`),
});

// The shape, checked by zod. The decimals and the time are then read by parseFixed and parseExecutionTime rather
// than by zod transforms: a transform takes zod off its compiled fast path and costs ~5 µs a row, which a
// million-row ledger feels (issue #11's benchmark).
const ledgerRowSchema = z.object({
  fill_id: text,
  order_id: text,
  broker: text,
  symbol: text,
  side: z.enum(["buy", "sell", "sell_short"], {
    error: (iss) => (iss.input === undefined ? "missing" : `not buy, sell or sell_short (${quote(iss.input)})`),
  }),
  qty: decimalText,
  price: decimalText,
  fee: decimalText,
  ts: text,
});
type LedgerRow = z.infer<typeof ledgerRowSchema>;

/** The row's fields in contract order: problems are reported in this order. */
const FIELDS = Object.keys(ledgerRowSchema.shape) as (keyof LedgerRow)[];

/** Sign rules of the decimal fields (issue #11: qty positive, price and fee ≥ 0). */
const DECIMALS = {
  qty: (v: bigint) => (v > 0n ? null : "must be positive"),
  price: (v: bigint) => (v >= 0n ? null : "must not be negative"),
  fee: (v: bigint) => (v >= 0n ? null : "must not be negative"),
} as const;

/** Validates one ledger row (a parsed JSON line or a stream entry's fields) into a LedgerFill, or says why not. */
export function parseLedgerFill(raw: unknown, where: string): LedgerFill | InputError {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { where, reason: `expected a JSON object, got ${kindOf(raw)}` };
  }
  const r = ledgerRowSchema.safeParse(raw);
  if (r.success) {
    const d = r.data;
    const [qty, price, fee] = [parseFixed(d.qty), parseFixed(d.price), parseFixed(d.fee)];
    const tsMs = parseExecutionTime(d.ts);
    if (typeof qty === "bigint" && typeof price === "bigint" && typeof fee === "bigint" && tsMs !== null) {
      if (qty > 0n && price >= 0n && fee >= 0n) {
        const tradeDate = tradeDateOfMs(tsMs);
        const { fill_id: fillId, order_id: orderId, broker, symbol, side, ts } = d;
        return { fillId, orderId, broker, symbol, side, qty, price, fee, ts, tsMs, tradeDate, where };
      }
    }
  }
  return { where, reason: problemsOf(raw as Record<string, unknown>, r.success ? [] : r.error.issues) };
}

/** Every field at fault, in contract order: "qty: not a decimal (\"abc\"); ts: missing". */
function problemsOf(row: Record<string, unknown>, issues: readonly z.core.$ZodIssue[]): string {
  const problems = new Map<string, string>();
  for (const i of issues) {
    const field = String(i.path[0] ?? "row");
    if (!problems.has(field)) problems.set(field, i.message);
  }
  for (const field of ["qty", "price", "fee"] as const) {
    if (problems.has(field)) continue;
    const v = parseFixed(row[field]);
    const reason = typeof v === "string" ? v : DECIMALS[field](v);
    if (reason !== null) problems.set(field, reason);
  }
  if (!problems.has("ts") && parseExecutionTime(row.ts as string) === null) {
    problems.set("ts", `not an ISO-8601 time with an offset (${quote(row.ts)})`);
  }
  const order = (f: string) => (FIELDS as string[]).indexOf(f);
  return [...problems]
    .sort(([a], [b]) => order(a) - order(b))
    .map(([f, why]) => `${f}: ${why}`)
    .join("; ");
}

/** Streams a JSONL ledger file: one fill or InputError per non-blank line, `where` = "<basename>:<line>". */
export async function* readLedgerFile(path: string): AsyncGenerator<LedgerFill | InputError> {
  const name = basename(path);
  const lines = createInterface({ input: createReadStream(path, { encoding: "utf8" }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      const body = n === 1 ? line.replace(/^\uFEFF/, "") : line;
      if (body.trim() === "") continue;
      const where = `${name}:${n}`;
      let raw: unknown;
      try {
        raw = JSON.parse(body);
      } catch (err) {
        yield { where, reason: `not JSON (${(err as Error).message})` };
        continue;
      }
      yield parseLedgerFill(raw, where);
    }
  } finally {
    lines.close();
  }
}

type Entry = [id: string, fields: string[]];

/** The smallest stream id after `id` ("ms-seq"), for the next XRANGE page (works before Redis 6.2's "(" too). */
export function nextId(id: string): string {
  const [ms, seq] = id.split("-") as [string, string];
  const s = BigInt(seq);
  return s === 2n ** 64n - 1n ? `${BigInt(ms) + 1n}-0` : `${ms}-${s + 1n}`;
}

/** An entry's field/value pairs as an object, or why not (a field given twice would be a guess either way). */
export function entryToRow(fields: string[]): Record<string, string> | string {
  const row: Record<string, string> = Object.create(null);
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i]!;
    if (f in row) return `${f}: appears twice in the entry`;
    row[f] = fields[i + 1]!;
  }
  return row;
}

/**
 * Streams the ledger stream `key` (the prefixed `ledger:fills`) oldest first, in XRANGE pages of `pageSize`, the next
 * page requested while the current one is consumed. Reads up to the last entry present when it starts, so a run is
 * not chased by writers. `where` = "ledger:fills <entry id>". A key of the wrong type is one InputError.
 */
export async function* readLedgerStream(
  redis: Redis,
  key: string,
  opts: { pageSize?: number; label?: string } = {},
): AsyncGenerator<LedgerFill | InputError> {
  const pageSize = opts.pageSize ?? STREAM_PAGE;
  const label = opts.label ?? LEDGER_STREAM;
  let last: Entry[];
  try {
    last = (await redis.xrevrange(key, "+", "-", "COUNT", 1)) as Entry[];
  } catch (err) {
    if (!/^WRONGTYPE/.test((err as Error).message)) throw err;
    yield { where: label, reason: `not a stream (${await redis.type(key)})` };
    return;
  }
  const end = last[0]?.[0];
  if (end === undefined) return;
  const page = (start: string) => redis.xrange(key, start, end, "COUNT", pageSize) as Promise<Entry[]>;
  let pending: Promise<Entry[]> | null = page("-");
  while (pending) {
    const entries: Entry[] = await pending;
    const tail = entries[entries.length - 1];
    pending = entries.length === pageSize && tail && tail[0] !== end ? page(nextId(tail[0])) : null;
    // If the consumer stops early the prefetched page is abandoned: keep its failure from going unhandled.
    pending?.catch(() => {});
    for (const [id, fields] of entries) {
      const where = `${label} ${id}`;
      const row = entryToRow(fields);
      yield typeof row === "string" ? { where, reason: row } : parseLedgerFill(row, where);
    }
  }
}
