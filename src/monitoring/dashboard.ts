// The Grafana dashboard as code, in Grafana's classic dashboard JSON model (the `dashboard` object of
// POST /api/dashboards/db; https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/):
// uid, title, schemaVersion, templating, and panels laid out on Grafana's 24-column grid (gridPos), each with PromQL
// targets on the Prometheus data source picked by the `datasource` variable. The panels are in dashboard-panels.ts;
// this file lays them out. Deterministic: the checked-in monitoring/grafana/tradeguard.json is compared byte for byte.
import { sopLink } from "../notify.js";
import type { RenderOptions } from "./config.js";
import { dashboardRows } from "./dashboard-panels.js";
import { runbookBase } from "./rules.js";
import type { PanelSpec } from "./types.js";

/** Grafana's dashboard schema version the JSON is written in (Grafana 10.4 / 11; newer Grafanas migrate it on load). */
export const SCHEMA_VERSION = 39;
/** Grafana's grid: 24 columns. */
const GRID_WIDTH = 24;

/** The data source every panel queries: the dashboard's `datasource` variable (Grafana's ${var} syntax). */
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable reference, not a JavaScript template
const DATASOURCE = { type: "prometheus", uid: "${datasource}" } as const;

function fieldConfig(p: PanelSpec) {
  const mappings = p.mappings
    ? [
        {
          type: "value",
          options: Object.fromEntries(
            Object.entries(p.mappings).map(([v, m], index) => [v, { text: m.text, color: m.color, index }]),
          ),
        },
      ]
    : [];
  const thresholds = {
    mode: "absolute",
    steps: p.thresholds ?? [{ color: p.mappings ? "text" : "green", value: null }],
  };
  const custom =
    p.type === "timeseries"
      ? {
          drawStyle: "line",
          lineWidth: 1,
          fillOpacity: 10,
          showPoints: "never",
          spanNulls: false,
          thresholdsStyle: { mode: p.thresholds ? "line" : "off" },
        }
      : p.type === "state-timeline"
        ? { fillOpacity: 80, lineWidth: 0 }
        : undefined;
  return {
    defaults: {
      ...(custom ? { custom } : {}),
      color: { mode: p.type === "timeseries" && !p.thresholds ? "palette-classic" : "thresholds" },
      mappings,
      thresholds,
      ...(p.unit ? { unit: p.unit } : {}),
      ...(p.min !== undefined ? { min: p.min } : {}),
      ...(p.max !== undefined ? { max: p.max } : {}),
    },
    overrides: [],
  };
}

function options(p: PanelSpec) {
  const legend = { displayMode: "list", placement: "bottom", showLegend: true };
  if (p.type === "stat")
    return {
      reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
      colorMode: "background",
      graphMode: "none",
      justifyMode: "auto",
      orientation: "auto",
      textMode: "auto",
    };
  if (p.type === "state-timeline")
    return {
      mergeValues: true,
      showValue: "auto",
      alignValue: "left",
      rowHeight: 0.9,
      legend,
      tooltip: { mode: "single", sort: "none" },
    };
  return { legend, tooltip: { mode: "multi", sort: "desc" } };
}

/** The dashboard object (the `dashboard` of Grafana's save API). */
export function buildDashboard(opts: RenderOptions): Record<string, unknown> {
  const base = runbookBase(opts.runbookUrl);
  const job = opts.settings.job;
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of dashboardRows(opts.settings)) {
    panels.push({
      id: id++,
      type: "row",
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: GRID_WIDTH, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    let lineHeight = 0;
    for (const p of row.panels) {
      if (x + p.w > GRID_WIDTH) {
        y += lineHeight;
        x = 0;
        lineHeight = 0;
      }
      panels.push({
        id: id++,
        type: p.type,
        title: p.title,
        description: p.description,
        gridPos: { h: p.h, w: p.w, x, y },
        datasource: DATASOURCE,
        targets: p.targets.map((t, i) => ({
          refId: String.fromCharCode(65 + i),
          datasource: DATASOURCE,
          expr: t.expr,
          legendFormat: t.legend ?? "__auto",
          range: true,
          instant: false,
        })),
        fieldConfig: fieldConfig(p),
        options: options(p),
        ...(p.sop ? { links: [{ title: "SOP (RUNBOOK.md)", url: sopLink(base, p.sop), targetBlank: true }] } : {}),
      });
      x += p.w;
      lineHeight = Math.max(lineHeight, p.h);
    }
    y += lineHeight;
  }
  const instanceQuery = `label_values(up{job="$job"}, instance)`;
  return {
    id: null,
    uid: opts.settings.grafana.dashboard_uid,
    title: "tradeguard",
    description:
      "The trading desk's safety layer: trading mode, the watchman (bot, heartbeat, Redis), panics, guards, alerts, API quotas, time sync and error budgets. Generated from src/monitoring/ (npm run gen:monitoring).",
    tags: ["tradeguard", "trading"],
    timezone: "utc",
    editable: false,
    graphTooltip: 1,
    refresh: "30s",
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    time: { from: "now-6h", to: "now" },
    timepicker: {},
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: "",
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: "grafana", uid: "-- Grafana --" },
          enable: true,
          hide: true,
          iconColor: "rgba(0, 211, 255, 1)",
          name: "Annotations & Alerts",
          type: "dashboard",
        },
      ],
    },
    links: [
      {
        title: "Runbook",
        type: "link",
        url: base,
        icon: "doc",
        tooltip: "tradeguard's SOPs",
        targetBlank: true,
        asDropdown: false,
        includeVars: false,
        keepTime: false,
        tags: [],
      },
    ],
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource",
          query: "prometheus",
          current: {},
          hide: 0,
          includeAll: false,
          multi: false,
          options: [],
          refresh: 1,
          regex: "",
        },
        {
          name: "job",
          label: "Job",
          type: "custom",
          query: job,
          current: { selected: true, text: job, value: job },
          options: [{ selected: true, text: job, value: job }],
          hide: 0,
          includeAll: false,
          multi: false,
        },
        {
          name: "instance",
          label: "Bot",
          type: "query",
          datasource: DATASOURCE,
          definition: instanceQuery,
          query: { query: instanceQuery, refId: "PrometheusVariableQueryEditor-VariableQuery" },
          current: {},
          hide: 0,
          includeAll: true,
          multi: true,
          allValue: ".*",
          options: [],
          refresh: 2,
          regex: "",
          sort: 1,
        },
      ],
    },
    panels,
  };
}

/** The dashboard JSON file. */
export function renderDashboard(opts: RenderOptions): string {
  return `${JSON.stringify(buildDashboard(opts), null, 2)}\n`;
}
