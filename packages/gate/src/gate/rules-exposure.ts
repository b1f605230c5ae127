// Rule module of the gate's decision: a strategy's configured bounds (`strategy:bounds`, published by the
// strategy_caps guard) as quantity caps on one opening order, in exact arithmetic (scaled.ts):
//
// - max_order_notional N:  qty × price ≤ N                        → qty ≤ floor(N / price)
// - max_position P:        |position after| ≤ P on the order's side → qty ≤ floor(P − a)
// - max_gross_notional G:  the order may raise the strategy's gross notional g by at most max(0, G − g):
//                          the raise is max(0, |a + qty| − |a|) × price → qty ≤ floor(2·max(0, −a) + max(0, G − g) / price)
//
// where a = the position in the order's direction (position for a buy, −position for a sell), so an order that
// first closes a position is only charged for what it opens beyond it. Without a position the gross cap assumes
// the worst (a = 0: every unit opens). Every cap is a whole number of units and never below 0; the order itself
// is refused by `max_qty` when its qty is above the smallest cap (decide.ts).
import type { ExposureLimits } from "./decide-cache.js";
import { lowerCap, type OrderCheck, type QtyCap } from "./decide-types.js";
import { floorRoom, floorShares, floorSub } from "./scaled.js";
import type { StrategyBounds } from "./strategy-flags.js";

/**
 * Lowers `cap` by the strategy's bounds (`limits`: as configured, or scaled by the event lock when `locked`) and adds
 * a reason when a bound needs an input the order does not carry (its position, the strategy's gross notional).
 */
export function exposureRules(
  order: OrderCheck,
  bounds: StrategyBounds,
  limits: ExposureLimits,
  locked: boolean,
  reasons: string[],
  cap: QtyCap,
): void {
  const price = order.price;
  if (limits.orderNotional)
    lowerCap(cap, floorShares(limits.orderNotional, price), locked ? "event_lock" : "order_notional");
  const pos = order.position;
  const posKnown = typeof pos === "number" && Number.isFinite(pos);
  // The position in the order's direction: a buy adds to it, a sale (or short sale) takes from it.
  const a = posKnown ? (order.side === "buy" ? pos : -pos) : 0;
  if (limits.position) {
    if (!posKnown) {
      reasons.push(
        `strategy_position_unknown: strategy ${order.strategy} has a max position of ${bounds.maxPosition?.toFixed()} per symbol (strategy:bounds); pass position (its signed position in ${order.symbol} before this order)`,
      );
    } else lowerCap(cap, Math.max(0, floorSub(limits.position, a)), locked ? "event_lock" : "position");
  }
  if (limits.gross) {
    const g = order.grossNotional;
    if (!(typeof g === "number" && Number.isFinite(g) && g >= 0)) {
      reasons.push(
        `strategy_gross_unknown: strategy ${order.strategy} has a max gross notional of ${bounds.maxGrossNotional?.toFixed()} (strategy:bounds); pass grossNotional (its gross notional before this order, ≥ 0)`,
      );
    } else {
      // a < 0: the first 2|a| units only turn the position around (|a + q| ≤ |a|) and raise nothing.
      const q = floorRoom(limits.gross, g, price, a < 0 ? -a : 0);
      lowerCap(cap, q, locked ? "event_lock" : "gross_notional");
    }
  }
}
