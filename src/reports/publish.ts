// Producing and publishing a report: gather → draw the charts → Markdown + JSON → save all of it in the snapshot
// store (local dir or the WORM bucket, like panic snapshots) → post to the alert channel with the charts uploaded
// (Slack's external upload flow, through a ChartUploader the composition root provides) → audit. The CLI and the
// scheduled job call these; neither has a second implementation.
import { esc } from "../notify.js";
import { audit, type OpsDeps } from "../ops/deps.js";
import { writeRecord } from "../ops/snapshot.js";
import type { ChartDef } from "./chart-spec.js";
import { monthlyCharts } from "./charts-monthly.js";
import { weeklyCharts } from "./charts-weekly.js";
import { reportsOf } from "./config.js";
import { type ChartRef, reportMarkdown, reportSummary } from "./markdown.js";
import type { Report } from "./model.js";
import { gatherMonthly } from "./monthly.js";
import type { Period, ReportKind } from "./period.js";
import { type RenderResult, renderCharts } from "./render.js";
import type { ReportSources } from "./sources.js";
import { gatherWeekly } from "./weekly.js";

export interface UploadFile {
  filename: string;
  title: string;
  altText: string;
  bytes: Uint8Array;
}

/** Posts files with a message to the alert channel (Slack: getUploadURLExternal → POST → completeUploadExternal). */
export interface ChartUploader {
  upload(input: { files: UploadFile[]; comment: string }): Promise<{ channel: string; fileIds: string[] }>;
}

/** A report with its charts drawn and its Markdown and JSON written out. */
export interface ProducedReport {
  report: Report;
  render: RenderResult;
  markdown: string;
  /** The saved JSON: the report plus which charts were drawn (files) and which had no data. */
  json: Report & {
    charts: {
      drawn: { id: string; file: string; width: number; height: number }[];
      omitted: RenderResult["omitted"];
      renderMs: number;
    };
  };
}

/** Gathers the report of `kind` over `period`. */
export function gatherReport(src: ReportSources, kind: ReportKind, period: Period): Promise<Report> {
  return kind === "weekly" ? gatherWeekly(src, period) : gatherMonthly(src, period);
}

/** The chart definitions of a report. */
export function chartsOf(report: Report, src: Pick<ReportSources, "config">): ChartDef[] {
  const s = reportsOf(src.config);
  return report.kind === "weekly" ? weeklyCharts(report, s) : monthlyCharts(report, s);
}

/** Gathers, draws (unless `draw: false`) and writes out one report; nothing is saved or posted yet. */
export async function produceReport(
  src: ReportSources,
  kind: ReportKind,
  period: Period,
  opts: { draw?: boolean } = {},
): Promise<ProducedReport> {
  const report = await gatherReport(src, kind, period);
  const defs = chartsOf(report, src);
  const draw = opts.draw !== false;
  const render: RenderResult = draw
    ? await renderCharts(period.id, defs, reportsOf(src.config))
    : {
        charts: [],
        omitted: defs.flatMap((d) => (d.spec ? [] : [{ id: d.id, title: d.title, reason: d.noData ?? "no data" }])),
        renderMs: 0,
      };
  const refs: ChartRef[] = defs.map((d) => {
    const drawn = render.charts.find((c) => c.id === d.id);
    if (drawn) return { id: d.id, title: d.title, file: drawn.filename };
    return d.spec
      ? { id: d.id, title: d.title, notDrawn: true as const }
      : { id: d.id, title: d.title, noData: d.noData ?? "no data" };
  });
  return {
    report,
    render,
    markdown: reportMarkdown(report, refs),
    json: {
      ...report,
      charts: {
        drawn: render.charts.map((c) => ({ id: c.id, file: c.filename, width: c.width, height: c.height })),
        omitted: render.omitted,
        renderMs: render.renderMs,
      },
    },
  };
}

/** The files of a produced report: `<id>.md`, `<id>.json`, `<id>-<chart>.png`. */
export function reportFiles(p: ProducedReport): { name: string; body: string | Buffer; contentType: string }[] {
  const id = p.report.period.id;
  return [
    { name: `${id}.md`, body: p.markdown, contentType: "text/markdown; charset=utf-8" },
    { name: `${id}.json`, body: `${JSON.stringify(p.json, null, 2)}\n`, contentType: "application/json" },
    ...p.render.charts.map((c) => ({ name: c.filename, body: c.png, contentType: "image/png" })),
  ];
}

export type PublishDeps = ReportSources &
  Pick<OpsDeps, "audit" | "metrics" | "notifier" | "log"> & {
    uploader: ChartUploader | null;
  };

export interface Published {
  /** Where each file went (paths or s3:// URLs), in reportFiles order. */
  saved: string[];
  /** The Slack post, or null when it went to the console notifier (no Slack) or failed (then `postError`). */
  posted: { channel: string; fileIds: string[] } | null;
  postError: string | null;
}

/** Saves a produced report in the snapshot store and posts it to the alert channel; audited as `report.published`. */
export async function publishReport(d: PublishDeps, p: ProducedReport, actor: string): Promise<Published> {
  const r = p.report;
  const folder = `reports/${r.period.id}-${r.generatedAt.replace(/[:.]/g, "-")}`;
  const saved: string[] = [];
  for (const f of reportFiles(p))
    saved.push(await writeRecord(d.config, `${folder}/${f.name}`, f.body, { contentType: f.contentType }));
  const where = saved[0]!.replace(/\/[^/]+$/, "/");
  const text = [
    `*${esc(r.title)}*${r.period.partial ? " (partial)" : ""}`,
    ...reportSummary(r).map(esc),
    ...(p.render.omitted.length
      ? [`No chart for: ${p.render.omitted.map((o) => esc(o.title)).join(", ")} (no data).`]
      : []),
    ...(r.problems.length
      ? [`:warning: ${r.problems.length} problem(s) while gathering: see the report (RUNBOOK.md#sop-report).`]
      : []),
    `Markdown, JSON and charts: ${esc(where)}`,
  ].join("\n");
  let posted: Published["posted"] = null;
  let postError: string | null = null;
  if (d.uploader && p.render.charts.length) {
    try {
      posted = await d.uploader.upload({
        comment: text,
        files: p.render.charts.map((c) => ({ filename: c.filename, title: c.title, altText: c.altText, bytes: c.png })),
      });
    } catch (err) {
      postError = (err as Error).message;
      d.log.error({ err, report: r.period.id }, "report: could not upload the charts to Slack; posting the text alone");
    }
  }
  if (!posted)
    await d.notifier.announce({
      text: postError ? `${text}\n(The charts could not be uploaded: ${esc(postError)}.)` : text,
      severity: r.problems.length || postError ? "warn" : "info",
      ...(postError || r.problems.length ? { sop: "sop-report" } : {}),
    });
  await audit(d, {
    actor,
    action: "report.published",
    details: {
      kind: r.kind,
      period: { from: r.period.from, to: r.period.to, id: r.period.id, partial: r.period.partial },
      saved,
      posted,
      post_error: postError,
      charts: p.render.charts.map((c) => c.id),
      omitted: p.render.omitted.map((o) => o.id),
      render_ms: p.render.renderMs,
      problems: r.problems.length,
    },
  });
  return { saved, posted, postError };
}
