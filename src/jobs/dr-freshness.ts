// DR rehearsal freshness (issue 14 §13). A restore that has not been rehearsed is a restore nobody knows works:
// `tradeguard dr rehearse` restores the latest snapshot into a scratch Redis and records the outcome in
// `dr:last_rehearsal` (every run) and `dr:last_success` (successful runs). The guard warns when the last successful
// rehearsal is older than `max_age_days` (35: a monthly drill with a few days' slack), goes critical past
// `critical_age_days` (twice that by default) or when none ever succeeded, and warns while the latest one failed.
// Its subject is the `dr` section: it runs once `dr.scratch_url` names a scratch Redis (declareDrFreshness).
import { z } from "zod";
import type { Config } from "../config.js";
import { DR_FUTURE_TOLERANCE_MS, judgeRehearsals, SOP_DR } from "../ops/dr.js";
import { DR_KEYS } from "../state/keys.js";
import { defineGuard, type Finding } from "./guard.js";

const HINT = "set dr.scratch_url to the scratch Redis rehearsals restore into (or guards.dr_freshness.enabled: true)";
const DAY_MS = 86_400_000;

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    max_age_days: z.number().positive().max(365).default(35),
    /** Default: twice max_age_days. */
    critical_age_days: z.number().positive().max(730).optional(),
    /** A rehearsal time further ahead of this host's clock than this is unreadable (clock skew). */
    future_tolerance_ms: z.number().int().min(0).default(DR_FUTURE_TOLERANCE_MS),
  })
  .strict()
  .transform((c) => ({ ...c, critical_age_days: c.critical_age_days ?? 2 * c.max_age_days }))
  .refine((c) => c.critical_age_days > c.max_age_days, {
    message: "critical_age_days must be greater than max_age_days",
    path: ["critical_age_days"],
  });
export type DrFreshnessConfig = z.infer<typeof configSchema>;

type Values = { last: string | null; success: string | null };
type Probe = { at: number };

const days = (ms: number) => `${(ms / DAY_MS).toFixed(1)} d`;

/** The last successful rehearsal's age in ms at `nowMs` (null: none, or unreadable), and what is wrong. Pure. */
export function assessDr(values: Values, nowMs: number, c: DrFreshnessConfig) {
  const problems: Omit<Finding, "guard" | "sop">[] = [];
  // The records as they can be believed (judgeRehearsals: the rule the cutover gate and `dr status` share).
  const j = judgeRehearsals(values, nowMs, c.future_tolerance_ms);
  for (const { key, problem } of j.invalid)
    problems.push({
      key: "dr_freshness:data_invalid",
      severity: "warn",
      title: `DR rehearsal record unreadable (${key})`,
      detail: `${key} holds ${JSON.stringify((key === DR_KEYS.lastRehearsal ? values.last : values.success)?.slice(0, 80))}: ${problem}. Run tradeguard dr rehearse to record a fresh one.`,
    });
  for (const { key, ts } of j.future)
    problems.push({
      key: "dr_freshness:data_invalid",
      severity: "warn",
      title: `DR rehearsal record in the future (${key})`,
      detail: `${key} says ${ts}, ahead of this host's clock by more than ${c.future_tolerance_ms} ms: check the clocks (time_sync).`,
    });
  const l = j.last;
  const okRun = j.success;
  const ageMs = okRun ? Math.max(0, nowMs - Date.parse(okRun.ts)) : null;
  if (ageMs === null) {
    if (!problems.length || l)
      problems.push({
        key: "dr_freshness:stale",
        severity: "critical",
        title: "DR: no successful restore rehearsal recorded",
        detail: `${l ? `The latest rehearsal (${l.ts}) failed and none succeeded before it.` : "No rehearsal was ever recorded."} Run tradeguard dr rehearse.`,
        threshold: `${c.max_age_days} d`,
      });
  } else if (ageMs > c.max_age_days * DAY_MS) {
    const critical = ageMs > c.critical_age_days * DAY_MS;
    problems.push({
      key: "dr_freshness:stale",
      severity: critical ? "critical" : "warn",
      title: `DR: last successful restore rehearsal ${days(ageMs)} ago`,
      detail: `The last successful rehearsal was at ${okRun!.ts} (${okRun!.keys} keys restored in ${okRun!.ms} ms), older than ${critical ? c.critical_age_days : c.max_age_days} days. Run tradeguard dr rehearse.`,
      value: days(ageMs),
      threshold: `${critical ? c.critical_age_days : c.max_age_days} d`,
    });
  }
  if (l && !l.ok && okRun && Date.parse(l.ts) > Date.parse(okRun.ts))
    problems.push({
      key: "dr_freshness:last_failed",
      severity: "warn",
      title: `DR: the latest restore rehearsal failed (${l.ts})`,
      detail: `The rehearsal at ${l.ts} did not reproduce the snapshot (${l.keys} keys); the last successful one was ${okRun.ts}. See its dr.rehearsed audit entry, fix, and rehearse again.`,
    });
  return { ageMs, lastOk: l ? l.ok : null, problems };
}

/** The DR freshness guard (YAML `guards.dr_freshness`). */
export const drFreshness = defineGuard<DrFreshnessConfig, Values, Probe>({
  name: "dr_freshness",
  schedule: "0 0 * * * *",
  config: configSchema,
  requires: { hint: HINT },
  reads: () => ({
    last: { key: DR_KEYS.lastRehearsal, type: "string", schema: z.string().nullable() },
    success: { key: DR_KEYS.lastSuccess, type: "string", schema: z.string().nullable() },
  }),
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now, c) {
    return assessDr(snapshot.values, now.getTime(), c).problems.map((p) => ({
      ...p,
      guard: "dr_freshness",
      sop: SOP_DR,
    }));
  },
  metrics: [
    {
      name: "tradeguard_dr_rehearsal_age_seconds",
      help: "Seconds since the last successful DR restore rehearsal (NaN: none recorded)",
    },
    {
      name: "tradeguard_dr_last_rehearsal_ok",
      help: "1 when the latest DR rehearsal succeeded, 0 when it failed (NaN: none)",
    },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    if (at === undefined) return [];
    const a = assessDr(snapshot.values, at, c);
    return [
      { name: "tradeguard_dr_rehearsal_age_seconds", value: a.ageMs === null ? Number.NaN : a.ageMs / 1000 },
      { name: "tradeguard_dr_last_rehearsal_ok", value: a.lastOk === null ? Number.NaN : a.lastOk ? 1 : 0 },
    ];
  },
});

/** Marks dr_freshness configured when the dr section names a scratch Redis (its subject is not guards.dr_freshness). */
export function declareDrFreshness(config: Config): Config {
  const g = config.guards.dr_freshness;
  if (g && config.dr.scratchUrl) g.notConfigured = null;
  return config;
}
