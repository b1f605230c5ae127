// Rule module of the gate's decision: what applies per strategy to an order that adds exposure (reducing orders never
// reach it: trapping a position is never the safe choice). In order: the strategy's restrictions (`strategy:blocked`
// by the feature_schema guard, `strategy:reduce_only` by the error_budget guard), the risk desk's event lock
// (`risk:event_lock`, which scales every limit of a strategy it does not exempt by `cap`), the risk desk's caps
// (`strategy:caps`) and the configured bounds (`strategy:bounds`). Where both set a limit on the same thing (the
// order's notional), the stricter one wins, because every cap only ever lowers the quantity allowed.
import type { Decimal } from "decimal.js";
import { MARKET_KEYS } from "../state/keys.js";
import { type DecideCache, type ExposureLimits, type LockedLimits, scaledOf } from "./decide-cache.js";
import { lowerCap, type OrderCheck, type QtyCap } from "./decide-types.js";
import type { GateFlags, StrategyCap } from "./flags.js";
import { exposureRules } from "./rules-exposure.js";
import { fmtTime } from "./rules-market.js";
import { floorScaled, floorShares, mulScaled, numberToScaled, toScaled } from "./scaled.js";
import type { Invalid, StrategyBounds, StrategyRestriction } from "./strategy-flags.js";

/** Adds the per-strategy reasons for an order that adds exposure and lowers `cap` by the strategy's limits. */
export function strategyRules(
  order: OrderCheck,
  flags: GateFlags,
  now: number,
  cache: DecideCache,
  reasons: string[],
  cap: QtyCap,
): void {
  const strategy = order.strategy;
  const un = flags.unreadable;
  const anyUnreadable = un.size > 0;
  restriction(flags.blocked, MARKET_KEYS.strategyBlocked, "strategy_blocked", strategy, un, reasons);
  restriction(flags.reduceOnly, MARKET_KEYS.strategyReduceOnly, "strategy_reduce_only", strategy, un, reasons);

  const sc = flags.caps.get(strategy);
  const caps = sc && !("invalid" in sc) ? sc : null;
  const bd = flags.bounds.get(strategy);
  const bounds = bd && !("invalid" in bd) ? bd : null;

  // The event lock: around a macro release every strategy it does not exempt trades at `cap` × its normal limits.
  let locked: LockedLimits | null = null;
  const lock = flags.eventLock;
  if (lock && (lock.until === null || lock.until > now)) {
    const tags = caps ? caps.tags : [];
    const exempt = lock.exempt.has(strategy) || tags.some((t) => lock.exempt.has(t));
    if (lock.invalid) reasons.push(`event_lock: risk:event_lock is unreadable (${lock.invalid}); no new exposure`);
    else if (!exempt) {
      if (!hasLimit(caps, bounds)) {
        reasons.push(
          `event_lock: ${lock.event} until ${fmtTime(lock.until ?? Number.NaN)} caps strategies at ${lock.cap.mul(100).toString()}% of their normal limit, and strategy ${strategy} has no limit in strategy:caps or strategy:bounds to scale; no new exposure`,
        );
      } else {
        locked = cache.locked.get(strategy) ?? null;
        if (!locked) {
          locked = lockedLimits(caps, bounds, lock.cap);
          cache.locked.set(strategy, locked);
        }
        if (locked.maxQty !== null) lowerCap(cap, locked.maxQty, "event_lock");
        if (locked.maxNotional !== null) lowerCap(cap, floorShares(locked.maxNotional, order.price), "event_lock");
      }
    }
  }

  // The risk desk's caps.
  const capsErr = anyUnreadable ? un.get(MARKET_KEYS.strategyCaps) : undefined;
  if (capsErr) {
    reasons.push(
      `strategy_caps_invalid: ${MARKET_KEYS.strategyCaps} is unreadable (${capsErr}); no new exposure for any strategy`,
    );
  } else if (sc && "invalid" in sc) {
    reasons.push(`strategy_caps_invalid: strategy:caps entry of ${strategy} is unreadable (${sc.invalid})`);
  } else if (caps) {
    if (caps.halted) reasons.push(`strategy_halted: ${strategy}${caps.reason ? ` (${caps.reason})` : ""}`);
    if (caps.maxQty !== null) lowerCap(cap, caps.maxQty, "strategy");
    if (caps.maxNotional !== null)
      lowerCap(cap, floorShares(scaledOf(cache, caps.maxNotional), order.price), "strategy");
  }

  // The configured bounds (per order, per symbol, gross), under the lock scaled like the caps.
  const boundsErr = anyUnreadable ? un.get(MARKET_KEYS.strategyBounds) : undefined;
  if (boundsErr) {
    reasons.push(
      `strategy_bounds_invalid: ${MARKET_KEYS.strategyBounds} is unreadable (${boundsErr}); no new exposure for any strategy`,
    );
  } else if (bd && "invalid" in bd) {
    reasons.push(`strategy_bounds_invalid: strategy:bounds entry of ${strategy} is unreadable (${bd.invalid})`);
  } else if (bounds) {
    // `cap` ≤ 1, so under the lock the scaled limits are the binding ones.
    exposureRules(order, bounds, locked ?? boundsLimits(cache, strategy, bounds), locked !== null, reasons, cap);
  }
}

/** A strategy:blocked / strategy:reduce_only entry (or the whole key unreadable) → its reason. */
function restriction(
  map: ReadonlyMap<string, StrategyRestriction | Invalid>,
  key: string,
  code: "strategy_blocked" | "strategy_reduce_only",
  strategy: string,
  unreadable: ReadonlyMap<string, string>,
  reasons: string[],
): void {
  const err = unreadable.size > 0 ? unreadable.get(key) : undefined;
  if (err) {
    reasons.push(`${code}: ${key} is unreadable (${err}); only reducing orders for every strategy`);
    return;
  }
  const r = map.get(strategy);
  if (r === undefined) return;
  reasons.push(
    "invalid" in r
      ? `${code}: ${key} entry of ${strategy} is unreadable (${r.invalid}); only reducing orders`
      : `${code}: ${r.reason}`,
  );
}

/** Whether the strategy has any limit the event lock can scale. */
function hasLimit(caps: StrategyCap | null, bounds: StrategyBounds | null): boolean {
  return (
    (caps !== null && (caps.maxQty !== null || caps.maxNotional !== null)) ||
    (bounds !== null &&
      (bounds.maxOrderNotional !== null || bounds.maxPosition !== null || bounds.maxGrossNotional !== null))
  );
}

/** `cap` × every limit of the strategy, exactly (quantities floored to whole units). */
function lockedLimits(caps: StrategyCap | null, bounds: StrategyBounds | null, lockCap: Decimal): LockedLimits {
  // On scaled integers: decimal.js rounds a product at 20 digits, which can round a long-digit cap up.
  const factor = toScaled(lockCap);
  const scale = (d: Decimal | null | undefined) => (d ? mulScaled(toScaled(d), factor) : null);
  return {
    maxQty: caps?.maxQty != null ? floorScaled(mulScaled(numberToScaled(caps.maxQty), factor)) : null,
    maxNotional: scale(caps?.maxNotional),
    orderNotional: scale(bounds?.maxOrderNotional),
    position: scale(bounds?.maxPosition),
    gross: scale(bounds?.maxGrossNotional),
  };
}

/** The bounds as exact scaled integers (cached per strategy until the flags change). */
function boundsLimits(cache: DecideCache, strategy: string, b: StrategyBounds): ExposureLimits {
  let l = cache.bounds.get(strategy);
  if (!l) {
    l = {
      orderNotional: b.maxOrderNotional ? toScaled(b.maxOrderNotional) : null,
      position: b.maxPosition ? toScaled(b.maxPosition) : null,
      gross: b.maxGrossNotional ? toScaled(b.maxGrossNotional) : null,
    };
    cache.bounds.set(strategy, l);
  }
  return l;
}
