// The monthly report's charts: costs against budget with the forecast, net P&L per strategy, the slippage histogram
// per strategy, and the caps hit. Positions on an axis are numbers (plotting only); labels keep the exact decimals.
import type { TopLevelSpec } from "vega-lite";
import { type ChartDef, empty, frame, SEVERITY_COLOURS } from "./chart-spec.js";
import type { ReportsSettings } from "./config.js";
import type { MonthlyReport, Section } from "./model.js";

type Size = Pick<ReportsSettings, "chart_width" | "chart_height">;
const why = (s: Section<unknown>) => (s.status === "ok" ? "" : s.reason);

function costs(r: MonthlyReport, s: Size): ChartDef {
  const id = "costs";
  const title = "Costs against budget";
  const c = r.sections.costs;
  if (c.status !== "ok") return empty(id, title, why(c));
  const values = c.data.rows.map((x) => ({
    source: `${x.source} (${x.currency})`,
    spent: Number(x.spent),
    spentLabel: x.spent,
    budget: x.monthlyBudget === null ? null : Number(x.monthlyBudget),
    forecast: x.forecast === null ? null : Number(x.forecast),
  }));
  const y = { field: "source", type: "nominal", title: null } as const;
  const spec = {
    ...frame(s, title, `${c.data.month} (UTC) · bar: spent · black tick: monthly budget · ring: month-end forecast`),
    data: { values },
    layer: [
      {
        mark: { type: "bar", tooltip: true, color: "#1f77b4" },
        encoding: { y, x: { field: "spent", type: "quantitative", title: "amount" } },
      },
      {
        transform: [{ filter: "datum.budget != null" }],
        mark: { type: "tick", thickness: 3, color: "#000000" },
        encoding: { y, x: { field: "budget", type: "quantitative" } },
      },
      {
        transform: [{ filter: "datum.forecast != null" }],
        mark: { type: "point", size: 160, strokeWidth: 3, filled: false, color: SEVERITY_COLOURS.warn },
        encoding: { y, x: { field: "forecast", type: "quantitative" } },
      },
      {
        mark: { type: "text", align: "left", dx: 6, color: "#333333", fontSize: 12 },
        encoding: { y, x: { field: "spent", type: "quantitative" }, text: { field: "spentLabel" } },
      },
    ],
  } as TopLevelSpec;
  const altText = `Costs: ${c.data.rows.map((x) => `${x.source} ${x.spent} ${x.currency}${x.monthlyBudget ? ` of ${x.monthlyBudget}` : ""}${x.forecast ? `, forecast ${x.forecast}` : ""}`).join("; ")}.`;
  return { id, title, altText, spec };
}

function pnl(r: MonthlyReport, s: Size): ChartDef {
  const id = "pnl";
  const title = "Net realized P&L by strategy";
  const p = r.sections.pnl;
  if (p.status !== "ok") return empty(id, title, why(p));
  const values = p.data.rows.map((x) => ({ strategy: x.strategy, net: Number(x.net), label: x.net }));
  const spec = {
    ...frame(s, title, `total ${p.data.net} · realized FIFO less fees · ${r.period.label}`),
    data: { values },
    layer: [
      {
        mark: { type: "bar", tooltip: true },
        encoding: {
          y: { field: "strategy", type: "nominal", title: null, sort: "-x" },
          x: { field: "net", type: "quantitative", title: "net realized P&L" },
          color: { condition: { test: "datum.net < 0", value: SEVERITY_COLOURS.critical }, value: "#2ca02c" },
        },
      },
      {
        mark: { type: "rule", color: "#333333" },
        data: { values: [{ zero: 0 }] },
        encoding: { x: { field: "zero", type: "quantitative" } },
      },
    ],
  } as TopLevelSpec;
  return { id, title, altText: `Net P&L: ${p.data.rows.map((x) => `${x.strategy} ${x.net}`).join(", ")}.`, spec };
}

function slippage(r: MonthlyReport, s: Size): ChartDef {
  const id = "slippage";
  const title = "Slippage distribution (bps, positive = adverse)";
  const sl = r.sections.slippage;
  if (sl.status !== "ok") return empty(id, title, why(sl));
  const spec = {
    ...frame(
      s,
      title,
      sl.data.rows.map((x) => `${x.strategy}: mean ${x.meanBps} bps over ${x.fills} fills`).join(" · "),
    ),
    data: { values: sl.data.histogram },
    mark: { type: "bar", tooltip: true },
    encoding: {
      x: {
        field: "label",
        type: "ordinal",
        sort: sl.data.buckets,
        scale: { domain: sl.data.buckets },
        title: "slippage bucket (bps)",
        axis: { labelAngle: -40 },
      },
      y: { field: "fills", type: "quantitative", aggregate: "sum", title: "fills", axis: { tickMinStep: 1 } },
      color: { field: "strategy", type: "nominal", legend: { orient: "bottom", title: null } },
    },
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Slippage: ${sl.data.rows.map((x) => `${x.strategy} mean ${x.meanBps} bps, ${x.adverse} adverse of ${x.fills}`).join("; ")}.`,
    spec,
  };
}

function caps(r: MonthlyReport, s: Size): ChartDef {
  const id = "caps";
  const title = "Strategy caps and allocator bounds hit";
  const c = r.sections.caps;
  if (c.status !== "ok") return empty(id, title, why(c));
  const spec = {
    ...frame(s, title, `${c.data.total} alert(s) · ${r.period.label}`),
    data: { values: c.data.rows },
    mark: { type: "bar", tooltip: true },
    encoding: {
      y: { field: "strategy", type: "nominal", title: null },
      x: { field: "count", type: "quantitative", aggregate: "sum", title: "times hit", axis: { tickMinStep: 1 } },
      color: { field: "rule", type: "nominal", legend: { orient: "bottom", title: null } },
    },
  } as TopLevelSpec;
  return {
    id,
    title,
    altText: `Caps hit: ${c.data.rows.map((x) => `${x.strategy} ${x.rule} ${x.count}`).join(", ")}.`,
    spec,
  };
}

/** Every chart of a monthly report, in reading order. */
export function monthlyCharts(r: MonthlyReport, s: Size): ChartDef[] {
  return [costs(r, s), pnl(r, s), slippage(r, s), caps(r, s)];
}
