// Rule module of the gate's decision: asset-class cutover (issue 14 §15). A gate created with
// `cutoverAssetClasses: ["equities"]` refuses opening orders of a listed class until `cutover:<class>` says it is
// cut over (`tradeguard cutover enable <class>`: every go/no-go gate passed, then approved by a second person).
// An order that names no asset class cannot be told apart from one of a listed class, so such a gate refuses its
// opening orders too (`asset_class_missing`): failing closed. Reducing orders always pass: never trap a position.
import type { OrderCheck } from "./decide-types.js";
import type { GateFlags } from "./flags.js";

/** Adds the cutover reason for an opening order (`classes`: the gate's `cutoverAssetClasses`, non-empty). */
export function cutoverRule(
  order: OrderCheck,
  flags: GateFlags,
  classes: ReadonlySet<string>,
  reasons: string[],
): void {
  const named = order.assetClass;
  if (typeof named !== "string" || named === "") {
    reasons.push(
      `asset_class_missing: this gate enforces the cutover of ${[...classes].join(", ")} (cutoverAssetClasses) and the order names no assetClass; only reducing orders`,
    );
    return;
  }
  // The class names are lowercase (the key's suffix): "Equities" is the equities class, not an ungated one.
  const cls = classes.has(named) ? named : classes.has(named.toLowerCase()) ? named.toLowerCase() : null;
  if (cls === null) return;
  const state = flags.cutover.get(cls);
  if (state?.enabled) return;
  reasons.push(
    `asset_class_disabled: ${cls} is not cut over (${state ? state.why : `cutover:${cls} has not been read`}); only reducing orders until \`tradeguard cutover enable ${cls}\` is approved`,
  );
}
