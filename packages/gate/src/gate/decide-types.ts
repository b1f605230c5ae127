// The types of the gate's decision: what a trading process asks (OrderCheck), what it gets back (CheckResult), the
// options and connection state the decision depends on, and the quantity cap the rule modules narrow in turn.
// Apart from decide.ts so the rule modules (rules-*.ts) can share them without an import cycle.
import type { PdtRegime } from "../market/pdt.js";

export type Side = "buy" | "sell" | "sell_short";

/** What a trading process asks about one order. */
export interface OrderCheck {
  broker: string;
  account: string;
  strategy: string;
  symbol: string;
  side: Side;
  qty: number;
  /** Limit price (for a market order: the price you expect; under Rule 201 send short sales as limit orders). */
  price: number;
  /** The order can only reduce a position (the broker order carries reduce-only / close-only semantics). */
  reduceOnly?: boolean;
  /** The order's asset class ("equities", "crypto", …): required by a gate with `cutoverAssetClasses`. */
  assetClass?: string;
  /**
   * The strategy's signed position in `symbol` before this order (shares / contracts / coins; short < 0). Required
   * for an opening order of a strategy with a `max_position` bound; used by `max_gross_notional` when given.
   */
  position?: number;
  /** The strategy's gross notional (Σ |position| × price over its symbols) before this order, account currency.
   * Required for an opening order of a strategy with a `max_gross_notional` bound. */
  grossNotional?: number;
}

/** The answer: allowed or not, every reason it is not, and the largest quantity the caps allow. */
export interface CheckResult {
  allow: boolean;
  reasons: string[];
  maxQty?: number;
}

export interface DecideOptions {
  /** Dead-man's switch: `heartbeat:bot` older than this (or absent) → reduce-only. */
  heartbeatMaxAgeMs: number;
  /** Dead-man's switch: `heartbeat:bot` more than this ahead of the gate's clock is invalid → reduce-only. Default 5 000. */
  heartbeatMaxSkewMs?: number;
  /** A national best bid older than this is not used for the Rule 201 price test. */
  quoteMaxAgeMs: number;
  pdtRegime: PdtRegime;
  /** Brokers the US equity market rules apply to (hours, LULD, SSR, locate, PDT); null = all. */
  marketRulesBrokers: ReadonlySet<string> | null;
  /** Allow orders outside the regular session (extended hours). */
  allowExtendedHours: boolean;
  /**
   * An account of a market-rules broker with no `pdt` record may not add exposure (`pdt_data_missing`). Default true;
   * false = such accounts are not checked for PDT / intraday margin (a record that exists is always enforced).
   */
  pdtRequired?: boolean;
  /** Maximum age of a record's `updated_at` under "pdt_4210" (FINRA 4210(f)(8)(B)). Default 24 h. */
  pdtMaxAgeMs?: number;
  /** Maximum age of a record's `updated_at` under "intraday_margin". Default 15 min. */
  intradayMaxAgeMs?: number;
  /** Asset classes whose opening orders need `cutover:<class>` enabled (the gate's `cutoverAssetClasses`). */
  cutoverAssetClasses?: ReadonlySet<string>;
}

/** The connection state the decision depends on. */
export interface Connectivity {
  /** The first load has completed. */
  loaded: boolean;
  /** Set when Redis is unreachable (or the data is older than allowed): why. */
  down: string | null;
  /** What the gate does when Redis is unreachable. */
  downMode: "halt" | "reduce_only";
  /** The reason code for `down`: Redis unreachable (default), or the full re-read failing for too long. */
  downCode?: "redis_unreachable" | "flags_stale";
}

/** In-process quotes given by the trading process (`gate.updateQuote`): symbol → {bid, ts}. */
export type LocalQuotes = ReadonlyMap<string, { bid: number; ts: number }>;

/** What set the quantity cap (named in the `max_qty` reason). */
export type CapSource =
  | "locates"
  | "intraday"
  | "event_lock"
  | "strategy"
  | "order_notional"
  | "position"
  | "gross_notional";

/** The smallest cap so far and what set it; each rule module lowers it (the smallest cap wins). */
export interface QtyCap {
  maxQty: number;
  by: CapSource;
}

/** Lowers the cap to `q` when `q` is smaller (what set it is named only when the message is needed). */
export function lowerCap(cap: QtyCap, q: number, by: CapSource): void {
  if (q < cap.maxQty) {
    cap.maxQty = q;
    cap.by = by;
  }
}
