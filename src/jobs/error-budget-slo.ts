// The error_budget guard's settings and its view of one SLO: the SLOs the desk declares (a target over a period, and
// what happens when the budget is spent), the multiwindow burn-rate rules (Google SRE workbook, table 5-8: page at
// 14.4× over 1 h AND 5 min, page at 6× over 6 h AND 30 min, ticket at 1× over 3 days AND 6 h), and the pure
// assessment of one SLO from its ring hashes. Shared by the guard and by what operations read (error-budget-source.ts).
import { z } from "zod";
import {
  budgetEvents,
  budgetLeftPct,
  burnRate,
  burnsFaster,
  type Counts,
  leftAbove,
  MAX_WINDOW_MINUTES,
  parseBuckets,
  parseWindow,
  periodCounts,
  showBurn,
  showLeft,
  showWindow,
  windowCounts,
} from "./error-budget-math.js";
import { ReadFailure } from "./guard.js";

export const SOP_ERROR_BUDGET = "sop-error-budget";

const windowSpec = z.string().transform((s, ctx) => {
  const m = parseWindow(s);
  if (m === null || m > MAX_WINDOW_MINUTES) {
    ctx.addIssue({ code: "custom", message: `a window from 1m to 3d ("5m", "1h", "3d"), got ${JSON.stringify(s)}` });
    return z.NEVER;
  }
  return m;
});

const strategyName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "a strategy name (letters, digits, _ . : -)");

export const POLICIES = ["none", "reduce_only", "extra_approver"] as const;
export type BudgetPolicy = (typeof POLICIES)[number];

const sloSchema = z
  .object({
    /** Names the Redis keys `slo:<name>:…`: lowercase letters, digits, _ and -. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "lowercase letters, digits, _ and - (e.g. order_ack)"),
    description: z.string().max(200).default(""),
    /** Percent of events that must be good over the period, e.g. 99.5. */
    target: z.number().gt(0).lt(100),
    period_days: z.number().int().min(1).max(31).default(30),
    /** When the budget is spent: the alert only, the strategies reduce-only, or one more approver for /clear. */
    policy: z.enum(POLICIES).default("none"),
    /** The strategies a `reduce_only` policy applies to (`strategy:reduce_only` fields). */
    strategies: z.array(strategyName).default([]),
  })
  .strict()
  .refine((s) => s.policy !== "reduce_only" || s.strategies.length > 0, {
    message: "policy reduce_only needs the strategies it applies to",
    path: ["strategies"],
  });
export type SloConfig = z.infer<typeof sloSchema>;

const ruleSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9_-]{1,32}$/),
    /** critical pages, warn opens a ticket. */
    severity: z.enum(["warn", "critical"]),
    long: windowSpec,
    short: windowSpec,
    burn_rate: z.number().positive(),
  })
  .strict()
  .refine((r) => r.short < r.long, { message: "short must be shorter than long", path: ["short"] });
export type BurnRule = z.infer<typeof ruleSchema>;

/** The workbook's starting point (table 5-8). */
export const DEFAULT_RULES = [
  { name: "page_fast", severity: "critical", long: "1h", short: "5m", burn_rate: 14.4 },
  { name: "page_slow", severity: "critical", long: "6h", short: "30m", burn_rate: 6 },
  { name: "ticket", severity: "warn", long: "3d", short: "6h", burn_rate: 1 },
] as const;

export const errorBudgetConfig = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    slos: z
      .array(sloSchema)
      .default([])
      .refine((l) => new Set(l.map((s) => s.name)).size === l.length, "each SLO name once"),
    rules: z
      .array(ruleSchema)
      .min(1)
      .prefault([...DEFAULT_RULES]),
    /** A window with fewer events than this never fires (a burn rate over a handful of events is noise). */
    min_events: z.number().int().min(1).default(1),
    /** A spent budget's policy is lifted once more than this share of the budget is back (hysteresis). */
    lift_above_pct: z.number().min(0).lt(100).default(5),
  })
  .strict();
export type ErrorBudgetConfig = z.infer<typeof errorBudgetConfig>;

/** One rule's verdict for one SLO. */
export interface RuleVerdict {
  rule: BurnRule;
  long: Counts;
  short: Counts;
  firing: boolean;
}

/** What the guard knows of one SLO this tick. */
export interface SloAssessment {
  slo: SloConfig;
  /** A key could not be read at all: nothing is judged. */
  unreadable: string[];
  /** Fields that are not the writer's format (left out of the sums). */
  invalid: string[];
  period: Counts;
  rules: RuleVerdict[];
  /** "spent": left ≤ 0; "recovered": more than lift_above_pct left; "between": neither; "unknown": no events. */
  budget: "spent" | "between" | "recovered" | "unknown";
}

/** The hashes of one SLO as the guard's reads deliver them (read name → value). */
export type SloValues = Record<string, Record<string, string> | ReadFailure | undefined>;

/** Read names of one SLO's ring hashes. */
export const readName = (slo: string, ring: "m" | "d", i: number) => `${slo}|${ring}${i}`;

/** Assesses one SLO at `nowMs`. Pure. */
export function assessSlo(
  values: SloValues,
  ringKeys: { minutes: string[]; days: string[] },
  slo: SloConfig,
  c: ErrorBudgetConfig,
  nowMs: number,
): SloAssessment {
  const unreadable: string[] = [];
  const ring = (names: string[], r: "m" | "d") =>
    names.flatMap((key, i) => {
      const v = values[readName(slo.name, r, i)];
      if (v instanceof ReadFailure) {
        unreadable.push(`${key}: ${v.message}`);
        return [];
      }
      return [{ key, fields: v ?? {} }];
    });
  const minutes = parseBuckets(ring(ringKeys.minutes, "m"));
  const days = parseBuckets(ring(ringKeys.days, "d"));
  const period = periodCounts(days.buckets, nowMs, slo.period_days);
  const rules = c.rules.map((rule): RuleVerdict => {
    const long = windowCounts(minutes.buckets, nowMs, rule.long);
    const short = windowCounts(minutes.buckets, nowMs, rule.short);
    const enough = long.total >= BigInt(c.min_events) && short.total >= BigInt(c.min_events);
    const firing =
      enough && burnsFaster(long, slo.target, rule.burn_rate) && burnsFaster(short, slo.target, rule.burn_rate);
    return { rule, long, short, firing };
  });
  let budget: SloAssessment["budget"] = "unknown";
  if (unreadable.length === 0 && period.total > 0n)
    budget = !leftAbove(period, slo.target, 0)
      ? "spent"
      : leftAbove(period, slo.target, c.lift_above_pct)
        ? "recovered"
        : "between";
  return { slo, unreadable, invalid: [...minutes.invalid, ...days.invalid], period, rules, budget };
}

/** "page_fast 1h 15.20× and 5m 20.00× > 14.4×: burning" — one rule's line in a finding. */
export function ruleLine(v: RuleVerdict, targetPct: number): string {
  const r = v.rule;
  const burns = `${showWindow(r.long)} ${showBurn(burnRate(v.long, targetPct))} and ${showWindow(r.short)} ${showBurn(burnRate(v.short, targetPct))}`;
  return `${r.name} (${r.severity === "critical" ? "page" : "ticket"}) ${burns} ${v.firing ? `> ${r.burn_rate}×: burning` : `(fires when both > ${r.burn_rate}×)`}`;
}

/** "budget left 62.3% of 30 d (12 bad of 10,000 events; budget 50)" */
export function budgetLine(a: SloAssessment): string {
  const p = a.period;
  if (p.total === 0n) return `budget left unknown: no events in ${a.slo.period_days} d`;
  const allowed = budgetEvents(p, a.slo.target);
  return `budget left ${showLeft(budgetLeftPct(p, a.slo.target))} of ${a.slo.period_days} d (${(p.total - p.good).toLocaleString("en-US")} bad of ${p.total.toLocaleString("en-US")} events; budget ${allowed.isInteger() ? allowed.toFixed(0) : allowed.toFixed(1)})`;
}
