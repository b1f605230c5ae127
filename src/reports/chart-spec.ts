// What a chart is before it is drawn: a Vega-Lite spec over inline data (never a URL), or the reason there is nothing
// to draw. Sizes and the look are shared here so every chart of every report reads the same way.
import type { TopLevelSpec } from "vega-lite";
import type { ReportsSettings } from "./config.js";

export interface ChartDef {
  /** File-name safe id: "alerts-by-guard". */
  id: string;
  title: string;
  /** What the image shows, for screen readers (Slack's alt text). */
  altText: string;
  /** The spec, or null with `noData` when there is nothing to draw (no empty axes). */
  spec: TopLevelSpec | null;
  noData?: string;
}

/** Severity colours, the same in every chart (and close to Slack's attachment colours). */
export const SEVERITY_COLOURS = { warn: "#e8a317", critical: "#d62728" } as const;
export const FONT = "DejaVu Sans";

/** The chart's frame: exact pixel size (autosize fit, padding included), white background, one font. */
export function frame(s: Pick<ReportsSettings, "chart_width" | "chart_height">, title: string, subtitle?: string) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: s.chart_width,
    height: s.chart_height,
    autosize: { type: "fit", contains: "padding" },
    padding: 16,
    background: "#ffffff",
    title: { text: title, ...(subtitle ? { subtitle } : {}), anchor: "start", fontSize: 18, subtitleFontSize: 13 },
    config: {
      font: FONT,
      axis: { labelFontSize: 12, titleFontSize: 13, labelLimit: 260 },
      legend: { labelFontSize: 12, titleFontSize: 13 },
      view: { stroke: null },
    },
  } as const;
}

/** A chart with nothing to draw: said so, never an empty axis. */
export function empty(id: string, title: string, reason: string): ChartDef {
  return { id, title, altText: `${title}: no data (${reason})`, spec: null, noData: reason };
}

/** Milliseconds to minutes, rounded to 0.1 (chart positions only; the report's numbers stay exact). */
export const minutes = (ms: number) => Math.round(ms / 6_000) / 10;
