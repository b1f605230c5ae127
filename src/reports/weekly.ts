// The weekly system-health report, computed from what tradeguard recorded: alert events (`alerts:<stream>`),
// acknowledgements, halts and resumes (the audit log: `alert.acknowledged`, `mode.set`, `panic.verified`), recon
// runs (`recon:last`) and key ages (the secret store). Pure over what was read: the same records give the same report.
import { type AuditRecord, readAuditWindow } from "./audit-window.js";
import { reportsOf } from "./config.js";
import { errorBudgetSection } from "./error-budget.js";
import {
  type AlertItem,
  type AlertStats,
  type GuardFired,
  type HaltRow,
  type HaltStats,
  type KeyStats,
  noData,
  ok,
  percentile,
  type ReconStats,
  type Section,
  unreadable,
  type WeeklyReport,
} from "./model.js";
import { inPeriod, type Period } from "./period.js";
import { type AlertEventRecord, type ReportSources, readAlertHistory, readReconLast } from "./sources.js";

const DAY_MS = 86_400_000;

/** Gathers the weekly report of `period`. */
export async function gatherWeekly(src: ReportSources, period: Period): Promise<WeeklyReport> {
  const fromMs = Date.parse(period.from);
  const toMs = Date.parse(period.to);
  const problems: string[] = [];
  const lookback = reportsOf(src.config).lookback_days * DAY_MS;

  const history = await readAlertHistory(src.redis, src.keys, fromMs).catch((err: Error) => {
    problems.push(`alerts:*: unreadable (${err.message})`);
    return null;
  });
  if (history) problems.push(...history.problems);
  const audit = await readAuditWindow(src.redis, src.keys, fromMs - lookback, toMs).catch((err: Error) => {
    problems.push(`audit:log: unreadable (${err.message})`);
    return null;
  });
  if (audit?.unreadable.length)
    problems.push(
      `audit:log: ${audit.unreadable.length} entr${audit.unreadable.length === 1 ? "y" : "ies"} unreadable (${audit.unreadable.slice(0, 5).join(", ")}${audit.unreadable.length > 5 ? ", …" : ""}); run \`tradeguard audit verify\``,
    );
  const recon = await readReconLast(src.redis, src.keys);
  problems.push(...recon.problems);

  const alerts = history && audit ? alertStats(history.events, audit.entries, period) : null;
  return {
    kind: "weekly",
    title: `Weekly health report, ${period.label}`,
    period,
    generatedAt: src.now().toISOString(),
    sections: {
      guards: history ? guardsFired(history.events, period) : unreadable("the alert history could not be read"),
      alerts: alerts ?? unreadable("the alert history or the audit log could not be read"),
      halts: audit ? haltStats(audit.entries, period) : unreadable("the audit log could not be read"),
      recon: reconStats(recon.runs, period, recon.problems.length > 0),
      keys: await keyStats(src),
      errorBudget: await errorBudgetSection(src, period, problems),
    },
    problems,
  };
}

/** Alerts opened per guard and severity (info findings never become alerts), and escalations. */
export function guardsFired(
  events: AlertEventRecord[],
  period: Period,
): Section<{ rows: GuardFired[]; warn: number; critical: number; escalated: number }> {
  const rows = new Map<string, GuardFired>();
  const row = (guard: string) => {
    const r = rows.get(guard) ?? { guard, warn: 0, critical: 0, escalated: 0 };
    rows.set(guard, r);
    return r;
  };
  for (const e of events) {
    if (!inPeriod(period, e.ms) || e.severity === "info") continue;
    if (e.type === "opened") row(e.guard)[e.severity]++;
    else if (e.type === "escalated") row(e.guard).escalated++;
  }
  if (rows.size === 0) return noData("no guard raised an alert in the period");
  const list = [...rows.values()].sort(
    (a, b) => b.critical - a.critical || b.warn - a.warn || a.guard.localeCompare(b.guard),
  );
  const sum = (k: "warn" | "critical" | "escalated") => list.reduce((n, r) => n + r[k], 0);
  return ok({ rows: list, warn: sum("warn"), critical: sum("critical"), escalated: sum("escalated") });
}

/**
 * Alerts opened in the period, each paired with its first acknowledgement (audit `alert.acknowledged` naming its
 * field, at or after it opened and before the same condition opened again) up to the period's end, and with its
 * resolution.
 */
export function alertStats(events: AlertEventRecord[], audit: AuditRecord[], period: Period): Section<AlertStats> {
  const toMs = Date.parse(period.to);
  const byField = new Map<string, AlertEventRecord[]>();
  for (const e of events) byField.set(e.field, [...(byField.get(e.field) ?? []), e]);
  const acks = new Map<string, AuditRecord[]>();
  for (const a of audit) {
    const field = a.action === "alert.acknowledged" ? a.details.alert : undefined;
    if (typeof field === "string") acks.set(field, [...(acks.get(field) ?? []), a]);
  }
  const items: AlertItem[] = [];
  for (const [field, evs] of byField) {
    const opens = evs.filter((e) => e.type === "opened");
    opens.forEach((o, i) => {
      if (!inPeriod(period, o.ms) || o.severity === "info") return;
      const until = Math.min(opens[i + 1]?.ms ?? Number.POSITIVE_INFINITY, toMs);
      const ack = (acks.get(field) ?? []).find((a) => a.ms >= o.ms && a.ms < until);
      const resolved = evs.find((e) => e.type === "resolved" && e.ms >= o.ms && e.ms < until);
      items.push({
        field,
        guard: o.guard,
        severity: o.severity as "warn" | "critical",
        title: o.title,
        openedAt: o.at,
        ackedAt: ack?.ts ?? null,
        ackedBy: ack?.actor ?? null,
        ttaMs: ack ? ack.ms - o.ms : null,
        resolvedAt: resolved?.at ?? null,
      });
    });
  }
  if (items.length === 0) return noData("no alert opened in the period");
  items.sort((a, b) => a.openedAt.localeCompare(b.openedAt) || a.field.localeCompare(b.field));
  const tta = items.flatMap((i) => (i.ttaMs === null ? [] : [i.ttaMs])).sort((a, b) => a - b);
  return ok({
    opened: items.length,
    acknowledged: tta.length,
    unacknowledged: items.length - tta.length,
    resolved: items.filter((i) => i.resolvedAt !== null).length,
    tta: {
      samples: tta.length,
      p50Ms: percentile(tta, 50),
      p90Ms: percentile(tta, 90),
      maxMs: tta.length ? tta[tta.length - 1]! : null,
    },
    items,
  });
}

const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : null);

/**
 * Halts and resumes from the audit log's `mode.set` entries (halt → reduce_only on an approved resume → active when
 * the soak ends) and each panic's verdict (`panic.verified`). A halt while already halted is the same halt.
 */
export function haltStats(audit: AuditRecord[], period: Period): Section<HaltStats> {
  const fromMs = Date.parse(period.from);
  const toMs = Date.parse(period.to);
  type Open = HaltRow & { ms: number; resumedMs: number | null };
  const all: Open[] = [];
  let cur: Open | null = null;
  let state: "active" | "halted" | "soak" = "active";
  for (const e of audit) {
    if (e.action === "panic.verified") {
      const row = all.find((r) => r.panicId !== null && r.panicId === str(e.details.panic_id) && r.status === null);
      if (row) [row.status, row.flatMs] = [str(e.details.status), e.ms - row.ms];
      continue;
    }
    if (e.action !== "mode.set") continue;
    const mode = e.details.mode;
    if (mode === "halt") {
      if (state === "halted") continue;
      // A halt during the soak ends the soak (not as "active"): that halt is over, a new one begins.
      if (state === "soak" && cur) [cur.soakMs, cur.ongoing] = [e.ms - cur.resumedMs!, false];
      cur = {
        panicId: str(e.details.panic_id),
        haltedAt: e.ts,
        actor: e.actor,
        reason: str(e.details.reason),
        status: null,
        flatMs: null,
        resumeRequestId: null,
        resumedAt: null,
        haltedMs: 0,
        activeAt: null,
        soakMs: null,
        ongoing: true,
        startedBefore: e.ms < fromMs,
        ms: e.ms,
        resumedMs: null,
      };
      all.push(cur);
      state = "halted";
    } else if (mode === "reduce_only" && state === "halted" && cur) {
      [cur.resumedAt, cur.resumedMs, cur.resumeRequestId] = [e.ts, e.ms, str(e.details.request_id)];
      state = "soak";
    } else if (mode === "active" && state === "soak" && cur) {
      [cur.activeAt, cur.soakMs, cur.ongoing] = [e.ts, e.ms - cur.resumedMs!, false];
      state = "active";
    } else if (mode === "active") state = "active";
  }
  const halts = all
    .filter((r) => r.ms < toMs && (r.resumedMs ?? toMs) >= fromMs)
    .map(({ ms, resumedMs, ...row }) => ({ ...row, haltedMs: (resumedMs ?? toMs) - ms }));
  if (halts.length === 0) return noData("trading was not halted in the period");
  const inPeriodMs = all.reduce(
    (n, r) => n + Math.max(0, Math.min(r.resumedMs ?? toMs, toMs) - Math.max(r.ms, fromMs)),
    0,
  );
  return ok({ halts, haltedMsInPeriod: inPeriodMs });
}

/** Recon runs made in the period (by run time), from `recon:last`. */
export function reconStats(runs: ReconStats["runs"], period: Period, hadProblems: boolean): Section<ReconStats> {
  const mine = runs.filter((r) => inPeriod(period, r.at)).sort((a, b) => a.at.localeCompare(b.at));
  if (mine.length === 0)
    return hadProblems ? unreadable("recon:last could not be read") : noData("no recon ran in the period");
  const notes =
    runs.length >= 50 && runs.every((r) => Date.parse(r.at) >= Date.parse(period.from))
      ? ["recon:last keeps the newest 50 runs and all of them are from this period: older runs of it may be missing"]
      : [];
  return ok(
    {
      runs: mine,
      ok: mine.filter((r) => r.ok).length,
      mismatched: mine.filter((r) => !r.ok && r.errors === 0).length,
      couldNotReconcile: mine.filter((r) => r.errors > 0).length,
    },
    notes,
  );
}

/** Key ages of every managed broker now, against rotation.max_age_days. */
async function keyStats(src: ReportSources): Promise<Section<KeyStats>> {
  let list: Awaited<ReturnType<ReportSources["keyAges"]>>;
  try {
    list = await src.keyAges();
  } catch (err) {
    return unreadable(`the secret store could not be read (${(err as Error).message})`);
  }
  if (list.length === 0) return noData("no managed brokers (a broker with `secret:` in the config)");
  const maxAgeDays = src.config.rotation.maxAgeDays;
  return ok({
    asOf: src.now().toISOString(),
    maxAgeDays,
    brokers: list.map((k) => ({
      broker: k.broker,
      keyId: k.current?.keyId ?? null,
      ageDays: k.current?.ageDays ?? null,
      due: k.current ? k.current.ageDays > maxAgeDays : true,
      pending: k.pending,
      previous: k.previous,
    })),
  });
}
