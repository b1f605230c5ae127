// The `monitoring:` section of the YAML: what the generated Prometheus rules and Grafana dashboard (src/monitoring/)
// need to know about the desk — the Prometheus job that scrapes the bot and the watchman's thresholds. Declared to
// loadConfig by the composition root (a SectionSpec, like src/s3/config.ts) and read back with monitoringOf.
import { z } from "zod";
import type { Config } from "../config.js";

/**
 * The runbook base of the checked-in files (monitoring/): the example `runbook_url` of README.md. A desk renders its
 * own with `tradeguard monitoring rules --out FILE` (and `grafana push`), which use the configured `runbook_url`.
 */
export const DEFAULT_RUNBOOK_URL = "https://git.example.com/desk/tradeguard/blob/main/RUNBOOK.md";

const minutes = (max: number) => z.number().int().min(1).max(max);

export const monitoringSchema = z
  .object({
    /** The Prometheus `job` label of the bot's scrape target(s): the rules and panels select on it. */
    job: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "letters, digits and _ . : - (1-64)")
      .default("tradeguard"),
    /** A bot target not answering (`up == 0`), or no target at all (`absent(up)`), for this long pages. */
    target_down_minutes: minutes(60).default(1),
    /** heartbeat:bot older than this is the gates' dead-man's switch (their heartbeatMaxAgeMs, default 15 s). */
    heartbeat_max_age_seconds: z.number().int().min(1).max(3600).default(15),
    /** heartbeat:bot this far in the future is invalid for the gates (their heartbeatMaxSkewMs, default 5 s). */
    heartbeat_max_skew_seconds: z.number().int().min(0).max(3600).default(5),
    /** How long the heartbeat must stay stale before the alert fires (absorbs one late scrape). */
    heartbeat_for_seconds: z.number().int().min(0).max(3600).default(30),
    /** Trading halted for longer than this warns: someone must decide to resume or to keep it halted. */
    halt_minutes: minutes(24 * 60).default(30),
    /** The bot unable to read Redis for this long pages. */
    redis_down_minutes: minutes(60).default(1),
    /** A guard in state error (4) for this long warns. */
    guard_error_minutes: minutes(24 * 60).default(15),
    grafana: z
      .object({
        /** The dashboard's uid in Grafana (its URL /d/<uid>; at most 40 characters). */
        dashboard_uid: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,40}$/, "letters, digits, _ and - (1-40)")
          .default("tradeguard"),
        /** The folder `tradeguard grafana push` saves into (default: Grafana's root folder). */
        folder_uid: z
          .string()
          .regex(/^[A-Za-z0-9_-]{1,40}$/, "letters, digits, _ and - (1-40)")
          .optional(),
      })
      .strict()
      .default({ dashboard_uid: "tradeguard" }),
  })
  .strict();

export type MonitoringSettings = z.infer<typeof monitoringSchema>;

/** The defaults (what the checked-in files are rendered with). */
export const DEFAULT_MONITORING: MonitoringSettings = monitoringSchema.parse({});

/** The config section this module owns, for the composition root to pass to loadConfig. */
export const MONITORING_SECTION = { key: "monitoring", schema: monitoringSchema.optional() } as const;

/** The parsed `monitoring` section of a config, with defaults when the desk set none. */
export function monitoringOf(config: Config): MonitoringSettings {
  const s = (config as Config & { sections?: Record<string, unknown> }).sections?.monitoring;
  return (s as MonitoringSettings | undefined) ?? DEFAULT_MONITORING;
}

/** What a rendering of the rules and the dashboard is made from: the settings and the runbook base. */
export interface RenderOptions {
  settings: MonitoringSettings;
  /** The absolute URL of RUNBOOK.md; SOP links are `<runbookUrl>#<anchor>`. */
  runbookUrl: string;
}

/** The render options of a config: its monitoring settings and `runbook_url` (or the documented default). */
export function renderOptionsOf(config: Config): RenderOptions & { defaultRunbook: boolean } {
  return {
    settings: monitoringOf(config),
    runbookUrl: config.runbookUrl ?? DEFAULT_RUNBOOK_URL,
    defaultRunbook: !config.runbookUrl,
  };
}

/** The checked-in rendering's options. */
export const CHECKED_IN: RenderOptions = { settings: DEFAULT_MONITORING, runbookUrl: DEFAULT_RUNBOOK_URL };
