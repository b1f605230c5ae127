// The monthly report's costs against budget: every source the cost guard is configured with (`guards.cost.sources`),
// its month total, the budgets the guard judges by, and the month-end forecast — read exactly as the guard reads
// them (src/cost/figures.ts), in decimal. Cost months are UTC, Cost Explorer's billing days.
import type { CostConfig } from "../cost/config.js";
import { daysInMonth, Money, monthView, readSourceFigures } from "../cost/figures.js";
import { type CostRow, noData, ok, type Section } from "./model.js";
import type { Period } from "./period.js";
import type { ReportSources } from "./sources.js";

type CostsSection = Section<{ month: string; rows: CostRow[]; totals: { currency: string; spent: string }[] }>;

/** `part` × 100 / `whole`, 2 decimals; "∞" for a positive part of a zero budget. */
function pct(part: Money, whole: Money): string {
  if (whole.isZero()) return part.gt(0) ? "∞" : "0.00";
  return part.mul(100).div(whole).toFixed(2);
}

/** The costs section of the month `period` starts in (UTC month of the same name). */
export async function costsSection(src: ReportSources, period: Period, problems: string[]): Promise<CostsSection> {
  const settings = src.config.guards.cost?.settings as CostConfig | undefined;
  if (!settings) return noData("the cost guard is not installed");
  const sources = Object.entries(settings.sources);
  if (sources.length === 0) return noData("no cost source is configured (guards.cost.sources)");
  const month = period.startDate.slice(0, 7);
  // The month as seen at its last instant (or now, for the month still running).
  const monthEnd = Date.parse(`${month}-${String(daysInMonth(month)).padStart(2, "0")}T23:59:59.999Z`);
  const at = new Date(Math.min(monthEnd, src.now().getTime()));
  const rows: CostRow[] = [];
  const notes: string[] = [];
  for (const [source, cfg] of sources) {
    let figures: Awaited<ReturnType<typeof readSourceFigures>>;
    try {
      figures = await readSourceFigures(src.redis, src.keys.raw, source);
    } catch (err) {
      problems.push(`cost source ${source}: ${(err as Error).message}`);
      continue;
    }
    const view = monthView(source, figures, at, { forecastMinDays: settings.forecast_min_days });
    if ("invalid" in view) {
      problems.push(`cost source ${source}: ${view.invalid}`);
      continue;
    }
    if (Object.keys(view.days).length === 0 && figures.monthly[month] === undefined) {
      notes.push(`${source}: no figures for ${month}`);
      continue;
    }
    const monthly = cfg.monthly_budget === undefined ? null : new Money(cfg.monthly_budget);
    const daily = cfg.daily_budget === undefined ? null : new Money(cfg.daily_budget);
    rows.push({
      source,
      currency: cfg.currency,
      spent: view.mtd.toFixed(2),
      monthlyBudget: monthly?.toFixed(2) ?? null,
      pctOfBudget: monthly ? pct(view.mtd, monthly) : null,
      forecast: view.forecast?.toFixed(2) ?? null,
      forecastFrom: view.forecastFrom,
      dailyBudget: daily?.toFixed(2) ?? null,
      daysOverDailyBudget: daily ? Object.values(view.days).filter((v) => v.gt(daily)).length : null,
    });
  }
  if (rows.length === 0)
    return notes.length ? noData(`no source has figures for ${month}`) : noData("every cost source was unreadable");
  const totals = new Map<string, Money>();
  for (const r of rows) totals.set(r.currency, (totals.get(r.currency) ?? new Money(0)).add(r.spent));
  return ok(
    {
      month,
      rows,
      totals: [...totals].map(([currency, v]) => ({ currency, spent: v.toFixed(2) })),
    },
    [`Cost months are UTC (${month}); ${period.partial ? "month to date" : "the whole month"}.`, ...notes],
  );
}
