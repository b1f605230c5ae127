// Rules that mirror the monitoring guards (src/jobs/policy-watchdog.ts, time-sync.ts, api-quota.ts,
// economic-events.ts) and the guard runner: the guards alert in Slack themselves, these are the second path, through
// Alertmanager, for when the bot or Slack is down. Thresholds are the guards' defaults.
import type { MonitoringSettings } from "./config.js";
import type { AlertRule, RuleGroup } from "./types.js";

const guard = (name: string, sop: string) => ({ labels: { guard: name }, sop });
const POLICY = guard("policy_watchdog", "sop-policy-watchdog");
const TIME = guard("time_sync", "sop-time-sync");
const QUOTA = guard("api_quota", "sop-api-quota");
const EVENTS = guard("economic_events", "sop-economic-event");

const policy: AlertRule[] = [
  {
    alert: "TradeguardPolicyStale",
    expr: "tradeguard_policy_staleness_seconds > 300",
    for: "1m",
    severity: "critical",
    ...POLICY,
    summary: "RL policy daemon has not updated for {{ $value | humanizeDuration }} ({{ $labels.instance }})",
    description:
      "policy:last_update is older than 5 minutes. The policy watchdog has set the allocator's 5% weight floor and requested a restart on <prefix>policy:restart.",
  },
  {
    alert: "TradeguardPolicyUpdateUnreadable",
    comment: "NaN != NaN: true only while the last update is absent or unreadable.",
    expr: "tradeguard_policy_staleness_seconds != tradeguard_policy_staleness_seconds",
    for: "5m",
    severity: "critical",
    ...POLICY,
    summary: "RL policy daemon's last update is absent or unreadable ({{ $labels.instance }})",
    description: "policy:last_update is missing or not epoch milliseconds. The watchdog treats this as stale.",
  },
  {
    alert: "TradeguardPolicyEntropyCollapsed",
    expr: "tradeguard_policy_entropy < 0.05",
    for: "2m",
    severity: "warning",
    ...POLICY,
    summary: "RL policy entropy {{ $value }} below 0.05 for 2 minutes ({{ $labels.instance }})",
    description:
      "The policy has collapsed onto a few actions. The watchdog holds the 5% weight floor and requested a restart.",
  },
];

const timeSync: AlertRule[] = [
  {
    alert: "TradeguardClockOffsetHigh",
    expr: "abs(tradeguard_clock_offset_seconds) > 0.15",
    for: "2m",
    severity: "warning",
    ...TIME,
    summary: "Clock offset {{ $value | humanize }}s from {{ $labels.source }} reference ({{ $labels.instance }})",
    description: "The host clock is more than 150 ms from reference time (positive: host behind).",
  },
  {
    alert: "TradeguardClockOffsetCritical",
    expr: "abs(tradeguard_clock_offset_seconds) > 0.5",
    for: "1m",
    severity: "critical",
    ...TIME,
    summary: "Clock offset {{ $value | humanize }}s from {{ $labels.source }} reference ({{ $labels.instance }})",
    description:
      "The host clock is more than 500 ms from reference time. Exchange request signatures and order timestamps are at risk.",
  },
  {
    alert: "TradeguardNtpUnreachable",
    expr: "tradeguard_ntp_servers_configured > 0 and tradeguard_ntp_servers_answering == 0",
    for: "5m",
    severity: "critical",
    ...TIME,
    summary: "No NTP server answers the time_sync guard ({{ $labels.instance }})",
    description:
      "None of the configured NTP servers answered an SNTP query for 5 minutes: the clock offset is unknown.",
  },
];

const quota: AlertRule[] = [
  {
    alert: "TradeguardApiQuotaHigh",
    expr: "tradeguard_quota_usage_ratio > 0.8",
    for: "1m",
    severity: "warning",
    ...QUOTA,
    summary: "{{ $labels.exchange }}: {{ $value | humanizePercentage }} of the 15-minute API quota used",
    description: "Above 80% of the exchange's 15-minute quota. Exchanges ban keys and IPs that keep exceeding it.",
  },
  {
    alert: "TradeguardApiQuotaCritical",
    expr: "tradeguard_quota_usage_ratio > 0.9",
    for: "1m",
    severity: "critical",
    ...QUOTA,
    summary: "{{ $labels.exchange }}: {{ $value | humanizePercentage }} of the 15-minute API quota used",
    description: "Above 90% of the exchange's 15-minute quota: throttle now.",
  },
  {
    alert: "TradeguardWebsocketReconnects",
    expr: "tradeguard_ws_reconnects_last_hour > 3",
    for: "1m",
    severity: "warning",
    ...QUOTA,
    summary: "{{ $labels.exchange }}: {{ $value }} WebSocket reconnects in the last hour",
    description: "More than 3 reconnects per hour: market data or order updates may have gaps.",
  },
];

const events: AlertRule[] = [
  {
    alert: "TradeguardEventLockStuck",
    expr: "tradeguard_event_lock_active == 1",
    for: "3h",
    severity: "warning",
    ...EVENTS,
    summary: "Economic event lock active for over 3 hours ({{ $labels.instance }})",
    description: "No configured event window is that long: check risk:event_lock and the calendar.",
  },
  {
    alert: "TradeguardEventCalendarEnding",
    expr: "tradeguard_event_calendar_end_timestamp_seconds - time() < 30 * 86400",
    for: "1h",
    severity: "warning",
    ...EVENTS,
    summary: "The shipped {{ $labels.kind }} calendar ends in {{ $value | humanizeDuration }}",
    description: "Add the next year's dates to src/market/data/ or no event lock will be set after that.",
  },
];

/** The guard runner's own health: a guard that keeps failing watches nothing. */
const runner = (s: MonitoringSettings): AlertRule[] => [
  {
    alert: "TradeguardGuardFailing",
    expr: "tradeguard_guard_state == 4",
    for: `${s.guard_error_minutes}m`,
    severity: "warning",
    sop: "sop-guard-error",
    summary: `Guard {{ $labels.guard }} has failed every run for over ${s.guard_error_minutes} minutes`,
    description:
      "The guard throws, overruns its budget or reads data it cannot validate on every tick: whatever it watches is not watched.",
  },
];

/** The guard groups, for these settings. */
export function guardRuleGroups(s: MonitoringSettings): RuleGroup[] {
  return [
    { name: "tradeguard-guards", rules: runner(s) },
    { name: "tradeguard-policy", rules: policy },
    { name: "tradeguard-time-sync", rules: timeSync },
    { name: "tradeguard-api-quota", rules: quota },
    { name: "tradeguard-economic-events", rules: events },
  ];
}
