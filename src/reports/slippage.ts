// The monthly report's slippage distribution: the slippage guard's per-day aggregates (`slippage:daily:<date>:
// <strategy>`, listed by `slippage:strategies:<date>`) summed over the month's New York trade dates, exactly, with
// their histogram. Read through the guard's own parser (src/recon/ledger-slippage.ts): an aggregate that does not
// parse is named in the problems and left out, never patched.
import {
  formatBps,
  formatProductAmount,
  HISTOGRAM_FIELDS,
  meanBps,
  mergeDays,
  parseSlippageDay,
  type SlippageDay,
  weightedBps,
} from "../recon/ledger-slippage.js";
import { SLIPPAGE_KEYS } from "../state/keys.js";
import { noData, ok, type Section, type SlippageBucket, type SlippageRow } from "./model.js";
import type { Period } from "./period.js";
import type { ReportSources } from "./sources.js";

/** "h:-inf:-100" → "[-inf, -100)". */
export const bucketLabel = (field: string) => {
  const [, lo, hi] = field.split(":");
  return `[${lo}, ${hi})`;
};

/** The New York dates of a period, first to last (up to `to` for a partial one). */
export function periodDates(period: Period): string[] {
  const out: string[] = [];
  const last = period.partial
    ? new Date(period.to).toLocaleDateString("en-CA", { timeZone: period.zone })
    : period.endDate;
  for (let d = period.startDate; d <= last; ) {
    out.push(d);
    const t = new Date(`${d}T12:00:00Z`);
    t.setUTCDate(t.getUTCDate() + 1);
    d = t.toISOString().slice(0, 10);
  }
  return out;
}

type SlippageSection = Section<{ rows: SlippageRow[]; buckets: string[]; histogram: SlippageBucket[] }>;

/** The slippage section of `period`. */
export async function slippageSection(
  src: ReportSources,
  period: Period,
  problems: string[],
): Promise<SlippageSection> {
  if (!src.config.guards.slippage) return noData("the slippage guard is not installed");
  const dates = periodDates(period);
  const key = src.keys.raw;
  const sets =
    (await src.redis.pipeline(dates.map((d) => ["smembers", key(SLIPPAGE_KEYS.strategies(d))])).exec()) ?? [];
  const wanted: { date: string; strategy: string }[] = [];
  sets.forEach(([err, members], i) => {
    if (err) problems.push(`${SLIPPAGE_KEYS.strategies(dates[i]!)}: ${err.message}`);
    else for (const s of (members as string[]).sort()) wanted.push({ date: dates[i]!, strategy: s });
  });
  if (wanted.length === 0)
    return noData("no slippage aggregate for the month (fills need `strategy` and `expected_price`)");
  const hashes =
    (await src.redis.pipeline(wanted.map((w) => ["hgetall", key(SLIPPAGE_KEYS.daily(w.date, w.strategy))])).exec()) ??
    [];
  const byStrategy = new Map<string, SlippageDay[]>();
  for (const [i, [err, h]] of hashes.entries()) {
    const w = wanted[i]!;
    const name = SLIPPAGE_KEYS.daily(w.date, w.strategy);
    const day = err ? err.message : parseSlippageDay(h as Record<string, string>);
    if (typeof day === "string") problems.push(`${name}: ${day}`);
    else if (day.fills > 0) byStrategy.set(w.strategy, [...(byStrategy.get(w.strategy) ?? []), day]);
  }
  if (byStrategy.size === 0) return noData("the month's slippage aggregates hold no fill");
  const rows: SlippageRow[] = [];
  const histogram: SlippageBucket[] = [];
  for (const [strategy, days] of [...byStrategy].sort(([a], [b]) => a.localeCompare(b))) {
    const m = mergeDays(days);
    const weighted = weightedBps(m);
    rows.push({
      strategy,
      fills: m.fills,
      meanBps: formatBps(meanBps(m)!),
      weightedBps: weighted === null ? null : formatBps(weighted),
      adverse: m.adverse,
      favourable: m.favourable,
      minBps: formatBps(m.minBps!),
      maxBps: formatBps(m.maxBps!),
      cost: formatProductAmount(m.sumCost),
    });
    m.histogram.forEach((fills, i) => {
      if (fills > 0) histogram.push({ label: bucketLabel(HISTOGRAM_FIELDS[i]!), strategy, fills });
    });
  }
  return ok({ rows, buckets: HISTOGRAM_FIELDS.map(bucketLabel), histogram });
}
