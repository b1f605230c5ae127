// What the tradeguard dashboard shows, row by row. Every expression queries catalogued metrics only
// (src/metrics-catalog.ts; test/monitoring/generated.test.ts parses each one), selected by the dashboard's `job` and
// `instance` variables.

import type { MonitoringSettings } from "./config.js";
import { WATCHMAN_SOPS } from "./rules-watchman.js";
import type { Mapping, PanelSpec, RowSpec } from "./types.js";

/** A selector of `metric` on the dashboard's job and instances, with extra matchers. */
const sel = (metric: string, ...matchers: string[]) =>
  `${metric}{${['job="$job"', 'instance=~"$instance"', ...matchers].join(", ")}}`;
const rate = (metric: string, by: string) => `sum by (${by}) (rate(${sel(metric)}[$__rate_interval]))`;
const quantile = (q: number, metric: string, by: string[] = []) =>
  `histogram_quantile(${q}, sum by (${[...by, "le"].join(", ")}) (rate(${sel(`${metric}_bucket`)}[$__rate_interval])))`;

const MODE: Record<number, Mapping> = {
  0: { text: "ACTIVE", color: "green" },
  1: { text: "REDUCE-ONLY", color: "orange" },
  2: { text: "HALT", color: "red" },
};
/** 0 active, 1 reduce_only, 2 halt. */
const modeExpr = `max(${sel("tradeguard_mode", 'mode="reduce_only"')}) + 2 * max(${sel("tradeguard_mode", 'mode="halt"')})`;

const GUARD_STATE: Record<number, Mapping> = {
  0: { text: "ok", color: "green" },
  1: { text: "warn", color: "yellow" },
  2: { text: "critical", color: "red" },
  3: { text: "stale", color: "purple" },
  4: { text: "error", color: "dark-red" },
};

const stat = (title: string, description: string, expr: string, more: Partial<PanelSpec> = {}): PanelSpec => ({
  type: "stat",
  title,
  description,
  w: 4,
  h: 4,
  targets: [{ expr }],
  ...more,
});
const series = (
  title: string,
  description: string,
  targets: PanelSpec["targets"],
  more: Partial<PanelSpec> = {},
): PanelSpec => ({ type: "timeseries", title, description, w: 12, h: 8, targets, ...more });

const watchman = (s: MonitoringSettings): RowSpec => ({
  title: "Trading mode and the watchman",
  panels: [
    stat("Trading mode", "mode as the gates read it (a garbage mode key reads as halt).", modeExpr, {
      w: 8,
      mappings: MODE,
      sop: WATCHMAN_SOPS.halt,
    }),
    stat(
      "Time in this mode",
      "Since mode:meta's `since` (when the mode was last set).",
      `time() - max(${sel("tradeguard_mode_since_timestamp_seconds")})`,
      { unit: "s" },
    ),
    stat(
      "Heartbeat age",
      `heartbeat:bot as the gates read it; past ${s.heartbeat_max_age_seconds} s every gate is reduce-only (dead-man's switch).`,
      `max(${sel("tradeguard_heartbeat_age_seconds")})`,
      {
        unit: "s",
        thresholds: [
          { color: "green", value: null },
          { color: "red", value: s.heartbeat_max_age_seconds },
        ],
        sop: WATCHMAN_SOPS.heartbeat,
      },
    ),
    stat("Redis", "Whether every bot could read Redis at its last scrape.", `min(${sel("tradeguard_redis_up")})`, {
      mappings: { 0: { text: "DOWN", color: "red" }, 1: { text: "UP", color: "green" } },
      sop: WATCHMAN_SOPS.redis,
    }),
    stat("Bots up", "Bot targets answering Prometheus's scrape.", 'sum(up{job="$job"})', {
      thresholds: [
        { color: "red", value: null },
        { color: "green", value: 1 },
      ],
      sop: WATCHMAN_SOPS.down,
    }),
    {
      type: "state-timeline",
      title: "Trading mode over time",
      description: "active / reduce-only / halt.",
      w: 24,
      h: 4,
      targets: [{ expr: modeExpr, legend: "mode" }],
      mappings: MODE,
    },
  ],
});

const PANIC: Record<number, Mapping> = {
  0: { text: "none recorded", color: "text" },
  1: { text: "HALT-VERIFIED", color: "green" },
  2: { text: "HALT-PARTIAL", color: "red" },
};

const panics: RowSpec = {
  title: "Panics",
  panels: [
    stat(
      "Last panic",
      "Outcome of the last finished panic (panic:last), whoever ran it.",
      `max(${sel("tradeguard_panic_last_outcome", 'outcome="HALT-VERIFIED"')}) + 2 * max(${sel("tradeguard_panic_last_outcome", 'outcome="HALT-PARTIAL"')})`,
      { w: 6, mappings: PANIC, sop: WATCHMAN_SOPS.partial },
    ),
    stat(
      "Last panic finished",
      "When the last finished panic ended.",
      `max(${sel("tradeguard_panic_last_finished_timestamp_seconds")}) * 1000`,
      { w: 6, unit: "dateTimeAsIso" },
    ),
    stat("Panic running", "A panic executing now (panic:active).", `max(${sel("tradeguard_panic_running")})`, {
      mappings: { 0: { text: "no", color: "green" }, 1: { text: "RUNNING", color: "red" } },
    }),
    series(
      "Panics by outcome (per hour)",
      "Panics this bot ran or resumed.",
      [{ expr: `sum by (outcome) (increase(${sel("tradeguard_panics_total")}[1h]))`, legend: "{{outcome}}" }],
      { w: 8, h: 4 },
    ),
    series(
      "Panic duration",
      "From halt requested to every broker verified (or the deadline).",
      [
        { expr: quantile(0.5, "tradeguard_panic_duration_seconds"), legend: "p50" },
        { expr: quantile(0.99, "tradeguard_panic_duration_seconds"), legend: "p99" },
      ],
      { unit: "s" },
    ),
    series(
      "Broker calls",
      "Broker API calls by broker and outcome.",
      [{ expr: rate("tradeguard_broker_calls_total", "broker, outcome"), legend: "{{broker}} {{outcome}}" }],
      { unit: "reqps" },
    ),
  ],
};

const guards: RowSpec = {
  title: "Guards",
  panels: [
    {
      type: "state-timeline",
      title: "Guard state",
      description: "Each guard's state at its last run: ok, warn, critical, stale, error.",
      w: 24,
      h: 8,
      targets: [{ expr: `max by (guard) (${sel("tradeguard_guard_state")})`, legend: "{{guard}}" }],
      mappings: GUARD_STATE,
      sop: "sop-guard-error",
    },
    series("Guard runs", "Runs per second by guard and state.", [
      { expr: rate("tradeguard_guard_runs_total", "guard, state"), legend: "{{guard}} {{state}}" },
    ]),
    series(
      "Guard duration (p99)",
      "Probe + evaluate, per guard.",
      [{ expr: quantile(0.99, "tradeguard_guard_duration_seconds", ["guard"]), legend: "{{guard}}" }],
      { unit: "s" },
    ),
  ],
};

const alerts: RowSpec = {
  title: "Alerts",
  panels: [
    series(
      "Open guard alerts",
      "alerts:open by severity (what /status lists).",
      [{ expr: `max by (severity) (${sel("tradeguard_alerts_open")})`, legend: "{{severity}}" }],
      { w: 8 },
    ),
    series(
      "Prometheus alerts firing",
      "tradeguard's Prometheus rules (monitoring/tradeguard-rules.yml) that fire now.",
      [
        {
          expr: 'sum by (alertname, severity) (ALERTS{alertstate="firing", alertname=~"Tradeguard.*"})',
          legend: "{{alertname}} ({{severity}})",
        },
      ],
      { w: 16 },
    ),
  ],
};

const quotas: RowSpec = {
  title: "API quotas",
  panels: [
    series(
      "Quota used (15 minutes)",
      "Share of each exchange's 15-minute API quota (warn 80%, critical 90%).",
      [{ expr: `max by (exchange) (${sel("tradeguard_quota_usage_ratio")})`, legend: "{{exchange}}" }],
      {
        unit: "percentunit",
        min: 0,
        thresholds: [
          { color: "green", value: null },
          { color: "orange", value: 0.8 },
          { color: "red", value: 0.9 },
        ],
        sop: "sop-api-quota",
      },
    ),
    series(
      "HTTP 429s (15 minutes)",
      "Rate-limit refusals from each exchange.",
      [{ expr: `max by (exchange) (${sel("tradeguard_quota_throttled_15m")})`, legend: "{{exchange}}" }],
      { w: 6 },
    ),
    series(
      "WebSocket reconnects (last hour)",
      "More than 3 an hour: data may have gaps.",
      [{ expr: `max by (exchange) (${sel("tradeguard_ws_reconnects_last_hour")})`, legend: "{{exchange}}" }],
      { w: 6 },
    ),
  ],
};

const timeSync: RowSpec = {
  title: "Time sync",
  panels: [
    series(
      "Clock offset",
      "Reference time minus the bot host's clock (positive: host behind); warn 150 ms, critical 500 ms.",
      [{ expr: sel("tradeguard_clock_offset_seconds"), legend: "{{instance}} {{source}}" }],
      {
        w: 16,
        unit: "s",
        thresholds: [
          { color: "green", value: null },
          { color: "orange", value: 0.15 },
          { color: "red", value: 0.5 },
        ],
        sop: "sop-time-sync",
      },
    ),
    series(
      "NTP servers",
      "Configured, and answering this tick.",
      [
        { expr: `min(${sel("tradeguard_ntp_servers_answering")})`, legend: "answering" },
        { expr: `max(${sel("tradeguard_ntp_servers_configured")})`, legend: "configured" },
      ],
      { w: 8 },
    ),
  ],
};

const errorBudgets: RowSpec = {
  title: "Error budgets",
  panels: [
    series(
      "Budget left",
      "Share of each SLO's error budget left over its period (1 untouched, 0 or less spent; src/jobs/error-budget.ts).",
      [{ expr: `min by (slo) (${sel("tradeguard_error_budget_remaining_ratio")})`, legend: "{{slo}}" }],
      {
        w: 8,
        unit: "percentunit",
        thresholds: [
          { color: "red", value: null },
          { color: "orange", value: 0 },
          { color: "green", value: 0.25 },
        ],
      },
    ),
    series(
      "Burn rate",
      "Per SLO and window; pages at 14.4x over 1 h and 5 min, and at 6x over 6 h and 30 min (Google SRE workbook).",
      [{ expr: `max by (slo, window) (${sel("tradeguard_error_budget_burn_rate")})`, legend: "{{slo}} {{window}}" }],
      { w: 10 },
    ),
    stat(
      "Spent-budget policies in force",
      "SLOs whose spent-budget policy (reduce-only, or one more /clear approver) holds now.",
      `sum(max by (slo) (${sel("tradeguard_error_budget_policy_enforced")}))`,
      {
        w: 6,
        h: 8,
        thresholds: [
          { color: "green", value: null },
          { color: "red", value: 1 },
        ],
      },
    ),
  ],
};

const process: RowSpec = {
  title: "The bot process",
  panels: [
    series(
      "Event loop lag (p99)",
      "A busy or blocked event loop delays guards and Slack replies.",
      [{ expr: sel("tradeguard_nodejs_eventloop_lag_p99_seconds"), legend: "{{instance}}" }],
      { w: 6, unit: "s" },
    ),
    series(
      "Resident memory",
      "RSS of each bot.",
      [{ expr: sel("tradeguard_process_resident_memory_bytes"), legend: "{{instance}}" }],
      { w: 6, unit: "bytes" },
    ),
    series(
      "Errors",
      "By code; `unexpected` are bugs (each has a correlation id in the log).",
      [{ expr: rate("tradeguard_errors_total", "code"), legend: "{{code}}" }],
      { w: 6 },
    ),
    series(
      "Slack deliveries",
      "Commands, actions, duplicates dropped, refusals.",
      [{ expr: rate("tradeguard_slack_requests_total", "kind, outcome"), legend: "{{kind}} {{outcome}}" }],
      { w: 6 },
    ),
  ],
};

/** The rows, top to bottom. */
export function dashboardRows(s: MonitoringSettings): RowSpec[] {
  return [watchman(s), panics, guards, alerts, quotas, timeSync, errorBudgets, process];
}
