// Error-budget guard (issue 14 §12). Each SLO the desk declares under guards.error_budget.slos (a target over a period
// of days) is judged every minute from the good/total counts trading processes write (SLO_KEYS): the multiwindow,
// multi-burn-rate rules of Google's SRE workbook page (critical) or open a ticket (warn) when the long AND the short
// window burn faster than their factor; each finding names every window's burn rate and the budget left. When a budget
// is spent, the SLO's policy applies (error-budget-policy.ts): its strategies reduce-only (`strategy:reduce_only`,
// honoured by the gate), or one more approver for /clear (read by the resume operation), until the budget is back.
import { z } from "zod";
import { MARKET_KEYS, SLO_KEYS } from "../state/keys.js";
import { budgetLeftPct, burnRate, showLeft, showWindow, sloKeys } from "./error-budget-math.js";
import { type PolicyOutcome, reconcilePolicy } from "./error-budget-policy.js";
import {
  assessSlo,
  budgetLine,
  type ErrorBudgetConfig,
  errorBudgetConfig,
  readName,
  ruleLine,
  type SloAssessment,
  type SloValues,
  SOP_ERROR_BUDGET,
} from "./error-budget-slo.js";
import { defineGuard, type Finding, type KeyRead, ReadFailure } from "./guard.js";

type Values = Record<string, Record<string, string> | ReadFailure>;
type Probe = { at: number };

const hash = z.record(z.string(), z.string());
const STATE = { exhausted: SLO_KEYS.exhausted, waivers: SLO_KEYS.waivers, reduceOnly: MARKET_KEYS.strategyReduceOnly };

type Judged = { assessments: SloAssessment[]; policy: ReturnType<typeof reconcilePolicy> | null };
/** The runner hands evaluate and measure the same snapshot at the same time: judged once (thousands of fields). */
const seen = new WeakMap<object, { at: number; c: ErrorBudgetConfig; out: Judged }>();

/** The guard's view of a snapshot at `now`: assessments, and the policy (null when its state is unreadable). Pure. */
export function judge(values: Values, c: ErrorBudgetConfig, now: Date): Judged {
  const cached = seen.get(values);
  if (cached && cached.at === now.getTime() && cached.c === c) return cached.out;
  const assessments = c.slos.map((slo) => assessSlo(values as SloValues, sloKeys(slo.name), slo, c, now.getTime()));
  const state = Object.fromEntries(Object.keys(STATE).map((k) => [k, values[k]]));
  const policy = Object.values(state).some((v) => v instanceof ReadFailure)
    ? null
    : reconcilePolicy(
        assessments,
        state as {
          exhausted: Record<string, string>;
          waivers: Record<string, string>;
          reduceOnly: Record<string, string>;
        },
        now,
      );
  const out = { assessments, policy };
  seen.set(values, { at: now.getTime(), c, out });
  return out;
}

const SHORT_POLICY: Record<PolicyOutcome["policy"] | "lifted", string> = {
  none: "alert only",
  reduce_only: "reduce-only",
  extra_approver: "/clear needs one more approver",
  lifted: "policy lifted",
};

function policyText(o: PolicyOutcome, strategies: string[]): string {
  if (o.waiver) return `policy ${o.policy} lifted by ${o.waiver.by} at ${o.waiver.at}: ${o.waiver.reason}`;
  switch (o.policy) {
    case "reduce_only":
      return `strategies ${strategies.join(", ")} are reduce-only until the budget is back`;
    case "extra_approver":
      return "a /clear needs one more approver until the budget is back";
    default:
      return "no policy (alert only)";
  }
}

/** The error-budget guard (YAML `guards.error_budget`). */
export const errorBudget = defineGuard<ErrorBudgetConfig, Values, Probe>({
  name: "error_budget",
  schedule: "30 * * * * *",
  config: errorBudgetConfig,
  requires: { hint: "declare the desk's SLOs under guards.error_budget.slos (name, target, period_days, policy)" },
  reads: (c) => {
    const reads: Record<string, KeyRead> = {};
    for (const slo of c.slos) {
      const k = sloKeys(slo.name);
      k.minutes.forEach((key, i) => {
        reads[readName(slo.name, "m", i)] = { key, type: "hash", schema: hash, onError: "value" };
      });
      k.days.forEach((key, i) => {
        reads[readName(slo.name, "d", i)] = { key, type: "hash", schema: hash, onError: "value" };
      });
    }
    for (const [name, key] of Object.entries(STATE))
      reads[name] = { key, type: "hash", schema: hash, onError: "value" };
    return reads;
  },
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now, c) {
    const { assessments, policy } = judge(snapshot.values, c, now);
    const findings: Finding[] = [];
    const base = { guard: "error_budget", sop: SOP_ERROR_BUDGET };
    for (const a of assessments) {
      const name = a.slo.name;
      const about = `SLO ${name}${a.slo.description ? ` (${a.slo.description})` : ""}: ${a.slo.target}% good over ${a.slo.period_days} d`;
      const rules = a.rules.map((r) => ruleLine(r, a.slo.target)).join("; ");
      if (a.unreadable.length || a.invalid.length) {
        const bad = [...a.unreadable, ...a.invalid];
        findings.push({
          ...base,
          key: `error_budget:${name}:data_invalid`,
          severity: "warn",
          title: `SLO ${name}: event counts unreadable (${bad.length})`,
          detail: `${about}. ${a.unreadable.length ? "Not judged: a key cannot be read" : "Left out of the sums"}: ${bad.slice(0, 5).join("; ")}${bad.length > 5 ? "; …" : ""}. The writer's format is in docs/redis-keys.md.`,
        });
      }
      // A key that cannot be read: nothing is judged, but a policy in force still shows (below).
      if (a.unreadable.length === 0 && a.period.total === 0n)
        findings.push({
          ...base,
          key: `error_budget:${name}:no_data`,
          severity: "warn",
          title: `SLO ${name}: no events in ${a.slo.period_days} d`,
          detail: `${about}. No trading process reported events under slo:${name}:… (docs/redis-keys.md), so the budget cannot be judged; a policy in force stays until it can.`,
        });
      const firing = a.unreadable.length ? [] : a.rules.filter((r) => r.firing);
      if (firing.length) {
        const worst = firing.find((r) => r.rule.severity === "critical") ?? firing[0]!;
        const burn = burnRate(worst.long, a.slo.target);
        findings.push({
          ...base,
          key: `error_budget:${name}:burn`,
          severity: worst.rule.severity,
          title: `SLO ${name}: error budget burning ${burn!.toFixed(2)}× over ${showWindow(worst.rule.long)} and ${showWindow(worst.rule.short)} (${worst.rule.severity === "critical" ? "page" : "ticket"} above ${worst.rule.burn_rate}×)`,
          detail: `${about}. ${rules}. ${budgetLine(a)}.`,
          value: `${burn!.toFixed(2)}×`,
          threshold: `${worst.rule.burn_rate}×`,
        });
      }
      const o = policy?.outcomes.find((x) => x.slo === name);
      if (o?.spent) {
        const left = a.unreadable.length ? "—" : showLeft(budgetLeftPct(a.period, a.slo.target));
        findings.push({
          ...base,
          key: `error_budget:${name}:exhausted`,
          severity: "warn",
          title: `SLO ${name}: error budget spent (${left === "—" ? "now unknown" : `${left} left`}) — ${SHORT_POLICY[o.waiver ? "lifted" : o.policy]}`,
          detail: `${about}, spent since ${o.since}: ${policyText(o, a.slo.strategies)}. ${budgetLine(a)}. ${rules}.`,
          value: left,
          threshold: "0%",
        });
      }
    }
    if (!policy)
      findings.push({
        ...base,
        key: "error_budget:state_unreadable",
        severity: "warn",
        title: "Error budgets: policy state unreadable, not changed",
        detail: `${Object.keys(STATE)
          .flatMap((k) => {
            const v = snapshot.values[k];
            return v instanceof ReadFailure ? [`${v.key}: ${v.message}`] : [];
          })
          .join("; ")}. Repair or delete the key (RUNBOOK); until then no policy is applied or lifted.`,
      });
    else if (policy.actions.length || policy.repaired.length)
      findings.push({
        ...base,
        key: "error_budget:policy",
        severity: "info",
        title: "Error budgets: policy state updated",
        detail: `${
          policy.outcomes
            .filter((o) => o.spent)
            .map((o) => `${o.slo} spent (${o.enforced ? o.policy : "lifted"})`)
            .join(", ") || "no budget spent"
        }${policy.repaired.length ? `; rewrote unreadable ${policy.repaired.join(", ")}` : ""}.`,
        actions: policy.actions,
      });
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_error_budget_remaining_ratio",
      help: "Share of the SLO's error budget left over its period (1 = untouched, ≤ 0 = spent; NaN without events)",
      labelNames: ["slo"],
    },
    {
      name: "tradeguard_error_budget_burn_rate",
      help: "Burn rate of the SLO's error budget over a window (1 = spends the budget exactly over the period; NaN without events)",
      labelNames: ["slo", "window"],
    },
    {
      name: "tradeguard_error_budget_policy_enforced",
      help: "1 while the SLO's spent-budget policy is in force (0: budget not spent, or the policy lifted by command)",
      labelNames: ["slo"],
    },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    if (at === undefined) return [];
    const { assessments, policy } = judge(snapshot.values, c, new Date(at));
    return assessments.flatMap((a) => {
      const left = a.unreadable.length ? null : budgetLeftPct(a.period, a.slo.target);
      const windows = new Map<string, number>();
      for (const r of a.rules)
        for (const [label, counts] of [
          [showWindow(r.rule.long), r.long],
          [showWindow(r.rule.short), r.short],
        ] as const)
          windows.set(label, burnRate(counts, a.slo.target)?.toNumber() ?? Number.NaN);
      const o = policy?.outcomes.find((x) => x.slo === a.slo.name);
      return [
        {
          name: "tradeguard_error_budget_remaining_ratio",
          labels: { slo: a.slo.name },
          value: left === null ? Number.NaN : left.div(100).toNumber(),
        },
        ...[...windows].map(([window, value]) => ({
          name: "tradeguard_error_budget_burn_rate",
          labels: { slo: a.slo.name, window },
          value,
        })),
        {
          name: "tradeguard_error_budget_policy_enforced",
          labels: { slo: a.slo.name },
          value: o ? (o.spent && o.enforced ? 1 : 0) : Number.NaN,
        },
      ];
    });
  },
});
