// The per-strategy and per-asset-class flags the gate honours besides the risk desk's `strategy:caps`: their value
// formats (one zod schema each, shared with the guards that write them) and their parsers. Each parser fails safe:
// an entry that cannot be read restricts its strategy (or keeps its asset class disabled), never the reverse.
//
// - `strategy:bounds` (hash strategy → JSON, bot-owned): the bounds configured under guards.strategy_caps.strategies,
//   published by the strategy_caps guard so that every trading process's gate enforces them in process.
// - `strategy:reduce_only` / `strategy:blocked` (hash strategy → JSON {reason, source, since}): written by the
//   error_budget guard and the feature_schema guard; both allow only reducing orders of that strategy.
// - `cutover:<asset_class>` (string JSON {enabled, request_id, approved_by, at}): written by the cutover operation.
import { Decimal } from "decimal.js";
import { z } from "zod";
import { safeJson } from "./json.js";

/** A non-negative decimal: a string ("250000", "0.05") or a JSON number (read as its shortest representation). */
const decimal = z.union([
  z.string().regex(/^\d+(\.\d+)?$/, "a non-negative decimal string"),
  z.number().finite().nonnegative(),
]);

/** The value of one `strategy:bounds` field (what the strategy_caps guard writes; all decimal strings). */
export const strategyBoundsSchema = z.object({
  /** The allocator's bounds (checked by the strategy_caps guard; published for the allocator, not used by the gate). */
  min_weight: decimal.optional(),
  max_weight: decimal.optional(),
  /** The strategy's gross notional across symbols, after the order, at most this (account currency). */
  max_gross_notional: decimal.optional(),
  /** |position| in any one symbol, after the order, at most this (shares / contracts / coins). */
  max_position: decimal.optional(),
  /** qty × price of one order at most this (account currency). */
  max_order_notional: decimal.optional(),
});
export type StrategyBoundsValue = z.infer<typeof strategyBoundsSchema>;

/** The per-order caps the gate takes from a `strategy:bounds` entry. */
export interface StrategyBounds {
  maxOrderNotional: Decimal | null;
  maxPosition: Decimal | null;
  maxGrossNotional: Decimal | null;
}

/** The value of one `strategy:reduce_only` or `strategy:blocked` field. */
export const strategyRestrictionSchema = z.object({
  reason: z.string().min(1),
  /** Who set it: `error_budget:<slo>`, `feature_schema`, … */
  source: z.string().min(1),
  since: z.iso.datetime({ offset: true }),
});
export type StrategyRestriction = z.infer<typeof strategyRestrictionSchema>;

/** The value of `cutover:<asset_class>` once the class is cut over (anything else: not cut over). */
export const cutoverFlagSchema = z.discriminatedUnion("enabled", [
  z.object({
    enabled: z.literal(true),
    request_id: z.string().min(1),
    approved_by: z.string().min(1),
    at: z.iso.datetime({ offset: true }),
  }),
  z.object({ enabled: z.literal(false) }),
]);

/** What the gate knows of one asset class it enforces: cut over, or why not. */
export type CutoverState =
  | { enabled: true; requestId: string; approvedBy: string; at: string }
  | { enabled: false; why: string };

/** An unreadable entry: the strategy it belongs to is restricted. */
export type Invalid = { invalid: string };

const dec = (v: string | number | undefined) => (v === undefined ? null : new Decimal(String(v)));

/** strategy:bounds → strategy → its per-order caps (unreadable entries kept as invalid: the strategy is refused). */
export function parseBounds(raw: Record<string, string>): Map<string, StrategyBounds | Invalid> {
  const out = new Map<string, StrategyBounds | Invalid>();
  for (const [strategy, json] of Object.entries(raw)) {
    const p = safeJson(json, strategyBoundsSchema);
    out.set(
      strategy,
      "invalid" in p
        ? p
        : {
            maxOrderNotional: dec(p.max_order_notional),
            maxPosition: dec(p.max_position),
            maxGrossNotional: dec(p.max_gross_notional),
          },
    );
  }
  return out;
}

/** strategy:reduce_only / strategy:blocked → strategy → the restriction (unreadable entries restrict too). */
export function parseRestrictions(raw: Record<string, string>): Map<string, StrategyRestriction | Invalid> {
  const out = new Map<string, StrategyRestriction | Invalid>();
  for (const [strategy, json] of Object.entries(raw)) out.set(strategy, safeJson(json, strategyRestrictionSchema));
  return out;
}

/** cutover:<asset_class> → cut over, or why not (absent, enabled false, unreadable). */
export function parseCutover(key: string, raw: string | null): CutoverState {
  if (raw === null) return { enabled: false, why: `${key} is absent` };
  const p = safeJson(raw, cutoverFlagSchema);
  if ("invalid" in p) return { enabled: false, why: `${key} is unreadable: ${p.invalid}` };
  if (!p.enabled) return { enabled: false, why: `${key} has enabled: false` };
  return { enabled: true, requestId: p.request_id, approvedBy: p.approved_by, at: p.at };
}

/** The asset classes of `cutoverAssetClasses`, checked: each a non-empty lowercase name (the key's suffix). */
export function checkAssetClasses(classes: readonly string[] | undefined): readonly string[] {
  const list = classes ?? [];
  for (const c of list) {
    if (typeof c !== "string" || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(c)) {
      throw new TypeError(
        `cutoverAssetClasses: ${JSON.stringify(c)} is not an asset class name (lowercase letters, digits, _ and -)`,
      );
    }
  }
  return [...new Set(list)];
}
