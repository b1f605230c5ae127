// The cutover checklist (issue 14 §15): each gate a check over live state, with the evidence it judged. A gate whose
// data does not exist (never recorded, not configured, unreadable) is "unknown", never "pass"; a gate the desk took
// off the checklist (`cutover.gates.<gate>: false`) is "off" and said so. The order is the checklist's.

import { EXCHANGE_RE, readQuotaUsage } from "@tradeguard/gate/ratelimit";
import { Decimal } from "decimal.js";
import cron from "node-cron";
import { z } from "zod";
import type { CutoverSettings } from "../config-schema.js";
import { lastClosedTradingDay, previousTradingDay } from "../market/calendar.js";
import { DR_KEYS, rateLimitKeys } from "../state/keys.js";
import type { OpsDeps } from "./deps.js";
import { drFutureTolerance, judgeRehearsals } from "./dr.js";
import { SecretsOperation } from "./secrets.js";
import { message } from "./within.js";

export const GATES = [
  "recon",
  "dr_rehearsal",
  "time_sync",
  "quotas",
  "error_budgets",
  "alerts",
  "key_rotation",
] as const;
export type GateName = (typeof GATES)[number];
export type Verdict = "pass" | "fail" | "unknown" | "off";

/** One gate's verdict and what it is based on. */
export interface GateResult {
  gate: GateName;
  verdict: Verdict;
  evidence: string;
}

type Gates = CutoverSettings["gates"];
type Check<G extends GateName> = (
  deps: OpsDeps,
  s: Exclude<Gates[G], false>,
  now: Date,
) => Promise<Omit<GateResult, "gate">>;

const DAY_MS = 86_400_000;
const reconSummary = z.object({
  date: z.string(),
  broker: z.string().nullable(),
  ok: z.boolean(),
  mismatches: z.number().int(),
  errors: z.number().int(),
  at: z.string(),
});

const recon: Check<"recon"> = async (d, s, now) => {
  let raw: string[];
  try {
    raw = await d.redis.lrange(d.keys.reconLast, 0, 49);
  } catch (err) {
    return { verdict: "unknown", evidence: `recon:last unreadable: ${message(err)}` };
  }
  // Every configured broker is judged by its own latest run (`recon --broker NAME`, live or with its statement file).
  // A run without --broker compared one statement file with every ledger fill: it does not say whose statement it
  // was, so it stands in for no broker.
  const configured = d.config.brokers.map((b) => b.name);
  const latest = new Map<string, z.infer<typeof reconSummary>>();
  let bad = 0;
  let unattributed = 0;
  for (const r of raw) {
    const p = reconSummary.safeParse(safeJson(r));
    if (!p.success) bad++;
    else if (p.data.broker === null) unattributed++;
    else if (configured.includes(p.data.broker) && !latest.has(p.data.broker)) latest.set(p.data.broker, p.data);
  }
  const notes = [
    ...(unattributed ? [`${unattributed} run(s) without --broker not counted (they do not say whose statement)`] : []),
    ...(bad ? [`${bad} unreadable entries in recon:last`] : []),
  ];
  if (latest.size === 0 && raw.length === 0) return { verdict: "unknown", evidence: "no recon recorded" };
  let need = lastClosedTradingDay(now);
  for (let i = 0; i < s.maxTradingDaysBehind; i++) need = previousTradingDay(need);
  const out = configured.map((name): { verdict: Verdict; text: string } => {
    const r = latest.get(name);
    if (!r) return { verdict: "unknown", text: `${name}: no recon recorded (tradeguard recon --broker ${name})` };
    const state = r.errors ? "could not reconcile" : r.ok ? "ok" : `${r.mismatches} mismatch(es)`;
    return {
      verdict: !r.ok || r.errors > 0 || r.date < need ? "fail" : "pass",
      text: `${name} ${r.date} ${state}${r.date < need ? " (too old)" : ""}`,
    };
  });
  return {
    verdict: worst(out.map((o) => o.verdict)),
    evidence: [...out.map((o) => o.text), ...notes, `a trade date on or after ${need} is needed`].join("; "),
  };
};

const drRehearsal: Check<"dr_rehearsal"> = async (d, s, now) => {
  const [l, ok] = await d.redis.mget(d.keys.raw(DR_KEYS.lastRehearsal), d.keys.raw(DR_KEYS.lastSuccess));
  // The dr_freshness guard's reading: a record dated ahead of this host's clock (beyond its tolerance) is not fresh.
  const tolerance = drFutureTolerance(d.config);
  const j = judgeRehearsals({ last: l ?? null, success: ok ?? null }, now.getTime(), tolerance);
  if (j.invalid.length)
    return { verdict: "unknown", evidence: `${j.invalid[0]!.key} unreadable: ${j.invalid[0]!.problem}` };
  if (j.future.length)
    return {
      verdict: "unknown",
      evidence: `${j.future[0]!.key} says ${j.future[0]!.ts}, ahead of this host's clock by more than ${tolerance} ms: check the clocks (time_sync)`,
    };
  const { last, success } = j;
  if (!last && !success) return { verdict: "unknown", evidence: "no DR rehearsal recorded (tradeguard dr rehearse)" };
  if (!success) return { verdict: "fail", evidence: `the only recorded rehearsal (${last!.ts}) failed` };
  const age = Math.max(0, now.getTime() - Date.parse(success.ts));
  const text = `last successful rehearsal ${success.ts} (${(age / DAY_MS).toFixed(1)} d ago, ${success.keys} keys in ${success.ms} ms); limit ${s.maxAgeDays} d`;
  if (last && !last.ok && Date.parse(last.ts) > Date.parse(success.ts))
    return { verdict: "fail", evidence: `the latest rehearsal (${last.ts}) failed; ${text}` };
  return { verdict: age > s.maxAgeDays * DAY_MS ? "fail" : "pass", evidence: text };
};

/** A guard's record older than this many of its schedule's intervals proves nothing (the engine's staleness rule). */
const STALE_INTERVALS = 3;
/** A lastRun further ahead of this host's clock than this is not believed. */
const FUTURE_TOLERANCE_MS = 60_000;

const timeSync: Check<"time_sync"> = async (d, _s, now) => {
  const { guards, unreadable } = await d.guards.readStates();
  const g = guards.find((x) => x.name === "time_sync");
  if (!g)
    return {
      verdict: "unknown",
      evidence: `the time_sync guard is not running${unreadable.length ? ` (${unreadable[0]!.problem})` : ""}`,
    };
  // Only an enabled guard's own, recent run says anything about the clocks now: a disabled guard's record is
  // whatever it found when it last ran, however long ago, and the engine marks only enabled guards stale.
  if (!g.enabled)
    return { verdict: "unknown", evidence: `time_sync is disabled (guards.time_sync.enabled: false): ${g.detail}` };
  const at = g.lastRun ? ` at ${g.lastRun}` : "";
  if (g.state === "ok" || g.state === "warn" || g.state === "critical") {
    const ran = Date.parse(g.lastRun);
    const every = intervalOf(g.schedule);
    if (!Number.isFinite(ran)) return { verdict: "unknown", evidence: `time_sync ${g.state} with no readable lastRun` };
    if (ran - now.getTime() > FUTURE_TOLERANCE_MS)
      return { verdict: "unknown", evidence: `time_sync last ran ${g.lastRun}, ahead of this host's clock` };
    if (now.getTime() - ran > STALE_INTERVALS * every)
      return {
        verdict: "unknown",
        evidence: `time_sync last ran ${g.lastRun}, more than ${STALE_INTERVALS} intervals (${(STALE_INTERVALS * every) / 1000} s) ago: ${g.detail}`,
      };
  }
  if (g.state === "ok") return { verdict: "pass", evidence: `time_sync ok${at}` };
  if (g.state === "warn" || g.state === "critical")
    return { verdict: "fail", evidence: `time_sync ${g.state}${at}: ${g.detail}` };
  return { verdict: "unknown", evidence: `time_sync ${g.state}: ${g.detail}` };
};

/** The settings of the api_quota guard the gate honours: the exchanges the desk declared and their limit_15m. */
const quotaSettings = z.object({
  exchanges: z.record(z.string(), z.object({ limit_15m: z.number().optional() }).loose()).default({}),
});

const quotas: Check<"quotas"> = async (d, s, now) => {
  const parsed = quotaSettings.safeParse(d.config.guards.api_quota?.settings ?? {});
  const declared = parsed.success ? parsed.data.exchanges : {};
  const reported = new Set(
    (await d.redis.smembers(d.keys.raw(rateLimitKeys.exchanges))).filter((e) => EXCHANGE_RE.test(e)),
  );
  // The declared exchanges (guards.api_quota.exchanges) must each be reported; any other reported one is judged too.
  const exchanges = [...new Set([...Object.keys(declared), ...reported])].sort();
  if (exchanges.length === 0)
    return { verdict: "unknown", evidence: "no exchange quota recorded (quota:exchanges is empty)" };
  const limits = Object.fromEntries(Object.entries(declared).map(([e, v]) => [e, v.limit_15m]));
  const rows = await readQuotaUsage(d.redis, d.keys.prefix, exchanges, now.getTime(), limits);
  const out: { verdict: Verdict; text: string }[] = rows.map(({ usage: u, invalid }) => {
    if (!reported.has(u.exchange))
      return {
        verdict: "unknown",
        text: `${u.exchange} not reported by any rate limiter (not in ${rateLimitKeys.exchanges})`,
      };
    if (invalid.length) return { verdict: "unknown", text: `${u.exchange} unreadable (${invalid[0]})` };
    if (u.limit === null) return { verdict: "unknown", text: `${u.exchange} has no quota limit recorded` };
    // used / limit < max%  ⇔  100·used < max·limit, exactly.
    const under = new Decimal(u.used).times(100).lt(new Decimal(s.maxUsedPct).times(u.limit));
    const pct = new Decimal(u.used).times(100).div(u.limit).toFixed(1);
    return { verdict: under ? "pass" : "fail", text: `${u.exchange} ${pct}% (${u.used}/${u.limit})` };
  });
  return {
    verdict: worst(out.map((o) => o.verdict)),
    evidence: `${out.map((o) => o.text).join("; ")}; limit < ${s.maxUsedPct}%`,
  };
};

const errorBudgets: Check<"error_budgets"> = async (d, s, now) => {
  if (!d.budgets || d.budgets.slos().length === 0)
    return { verdict: "unknown", evidence: "no SLO declared (guards.error_budget.slos)" };
  const { slos, unreadable } = await d.budgets.read(now, s.minLeftPct);
  if (unreadable.length)
    return { verdict: "unknown", evidence: `${unreadable[0]!.key} unreadable: ${unreadable[0]!.problem}` };
  const out = slos.map((b): { verdict: Verdict; text: string } => {
    if (b.state === "no_data") return { verdict: "unknown", text: `${b.slo}: no events in ${b.periodDays} d` };
    if (b.state === "unreadable") return { verdict: "unknown", text: `${b.slo}: unreadable (${b.problems[0]})` };
    if (b.spent) return { verdict: "fail", text: `${b.slo}: spent (${b.leftPct} left)` };
    return { verdict: b.leftAbove ? "pass" : "fail", text: `${b.slo}: ${b.leftPct} left` };
  });
  return {
    verdict: worst(out.map((o) => o.verdict)),
    evidence: `${out.map((o) => o.text).join("; ")}; more than ${s.minLeftPct}% of each budget must be left`,
  };
};

const alerts: Check<"alerts"> = async (d) => {
  const { alerts: open, unreadable } = await d.alerts.readOpen();
  if (unreadable.length)
    return { verdict: "unknown", evidence: `${unreadable[0]!.key} unreadable: ${unreadable[0]!.problem}` };
  const critical = open.filter((a) => a.severity === "critical");
  if (critical.length)
    return {
      verdict: "fail",
      evidence: `${critical.length} critical alert(s) open: ${critical
        .slice(0, 3)
        .map((a) => `${a.title} (since ${a.since})`)
        .join("; ")}`,
    };
  return { verdict: "pass", evidence: `${open.length} open alert(s), none critical` };
};

const keyRotation: Check<"key_rotation"> = async (d) => {
  const ops = new SecretsOperation(d);
  if (ops.managedNames().length === 0)
    return { verdict: "unknown", evidence: "no managed broker keys (secret: in a broker's config)" };
  let list: Awaited<ReturnType<SecretsOperation["list"]>>;
  try {
    list = await ops.list();
  } catch (err) {
    return { verdict: "unknown", evidence: `secret store unreadable: ${message(err)}` };
  }
  const max = d.config.rotation.maxAgeDays;
  const out = list.map((k): { verdict: Verdict; text: string } => {
    if (!k.current) return { verdict: "fail", text: `${k.broker}: no CURRENT key` };
    return {
      verdict: k.current.ageDays > max ? "fail" : "pass",
      text: `${k.broker} ${k.current.keyId} ${k.current.ageDays} d`,
    };
  });
  return {
    verdict: worst(out.map((o) => o.verdict)),
    evidence: `${out.map((o) => o.text).join("; ")}; limit ${max} d`,
  };
};

const CHECKS: { [G in GateName]: Check<G> } = {
  recon,
  dr_rehearsal: drRehearsal,
  time_sync: timeSync,
  quotas,
  error_budgets: errorBudgets,
  alerts,
  key_rotation: keyRotation,
};

/** Runs every gate of the checklist at `now` (in parallel); a gate that throws is "unknown" with the reason. */
export async function runGates(deps: OpsDeps, now: Date): Promise<GateResult[]> {
  const gates = deps.config.cutover.gates;
  return Promise.all(
    GATES.map(async (gate): Promise<GateResult> => {
      const s = gates[gate];
      if (s === false) return { gate, verdict: "off", evidence: `off the checklist (cutover.gates.${gate}: false)` };
      try {
        return { gate, ...(await (CHECKS[gate] as Check<GateName>)(deps, s as never, now)) };
      } catch (err) {
        return { gate, verdict: "unknown", evidence: `could not check: ${message(err)}` };
      }
    }),
  );
}

/** fail beats unknown beats pass. */
function worst(vs: Verdict[]): Verdict {
  return vs.includes("fail") ? "fail" : vs.includes("unknown") || vs.length === 0 ? "unknown" : "pass";
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** The interval between a cron schedule's next two runs (as the guard engine measures it; a minute if unknown). */
function intervalOf(schedule: string): number {
  const t = cron.createTask(schedule, () => {});
  try {
    const [a, b] = t.getNextRuns(2);
    return a && b ? b.getTime() - a.getTime() : 60_000;
  } finally {
    void t.destroy();
  }
}
