// What the error_budget guard changes when a budget is spent or comes back (issue 14 §12), decided purely from this
// tick's assessments and the state it keeps in Redis: `error_budget:exhausted` (SLO → since, policy, enforced), the
// waivers a person set with `tradeguard budget lift` (`error_budget:waivers`), and the `strategy:reduce_only` hash the
// gate honours, which this guard alone writes. A budget is spent at 0 % left and stays spent until more than
// `lift_above_pct` is back; an SLO without events (or unreadable) keeps its state: missing data never lifts a policy.
// Every change is a FlagChange the runner applies in one script and audits (`flag.changed`), so lifting is audited.
// The records it reads are defined once, with the operations that read them too (src/ops/budget.ts).
import { z } from "zod";
import {
  type ExhaustedRecord,
  exhaustedRecord,
  reduceOnlySource,
  type WaiverRecord,
  waiverRecord,
} from "../ops/budget.js";
import { MARKET_KEYS, SLO_KEYS } from "../state/keys.js";
import type { BudgetPolicy, SloAssessment } from "./error-budget-slo.js";
import { SOP_ERROR_BUDGET } from "./error-budget-slo.js";
import type { FlagChange } from "./guard.js";

/** A value of `strategy:reduce_only` (the contract the gate reads). */
export const reduceOnlyRecord = z.object({ reason: z.string(), source: z.string(), since: z.string() });

/** Parses each field of a hash with `schema`; fields that do not parse are returned apart. */
export function parseHash<T>(raw: Record<string, string>, schema: z.ZodType<T>) {
  const ok = new Map<string, T>();
  const bad: string[] = [];
  for (const [field, value] of Object.entries(raw)) {
    let json: unknown;
    try {
      json = JSON.parse(value);
    } catch {
      json = undefined;
    }
    const r = schema.safeParse(json);
    if (r.success) ok.set(field, r.data);
    else bad.push(field);
  }
  return { ok, bad };
}

/** The state the policy reconciles, as read this tick. */
export interface PolicyState {
  exhausted: Record<string, string>;
  waivers: Record<string, string>;
  reduceOnly: Record<string, string>;
}

/** One SLO's policy after this tick. */
export interface PolicyOutcome {
  slo: string;
  spent: boolean;
  since: string | null;
  policy: BudgetPolicy;
  enforced: boolean;
  waiver: WaiverRecord | null;
}

/** Decides the policy of every SLO and the flag changes that get Redis there. Pure. */
export function reconcilePolicy(
  assessments: SloAssessment[],
  state: PolicyState,
  now: Date,
): { outcomes: PolicyOutcome[]; actions: FlagChange[]; repaired: string[] } {
  const at = now.toISOString();
  const exhausted = parseHash(state.exhausted, exhaustedRecord);
  const waivers = parseHash(state.waivers, waiverRecord);
  const actions: FlagChange[] = [];
  const repaired = [...exhausted.bad.map((f) => `${SLO_KEYS.exhausted}[${f}]`)];
  const outcomes: PolicyOutcome[] = [];
  const setExhausted: Record<string, string> = {};
  const delExhausted: string[] = [];
  const delWaivers: string[] = [];

  for (const a of assessments) {
    const name = a.slo.name;
    const prev = exhausted.ok.get(name) ?? null;
    // A record that does not parse still says "spent": kept spent (since now) until the budget is judged back.
    const prevSpent = prev !== null || exhausted.bad.includes(name);
    const spent = a.budget === "unknown" ? prevSpent : a.budget === "spent" || (prevSpent && a.budget === "between");
    const waiver = spent ? (waivers.ok.get(name) ?? null) : null;
    if (!spent) {
      if (prevSpent) delExhausted.push(name);
      if (state.waivers[name] !== undefined) delWaivers.push(name);
      outcomes.push({ slo: name, spent, since: null, policy: a.slo.policy, enforced: false, waiver: null });
      continue;
    }
    const next: ExhaustedRecord = {
      since: prev?.since ?? at,
      policy: a.slo.policy,
      enforced: waiver === null,
      strategies: a.slo.policy === "reduce_only" ? [...a.slo.strategies].sort() : [],
    };
    const json = JSON.stringify(next);
    if (state.exhausted[name] !== json) setExhausted[name] = json;
    if (state.waivers[name] !== undefined && waiver === null) delWaivers.push(name); // unreadable waiver: not honoured
    outcomes.push({ slo: name, spent, since: next.since, policy: next.policy, enforced: next.enforced, waiver });
  }
  // SLOs that are no longer configured leave no state behind.
  const known = new Set(assessments.map((a) => a.slo.name));
  for (const f of Object.keys(state.exhausted)) if (!known.has(f)) delExhausted.push(f);
  for (const f of Object.keys(state.waivers)) if (!known.has(f)) delWaivers.push(f);

  if (Object.keys(setExhausted).length) actions.push({ op: "hset", key: SLO_KEYS.exhausted, fields: setExhausted });
  if (delExhausted.length) actions.push({ op: "hdel", key: SLO_KEYS.exhausted, fields: [...new Set(delExhausted)] });
  if (delWaivers.length) actions.push({ op: "hdel", key: SLO_KEYS.waivers, fields: [...new Set(delWaivers)] });

  // strategy:reduce_only: each strategy of an enforced reduce_only policy, sourced from its first spent SLO.
  const wanted = new Map<string, string[]>();
  for (const a of assessments) {
    const o = outcomes.find((x) => x.slo === a.slo.name)!;
    if (!o.spent || !o.enforced || o.policy !== "reduce_only") continue;
    for (const s of a.slo.strategies) wanted.set(s, [...(wanted.get(s) ?? []), a.slo.name].sort());
  }
  const current = parseHash(state.reduceOnly, reduceOnlyRecord);
  const setRo: Record<string, string> = {};
  const delRo: string[] = [];
  for (const [strategy, slos] of wanted) {
    const cur = current.ok.get(strategy);
    if (cur && slos.some((s) => cur.source === reduceOnlySource(s))) continue;
    const slo = slos[0]!;
    setRo[strategy] = JSON.stringify({
      reason: `error budget of SLO ${slo} is spent: reduce-only until it recovers (RUNBOOK.md#${SOP_ERROR_BUDGET})`,
      source: reduceOnlySource(slo),
      since: at,
    });
  }
  for (const strategy of Object.keys(state.reduceOnly)) if (!wanted.has(strategy)) delRo.push(strategy);
  if (Object.keys(setRo).length) actions.push({ op: "hset", key: MARKET_KEYS.strategyReduceOnly, fields: setRo });
  if (delRo.length) actions.push({ op: "hdel", key: MARKET_KEYS.strategyReduceOnly, fields: delRo });
  if (Object.keys(setRo).length || delRo.length)
    actions.push({ op: "publish", channel: MARKET_KEYS.flagsChannel, message: "strategy:reduce_only" });
  repaired.push(...current.bad.filter((f) => wanted.has(f)).map((f) => `${MARKET_KEYS.strategyReduceOnly}[${f}]`));
  return { outcomes, actions, repaired };
}
