// The error budgets as operations read them (BudgetSource, src/ops/deps.ts): the same keys and the same arithmetic as
// the error_budget guard, read on demand in one pipelined round trip (the cutover gate, `tradeguard budget`). Wired
// by the composition root, since operations sit below the guard engine and cannot import it.
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import { exhaustedRecord } from "../ops/budget.js";
import type { BudgetSource, BudgetView } from "../ops/deps.js";
import { SLO_KEYS } from "../state/keys.js";
import type { KeyProblem } from "../state/validate.js";
import { budgetLeftPct, burnRate, leftAbove, showBurn, showLeft, showWindow, sloKeys } from "./error-budget-math.js";
import { parseHash } from "./error-budget-policy.js";
import { assessSlo, type ErrorBudgetConfig, readName, type SloValues } from "./error-budget-slo.js";
import { ReadFailure } from "./guard.js";

/** A BudgetSource over the config's guards.error_budget settings. */
export function budgetSource(redis: Redis, prefix: string, config: Config): BudgetSource {
  const g = config.guards.error_budget;
  const c = (g?.enabled && !g.notConfigured ? g.settings : null) as ErrorBudgetConfig | null;
  return {
    slos: () => c?.slos.map((s) => s.name) ?? [],
    async read(now, minLeftPct = 0) {
      if (!c || c.slos.length === 0) return { slos: [], unreadable: [] };
      const p = redis.pipeline();
      const layout: { read: string; key: string }[] = [];
      for (const slo of c.slos) {
        const k = sloKeys(slo.name);
        for (const [i, key] of k.minutes.entries()) layout.push({ read: readName(slo.name, "m", i), key });
        for (const [i, key] of k.days.entries()) layout.push({ read: readName(slo.name, "d", i), key });
      }
      layout.push({ read: "exhausted", key: SLO_KEYS.exhausted });
      for (const l of layout) p.hgetall(prefix + l.key);
      const res = (await p.exec()) ?? [];
      const values: SloValues = {};
      layout.forEach((l, i) => {
        const [err, v] = res[i] ?? [new Error("no reply"), null];
        values[l.read] = err ? new ReadFailure(l.key, err.message) : (v as Record<string, string>);
      });
      const unreadable: KeyProblem[] = [];
      const ex = values.exhausted;
      let spentNow = new Set<string>();
      if (ex instanceof ReadFailure) unreadable.push({ key: SLO_KEYS.exhausted, problem: ex.message });
      else if (ex) {
        const parsed = parseHash(ex, exhaustedRecord);
        // An unreadable record still means "spent": fail safe, like the guard.
        spentNow = new Set([...parsed.ok.keys(), ...parsed.bad]);
      }
      const slos = c.slos.map((slo): BudgetView => {
        const a = assessSlo(values, sloKeys(slo.name), slo, c, now.getTime());
        const problems = [...a.unreadable, ...a.invalid];
        const judged = a.unreadable.length === 0 && a.period.total > 0n;
        return {
          slo: slo.name,
          description: slo.description,
          target: slo.target,
          periodDays: slo.period_days,
          policy: slo.policy,
          state: problems.length ? "unreadable" : judged ? "ok" : "no_data",
          leftPct: judged ? showLeft(budgetLeftPct(a.period, slo.target)) : null,
          leftAbove: judged && leftAbove(a.period, slo.target, minLeftPct),
          spent: a.budget === "spent" || spentNow.has(slo.name),
          good: a.period.good.toString(),
          total: a.period.total.toString(),
          rules: a.rules.map((r) => ({
            name: r.rule.name,
            severity: r.rule.severity,
            windows: `${showWindow(r.rule.long)} ${showBurn(burnRate(r.long, slo.target))} / ${showWindow(r.rule.short)} ${showBurn(burnRate(r.short, slo.target))} (> ${r.rule.burn_rate}×)`,
            firing: r.firing,
          })),
          problems,
        };
      });
      return { slos, unreadable };
    },
  };
}
