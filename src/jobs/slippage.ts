// Backtest–live slippage reconciliation (`slippage`, every minute; issue 15 §19). Trading processes add `strategy`
// and `expected_price` (what the backtest/model assumed) to the fills they append to `ledger:fills`; the probe reads
// the entries after its cursor (at most `max_entries_per_tick`), aggregates each fill's slippage in basis points per
// New York trade date and strategy (src/recon/ledger-slippage.ts; keys in docs/redis-keys.md), and the guard judges
// each strategy over the last `window_days` trade dates: a finding when the mean slippage (adverse positive,
// favourable fills offset adverse ones) is above the strategy's `max_mean_adverse_bps` (5) over at least `min_fills`
// (30) fills. Decimal arithmetic throughout (BigInt). Entries it cannot use are named in `slippage:skipped` and
// alerted, never a crash. The composition root binds the probe's Redis (withSlippage).
import type { Redis } from "ioredis";
import { z } from "zod";
import { addDays, nyDate } from "../market/calendar.js";
import {
  BPS_DIGITS,
  formatBps,
  formatProductAmount,
  meanBps,
  mergeDays,
  parseScaled,
  type SlippageDay,
  STRATEGY_RE,
  weightedBps,
} from "../recon/ledger-slippage.js";
import type { Keys } from "../state/keys.js";
import { defineGuard, type Finding, type Guard } from "./guard.js";
import { runSlippageTick, type SlippageTick } from "./slippage-store.js";

export const SOP_SLIPPAGE = "sop-slippage";
export const SOP_SLIPPAGE_DATA = "sop-slippage-data";
const HINT = "set guards.slippage (e.g. enabled: true) once trading processes write strategy and expected_price";
const SKIPPED_CAP = 200;

const bps = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .pipe(z.string().regex(/^\d+(\.\d{1,8})?$/, 'basis points ≥ 0 with up to 8 decimals, e.g. "5"'));
const strategySchema = z
  .object({
    min_fills: z.number().int().min(1).optional(),
    max_mean_adverse_bps: bps.optional(),
    critical_mean_adverse_bps: bps.optional(),
  })
  .strict();

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    /** Trade dates judged, today (New York) included. */
    window_days: z.number().int().min(1).max(31).default(7),
    /** Fewer fills than this in the window say nothing. */
    min_fills: z.number().int().min(1).default(30),
    /** A mean above this (adverse) is a warning; above critical_mean_adverse_bps (optional) critical. */
    max_mean_adverse_bps: bps.default("5"),
    critical_mean_adverse_bps: bps.optional(),
    /** Per-strategy overrides of the three thresholds. */
    strategies: z.record(z.string().regex(STRATEGY_RE, "a strategy name"), strategySchema).default({}),
    max_entries_per_tick: z.number().int().min(10).max(50_000).default(2_000),
    /** A first run (no cursor) starts this many days back, so the month's report has its data. */
    backfill_days: z.number().int().min(0).max(400).default(35),
    retention_days: z.number().int().min(7).max(3_660).default(120),
    /** Skipped entries alert while one is younger than this. */
    skipped_alert_hours: z.number().positive().default(24),
  })
  .strict()
  .superRefine((c, ctx) => {
    const check = (warn: string | undefined, crit: string | undefined, path: (string | number)[]) => {
      if (warn !== undefined && crit !== undefined && !(Number(crit) > Number(warn)))
        ctx.addIssue({ code: "custom", path, message: "critical_mean_adverse_bps must be above max_mean_adverse_bps" });
    };
    check(c.max_mean_adverse_bps, c.critical_mean_adverse_bps, ["critical_mean_adverse_bps"]);
    for (const [name, s] of Object.entries(c.strategies))
      check(
        s.max_mean_adverse_bps ?? c.max_mean_adverse_bps,
        s.critical_mean_adverse_bps ?? c.critical_mean_adverse_bps,
        ["strategies", name, "critical_mean_adverse_bps"],
      );
  });

export type SlippageConfig = z.output<typeof configSchema>;
export type SlippageProbe =
  | ({ at: number } & SlippageTick)
  | { at: number; unbound: true }
  | { at: number; error: string };

/** The trade dates a tick judges: today (New York) and the window_days − 1 before it, oldest first. */
export function windowDates(now: Date, days: number): string[] {
  const today = nyDate(now);
  return Array.from({ length: days }, (_, i) => addDays(today, i - days + 1));
}

/** A strategy's thresholds (its overrides over the defaults), in bps at scale 10^8. */
export function thresholdsOf(c: SlippageConfig, strategy: string) {
  const s = c.strategies[strategy] ?? {};
  const crit = s.critical_mean_adverse_bps ?? c.critical_mean_adverse_bps;
  return {
    minFills: s.min_fills ?? c.min_fills,
    warn: parseScaled(s.max_mean_adverse_bps ?? c.max_mean_adverse_bps, BPS_DIGITS) as bigint,
    critical: crit === undefined ? null : (parseScaled(crit, BPS_DIGITS) as bigint),
  };
}

/** Each strategy's aggregate over the window (the dates of `now`'s window only). */
export function windowAggregates(p: SlippageTick, now: Date, c: SlippageConfig): Map<string, SlippageDay> {
  const per = new Map<string, SlippageDay[]>();
  for (const date of windowDates(now, c.window_days))
    for (const [strategy, agg] of Object.entries(p.days[date] ?? {}))
      per.set(strategy, [...(per.get(strategy) ?? []), agg]);
  return new Map([...per].map(([s, days]) => [s, mergeDays(days)]));
}

const b = (v: bigint) => `${formatBps(v)} bps`;
/** A value shown with as many decimals (2 to 8) as it takes to tell it from the threshold it crossed. */
function beside(v: bigint, threshold: bigint): string {
  let d = 2;
  while (d < BPS_DIGITS && formatBps(v, d) === formatBps(threshold, d)) d++;
  return `${formatBps(v, d)} bps`;
}

/** The findings of one tick, pure. */
export function judgeSlippage(p: SlippageProbe | undefined, now: Date, c: SlippageConfig): Finding[] {
  const base = { guard: "slippage", sop: SOP_SLIPPAGE_DATA, severity: "warn" as const };
  if (!p || "unbound" in p)
    return [
      {
        ...base,
        key: "slippage:unbound",
        title: "Slippage: not checked",
        detail:
          "No Redis is wired into this guard's probe in this process (withSlippage), so ledger:fills is not read.",
      },
    ];
  if ("error" in p)
    return [{ ...base, key: "slippage:error", title: "Slippage: the ledger could not be read", detail: p.error }];
  const out: Finding[] = [];
  if (p.invalid.length)
    out.push({
      ...base,
      key: "slippage:data_invalid",
      title: "Slippage: data invalid",
      detail: `${p.invalid.join("; ")}. The strategies and dates concerned are not judged until this is fixed.`,
    });
  const since = now.getTime() - c.skipped_alert_hours * 3_600_000;
  const recent = p.skipped.filter((s) => Date.parse(s.at) >= since);
  if (recent.length)
    out.push({
      ...base,
      key: "slippage:skipped",
      title: `Slippage: ${recent.length} ledger ${recent.length === 1 ? "entry" : "entries"} skipped`,
      detail: `Entries of ledger:fills with strategy/expected_price that could not be used (last ${c.skipped_alert_hours} h; all in slippage:skipped): ${recent
        .slice(0, 5)
        .map((s) => `${s.entry}: ${s.reason}`)
        .join("; ")}${recent.length > 5 ? `; … ${recent.length - 5} more` : ""}.`,
      value: String(recent.length),
    });
  const dates = windowDates(now, c.window_days);
  for (const [strategy, agg] of [...windowAggregates(p, now, c)].sort(([a], [z]) => (a < z ? -1 : 1))) {
    const t = thresholdsOf(c, strategy);
    const mean = meanBps(agg);
    if (mean === null || agg.fills < t.minFills) continue;
    // Exact: mean > threshold ⇔ Σ bps > threshold × fills.
    const fills = BigInt(agg.fills);
    if (!(agg.sumBps > t.warn * fills)) continue;
    const critical = t.critical !== null && agg.sumBps > t.critical * fills;
    const weighted = weightedBps(agg);
    const limit = critical ? t.critical! : t.warn;
    out.push({
      guard: "slippage",
      sop: SOP_SLIPPAGE,
      key: `slippage:${strategy}:mean_adverse`,
      severity: critical ? "critical" : "warn",
      title: `Slippage: ${strategy} mean ${beside(mean, limit)} adverse over ${agg.fills} fills`,
      detail:
        `${strategy} filled worse than its expected prices by ${beside(mean, limit)} on average over ${agg.fills} fills ` +
        `(${dates[0]} to ${dates[dates.length - 1]}, New York trade dates): ${agg.adverse} adverse, ${agg.favourable} ` +
        `favourable; range ${b(agg.minBps!)} to ${b(agg.maxBps!)}` +
        (weighted === null ? "" : `; notional-weighted ${b(weighted)}, cost ${formatProductAmount(agg.sumCost)}`) +
        `. The backtest assumes better execution than live trading gets.`,
      value: `${beside(mean, limit)} (${agg.fills} fills)`,
      threshold: `${b(limit)} (≥ ${t.minFills} fills)`,
    });
  }
  return out;
}

/** The guard with its probe bound (`null`: the registry's entry, which only declares the guard's settings). */
export function createSlippageGuard(io: { redis: Redis; keyOf: (logical: string) => string } | null) {
  return defineGuard<SlippageConfig, Record<string, never>, SlippageProbe>({
    name: "slippage",
    schedule: "0 * * * * *",
    config: configSchema,
    requires: { hint: HINT },
    // The ledger is a stream, which declared reads do not cover: the probe reads it from its cursor.
    reads: () => ({}),
    async probe(c, ctx) {
      const at = ctx.now.getTime();
      if (!io) return { at, unbound: true };
      try {
        const tick = await runSlippageTick(io.redis, io.keyOf, {
          now: ctx.now,
          windowDates: windowDates(ctx.now, c.window_days),
          maxEntries: c.max_entries_per_tick,
          backfillDays: c.backfill_days,
          retentionDays: c.retention_days,
          skippedCap: SKIPPED_CAP,
        });
        return { at, ...tick };
      } catch (err) {
        return { at, error: (err as Error)?.message ?? String(err) };
      }
    },
    evaluate: (snapshot, now, c) => judgeSlippage(snapshot.probe, now, c),
    metrics: [
      {
        name: "tradeguard_slippage_mean_bps",
        help: "Mean slippage over the window (bps, adverse > 0)",
        labelNames: ["strategy"],
      },
      { name: "tradeguard_slippage_window_fills", help: "Fills in the slippage window", labelNames: ["strategy"] },
      { name: "tradeguard_slippage_entries_read", help: "ledger:fills entries the last slippage tick read" },
    ],
    measure(snapshot, c) {
      const p = snapshot.probe;
      if (!p || "unbound" in p || "error" in p) return [];
      const out: { name: string; labels?: Record<string, string>; value: number }[] = [
        { name: "tradeguard_slippage_entries_read", value: p.read },
      ];
      for (const [strategy, agg] of windowAggregates(p, new Date(p.at), c)) {
        const mean = meanBps(agg);
        if (mean === null) continue;
        out.push({ name: "tradeguard_slippage_mean_bps", labels: { strategy }, value: Number(formatBps(mean, 4)) });
        out.push({ name: "tradeguard_slippage_window_fills", labels: { strategy }, value: agg.fills });
      }
      return out;
    },
  });
}

/** The registry's slippage guard: declares the guard (name, schedule, settings); withSlippage binds its probe. */
export const slippageGuard = createSlippageGuard(null);

/** `guards` with the slippage guard bound to this process's Redis. */
// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
export function withSlippage(guards: Guard<any, any, any>[], deps: { redis: Redis; keys: Keys }) {
  const bound = createSlippageGuard({ redis: deps.redis, keyOf: deps.keys.raw });
  return guards.map((g) => (g.name === bound.name ? bound : g));
}
