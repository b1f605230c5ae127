// The weekly report's charts: alerts by guard and severity, time to acknowledge, halts on the week's timeline, recon
// outcomes per trade date, key ages against the rotation limit, error-budget burn. Pure: report in, specs out.
import { DateTime } from "luxon";
import type { TopLevelSpec } from "vega-lite";
import { type ChartDef, empty, frame, minutes, SEVERITY_COLOURS } from "./chart-spec.js";
import type { ReportsSettings } from "./config.js";
import type { Section, WeeklyReport } from "./model.js";
import { REPORT_ZONE } from "./period.js";

type Size = Pick<ReportsSettings, "chart_width" | "chart_height">;

const why = (s: Section<unknown>) => (s.status === "ok" ? "" : s.reason);

/**
 * An instant as New York wall-clock time on a UTC axis: Vega formats time in the process's zone or UTC, and a bot
 * may run anywhere, so the axis shows UTC of the shifted value (DST handled by luxon).
 */
function nyWall(iso: string): number {
  const t = DateTime.fromISO(iso, { zone: REPORT_ZONE });
  return t.toMillis() + t.offset * 60_000;
}

function alertsByGuard(r: WeeklyReport, s: Size): ChartDef {
  const id = "alerts-by-guard";
  const title = "Alerts raised, by guard and severity";
  const g = r.sections.guards;
  if (g.status !== "ok") return empty(id, title, why(g));
  const values = g.data.rows.flatMap((row) =>
    (["critical", "warn"] as const)
      .filter((sev) => row[sev] > 0)
      .map((sev) => ({ guard: row.guard, severity: sev, alerts: row[sev] })),
  );
  const spec = {
    ...frame(
      s,
      title,
      `${g.data.critical} critical, ${g.data.warn} warn, ${g.data.escalated} escalated · ${r.period.label}`,
    ),
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      y: { field: "guard", type: "nominal", sort: "-x", title: null },
      x: { field: "alerts", type: "quantitative", aggregate: "sum", title: "alerts opened", axis: { tickMinStep: 1 } },
      color: {
        field: "severity",
        type: "nominal",
        scale: { domain: ["critical", "warn"], range: [SEVERITY_COLOURS.critical, SEVERITY_COLOURS.warn] },
        legend: { orient: "bottom", title: null },
      },
      order: { field: "severity", sort: "ascending" },
    },
  } as TopLevelSpec;
  const altText = `Alerts opened per guard: ${g.data.rows.map((x) => `${x.guard} ${x.critical} critical, ${x.warn} warn`).join("; ")}.`;
  return { id, title, altText, spec };
}

function timeToAck(r: WeeklyReport, s: Size): ChartDef {
  const id = "time-to-acknowledge";
  const title = "Time to acknowledge";
  const a = r.sections.alerts;
  if (a.status !== "ok") return empty(id, title, why(a));
  if (a.data.tta.samples === 0) return empty(id, title, `none of the ${a.data.opened} alerts was acknowledged`);
  const values = a.data.items.flatMap((i) =>
    i.ttaMs === null ? [] : [{ minutes: minutes(i.ttaMs), severity: i.severity, guard: i.guard }],
  );
  const p50 = minutes(a.data.tta.p50Ms!);
  const p90 = minutes(a.data.tta.p90Ms!);
  const spec = {
    ...frame(
      s,
      title,
      `${a.data.acknowledged} of ${a.data.opened} acknowledged · p50 ${p50} min · p90 ${p90} min · ${r.period.label}`,
    ),
    layer: [
      {
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          x: {
            field: "minutes",
            type: "quantitative",
            bin: { maxbins: 24 },
            title: "minutes from opened to acknowledged",
          },
          y: { aggregate: "count", type: "quantitative", title: "alerts", axis: { tickMinStep: 1 } },
          color: {
            field: "severity",
            type: "nominal",
            scale: { domain: ["critical", "warn"], range: [SEVERITY_COLOURS.critical, SEVERITY_COLOURS.warn] },
            legend: { orient: "bottom", title: null },
          },
        },
      },
      {
        data: {
          values: [
            { label: "p50", minutes: p50 },
            { label: "p90", minutes: p90 },
          ],
        },
        layer: [
          {
            mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 2, color: "#333333" },
            encoding: { x: { field: "minutes", type: "quantitative" } },
          },
          {
            mark: { type: "text", align: "left", dx: 5, dy: 4, baseline: "top", color: "#333333", fontSize: 12 },
            encoding: { x: { field: "minutes", type: "quantitative" }, y: { value: 0 }, text: { field: "label" } },
          },
        ],
      },
    ],
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Time to acknowledge: p50 ${p50} minutes, p90 ${p90} minutes, ${a.data.acknowledged} of ${a.data.opened} alerts acknowledged.`,
    spec,
  };
}

function halts(r: WeeklyReport, s: Size): ChartDef {
  const id = "halts";
  const title = "Halts and resumes";
  const h = r.sections.halts;
  if (h.status !== "ok") return empty(id, title, why(h));
  const clip = (iso: string) => Math.min(Math.max(Date.parse(iso), Date.parse(r.period.from)), Date.parse(r.period.to));
  const at = (ms: number) => nyWall(new Date(ms).toISOString());
  const values = h.data.halts.flatMap((row, i) => {
    const label = `${i + 1}. ${row.panicId ?? row.haltedAt}`;
    const haltEnd = row.resumedAt ?? r.period.to;
    const out = [{ halt: label, phase: "halted", start: at(clip(row.haltedAt)), end: at(clip(haltEnd)) }];
    if (row.resumedAt)
      out.push({
        halt: label,
        phase: "reduce-only soak",
        start: at(clip(row.resumedAt)),
        end: at(clip(row.activeAt ?? r.period.to)),
      });
    return out;
  });
  const spec = {
    ...frame(s, title, `${h.data.halts.length} halt(s) · New York time · ${r.period.label}`),
    data: { values },
    mark: { type: "bar", cornerRadius: 2, minBandwidth: 2 },
    encoding: {
      y: { field: "halt", type: "nominal", title: null },
      x: {
        field: "start",
        type: "temporal",
        // domainMin/Max, not domain: a temporal `domain` conflicts with the x2 channel's and Vega-Lite warns.
        scale: { type: "utc", domainMin: at(Date.parse(r.period.from)), domainMax: at(Date.parse(r.period.to)) },
        axis: { format: "%a %d %H:%M", labelAngle: 0, tickCount: 7 },
        title: null,
      },
      x2: { field: "end" },
      color: {
        field: "phase",
        type: "nominal",
        scale: { domain: ["halted", "reduce-only soak"], range: [SEVERITY_COLOURS.critical, SEVERITY_COLOURS.warn] },
        legend: { orient: "bottom", title: null },
      },
    },
  } as TopLevelSpec;
  return { id, title, altText: `${h.data.halts.length} halt(s) on the week's timeline.`, spec };
}

function reconChart(r: WeeklyReport, s: Size): ChartDef {
  const id = "recon";
  const title = "Recon runs by trade date";
  const rc = r.sections.recon;
  if (rc.status !== "ok") return empty(id, title, why(rc));
  const outcome = (x: { ok: boolean; errors: number }) =>
    x.ok ? "ok" : x.errors > 0 ? "could not reconcile" : "mismatch";
  const values = rc.data.runs.map((x) => ({ date: x.date, outcome: outcome(x), broker: x.broker ?? "all" }));
  const spec = {
    ...frame(
      s,
      title,
      `${rc.data.ok} ok, ${rc.data.mismatched} mismatch, ${rc.data.couldNotReconcile} could not reconcile`,
    ),
    data: { values },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: { field: "date", type: "ordinal", title: "trade date", axis: { labelAngle: 0 } },
      y: { aggregate: "count", type: "quantitative", title: "runs", axis: { tickMinStep: 1 } },
      color: {
        field: "outcome",
        type: "nominal",
        scale: {
          domain: ["ok", "mismatch", "could not reconcile"],
          range: ["#2ca02c", SEVERITY_COLOURS.critical, "#7f7f7f"],
        },
        legend: { orient: "bottom", title: null },
      },
    },
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Recon: ${rc.data.ok} ok, ${rc.data.mismatched} mismatched, ${rc.data.couldNotReconcile} could not reconcile.`,
    spec,
  };
}

function keyAges(r: WeeklyReport, s: Size): ChartDef {
  const id = "key-ages";
  const title = "API key ages";
  const k = r.sections.keys;
  if (k.status !== "ok") return empty(id, title, why(k));
  const values = k.data.brokers.map((b) => ({
    broker: b.broker,
    days: b.ageDays ?? 0,
    state: b.due ? "due for rotation" : "ok",
  }));
  const spec = {
    ...frame(s, title, `limit ${k.data.maxAgeDays} days (rotation.max_age_days) · as of ${k.data.asOf.slice(0, 10)}`),
    layer: [
      {
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          y: { field: "broker", type: "nominal", title: null },
          x: { field: "days", type: "quantitative", title: "days since the CURRENT key was provisioned" },
          color: {
            field: "state",
            type: "nominal",
            scale: { domain: ["ok", "due for rotation"], range: ["#2ca02c", SEVERITY_COLOURS.warn] },
            legend: { orient: "bottom", title: null },
          },
        },
      },
      {
        data: { values: [{ limit: k.data.maxAgeDays }] },
        mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 2, color: "#333333" },
        encoding: { x: { field: "limit", type: "quantitative" } },
      },
    ],
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Key ages: ${k.data.brokers.map((b) => `${b.broker} ${b.ageDays ?? "no key"} days`).join(", ")}; limit ${k.data.maxAgeDays} days.`,
    spec,
  };
}

function errorBudget(r: WeeklyReport, s: Size): ChartDef {
  const id = "error-budget";
  const title = "Error-budget burn rate";
  const e = r.sections.errorBudget;
  if (e.status !== "ok") return empty(id, title, why(e));
  const rows = e.data.rows.filter((x) => x.burnRate !== null);
  const values = rows.map((x) => ({
    slo: `${x.slo} (${x.target} %)`,
    burn: Number(x.burnRate),
    left: x.leftPct ?? "—",
  }));
  const spec = {
    ...frame(s, title, `period burn rate per SLO; 1× spends exactly the budget · ${r.period.label}`),
    layer: [
      {
        data: { values },
        mark: { type: "bar", tooltip: true },
        encoding: {
          y: { field: "slo", type: "nominal", title: null },
          x: { field: "burn", type: "quantitative", title: "burn rate (× budget)" },
          color: { condition: { test: "datum.burn > 1", value: SEVERITY_COLOURS.critical }, value: "#1f77b4" },
        },
      },
      {
        data: { values: [{ burn: 1 }] },
        mark: { type: "rule", strokeDash: [6, 4], strokeWidth: 2, color: "#333333" },
        encoding: { x: { field: "burn", type: "quantitative" } },
      },
    ],
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Error-budget burn rate: ${rows.map((x) => `${x.slo} ${x.burnRate}×`).join(", ")}.`,
    spec,
  };
}

/** Every chart of a weekly report, in reading order. */
export function weeklyCharts(r: WeeklyReport, s: Size): ChartDef[] {
  return [alertsByGuard(r, s), timeToAck(r, s), halts(r, s), reconChart(r, s), keyAges(r, s), errorBudget(r, s)];
}
