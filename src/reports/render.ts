// Charts drawn on the server, with no browser and nothing fetched: Vega-Lite compiles each spec to Vega, Vega renders
// it headless to SVG, resvg rasterises the SVG to PNG with the DejaVu Sans font shipped in an npm package (so a host
// without fonts draws the same image). The libraries are loaded on the first render, not by every CLI command.
// Charts whose data is absent are not drawn: they come back in `omitted` with the reason.
import { createRequire } from "node:module";
import type { ChartDef } from "./chart-spec.js";
import { FONT } from "./chart-spec.js";
import type { ReportsSettings } from "./config.js";

export interface RenderedChart {
  id: string;
  title: string;
  altText: string;
  /** `<report id>-<chart id>.png` */
  filename: string;
  png: Buffer;
  width: number;
  height: number;
  /** What Vega-Lite or Vega warned about while drawing it (empty for a sound spec). */
  warnings: string[];
}

export interface RenderResult {
  charts: RenderedChart[];
  omitted: { id: string; title: string; reason: string }[];
  /** Wall time to draw every chart of the report (compile + SVG + PNG), ms. */
  renderMs: number;
}

type Libs = {
  vega: typeof import("vega");
  vl: typeof import("vega-lite");
  Resvg: typeof import("@resvg/resvg-js").Resvg;
  fonts: string[];
};
let libs: Promise<Libs> | null = null;

function load(): Promise<Libs> {
  libs ??= (async () => {
    const [vega, vl, resvg] = await Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")]);
    const req = createRequire(import.meta.url);
    const fonts = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf"].map((f) => req.resolve(`dejavu-fonts-ttf/ttf/${f}`));
    return { vega, vl, Resvg: resvg.Resvg, fonts };
  })();
  return libs;
}

/** A Vega loader that loads nothing: charts are drawn from their inline data only (no file or network access). */
function refusingLoader(vega: Libs["vega"]) {
  const l = vega.loader();
  const refuse = async (uri: string) => {
    throw new Error(`charts are drawn from inline data only; refused to load ${uri}`);
  };
  return Object.assign(l, { load: refuse, sanitize: refuse, http: refuse, file: refuse });
}

/** A vega-util logger that collects what it is told instead of printing it. */
function collector(vega: Libs["vega"], into: string[]) {
  // The logger's own level (Warn) filters: only warnings and errors reach the handler.
  return vega.logger(vega.Warn, undefined, (_method, _level, input) => {
    into.push(input.map(String).join(" "));
  });
}

/** Draws one spec to SVG (Vega) and PNG (resvg) at `scale` × its CSS size. */
async function draw(l: Libs, def: ChartDef, scale: number): Promise<Omit<RenderedChart, "filename">> {
  const warnings: string[] = [];
  const logger = collector(l.vega, warnings);
  const compiled = l.vl.compile(def.spec!, { logger }).spec;
  const view = new l.vega.View(l.vega.parse(compiled), {
    renderer: "none",
    loader: refusingLoader(l.vega),
    logger,
    logLevel: l.vega.Warn,
  });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const cssWidth = Number(/<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1]);
  const img = new l.Resvg(svg, {
    fitTo: { mode: "width", value: Math.round(cssWidth * scale) },
    background: "#ffffff",
    font: { fontFiles: l.fonts, loadSystemFonts: false, defaultFontFamily: FONT, sansSerifFamily: FONT },
  }).render();
  return {
    id: def.id,
    title: def.title,
    altText: def.altText,
    png: img.asPng(),
    width: img.width,
    height: img.height,
    warnings,
  };
}

/** Draws every chart that has data; the others are returned with the reason they have none. */
export async function renderCharts(
  reportId: string,
  defs: ChartDef[],
  settings: Pick<ReportsSettings, "chart_scale">,
): Promise<RenderResult> {
  const l = await load();
  const started = performance.now();
  const charts: RenderedChart[] = [];
  const omitted: RenderResult["omitted"] = [];
  for (const def of defs) {
    if (!def.spec) {
      omitted.push({ id: def.id, title: def.title, reason: def.noData ?? "no data" });
      continue;
    }
    charts.push({ ...(await draw(l, def, settings.chart_scale)), filename: `${reportId}-${def.id}.png` });
  }
  return { charts, omitted, renderMs: Math.round(performance.now() - started) };
}
