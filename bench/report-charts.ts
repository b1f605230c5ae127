// report-charts: drawing every chart of one report (Vega-Lite compile → Vega SVG → resvg PNG at 2×, 900×420 CSS px),
// the weekly report's six and the monthly report's four, from the fixture reports the tests use. Cold = the first
// report of the process (loading vega, vega-lite, resvg and the fonts included); warm = the median of 5 more.
// Baseline, in the same run: resvg rasterising a one-rectangle SVG of the same size once per chart — the floor of
// producing that many PNGs. Report only (no target): run with `npm run bench -- report-charts`.
import { Resvg } from "@resvg/resvg-js";
import { monthlyCharts } from "../src/reports/charts-monthly.js";
import { weeklyCharts } from "../src/reports/charts-weekly.js";
import { renderCharts } from "../src/reports/render.js";
import { fixtureMonthly, fixtureWeekly } from "../test/support/report-objects.js";
import { type Benchmark, fmtMs, fmtRatio, median, type Row, ratioOf, say } from "./lib.js";

const SIZE = { chart_width: 900, chart_height: 420 };
const RUNS = 5;

function floorMs(charts: number): number {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="420"><rect x="10" y="10" width="400" height="200" fill="#1f77b4"/></svg>`;
  const t0 = performance.now();
  for (let i = 0; i < charts; i++) new Resvg(svg, { fitTo: { mode: "width", value: 1800 } }).render().asPng();
  return performance.now() - t0;
}

export const reportCharts: Benchmark = {
  id: "",
  name: "report-charts",
  description: "draw every chart of the weekly and the monthly report (Vega-Lite → SVG → PNG)",
  async run() {
    const rows: Row[] = [];
    const cold = performance.now();
    await renderCharts("weekly", weeklyCharts(fixtureWeekly(), SIZE), { chart_scale: 2 });
    const coldMs = performance.now() - cold;
    say(`first weekly report of the process (libraries and fonts loaded): ${fmtMs(coldMs)}`);
    for (const [name, defs] of [
      ["weekly", weeklyCharts(fixtureWeekly(), SIZE)],
      ["monthly", monthlyCharts(fixtureMonthly(), SIZE)],
    ] as const) {
      const times: number[] = [];
      for (let i = 0; i < RUNS; i++) times.push((await renderCharts(name, [...defs], { chart_scale: 2 })).renderMs);
      const warm = median(times);
      const floors: number[] = [];
      for (let i = 0; i < RUNS; i++) floors.push(floorMs(defs.length));
      const floor = median(floors);
      say(
        `${name}: ${defs.length} charts in ${fmtMs(warm)} (median of ${RUNS}); floor ${fmtMs(floor)}; ${fmtRatio(warm / floor)}`,
      );
      rows.push({
        id: "",
        bench: "report-charts",
        metric: `${name} report, ${defs.length} charts, warm (median of ${RUNS})`,
        measured: fmtMs(warm),
        baseline: `${fmtMs(floor)} (resvg, ${defs.length} one-rect PNGs)`,
        ratio: ratioOf(warm, floor),
        target: "-",
        verdict: "INFO",
      });
    }
    rows.push({
      id: "",
      bench: "report-charts",
      metric: "first report of a process (libraries + fonts loaded)",
      measured: fmtMs(coldMs),
      baseline: "-",
      ratio: null,
      target: "-",
      verdict: "INFO",
    });
    return rows;
  },
};
