// The settings of the cost guardrails (`guards.cost`, issue 15 §16): the cost sources with their daily and monthly
// budgets, the alert levels, and the Cost Explorer adapter's pacing. They live below the guard engine so the monthly
// report can read the same budgets the guard judges by.
import { z } from "zod";

/** A cost source's name, as it appears in `guards.cost.sources` and in its Redis keys. */
export const COST_SOURCE_RE = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** A budget: a decimal amount ≥ 0 in the source's currency. YAML numbers are taken as written ("1500", 99.5). */
const amount = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .pipe(z.string().regex(/^\d+(\.\d+)?$/, 'a decimal amount ≥ 0 such as "1500.00" (no exponent, no separators)'));

const sourceSchema = z
  .object({
    /** `redis`: an exporter writes the figures (cost:daily:<source>, …); `aws`: the guard reads AWS Cost Explorer. */
    kind: z.enum(["redis", "aws"]).default("redis"),
    daily_budget: amount.optional(),
    monthly_budget: amount.optional(),
    /** The currency of the figures and budgets (ISO 4217); Cost Explorer's Unit must match it. */
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, "an ISO 4217 code such as USD")
      .default("USD"),
    /** Alert when the month-end forecast reaches the monthly budget. */
    forecast: z.boolean().default(true),
    /** Overrides guards.cost.stale_after_hours for this source; null: never stale. */
    stale_after_hours: z.number().positive().nullable().optional(),
  })
  .strict()
  .refine((s) => s.daily_budget !== undefined || s.monthly_budget !== undefined, {
    message: "set daily_budget, monthly_budget or both",
  });

const awsSchema = z
  .object({
    /** Cost Explorer's endpoint lives in us-east-1 for the commercial partition. */
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, "an AWS region such as us-east-1")
      .default("us-east-1"),
    /** Another endpoint than AWS's (a VPC endpoint, or a test server). */
    endpoint: z.url().optional(),
    /** Cost Explorer is billed per request (USD 0.01): the figures are refreshed at most this often a day. */
    refreshes_per_day: z.number().int().min(1).max(24).default(4),
    /** A hard cap on requests per UTC day, across replicas and restarts (a refresh is 3 requests). */
    max_requests_per_day: z.number().int().min(3).max(300).default(12),
    /** After a failed refresh, wait this long before the next attempt. */
    retry_after_failure_minutes: z.number().int().min(1).max(1440).default(60),
    /** Per-attempt HTTP timeout; the three calls run in parallel within the guard's timeout_ms. */
    request_timeout_ms: z.number().int().min(100).max(60_000).default(3_000),
    /** Attempts per call, the first included (the SDK's standard retry mode). */
    max_attempts: z.number().int().min(1).max(5).default(2),
  })
  .strict();

/** `guards.cost`. */
export const costConfigSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    sources: z.record(z.string().regex(COST_SOURCE_RE, "a source name [a-z0-9_-]"), sourceSchema).default({}),
    /** Percent of a budget that warns, and that is critical. */
    warn_pct: z.number().gt(0).max(1000).default(80),
    critical_pct: z.number().gt(0).max(1000).default(100),
    /** A source whose figures were not written for this long is stale (exporters write at least daily). */
    stale_after_hours: z.number().positive().default(36),
    /** Complete days of the month needed before an exporter's run rate is taken as a forecast. */
    forecast_min_days: z.number().int().min(1).max(28).default(3),
    aws: awsSchema.prefault({}),
  })
  .strict()
  .refine((c) => c.critical_pct > c.warn_pct, {
    message: "critical_pct must be greater than warn_pct",
    path: ["critical_pct"],
  })
  .refine((c) => Object.values(c.sources).filter((s) => s.kind === "aws").length <= 1, {
    message: "at most one source of kind aws (one Cost Explorer account)",
    path: ["sources"],
  });

export type CostConfig = z.output<typeof costConfigSchema>;
export type CostSource = CostConfig["sources"][string];
export type CostExplorerSettings = CostConfig["aws"];
