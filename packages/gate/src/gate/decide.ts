// The gate's decision for one order, from the cached flags only (no I/O). Pure: the same flags, order and clock give
// the same answer. Every refusal reason is "<code>: <detail>"; docs/gate.md lists every code. The rules live in one
// module each, applied in this order: the effective mode (rules-mode.ts), asset-class cutover (rules-cutover.ts), the
// US equity market rules (rules-market.ts), and the per-strategy restrictions, event lock, caps and bounds
// (rules-strategy.ts, rules-exposure.ts). Each cap lowers one shared quantity cap (the smallest wins); an order above
// it is refused with `max_qty`, naming the cap. The exact arithmetic of the caps is in scaled.ts, and what the
// decision may remember between checks in decide-cache.ts.
import type { DecideCache } from "./decide-cache.js";
import type {
  CapSource,
  CheckResult,
  Connectivity,
  DecideOptions,
  LocalQuotes,
  OrderCheck,
  QtyCap,
} from "./decide-types.js";
import type { GateFlags } from "./flags.js";
import { cutoverRule } from "./rules-cutover.js";
import { marketRules } from "./rules-market.js";
import { modeRules } from "./rules-mode.js";
import { strategyRules } from "./rules-strategy.js";

const SIDES: ReadonlySet<string> = new Set(["buy", "sell", "sell_short"]);

/** Decides one order from the flags. */
export function decide(
  order: OrderCheck,
  flags: GateFlags,
  now: number,
  opts: DecideOptions,
  conn: Connectivity,
  cache: DecideCache,
  localQuotes?: LocalQuotes,
): CheckResult {
  // 1. Can the gate answer at all?
  if (!conn.loaded) {
    return {
      allow: false,
      reasons: [`not_ready: the gate has not read tradeguard's flags yet${conn.down ? ` (${conn.down})` : ""}`],
    };
  }
  const { qty, price } = order;
  if (
    typeof order.symbol !== "string" ||
    order.symbol === "" ||
    !SIDES.has(order.side) ||
    !Number.isFinite(qty) ||
    qty <= 0 ||
    !Number.isFinite(price) ||
    price <= 0
  ) {
    return {
      allow: false,
      reasons: ["invalid_order: symbol, side (buy|sell|sell_short), qty > 0 and price > 0 are required"],
    };
  }
  const reasons: string[] = [];
  const reducing = order.reduceOnly === true && order.side !== "sell_short";

  // 2. The effective mode: the strictest of the mode key, Redis reachability and the dead-man's switch.
  const stop = modeRules(flags, now, opts, conn, reducing, reasons);
  if (stop) return stop;

  // 3. Asset classes not cut over yet take no new exposure.
  const classes = opts.cutoverAssetClasses;
  if (!reducing && classes && classes.size > 0) cutoverRule(order, flags, classes, reasons);

  // 4. US equity market rules; 5. per-strategy restrictions and limits (orders that add exposure only).
  const cap: QtyCap = { maxQty: Number.POSITIVE_INFINITY, by: "locates" };
  if (!opts.marketRulesBrokers || opts.marketRulesBrokers.has(order.broker)) {
    marketRules(order, flags, now, opts, cache, localQuotes, reducing, reasons, cap);
  }
  if (!reducing) strategyRules(order, flags, now, cache, reasons, cap);

  const result: CheckResult = { allow: false, reasons };
  if (Number.isFinite(cap.maxQty)) {
    result.maxQty = cap.maxQty;
    if (qty > cap.maxQty)
      reasons.push(`max_qty: ${qty} exceeds the ${cap.maxQty} allowed by ${capText(cap.by, order, flags)}`);
  }
  result.allow = reasons.length === 0;
  return result;
}

/** Names what set the quantity cap (for the max_qty reason; only built when the order is refused). */
function capText(by: CapSource, order: OrderCheck, flags: GateFlags): string {
  const s = order.strategy;
  const b = flags.bounds.get(s);
  const bounds = b && !("invalid" in b) ? b : null;
  switch (by) {
    case "locates":
      return "the unexpired locates (Reg SHO Rule 203(b)(1))";
    case "intraday":
      return `account ${order.account}'s intraday buying power`;
    case "event_lock": {
      const lock = flags.eventLock!;
      return `the ${lock.event} event lock (${lock.cap.mul(100).toString()}% of strategy ${s}'s limit)`;
    }
    case "strategy":
      return `strategy ${s}'s caps`;
    case "order_notional":
      return `strategy ${s}'s max order notional of ${bounds?.maxOrderNotional?.toFixed()} at ${order.price}`;
    case "position":
      return `strategy ${s}'s max position of ${bounds?.maxPosition?.toFixed()} per symbol (position ${order.position})`;
    case "gross_notional":
      return `strategy ${s}'s max gross notional of ${bounds?.maxGrossNotional?.toFixed()} (gross ${order.grossNotional}${order.position !== undefined ? `, position ${order.position}` : ""}, at ${order.price})`;
  }
}
