// Every chart of both reports drawn from fixture data through the real pipeline (Vega-Lite → Vega → SVG → resvg →
// PNG), and the PNG checked independently of the renderer: signature, IHDR size as configured, and ink (pixels that
// differ from the background, luminance variance, several colours). A chart without data is not drawn: it is named
// with its reason.
import { describe, expect, it } from "vitest";
import { monthlyCharts } from "../../src/reports/charts-monthly.js";
import { weeklyCharts } from "../../src/reports/charts-weekly.js";
import { noData, ok } from "../../src/reports/model.js";
import { renderCharts } from "../../src/reports/render.js";
import { decodePng, inkStats, PNG_SIGNATURE, pngSize } from "../support/png.js";
import { fixtureMonthly, fixtureWeekly } from "../support/report-objects.js";

const SIZE = { chart_width: 900, chart_height: 420 };
function expectDrawn(png: Buffer, width: number, height: number) {
  expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  expect(pngSize(png)).toEqual({ width, height });
  const img = decodePng(png);
  const ink = inkStats(img);
  // Title, axes, labels and marks: a real chart inks a few percent of a white frame, in several colours.
  expect(ink.share).toBeGreaterThan(0.01);
  expect(ink.variance).toBeGreaterThan(100);
  expect(ink.colours).toBeGreaterThan(8);
}

describe("report charts", () => {
  it("draws every weekly chart from fixture data: PNG, 1800×840 (900×420 at 2×), not blank, no warnings", async () => {
    const defs = weeklyCharts(fixtureWeekly(), SIZE);
    expect(defs.map((d) => d.id)).toEqual([
      "alerts-by-guard",
      "time-to-acknowledge",
      "halts",
      "recon",
      "key-ages",
      "error-budget",
    ]);
    const r = await renderCharts("weekly-2026-11-30", defs, { chart_scale: 2 });
    expect(r.omitted).toEqual([]);
    expect(r.charts.map((c) => c.filename)).toEqual(defs.map((d) => `weekly-2026-11-30-${d.id}.png`));
    for (const c of r.charts) {
      expect(c.warnings, c.id).toEqual([]);
      expect([c.width, c.height]).toEqual([1800, 840]);
      expectDrawn(c.png, 1800, 840);
      expect(c.altText.length).toBeGreaterThan(10);
    }
    expect(r.renderMs).toBeGreaterThanOrEqual(0);
  });

  it("draws every monthly chart from fixture data at the configured size", async () => {
    const defs = monthlyCharts(fixtureMonthly(), { chart_width: 600, chart_height: 300 });
    const r = await renderCharts("monthly-2026-11", defs, { chart_scale: 1 });
    expect(r.charts.map((c) => c.id)).toEqual(["costs", "pnl", "slippage", "caps"]);
    for (const c of r.charts) {
      expect(c.warnings, c.id).toEqual([]);
      expectDrawn(c.png, 600, 300);
    }
  });

  it("a chart without data is not drawn as an empty axis: it is omitted with the reason", async () => {
    const w = fixtureWeekly();
    w.sections.halts = noData("trading was not halted in the period");
    if (w.sections.alerts.status !== "ok") throw new Error("the fixture has alerts");
    w.sections.alerts = ok({ ...w.sections.alerts.data, tta: { samples: 0, p50Ms: null, p90Ms: null, maxMs: null } });
    const r = await renderCharts("w", weeklyCharts(w, SIZE), { chart_scale: 1 });
    expect(r.omitted).toEqual([
      { id: "time-to-acknowledge", title: "Time to acknowledge", reason: "none of the 4 alerts was acknowledged" },
      { id: "halts", title: "Halts and resumes", reason: "trading was not halted in the period" },
    ]);
    expect(r.charts.map((c) => c.id)).toEqual(["alerts-by-guard", "recon", "key-ages", "error-budget"]);
  });

  it("different data draws a different image (the marks come from the data)", async () => {
    const a = fixtureMonthly();
    const b = fixtureMonthly();
    if (b.sections.pnl.status === "ok") b.sections.pnl.data.rows[0]!.net = "251.00";
    const [ra, rb] = await Promise.all([
      renderCharts("m", monthlyCharts(a, SIZE).slice(1, 2), { chart_scale: 1 }),
      renderCharts("m", monthlyCharts(b, SIZE).slice(1, 2), { chart_scale: 1 }),
    ]);
    expect(ra.charts[0]!.png.equals(rb.charts[0]!.png)).toBe(false);
  });
});
