// The one catalog of every metric tradeguard's /metrics exports: name, type, help, labels, and who sets it. The
// registry (src/metrics.ts) is built from it, the guards' gauges (Guard.metrics) must match it, and the Prometheus
// rules and the Grafana dashboard (src/monitoring/, generated into monitoring/) may query nothing else — the tests in
// test/monitoring/ check all three. A metric that is not here cannot be registered.

export type MetricType = "counter" | "gauge" | "histogram";

/**
 * Who sets a metric: `bot` (operations and the Slack transport, as things happen), `scrape` (read from Redis on
 * every scrape of /metrics, src/bot/live-metrics.ts), `runner` (the guard runner, every tick), `guard:<name>` (a
 * guard's `measure`, declared in its `metrics`), `prom-client` (collectDefaultMetrics: the process and Node.js).
 */
export type MetricSource = "bot" | "scrape" | "runner" | `guard:${string}` | "prom-client";

export interface MetricSpec {
  name: string;
  type: MetricType;
  help: string;
  labels: readonly string[];
  source: MetricSource;
  /** Histogram buckets (seconds). */
  buckets?: readonly number[];
  /** Exported on Linux only (prom-client reads /proc). */
  linuxOnly?: boolean;
}

const spec = <const N extends string>(
  type: MetricType,
  source: MetricSource,
  name: N,
  help: string,
  labels: readonly string[] = [],
  extra: Pick<MetricSpec, "buckets" | "linuxOnly"> = {},
) => ({ name, type, help, labels, source, ...extra });

/** Outcomes of a panic as the counter and the last-panic gauge label them (src/ops/panic-report.ts verdict). */
export const PANIC_OUTCOMES = ["HALT-VERIFIED", "HALT-PARTIAL"] as const;
/** Severities of open guard alerts (src/jobs/guard.ts Severity). */
export const ALERT_SEVERITIES = ["info", "warn", "critical"] as const;

const BOT = [
  spec("gauge", "scrape", "tradeguard_mode", "1 for the current trading mode (label mode)", ["mode"]),
  spec(
    "gauge",
    "scrape",
    "tradeguard_mode_since_timestamp_seconds",
    "When the current mode was set (mode:meta since), Unix seconds; NaN when unknown",
  ),
  spec("gauge", "scrape", "tradeguard_redis_up", "1 when Redis answered the last health check"),
  spec(
    "gauge",
    "scrape",
    "tradeguard_heartbeat_age_seconds",
    "Age of heartbeat:bot as trading processes read it (this host's clock); +Inf when absent or unreadable, NaN when Redis could not be read",
  ),
  spec(
    "gauge",
    "scrape",
    "tradeguard_panic_running",
    "1 while a panic is executing (panic:active names a running panic)",
  ),
  spec(
    "gauge",
    "scrape",
    "tradeguard_panic_last_outcome",
    "1 for the outcome of the last finished panic (panic:last), 0 for the other outcomes",
    ["outcome"],
  ),
  spec(
    "gauge",
    "scrape",
    "tradeguard_panic_last_finished_timestamp_seconds",
    "When the last finished panic ended, Unix seconds; NaN when none is recorded",
  ),
  spec("gauge", "scrape", "tradeguard_alerts_open", "Open guard alerts (alerts:open) by severity", ["severity"]),
  spec("counter", "bot", "tradeguard_audit_appends_total", "Audit entries appended", ["action"]),
  spec("counter", "bot", "tradeguard_slack_requests_total", "Slack deliveries handled", ["kind", "outcome"]),
  spec("counter", "bot", "tradeguard_errors_total", "Errors by code (unexpected = unknown errors)", ["code"]),
  spec("counter", "bot", "tradeguard_panics_total", "Panics by outcome", ["outcome"]),
  spec("histogram", "bot", "tradeguard_panic_duration_seconds", "Time from halt requested to verification", [], {
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
  }),
  spec("counter", "bot", "tradeguard_broker_calls_total", "Broker calls by broker, op and outcome", [
    "broker",
    "op",
    "outcome",
  ]),
] as const;

const RUNNER = [
  spec("gauge", "runner", "tradeguard_guard_state", "Guard state: 0 ok, 1 warn, 2 critical, 3 stale, 4 error", [
    "guard",
  ]),
  spec("counter", "runner", "tradeguard_guard_runs_total", "Guard runs by outcome", ["guard", "state"]),
  spec("histogram", "runner", "tradeguard_guard_duration_seconds", "Guard run duration (probe + evaluate)", ["guard"], {
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  }),
] as const;

const g = <const N extends string>(guard: string, name: N, help: string, labels: readonly string[] = []) =>
  spec("gauge", `guard:${guard}`, name, help, labels);

/** The guards' gauges, exactly as each guard declares them in `metrics` (test/monitoring/catalog.test.ts). */
const GUARDS = [
  g(
    "policy_watchdog",
    "tradeguard_policy_staleness_seconds",
    "Seconds since the RL policy daemon's last update (NaN when absent or unreadable)",
  ),
  g(
    "policy_watchdog",
    "tradeguard_policy_last_update_timestamp_seconds",
    "The RL policy daemon's last update, Unix seconds (NaN when absent or unreadable)",
  ),
  g(
    "policy_watchdog",
    "tradeguard_policy_entropy",
    "The RL policy's entropy as last reported (NaN when absent or unreadable)",
  ),
  g(
    "policy_watchdog",
    "tradeguard_policy_weight_floor_active",
    "1 while the watchdog holds the allocator's weight floor",
  ),
  g(
    "economic_events",
    "tradeguard_event_lock_active",
    "1 while an economic event window is open (risk:event_lock set by the guard)",
  ),
  g(
    "economic_events",
    "tradeguard_event_next_window_seconds",
    "Seconds until the next economic event window opens (NaN when none is known)",
  ),
  g(
    "economic_events",
    "tradeguard_event_calendar_end_timestamp_seconds",
    "Unix time of the last shipped event of a kind",
    ["kind"],
  ),
  g(
    "time_sync",
    "tradeguard_clock_offset_seconds",
    "Reference time minus this host's clock (positive: host behind); source ntp = median of the SNTP servers that answered, chrony = chronyc tracking. NaN when not measured this tick",
    ["source"],
  ),
  g("time_sync", "tradeguard_ntp_servers_answering", "NTP servers that answered this tick's SNTP query"),
  g("time_sync", "tradeguard_ntp_servers_configured", "NTP servers configured for the time_sync guard"),
  g(
    "api_quota",
    "tradeguard_quota_usage_ratio",
    "Share of the exchange's 15-minute API quota used (NaN when the quota is unknown)",
    ["exchange"],
  ),
  g("api_quota", "tradeguard_quota_used_15m", "Request weight sent to the exchange in the last 15 minutes", [
    "exchange",
  ]),
  g("api_quota", "tradeguard_quota_limit_15m", "The exchange's 15-minute API quota (NaN when unknown)", ["exchange"]),
  g("api_quota", "tradeguard_quota_throttled_15m", "HTTP 429 responses from the exchange in the last 15 minutes", [
    "exchange",
  ]),
  g("api_quota", "tradeguard_ws_reconnects_last_hour", "WebSocket reconnects to the exchange in the last hour", [
    "exchange",
  ]),
  g("market_hours", "tradeguard_market_open", "1 while the NYSE regular session is open (calendar + market:closures)"),
  g("luld_ssr", "tradeguard_luld_paused", "1 while a symbol is in a LULD Trading Pause (luld:paused)", ["symbol"]),
  g("luld_ssr", "tradeguard_ssr_active", "1 while a symbol is under the Reg SHO Rule 201 price test (ssr:active)", [
    "symbol",
  ]),
  g("cost", "tradeguard_cost_day", "A cost source's spend today (UTC), in its currency", ["source"]),
  g("cost", "tradeguard_cost_month_to_date", "A cost source's spend this month (UTC)", ["source"]),
  g("cost", "tradeguard_cost_forecast", "A cost source's month-end forecast", ["source"]),
  g("slippage", "tradeguard_slippage_mean_bps", "Mean slippage over the window (bps, adverse > 0)", ["strategy"]),
  g("slippage", "tradeguard_slippage_window_fills", "Fills in the slippage window", ["strategy"]),
  g("slippage", "tradeguard_slippage_entries_read", "ledger:fills entries the last slippage tick read"),
  g(
    "error_budget",
    "tradeguard_error_budget_remaining_ratio",
    "Share of the SLO's error budget left over its period (1 = untouched, ≤ 0 = spent; NaN without events)",
    ["slo"],
  ),
  g(
    "error_budget",
    "tradeguard_error_budget_burn_rate",
    "Burn rate of the SLO's error budget over a window (1 = spends the budget exactly over the period; NaN without events)",
    ["slo", "window"],
  ),
  g(
    "error_budget",
    "tradeguard_error_budget_policy_enforced",
    "1 while the SLO's spent-budget policy is in force (0: budget not spent, or the policy lifted by command)",
    ["slo"],
  ),
  g(
    "dr_freshness",
    "tradeguard_dr_rehearsal_age_seconds",
    "Seconds since the last successful DR restore rehearsal (NaN: none recorded)",
  ),
  g(
    "dr_freshness",
    "tradeguard_dr_last_rehearsal_ok",
    "1 when the latest DR rehearsal succeeded, 0 when it failed (NaN: none)",
  ),
  g(
    "endpoint_latency",
    "tradeguard_endpoint_latency_ms",
    "Latency of the cheap authenticated read per broker endpoint over the guard's window (successful reads; NaN when none)",
    ["broker", "endpoint", "quantile"],
  ),
  g("endpoint_latency", "tradeguard_endpoint_consecutive_failures", "Failed reads in a row per broker endpoint", [
    "broker",
    "endpoint",
  ]),
  g(
    "endpoint_latency",
    "tradeguard_endpoint_active",
    "1 for the endpoint each broker's adapters use (as the guard read it this tick), 0 for the others",
    ["broker", "endpoint"],
  ),
] as const;

const p = <const N extends string>(
  type: MetricType,
  name: N,
  help: string,
  labels: readonly string[] = [],
  linuxOnly = false,
) => spec(type, "prom-client", name, help, labels, linuxOnly ? { linuxOnly } : {});

/** prom-client's collectDefaultMetrics with the tradeguard_ prefix (prom-client 15). */
const PROCESS = [
  p("counter", "tradeguard_process_cpu_user_seconds_total", "Total user CPU time spent in seconds."),
  p("counter", "tradeguard_process_cpu_system_seconds_total", "Total system CPU time spent in seconds."),
  p("counter", "tradeguard_process_cpu_seconds_total", "Total user and system CPU time spent in seconds."),
  p("gauge", "tradeguard_process_start_time_seconds", "Start time of the process since unix epoch in seconds."),
  p("gauge", "tradeguard_process_resident_memory_bytes", "Resident memory size in bytes."),
  p("gauge", "tradeguard_process_virtual_memory_bytes", "Virtual memory size in bytes.", [], true),
  p("gauge", "tradeguard_process_heap_bytes", "Process heap size in bytes.", [], true),
  p("gauge", "tradeguard_process_open_fds", "Number of open file descriptors.", [], true),
  p("gauge", "tradeguard_process_max_fds", "Maximum number of open file descriptors.", [], true),
  p("gauge", "tradeguard_nodejs_eventloop_lag_seconds", "Lag of event loop in seconds."),
  p("gauge", "tradeguard_nodejs_eventloop_lag_min_seconds", "The minimum recorded event loop delay."),
  p("gauge", "tradeguard_nodejs_eventloop_lag_max_seconds", "The maximum recorded event loop delay."),
  p("gauge", "tradeguard_nodejs_eventloop_lag_mean_seconds", "The mean of the recorded event loop delays."),
  p(
    "gauge",
    "tradeguard_nodejs_eventloop_lag_stddev_seconds",
    "The standard deviation of the recorded event loop delays.",
  ),
  p("gauge", "tradeguard_nodejs_eventloop_lag_p50_seconds", "The 50th percentile of the recorded event loop delays."),
  p("gauge", "tradeguard_nodejs_eventloop_lag_p90_seconds", "The 90th percentile of the recorded event loop delays."),
  p("gauge", "tradeguard_nodejs_eventloop_lag_p99_seconds", "The 99th percentile of the recorded event loop delays."),
  p(
    "gauge",
    "tradeguard_nodejs_active_resources",
    "Number of active resources that are currently keeping the event loop alive, grouped by async resource type.",
    ["type"],
  ),
  p("gauge", "tradeguard_nodejs_active_resources_total", "Total number of active resources."),
  p(
    "gauge",
    "tradeguard_nodejs_active_handles",
    "Number of active libuv handles grouped by handle type. Every handle type is C++ class name.",
    ["type"],
  ),
  p("gauge", "tradeguard_nodejs_active_handles_total", "Total number of active handles."),
  p(
    "gauge",
    "tradeguard_nodejs_active_requests",
    "Number of active libuv requests grouped by request type. Every request type is C++ class name.",
    ["type"],
  ),
  p("gauge", "tradeguard_nodejs_active_requests_total", "Total number of active requests."),
  p("gauge", "tradeguard_nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes."),
  p("gauge", "tradeguard_nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes."),
  p("gauge", "tradeguard_nodejs_external_memory_bytes", "Node.js external memory size in bytes."),
  p("gauge", "tradeguard_nodejs_heap_space_size_total_bytes", "Process heap space size total from Node.js in bytes.", [
    "space",
  ]),
  p("gauge", "tradeguard_nodejs_heap_space_size_used_bytes", "Process heap space size used from Node.js in bytes.", [
    "space",
  ]),
  p(
    "gauge",
    "tradeguard_nodejs_heap_space_size_available_bytes",
    "Process heap space size available from Node.js in bytes.",
    ["space"],
  ),
  p("gauge", "tradeguard_nodejs_version_info", "Node.js version info.", ["version", "major", "minor", "patch"]),
  p(
    "histogram",
    "tradeguard_nodejs_gc_duration_seconds",
    "Garbage collection duration by kind, one of major, minor, incremental or weakcb.",
    ["kind"],
  ),
] as const;

/** Every metric the bot exports. */
export const METRICS: readonly MetricSpec[] = [...BOT, ...RUNNER, ...GUARDS, ...PROCESS];

/** The name of a catalogued metric (typo-checked where the code names one). */
export type MetricName = (typeof BOT | typeof RUNNER | typeof GUARDS | typeof PROCESS)[number]["name"];

/**
 * Series Prometheus itself writes, which rules and panels may query beside the catalog: `up` per scrape target, and
 * `ALERTS` for every pending or firing alert rule.
 */
export const PROMETHEUS_SERIES: readonly string[] = ["up", "ALERTS"];

const byName = new Map(METRICS.map((m) => [m.name, m]));

/** The catalog entry of a metric, or undefined. */
export function metricSpec(name: string): MetricSpec | undefined {
  return byName.get(name);
}

/**
 * The series names a catalogued metric adds to the exposition: a histogram's `_bucket`, `_sum` and `_count` (what
 * PromQL queries), anything else its own name.
 */
export function seriesNames(m: MetricSpec): string[] {
  return m.type === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => `${m.name}${s}`) : [m.name];
}

/** Every series name a rule or panel may query: the catalog's (histograms by their series) and Prometheus's own. */
export function queryableSeries(): Set<string> {
  return new Set([...METRICS.flatMap(seriesNames), ...PROMETHEUS_SERIES]);
}
