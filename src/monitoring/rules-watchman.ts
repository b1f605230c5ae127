// Who watches the watchman: Prometheus rules for the bot itself. The bot alerts through Slack about everything else;
// these fire through Alertmanager when the bot cannot — it is down, it cannot reach Redis, its heartbeat (the gates'
// dead-man's switch) is stale — or when trading sits in a state people must act on: halted for long, or a panic that
// could not verify the brokers flat (HALT-PARTIAL). The scrape-time gauges are read from Redis on every scrape
// (src/bot/live-metrics.ts), so a halt or a HALT-PARTIAL from the CLI or another replica shows too.
import type { MonitoringSettings } from "./config.js";
import type { RuleGroup } from "./types.js";

/** SOP anchors of the watchman alerts (RUNBOOK.md). */
export const WATCHMAN_SOPS = {
  down: "sop-watchman-bot-down",
  heartbeat: "sop-watchman-heartbeat",
  halt: "sop-watchman-halt-prolonged",
  partial: "sop-halt-partial",
  redis: "sop-watchman-redis",
} as const;

/** The watchman group. */
export function watchmanRuleGroup(s: MonitoringSettings): RuleGroup {
  const job = `job=${JSON.stringify(s.job)}`;
  const down = `${s.target_down_minutes}m`;
  return {
    name: "tradeguard-watchman",
    rules: [
      {
        alert: "TradeguardBotDown",
        expr: `up{${job}} == 0`,
        for: down,
        severity: "critical",
        summary: "tradeguard bot {{ $labels.instance }} does not answer Prometheus's scrape",
        description: `The bot's /metrics has not answered for ${down}: no guard runs there, Slack commands may go unanswered, and its heartbeat stops (gates go reduce-only after ${s.heartbeat_max_age_seconds} s). The CLI still halts: scripts/emergency_stop.sh.`,
        sop: WATCHMAN_SOPS.down,
      },
      {
        alert: "TradeguardBotMissing",
        comment: "No scrape target of the job at all (service discovery lost the bot, or the job was renamed).",
        expr: `absent(up{${job}})`,
        for: down,
        severity: "critical",
        summary: `No tradeguard bot is scraped (job ${s.job})`,
        description: `Prometheus has had no target for job ${JSON.stringify(s.job)} for ${down}: nothing watches whether a tradeguard bot runs.`,
        sop: WATCHMAN_SOPS.down,
      },
      {
        alert: "TradeguardHeartbeatStale",
        comment:
          "The gates' reading of heartbeat:bot: older than heartbeat_max_age_seconds, absent or unreadable (+Inf),\nor further in the future than heartbeat_max_skew_seconds. NaN (Redis unreadable) is TradeguardRedisUnreachable.",
        expr: `tradeguard_heartbeat_age_seconds{${job}} > ${s.heartbeat_max_age_seconds} or tradeguard_heartbeat_age_seconds{${job}} < -${s.heartbeat_max_skew_seconds}`,
        for: `${s.heartbeat_for_seconds}s`,
        severity: "critical",
        summary:
          "heartbeat:bot is {{ $value | humanizeDuration }} old as {{ $labels.instance }} reads it (+Inf: absent or unreadable)",
        description: `No bot has written heartbeat:bot within ${s.heartbeat_max_age_seconds} s (or it is unreadable, or ahead of this host's clock by more than ${s.heartbeat_max_skew_seconds} s): every gate allows only reduce-only orders (dead-man's switch).`,
        sop: WATCHMAN_SOPS.heartbeat,
      },
      {
        alert: "TradeguardHaltProlonged",
        expr: `tradeguard_mode{${job},mode="halt"} == 1`,
        for: `${s.halt_minutes}m`,
        severity: "warning",
        summary: `Trading has been halted for over ${s.halt_minutes} minutes ({{ $labels.instance }})`,
        description: `mode=halt for more than ${s.halt_minutes} minutes. Decide: resume through /clear once the cause is fixed and every broker is flat, or keep the halt and say so in the incident channel.`,
        sop: WATCHMAN_SOPS.halt,
      },
      {
        alert: "TradeguardHaltPartial",
        comment:
          "The last panic could not verify every broker flat, and trading is still halted (a /clear resolves it).",
        expr: `tradeguard_panic_last_outcome{${job},outcome="HALT-PARTIAL"} == 1 and on(instance, job) tradeguard_mode{${job},mode="halt"} == 1`,
        for: "0s",
        severity: "critical",
        summary: "HALT-PARTIAL: the last panic left positions or orders at a broker ({{ $labels.instance }})",
        description:
          "At least one broker was not verified flat after the panic (errors after retries, or its deadline). Positions or open orders may remain: act on the report's list now.",
        sop: WATCHMAN_SOPS.partial,
      },
      {
        alert: "TradeguardRedisUnreachable",
        expr: `tradeguard_redis_up{${job}} == 0`,
        for: `${s.redis_down_minutes}m`,
        severity: "critical",
        summary: "tradeguard bot {{ $labels.instance }} cannot reach Redis",
        description: `The bot has not read Redis for ${s.redis_down_minutes}m: no heartbeat is written, no guard runs, a halt cannot be published through this bot. Gates that cannot reach Redis treat it as halt.`,
        sop: WATCHMAN_SOPS.redis,
      },
    ],
  };
}
