// RL policy watchdog. The policy daemon writes `policy:last_update` (epoch ms) and `policy:entropy` (float) on every
// update. The watchdog fires when the last update is older than `stale_after_ms` (default 5 min), when either value
// is absent or unreadable, or when the entropy has stayed below `entropy_min` (0.05) for `entropy_low_for_ms`
// (2 min): a collapsed policy puts all its weight on a few actions. While it fires it sets the allocator's weight
// floor (`policy:weight_floor` = 0.05) and publishes a restart request on `<prefix>policy:restart` (at most once per
// `restart_cooldown_ms`); when the daemon is healthy again it removes the floor and its own bookkeeping keys.
// The time the entropy first went low lives in Redis (`policy:entropy_low_since`), so evaluate stays pure.
import { z } from "zod";
/** Logical key and channel names (the runner applies the prefix). */
import { POLICY_KEYS } from "../state/keys.js";
import { defineGuard, type Finding, type FlagChange } from "./guard.js";

export const SOP_POLICY = "sop-policy-watchdog";

const runnerKeys = {
  enabled: z.boolean().optional(),
  schedule: z.string().optional(),
  timeout_ms: z.number().optional(),
};

const configSchema = z
  .object({
    ...runnerKeys,
    stale_after_ms: z.number().int().positive().default(300_000),
    entropy_min: z.number().min(0).default(0.05),
    entropy_low_for_ms: z.number().int().min(0).default(120_000),
    weight_floor: z.number().gt(0).max(1).default(0.05),
    /** Minimum time between two restart requests while the daemon stays unhealthy. */
    restart_cooldown_ms: z.number().int().min(0).default(60_000),
    /** A last_update further in the future than this (clock skew) is treated as unreadable. */
    future_tolerance_ms: z.number().int().min(0).default(60_000),
    /** Optional: the restart relay (src/jobs/policy-restart-relay.ts) POSTs each restart request here. */
    restart_webhook: z.url().optional(),
    /** Optional: the restart relay runs this argv with the request in TRADEGUARD_RESTART_REQUEST. */
    restart_command: z.array(z.string().min(1)).min(1).optional(),
    restart_timeout_ms: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict();

export type PolicyWatchdogConfig = z.infer<typeof configSchema>;

/** The JSON message published on `<prefix>policy:restart`. */
export const restartRequestSchema = z.object({
  /** Unique per request: `<first reason>-<epoch ms>`; the relay de-duplicates on it across replicas. */
  id: z.string().min(1),
  type: z.literal("restart"),
  target: z.literal("policy-daemon"),
  reasons: z.array(z.enum(["stale", "missing", "invalid", "entropy_low"])).min(1),
  detail: z.string(),
  requested_at: z.string(),
  /** The daemon's last update as ISO, or null when absent or unreadable. */
  last_update: z.string().nullable(),
  entropy: z.number().nullable(),
  by: z.literal("tradeguard"),
});
export type RestartRequest = z.infer<typeof restartRequestSchema>;

const str = z.string().nullable();

type Values = {
  lastUpdate: string | null;
  entropy: string | null;
  lowSince: string | null;
  floor: string | null;
  restartAt: string | null;
};

/** Probe result: only the tick's time, so `measure` (which gets no clock) can compute the staleness. */
type Probe = { at: number };

type Reason = RestartRequest["reasons"][number];

const EPOCH_MS = /^\d{1,16}$/;
const FLOAT = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

/** The largest time a JS Date can hold (ECMA-262: ±8.64e15 ms); beyond it `toISOString()` throws. */
const MAX_DATE_MS = 8.64e15;

/** Parses an epoch-ms string; null when absent, "invalid" when unreadable or beyond what a Date can hold. */
function epochMs(v: string | null): number | null | "invalid" {
  if (v === null) return null;
  const t = v.trim();
  if (!EPOCH_MS.test(t)) return "invalid";
  const n = Number(t);
  return Number.isFinite(n) && n <= MAX_DATE_MS ? n : "invalid";
}

/** Parses a non-negative finite float; null when absent, "invalid" otherwise. */
function entropyValue(v: string | null): number | null | "invalid" {
  if (v === null) return null;
  const t = v.trim();
  if (!FLOAT.test(t)) return "invalid";
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? n : "invalid";
}

const secs = (ms: number) => `${Math.round(ms / 1000)} s`;

/** The watchdog's view of one snapshot: what is wrong, and the numbers behind it. Pure. */
export function assessPolicy(values: Values, nowMs: number, c: PolicyWatchdogConfig) {
  const problems: {
    reason: Reason;
    key: string;
    severity: "warn" | "critical";
    title: string;
    detail: string;
    value?: string;
    threshold?: string;
  }[] = [];
  const lu = epochMs(values.lastUpdate);
  const ent = entropyValue(values.entropy);
  let ageMs: number | null = null;

  if (lu === null) {
    problems.push({
      reason: "missing",
      key: "policy_watchdog:stale",
      severity: "critical",
      title: "RL policy: no update ever recorded",
      detail: `${POLICY_KEYS.lastUpdate} is absent: the policy daemon has not written it (not running, or writing elsewhere).`,
      threshold: secs(c.stale_after_ms),
    });
  } else if (lu === "invalid" || lu < 100_000_000_000) {
    // < 1e11 ms is before 1973: almost always epoch *seconds* written by mistake.
    problems.push({
      reason: "invalid",
      key: "policy_watchdog:data_invalid",
      severity: "critical",
      title: "RL policy: last update unreadable",
      detail: `${POLICY_KEYS.lastUpdate} = ${JSON.stringify(values.lastUpdate)}: expected epoch milliseconds${lu !== "invalid" ? " (this looks like epoch seconds)" : ""}.`,
    });
  } else if (lu - nowMs > c.future_tolerance_ms) {
    problems.push({
      reason: "invalid",
      key: "policy_watchdog:data_invalid",
      severity: "critical",
      title: "RL policy: last update is in the future",
      detail: `${POLICY_KEYS.lastUpdate} is ${secs(lu - nowMs)} ahead of this host's clock (tolerance ${secs(c.future_tolerance_ms)}): check the daemon's clock and the time_sync guard.`,
    });
  } else {
    ageMs = Math.max(0, nowMs - lu);
    if (ageMs > c.stale_after_ms) {
      problems.push({
        reason: "stale",
        key: "policy_watchdog:stale",
        severity: "critical",
        title: "RL policy: stale",
        detail: `The policy daemon last updated at ${new Date(lu).toISOString()}, ${secs(ageMs)} ago (limit ${secs(c.stale_after_ms)}).`,
        value: secs(ageMs),
        threshold: secs(c.stale_after_ms),
      });
    }
  }

  // Entropy: judged only from a readable value. The low-since clock starts at the first tick that sees it low.
  let lowSince: number | null = null;
  let lowSinceNeedsWrite = false;
  if (ent === "invalid") {
    problems.push({
      reason: "invalid",
      key: "policy_watchdog:data_invalid",
      severity: "critical",
      title: "RL policy: entropy unreadable",
      detail: `${POLICY_KEYS.entropy} = ${JSON.stringify(values.entropy)}: expected a non-negative number.`,
    });
  } else if (ent !== null && ent < c.entropy_min) {
    const recorded = epochMs(values.lowSince);
    if (typeof recorded === "number" && recorded <= nowMs) lowSince = recorded;
    else {
      lowSince = nowMs;
      lowSinceNeedsWrite = true;
    }
    const lowForMs = nowMs - lowSince;
    if (lowForMs >= c.entropy_low_for_ms) {
      problems.push({
        reason: "entropy_low",
        key: "policy_watchdog:entropy_low",
        severity: "warn",
        title: "RL policy: entropy collapsed",
        detail: `Policy entropy ${ent} has been below ${c.entropy_min} since ${new Date(lowSince).toISOString()} (${secs(lowForMs)}, limit ${secs(c.entropy_low_for_ms)}).`,
        value: String(ent),
        threshold: `< ${c.entropy_min} for ${secs(c.entropy_low_for_ms)}`,
      });
    }
  }
  return {
    problems,
    lastUpdateMs: typeof lu === "number" ? lu : null,
    ageMs,
    entropy: typeof ent === "number" ? ent : null,
    lowSince,
    lowSinceNeedsWrite,
  };
}

/** The RL policy watchdog guard (YAML `guards.policy_watchdog`). */
export const policyWatchdog = defineGuard<PolicyWatchdogConfig, Values, Probe>({
  name: "policy_watchdog",
  schedule: "*/15 * * * * *",
  alertStream: "policy",
  config: configSchema,
  requires: {
    hint: "set guards.policy_watchdog.enabled: true (or any of its settings) once the RL policy daemon writes policy:last_update",
  },
  reads: () => ({
    lastUpdate: { key: POLICY_KEYS.lastUpdate, type: "string", schema: str },
    entropy: { key: POLICY_KEYS.entropy, type: "string", schema: str },
    lowSince: { key: POLICY_KEYS.entropyLowSince, type: "string", schema: str },
    floor: { key: POLICY_KEYS.weightFloor, type: "string", schema: str },
    restartAt: { key: POLICY_KEYS.restartRequestedAt, type: "string", schema: str },
  }),
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now, c) {
    const nowMs = now.getTime();
    const v = snapshot.values;
    const a = assessPolicy(v, nowMs, c);
    const findings: Finding[] = [];
    const base = { guard: "policy_watchdog", sop: SOP_POLICY };

    // The low-since bookkeeping is independent of alerting: start the clock, or clear it once the entropy recovers.
    const bookkeeping: FlagChange[] = [];
    if (a.lowSinceNeedsWrite) bookkeeping.push({ op: "set", key: POLICY_KEYS.entropyLowSince, value: String(nowMs) });
    else if (a.lowSince === null && v.lowSince !== null)
      bookkeeping.push({ op: "del", key: POLICY_KEYS.entropyLowSince });

    if (a.problems.length === 0) {
      const clear: FlagChange[] = [...bookkeeping];
      // An unknown entropy (absent) is not a proof of health: the floor stays until the daemon reports one.
      const healthy = a.entropy !== null;
      if (healthy && v.floor !== null) clear.push({ op: "del", key: POLICY_KEYS.weightFloor });
      if (healthy && v.restartAt !== null) clear.push({ op: "del", key: POLICY_KEYS.restartRequestedAt });
      if (!healthy) {
        findings.push({
          ...base,
          key: "policy_watchdog:entropy_missing",
          severity: "warn",
          title: "RL policy: entropy not reported",
          detail: `${POLICY_KEYS.lastUpdate} is fresh but ${POLICY_KEYS.entropy} is absent; the watchdog cannot judge the policy.`,
          actions: clear.length ? clear : undefined,
        });
      } else if (clear.length) {
        findings.push({
          ...base,
          key: "policy_watchdog:bookkeeping",
          severity: "info",
          title: a.lowSince !== null ? "RL policy: entropy low, watching" : "RL policy: healthy again",
          detail:
            a.lowSince !== null
              ? `Entropy ${a.entropy} < ${c.entropy_min} since ${new Date(a.lowSince).toISOString()}.`
              : "The policy daemon is healthy: weight floor and restart bookkeeping removed.",
          actions: clear,
        });
      }
      return findings;
    }

    // Unhealthy: floor on, restart request (rate-limited), one set of actions on the most severe finding.
    const actions: FlagChange[] = [
      ...bookkeeping,
      { op: "set", key: POLICY_KEYS.weightFloor, value: String(c.weight_floor) },
    ];
    const lastRestart = epochMs(v.restartAt);
    const due = typeof lastRestart !== "number" || lastRestart > nowMs || nowMs - lastRestart >= c.restart_cooldown_ms;
    const reasons = [...new Set(a.problems.map((p) => p.reason))];
    if (due) {
      const request: RestartRequest = {
        id: `${reasons[0]}-${nowMs}`,
        type: "restart",
        target: "policy-daemon",
        reasons,
        detail: a.problems.map((p) => p.detail).join(" "),
        requested_at: now.toISOString(),
        last_update:
          a.lastUpdateMs !== null && a.lastUpdateMs >= 100_000_000_000 ? new Date(a.lastUpdateMs).toISOString() : null,
        entropy: a.entropy,
        by: "tradeguard",
      };
      actions.push(
        { op: "publish", channel: POLICY_KEYS.restartChannel, message: JSON.stringify(request) },
        { op: "set", key: POLICY_KEYS.restartRequestedAt, value: String(nowMs) },
      );
    }
    const ordered = [...a.problems].sort((x, y) =>
      x.severity === y.severity ? 0 : x.severity === "critical" ? -1 : 1,
    );
    const seen = new Set<string>();
    for (const p of ordered) {
      if (seen.has(p.key)) continue;
      seen.add(p.key);
      findings.push({
        ...base,
        key: p.key,
        severity: p.severity,
        title: p.title,
        detail: `${p.detail} Weight floor ${c.weight_floor} set${due ? "; restart requested" : `; restart already requested at ${new Date(lastRestart as number).toISOString()}`}.`,
        value: p.value,
        threshold: p.threshold,
        actions: findings.length === 0 ? actions : undefined,
      });
    }
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_policy_staleness_seconds",
      help: "Seconds since the RL policy daemon's last update (NaN when absent or unreadable)",
    },
    {
      name: "tradeguard_policy_last_update_timestamp_seconds",
      help: "The RL policy daemon's last update, Unix seconds (NaN when absent or unreadable)",
    },
    {
      name: "tradeguard_policy_entropy",
      help: "The RL policy's entropy as last reported (NaN when absent or unreadable)",
    },
    { name: "tradeguard_policy_weight_floor_active", help: "1 while the watchdog holds the allocator's weight floor" },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    const a = at === undefined ? null : assessPolicy(snapshot.values, at, c);
    const lu = epochMs(snapshot.values.lastUpdate);
    const ent = entropyValue(snapshot.values.entropy);
    return [
      { name: "tradeguard_policy_staleness_seconds", value: a?.ageMs != null ? a.ageMs / 1000 : Number.NaN },
      {
        name: "tradeguard_policy_last_update_timestamp_seconds",
        value: typeof lu === "number" ? lu / 1000 : Number.NaN,
      },
      { name: "tradeguard_policy_entropy", value: typeof ent === "number" ? ent : Number.NaN },
      {
        name: "tradeguard_policy_weight_floor_active",
        value: a
          ? a.problems.length > 0
            ? 1
            : snapshot.values.floor !== null && a.entropy === null
              ? 1
              : 0
          : Number.NaN,
      },
    ];
  },
});
