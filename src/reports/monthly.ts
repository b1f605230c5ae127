// The monthly cost and strategy-risk report: costs against budget with the month-end forecast (the cost guard's
// figures), P&L per strategy (FIFO over the fills ledger), the slippage distribution (the slippage guard's
// aggregates) and the strategy caps that were hit (the strategy_caps guard's alerts). A section whose guard is not
// installed or whose data is absent says so.
import { costsSection } from "./costs.js";
import { type CapHit, type MonthlyReport, noData, ok, type Section, unreadable } from "./model.js";
import { inPeriod, type Period } from "./period.js";
import { pnlSection } from "./pnl.js";
import { slippageSection } from "./slippage.js";
import { type AlertEventRecord, type ReportSources, readAlertHistory } from "./sources.js";

/** The guard whose alerts are the caps hit (issue 15 §17). */
export const CAPS_GUARD = "strategy_caps";

/**
 * Caps hit: the strategy_caps guard's alerts opened in the period for a weight that broke a bound — finding keys
 * `strategy_caps:weight:<strategy>:<rule>` (max_weight, min_weight, policy_floor, event_lock) and
 * `strategy_caps:weights_total` (max_total_weight) — per strategy and rule. Its data-quality findings (weights
 * missing, stale, unreadable) are not caps. Per-order caps are enforced by the gate inside the trading processes,
 * which record no count in Redis: they are not in this section, and it says so.
 */
export function capsHit(
  events: AlertEventRecord[],
  period: Period,
  installed: boolean,
): Section<{ rows: CapHit[]; total: number }> {
  if (!installed) return noData("the strategy_caps guard is not installed");
  const counts = new Map<string, CapHit>();
  for (const e of events) {
    if (e.guard !== CAPS_GUARD || e.type !== "opened" || !inPeriod(period, e.ms)) continue;
    const key = e.field.slice(e.field.indexOf("/") + 1);
    const m = /^strategy_caps:weight:(.+):([a-z_]+)$/.exec(key);
    const [strategy, rule] = m
      ? [m[1]!, m[2]!]
      : key === "strategy_caps:weights_total"
        ? ["(all)", "max_total_weight"]
        : [];
    if (!strategy || !rule) continue;
    const id = `${strategy}\u001f${rule}`;
    const c = counts.get(id) ?? { strategy, rule, count: 0 };
    c.count++;
    counts.set(id, c);
  }
  if (counts.size === 0) return noData("no allocator weight broke a strategy bound in the period");
  const rows = [...counts.values()].sort(
    (a, b) => b.count - a.count || a.strategy.localeCompare(b.strategy) || a.rule.localeCompare(b.rule),
  );
  return ok({ rows, total: rows.reduce((n, r) => n + r.count, 0) }, [
    "Allocator bounds (the strategy_caps guard's alerts). Per-order caps are enforced inside the trading processes' gates and are not recorded, so they are not counted here.",
  ]);
}

/** Gathers the monthly report of `period`. */
export async function gatherMonthly(src: ReportSources, period: Period): Promise<MonthlyReport> {
  const problems: string[] = [];
  const history = await readAlertHistory(src.redis, src.keys, Date.parse(period.from)).catch((err: Error) => {
    problems.push(`alerts:*: unreadable (${err.message})`);
    return null;
  });
  if (history) problems.push(...history.problems.filter((p) => p.startsWith(`alerts:${CAPS_GUARD}`)));
  const guarded = async <T>(what: string, f: () => Promise<Section<T>>): Promise<Section<T>> => {
    try {
      return await f();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
      return unreadable(`${what} could not be read`);
    }
  };
  return {
    kind: "monthly",
    title: `Monthly cost and strategy-risk report, ${period.label}`,
    period,
    generatedAt: src.now().toISOString(),
    sections: {
      costs: await guarded("costs", () => costsSection(src, period, problems)),
      pnl: await guarded("ledger:fills", () => pnlSection(src, period, problems)),
      slippage: await guarded("slippage", () => slippageSection(src, period, problems)),
      caps: history
        ? capsHit(history.events, period, CAPS_GUARD in src.config.guards)
        : unreadable("the alert history could not be read"),
    },
    problems,
  };
}
