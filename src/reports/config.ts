// The `reports:` section of the YAML: when the weekly and monthly reports are scheduled and how they are drawn. The
// schema lives with the module that uses it; the composition root passes it to loadConfig (REPORT_SECTIONS) and the
// parsed value is read back with reportsOf, defaults included when the section is absent.
import cron from "node-cron";
import { z } from "zod";
import type { Config } from "../config.js";

const cronExpr = z.string().refine((s) => cron.validate(s), "a cron expression (node-cron, America/New_York)");

/** YAML `reports:`. Schedules are node-cron expressions in America/New_York. */
export const reportsSectionSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** The weekly health report: Monday 07:00 New York, covering the seven days that ended at Monday 00:00. */
    weekly_schedule: cronExpr.default("0 7 * * 1"),
    /** The monthly cost and strategy-risk report: the 1st at 07:00 New York, covering the month that just ended. */
    monthly_schedule: cronExpr.default("0 7 1 * *"),
    /**
     * How far before a period the audit log is read to pair what happened in it with what started earlier (a halt
     * that began before the week and was resumed in it). Days.
     */
    lookback_days: z.number().int().min(0).max(366).default(31),
    /** Chart size in CSS pixels and the pixel ratio of the PNG (2: sharp on high-density screens). */
    chart_width: z.number().int().min(200).max(4000).default(900),
    chart_height: z.number().int().min(120).max(3000).default(420),
    chart_scale: z.number().int().min(1).max(4).default(2),
  })
  .strict()
  .default({
    enabled: true,
    weekly_schedule: "0 7 * * 1",
    monthly_schedule: "0 7 1 * *",
    lookback_days: 31,
    chart_width: 900,
    chart_height: 420,
    chart_scale: 2,
  });

export type ReportsSettings = z.infer<typeof reportsSectionSchema>;

/** The config sections this module owns, for the composition root to pass to loadConfig. */
export const REPORT_SECTIONS = [{ key: "reports", schema: reportsSectionSchema }] as const;

/** The parsed `reports` section (its defaults when the config was loaded without it). */
export function reportsOf(config: Config): ReportsSettings {
  const parsed = (config as Config & { sections?: Record<string, unknown> }).sections?.reports;
  return (parsed as ReportsSettings | undefined) ?? reportsSectionSchema.parse(undefined);
}
