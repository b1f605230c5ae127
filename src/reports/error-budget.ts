// The weekly report's error-budget burn, from the error_budget guard's data (docs/redis-keys.md, SLO_KEYS): per SLO
// the week's good/total events (the day ring's UTC days that start inside the period), their burn rate (error ratio
// ÷ budget: 1× spends exactly the budget over the SLO period; the guard's own arithmetic, exact) and the budget left
// over the rolling SLO period at the time of the report (the BudgetSource every operation reads).
import { burnRate, parseBuckets, sloKeys, sumBuckets } from "../jobs/error-budget-math.js";
import { type ErrorBudgetRow, noData, ok, type Section, unreadable } from "./model.js";
import type { Period } from "./period.js";
import type { ReportSources } from "./sources.js";

const DAY_MS = 86_400_000;

/** The error-budget section of `period`. */
export async function errorBudgetSection(
  src: ReportSources,
  period: Period,
  problems: string[],
): Promise<Section<{ rows: ErrorBudgetRow[] }>> {
  if (!src.config.guards.error_budget) return noData("the error_budget guard is not installed");
  if (!src.budgets || src.budgets.slos().length === 0) return noData("no SLO is declared (guards.error_budget.slos)");
  const view = await src.budgets.read(src.now());
  for (const u of view.unreadable) problems.push(`${u.key}: ${u.problem}`);
  // UTC days whose start lies in [from, to): the day ring's buckets are UTC days.
  const firstDay = Math.ceil(Date.parse(period.from) / DAY_MS);
  const lastDay = Math.ceil(Date.parse(period.to) / DAY_MS) - 1;
  const rows: ErrorBudgetRow[] = [];
  for (const slo of view.slos) {
    const names = sloKeys(slo.slo).days;
    const replies = (await src.redis.pipeline(names.map((k) => ["hgetall", src.keys.raw(k)])).exec()) ?? [];
    const hashes: { key: string; fields: Record<string, string> }[] = [];
    let failed = false;
    replies.forEach(([err, v], i) => {
      if (err) {
        failed = true;
        problems.push(`${names[i]}: ${err.message}`);
      } else hashes.push({ key: names[i]!, fields: v as Record<string, string> });
    });
    const { buckets, invalid } = parseBuckets(hashes);
    for (const p of invalid.slice(0, 5)) problems.push(`error budget ${slo.slo}: ${p}`);
    const week = sumBuckets(buckets, firstDay, lastDay);
    const burn = failed ? null : burnRate(week, slo.target);
    rows.push({
      slo: slo.slo,
      target: String(slo.target),
      periodDays: slo.periodDays,
      good: week.good.toString(),
      total: week.total.toString(),
      burnRate: burn === null ? null : burn.toFixed(2),
      leftPct: slo.leftPct,
      spent: slo.spent,
      state:
        failed || invalid.length || slo.state === "unreadable" ? "unreadable" : week.total === 0n ? "no_data" : "ok",
    });
  }
  if (rows.length === 0) return noData("no SLO is declared");
  if (rows.every((r) => r.state === "unreadable")) return unreadable("every SLO's event counts are unreadable");
  if (rows.every((r) => r.state === "no_data")) return noData("no SLO event was recorded in the period");
  return ok({ rows }, [
    `Burn rate over the period's UTC days (1.00 = spending exactly the budget); budget left over each SLO's rolling period as of ${src.now().toISOString()}.`,
  ]);
}
