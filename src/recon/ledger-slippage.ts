// Backtest–live slippage of ledger fills (issue 15 §19). A trading process may add two optional fields to a
// `ledger:fills` entry: `strategy` (who sent the order) and `expected_price` (the price its backtest or model assumed
// for the fill). Per fill the slippage is in basis points against that price, positive = adverse: a buy filled above
// the expected price, a sell (or short sale) filled below it. Fills are aggregated per New York trade date and
// strategy into a `SlippageDay` whose Redis form (`slippage:daily:<date>:<strategy>`) docs/redis-keys.md documents
// field by field; the slippage guard writes it and the monthly report reads it for its distribution.
//
// Everything is exact integer arithmetic on BigInt: prices are fixed at 10^18 (fixed.ts), a fill's bps is rounded
// half-even to 8 decimals once (a ratio does not terminate in general), and every sum of those is exact.
import { formatScaled, parseFixed } from "./fixed.js";
import type { LedgerFill } from "./types.js";

/** A strategy name as it may appear in `ledger:fills` and in Redis key names. */
export const STRATEGY_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Decimal places of one fill's slippage in bps (the scale of every `*_bps` sum). */
export const BPS_DIGITS = 8;
/** Decimal places of a squared bps value. */
const SQ_DIGITS = 2 * BPS_DIGITS;
/** Decimal places of a quantity × price product (notional, cost). */
const PRODUCT_DIGITS = 36;
const BPS_UNIT = 10n ** BigInt(BPS_DIGITS);

/** Histogram edges in bps (signed, adverse positive); buckets are [lo, hi) with -inf and +inf at the ends. */
export const HISTOGRAM_EDGES = [-100, -50, -20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20, 50, 100] as const;
/** The Redis field of each bucket, lowest first: "h:-inf:-100", "h:-100:-50", …, "h:100:+inf". */
export const HISTOGRAM_FIELDS: readonly string[] = Array.from({ length: HISTOGRAM_EDGES.length + 1 }, (_, i) => {
  const lo = i === 0 ? "-inf" : String(HISTOGRAM_EDGES[i - 1]);
  const hi = i === HISTOGRAM_EDGES.length ? "+inf" : String(HISTOGRAM_EDGES[i]);
  return `h:${lo}:${hi}`;
});
const EDGES_SCALED = HISTOGRAM_EDGES.map((e) => BigInt(e) * BPS_UNIT);

/** What a row says about slippage: not tracked (neither field), tracked with valid fields, or why not. */
export type ExecutionFields =
  | { tracked: false }
  | { tracked: true; strategy: string; expectedPrice: bigint }
  | { tracked: true; error: string };

function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s);
}

/** Reads the optional `strategy` and `expected_price` of a ledger row (both or neither), naming every fault. */
export function parseExecutionFields(row: Record<string, unknown>): ExecutionFields {
  const { strategy, expected_price: expected } = row;
  if (strategy === undefined && expected === undefined) return { tracked: false };
  const problems: string[] = [];
  if (strategy === undefined) problems.push("strategy: missing (expected_price is set)");
  else if (typeof strategy !== "string" || !STRATEGY_RE.test(strategy))
    problems.push(`strategy: not a strategy name (${quote(strategy)})`);
  let price: bigint | null = null;
  if (expected === undefined) problems.push("expected_price: missing (strategy is set)");
  else {
    const v = parseFixed(expected);
    if (typeof v === "string") problems.push(`expected_price: ${v}`);
    else if (v <= 0n) problems.push(`expected_price: must be positive (${quote(expected)})`);
    else price = v;
  }
  if (problems.length || price === null) return { tracked: true, error: problems.join("; ") };
  return { tracked: true, strategy: strategy as string, expectedPrice: price };
}

/** n / d rounded half to even (d > 0). */
export function divRoundHalfEven(n: bigint, d: bigint): bigint {
  const neg = n < 0n;
  const a = neg ? -n : n;
  let q = a / d;
  const twice = 2n * (a % d);
  if (twice > d || (twice === d && q % 2n === 1n)) q += 1n;
  return neg ? -q : q;
}

/** One fill's slippage: bps at scale 10^8 (adverse positive), notional and adverse cost at scale 10^36. */
export interface FillSlippage {
  bps: bigint;
  notional: bigint;
  cost: bigint;
}

/** The slippage of a fill against its expected price (fixed, > 0). */
export function fillSlippage(fill: Pick<LedgerFill, "side" | "qty" | "price">, expected: bigint): FillSlippage {
  const diff = fill.side === "buy" ? fill.price - expected : expected - fill.price;
  return {
    bps: divRoundHalfEven(diff * 10_000n * BPS_UNIT, expected),
    notional: fill.qty * expected,
    cost: fill.qty * diff,
  };
}

/** The aggregate of one strategy's fills on one trade date (or of several, summed). */
export interface SlippageDay {
  fills: number;
  adverse: number;
  favourable: number;
  /** Scale 10^8. */
  sumBps: bigint;
  sumAdverseBps: bigint;
  sumFavourableBps: bigint;
  /** Scale 10^16. */
  sumSqBps: bigint;
  /** Scale 10^8; null while there is no fill. */
  minBps: bigint | null;
  maxBps: bigint | null;
  /** Scale 10^36. */
  sumNotional: bigint;
  sumCost: bigint;
  /** Fills per histogram bucket (HISTOGRAM_FIELDS order). */
  histogram: number[];
  lastEntry: string | null;
  updatedAt: string | null;
}

/** An aggregate with no fill. */
export function emptyDay(): SlippageDay {
  return {
    fills: 0,
    adverse: 0,
    favourable: 0,
    sumBps: 0n,
    sumAdverseBps: 0n,
    sumFavourableBps: 0n,
    sumSqBps: 0n,
    minBps: null,
    maxBps: null,
    sumNotional: 0n,
    sumCost: 0n,
    histogram: HISTOGRAM_FIELDS.map(() => 0),
    lastEntry: null,
    updatedAt: null,
  };
}

/** The histogram bucket of a bps value (scale 10^8): the number of edges at or below it. */
export function bucketOf(bps: bigint): number {
  let i = 0;
  while (i < EDGES_SCALED.length && EDGES_SCALED[i]! <= bps) i++;
  return i;
}

const minOf = (a: bigint | null, b: bigint | null) => (a === null ? b : b === null || a <= b ? a : b);
const maxOf = (a: bigint | null, b: bigint | null) => (a === null ? b : b === null || a >= b ? a : b);

/** Adds one fill to an aggregate (in place); `entry` is its stream id, `at` the time of the update. */
export function addFill(day: SlippageDay, s: FillSlippage, entry: string, at: string): void {
  day.fills++;
  if (s.bps > 0n) {
    day.adverse++;
    day.sumAdverseBps += s.bps;
  } else if (s.bps < 0n) {
    day.favourable++;
    day.sumFavourableBps += s.bps;
  }
  day.sumBps += s.bps;
  day.sumSqBps += s.bps * s.bps;
  day.minBps = minOf(day.minBps, s.bps);
  day.maxBps = maxOf(day.maxBps, s.bps);
  day.sumNotional += s.notional;
  day.sumCost += s.cost;
  day.histogram[bucketOf(s.bps)]!++;
  day.lastEntry = entry;
  day.updatedAt = at;
}

/** The sum of aggregates (a window of days); lastEntry/updatedAt are the latest of them. */
export function mergeDays(days: readonly SlippageDay[]): SlippageDay {
  const out = emptyDay();
  for (const d of days) {
    out.fills += d.fills;
    out.adverse += d.adverse;
    out.favourable += d.favourable;
    out.sumBps += d.sumBps;
    out.sumAdverseBps += d.sumAdverseBps;
    out.sumFavourableBps += d.sumFavourableBps;
    out.sumSqBps += d.sumSqBps;
    out.minBps = minOf(out.minBps, d.minBps);
    out.maxBps = maxOf(out.maxBps, d.maxBps);
    out.sumNotional += d.sumNotional;
    out.sumCost += d.sumCost;
    d.histogram.forEach((n, i) => {
      out.histogram[i]! += n;
    });
    if (d.updatedAt && (!out.updatedAt || d.updatedAt > out.updatedAt)) {
      out.updatedAt = d.updatedAt;
      out.lastEntry = d.lastEntry;
    }
  }
  return out;
}

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A decimal string at scale 10^digits, exactly, or why not. */
export function parseScaled(s: string, digits: number): bigint | string {
  const m = DECIMAL.exec(s);
  if (!m) return `not a decimal (${quote(s)})`;
  const frac = m[3] ?? "";
  if (frac.length > digits && /[^0]/.test(frac.slice(digits))) return `more than ${digits} decimals (${quote(s)})`;
  const v = BigInt(m[2]!) * 10n ** BigInt(digits) + BigInt((frac.slice(0, digits) || "0").padEnd(digits, "0"));
  return m[1] === "-" ? -v : v;
}

const COUNT = /^(0|[1-9]\d{0,14})$/;

/**
 * Reads an aggregate from its Redis hash (HGETALL; {} = no fill yet), or names the first field at fault
 * ("sum_bps: not a decimal (\"x\")"). Unknown fields are refused too: the hash is ours alone.
 */
export function parseSlippageDay(h: Record<string, string>): SlippageDay | string {
  const d = emptyDay();
  if (Object.keys(h).length === 0) return d;
  const bucket = new Map(HISTOGRAM_FIELDS.map((f, i) => [f, i]));
  const decimals: Record<string, [keyof SlippageDay, number]> = {
    sum_bps: ["sumBps", BPS_DIGITS],
    sum_adverse_bps: ["sumAdverseBps", BPS_DIGITS],
    sum_favourable_bps: ["sumFavourableBps", BPS_DIGITS],
    sum_sq_bps: ["sumSqBps", SQ_DIGITS],
    min_bps: ["minBps", BPS_DIGITS],
    max_bps: ["maxBps", BPS_DIGITS],
    sum_notional: ["sumNotional", PRODUCT_DIGITS],
    sum_cost: ["sumCost", PRODUCT_DIGITS],
  };
  const counts: Record<string, "fills" | "adverse" | "favourable"> = {
    fills: "fills",
    adverse: "adverse",
    favourable: "favourable",
  };
  for (const [field, raw] of Object.entries(h)) {
    const b = bucket.get(field);
    if (b !== undefined || counts[field]) {
      if (!COUNT.test(raw)) return `${field}: not a count (${quote(raw)})`;
      if (b !== undefined) d.histogram[b] = Number(raw);
      else (d as unknown as Record<string, number>)[counts[field]!] = Number(raw);
    } else if (decimals[field]) {
      const [prop, digits] = decimals[field]!;
      const v = parseScaled(raw, digits);
      if (typeof v === "string") return `${field}: ${v}`;
      (d as unknown as Record<string, bigint>)[prop] = v;
    } else if (field === "last_entry") d.lastEntry = raw;
    else if (field === "updated_at") d.updatedAt = raw;
    else return `${field}: not a field of a slippage aggregate`;
  }
  for (const f of ["fills", "sum_bps", "min_bps", "max_bps"]) if (h[f] === undefined) return `${f}: missing`;
  if (d.adverse + d.favourable > d.fills) return "adverse + favourable: more than fills";
  if (d.histogram.reduce((a, b) => a + b, 0) !== d.fills) return "histogram: its buckets do not add up to fills";
  return d;
}

/** The Redis hash of an aggregate (every field; empty buckets left out). */
export function formatSlippageDay(d: SlippageDay): Record<string, string> {
  const out: Record<string, string> = {
    fills: String(d.fills),
    adverse: String(d.adverse),
    favourable: String(d.favourable),
    sum_bps: formatScaled(d.sumBps, BPS_DIGITS),
    sum_adverse_bps: formatScaled(d.sumAdverseBps, BPS_DIGITS),
    sum_favourable_bps: formatScaled(d.sumFavourableBps, BPS_DIGITS),
    sum_sq_bps: formatScaled(d.sumSqBps, SQ_DIGITS),
    min_bps: formatScaled(d.minBps ?? 0n, BPS_DIGITS),
    max_bps: formatScaled(d.maxBps ?? 0n, BPS_DIGITS),
    sum_notional: formatScaled(d.sumNotional, PRODUCT_DIGITS),
    sum_cost: formatScaled(d.sumCost, PRODUCT_DIGITS),
  };
  d.histogram.forEach((n, i) => {
    if (n > 0) out[HISTOGRAM_FIELDS[i]!] = String(n);
  });
  if (d.lastEntry) out.last_entry = d.lastEntry;
  if (d.updatedAt) out.updated_at = d.updatedAt;
  return out;
}

/** A bps value (scale 10^8) for people: `decimals` places, half-even ("5.25"). */
export function formatBps(v: bigint, decimals = 2): string {
  return formatScaled(divRoundHalfEven(v, 10n ** BigInt(BPS_DIGITS - decimals)), decimals, decimals);
}

/** The mean bps of an aggregate (scale 10^8, half-even), or null without fills. */
export function meanBps(d: SlippageDay): bigint | null {
  return d.fills === 0 ? null : divRoundHalfEven(d.sumBps, BigInt(d.fills));
}

/** Notional-weighted bps (scale 10^8): sum_cost / sum_notional × 10 000, or null without notional. */
export function weightedBps(d: SlippageDay): bigint | null {
  return d.sumNotional === 0n ? null : divRoundHalfEven(d.sumCost * 10_000n * BPS_UNIT, d.sumNotional);
}

/** A product-scale amount (cost, notional) as money ("12.50"; cents, half-even). */
export function formatProductAmount(v: bigint): string {
  return formatScaled(divRoundHalfEven(v, 10n ** BigInt(PRODUCT_DIGITS - 2)), 2, 2);
}
