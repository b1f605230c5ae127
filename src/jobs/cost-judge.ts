// The cost guard's judgement of one source, pure: its figures (already read) against its daily and monthly budgets
// at warn_pct (80 %) and critical_pct (100 %), the month-end forecast against the monthly budget, and the age of the
// figures. Every comparison is exact decimal arithmetic (amount × 100 ≥ budget × pct).
import type { CostConfig, CostSource } from "../cost/config.js";
import { formatMoney, formatPct, Money, type MonthView, monthView, type SourceFigures } from "../cost/figures.js";
import { COST_KEYS } from "../state/keys.js";
import type { Finding, Severity } from "./guard.js";

export const SOP_COST = "sop-cost";
export const SOP_COST_DATA = "sop-cost-data";

/** The level a spend reaches against a budget: critical at critical_pct, warn at warn_pct, else null. */
export function budgetLevel(
  amount: Money,
  budget: Money,
  c: Pick<CostConfig, "warn_pct" | "critical_pct">,
): Severity | null {
  if (budget.isZero()) return amount.gt(0) ? "critical" : null;
  const scaled = amount.mul(100);
  if (scaled.gte(budget.mul(c.critical_pct))) return "critical";
  if (scaled.gte(budget.mul(c.warn_pct))) return "warn";
  return null;
}

/** The view of a source's month, or why its figures cannot be read. */
export function viewOf(
  name: string,
  figures: SourceFigures,
  now: Date,
  c: CostConfig,
): MonthView | { invalid: string } {
  return monthView(name, figures, now, { forecastMinDays: c.forecast_min_days });
}

/** The findings for one source's figures: its budgets, its forecast, and whether the figures are fresh. */
export function judgeSource(
  name: string,
  src: CostSource,
  figures: SourceFigures,
  now: Date,
  c: CostConfig,
): Finding[] {
  const base = { guard: "cost", sop: SOP_COST };
  const view = viewOf(name, figures, now, c);
  if ("invalid" in view)
    return [
      {
        ...base,
        sop: SOP_COST_DATA,
        key: `cost:${name}:data_invalid`,
        severity: "warn",
        title: `Cost: ${name} figures unreadable`,
        detail: `${view.invalid}. The budgets of ${name} are not being checked until the writer fixes it (amounts are plain decimal strings, fields YYYY-MM-DD or YYYY-MM, UTC).`,
      },
    ];
  const out: Finding[] = [];
  const cur = src.currency;
  const judge = (key: string, what: string, amount: Money, budgetText: string, period: string) => {
    const budget = new Money(budgetText);
    const level = budgetLevel(amount, budget, c);
    if (!level) return;
    const pct = formatPct(amount, budget);
    out.push({
      ...base,
      key,
      severity: level,
      title: `Cost: ${name} at ${pct} of its ${what} budget (${period})`,
      detail:
        `${name} spent ${formatMoney(amount, cur)} ${what === "daily" ? "on" : "in"} ${period} (UTC) against a ${what} ` +
        `budget of ${formatMoney(budget, cur)}: ${level === "critical" ? `at or over ${c.critical_pct} %` : `past ${c.warn_pct} %`}.` +
        (what === "monthly" && view.forecast ? ` Month-end forecast ${formatMoney(view.forecast, cur)}.` : ""),
      value: `${formatMoney(amount, cur)} (${pct})`,
      threshold: `${formatMoney(budget.mul(level === "critical" ? c.critical_pct : c.warn_pct).div(100), cur)} (${level === "critical" ? c.critical_pct : c.warn_pct} %)`,
    });
  };
  if (src.daily_budget !== undefined) {
    const yesterday = new Date(Date.parse(`${view.today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    judge(`cost:${name}:day:${view.today}`, "daily", view.day, src.daily_budget, view.today);
    // Yesterday stays judged for a day: Cost Explorer and many exporters complete a day's figure hours later.
    judge(`cost:${name}:day:${yesterday}`, "daily", view.yesterday, src.daily_budget, yesterday);
  }
  if (src.monthly_budget !== undefined) {
    judge(`cost:${name}:month:${view.month}`, "monthly", view.mtd, src.monthly_budget, view.month);
    const budget = new Money(src.monthly_budget);
    const spentOut = budgetLevel(view.mtd, budget, c) === "critical";
    if (src.forecast && view.forecast && !spentOut && view.forecast.gte(budget)) {
      out.push({
        ...base,
        key: `cost:${name}:forecast:${view.month}`,
        severity: "warn",
        title: `Cost: ${name} forecast to reach its monthly budget (${view.month})`,
        detail:
          `${name}'s month-end forecast is ${formatMoney(view.forecast, cur)} (${view.forecastFrom === "writer" ? "the writer's forecast" : `run rate of ${view.completeDays} complete days`}) ` +
          `against a monthly budget of ${formatMoney(budget, cur)}; ${formatMoney(view.mtd, cur)} spent so far.`,
        value: `${formatMoney(view.forecast, cur)} (${formatPct(view.forecast, budget)})`,
        threshold: formatMoney(budget, cur),
      });
    }
  }
  out.push(...staleness(name, src, figures.updated, now, c));
  return out;
}

/** A source whose figures were not written for stale_after_hours (or never) is stale: its budgets judge old data. */
function staleness(name: string, src: CostSource, updated: string | null, now: Date, c: CostConfig): Finding[] {
  const hours = src.stale_after_hours === undefined ? c.stale_after_hours : src.stale_after_hours;
  if (hours === null) return [];
  const base = { guard: "cost", sop: SOP_COST_DATA, key: `cost:${name}:stale`, severity: "warn" as const };
  if (updated === null)
    return [
      {
        ...base,
        title: `Cost: no figures from ${name}`,
        detail: `${COST_KEYS.updated(name)} was never written: ${src.kind === "aws" ? "Cost Explorer has not been read successfully yet" : "its exporter has not run"}, so ${name}'s budgets cannot be checked.`,
      },
    ];
  const at = Date.parse(updated);
  if (Number.isNaN(at) || !/[Zz]|[+-]\d{2}:?\d{2}$/.test(updated))
    return [
      {
        ...base,
        key: `cost:${name}:data_invalid`,
        title: `Cost: ${name} figures unreadable`,
        detail: `${COST_KEYS.updated(name)}: not an ISO-8601 time with an offset (${JSON.stringify(updated.slice(0, 40))}).`,
      },
    ];
  const ageH = (now.getTime() - at) / 3_600_000;
  if (ageH <= hours) return [];
  return [
    {
      ...base,
      title: `Cost: ${name} figures are stale`,
      detail: `${name}'s figures were last written ${updated} (${ageH.toFixed(1)} h ago, limit ${hours} h): the budgets are judged on old data.`,
      value: `${ageH.toFixed(1)} h`,
      threshold: `${hours} h`,
    },
  ];
}
