// The generated monitoring files: checked in exactly as `npm run gen:monitoring` writes them, querying only metrics the
// catalog has (every PromQL expression parsed with Prometheus's grammar), the dashboard in Grafana's JSON model, and
// every runbook link absolute and built from the configured runbook_url.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { queryableSeries } from "../../src/metrics-catalog.js";
import { CHECKED_IN, DEFAULT_MONITORING, DEFAULT_RUNBOOK_URL, monitoringSchema } from "../../src/monitoring/config.js";
import { buildDashboard, SCHEMA_VERSION } from "../../src/monitoring/dashboard.js";
import { GENERATED, generatedFiles } from "../../src/monitoring/files.js";
import { renderRules, ruleGroups, runbookBase } from "../../src/monitoring/rules.js";
import { grafanaToPromql, metricNames } from "./promql.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

type Panel = {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource: { type: string; uid: string } }[];
  links?: { url: string }[];
  panels?: unknown[];
};
type Dashboard = {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
  links: { url: string }[];
};

/** Every PromQL expression of the checked-in files: rules, panel targets, templating queries. */
function expressions(): { where: string; expr: string }[] {
  const rules = parseYaml(readFileSync(`${root}${GENERATED.rules}`, "utf8")) as {
    groups: { rules: { alert: string; expr: string }[] }[];
  };
  const dash = JSON.parse(readFileSync(`${root}${GENERATED.dashboard}`, "utf8")) as Dashboard;
  const out = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `rule ${r.alert}`, expr: r.expr })));
  for (const p of dash.panels)
    for (const t of p.targets ?? [])
      out.push({ where: `panel "${p.title}" ${t.refId}`, expr: grafanaToPromql(t.expr) });
  for (const v of dash.templating.list)
    if (v.type === "query") {
      const q = /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(v.definition ?? "");
      expect(q, `variable ${v.name}: label_values(<selector>, <label>)`).not.toBeNull();
      out.push({ where: `variable ${v.name}`, expr: q![1]! });
    }
  return out;
}

describe("generated monitoring files", () => {
  it("are checked in exactly as npm run gen:monitoring writes them", () => {
    for (const [path, content] of Object.entries(generatedFiles())) {
      const current = readFileSync(`${root}${path}`, "utf8");
      expect(current === content, `${path} is stale: run npm run gen:monitoring`).toBe(true);
    }
  });

  it("query only metrics the catalog has (and Prometheus's own up and ALERTS)", () => {
    const known = queryableSeries();
    const exprs = expressions();
    expect(exprs.length).toBeGreaterThan(40);
    const unknown: string[] = [];
    for (const e of exprs) {
      const names = metricNames(e.expr);
      expect(names.length, `${e.where} selects no metric`).toBeGreaterThan(0);
      for (const n of names) if (!known.has(n)) unknown.push(`${e.where}: ${n}`);
    }
    expect(unknown).toEqual([]);
  });

  it("the catalog check would catch a rule on a metric it lacks", () => {
    const known = queryableSeries();
    const bad = metricNames('rate(tradeguard_panics_totl{outcome="HALT-PARTIAL"}[5m]) > 0');
    expect(bad.filter((n) => !known.has(n))).toEqual(["tradeguard_panics_totl"]);
  });

  it("the dashboard follows Grafana's dashboard model: uid, title, schemaVersion, non-overlapping gridPos, targets", () => {
    const d = JSON.parse(readFileSync(`${root}${GENERATED.dashboard}`, "utf8")) as Dashboard;
    expect(d.uid).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
    expect(d.title).toBe("tradeguard");
    expect(d.schemaVersion).toBe(SCHEMA_VERSION);
    expect(d.templating.list.map((v) => v.name)).toEqual(["datasource", "job", "instance"]);
    const ids = d.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const p of d.panels) {
      const g = p.gridPos;
      expect(g.x >= 0 && g.w >= 1 && g.x + g.w <= 24 && g.h >= 1 && g.y >= 0, `${p.title}: ${JSON.stringify(g)}`).toBe(
        true,
      );
      for (let x = g.x; x < g.x + g.w; x++)
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      if (p.type === "row") {
        expect(p.panels).toEqual([]);
        continue;
      }
      expect(["stat", "timeseries", "state-timeline"]).toContain(p.type);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's ${var} syntax, not a JavaScript template
      expect(p.datasource).toEqual({ type: "prometheus", uid: "${datasource}" });
      expect(p.targets!.length, p.title).toBeGreaterThan(0);
      expect(p.targets!.map((t) => t.refId)).toEqual(p.targets!.map((_, i) => String.fromCharCode(65 + i)));
      for (const t of p.targets!) expect(t.datasource, p.title).toEqual(p.datasource);
    }
    const titles = d.panels.filter((p) => p.type === "row").map((p) => p.title);
    for (const topic of ["mode", "Panics", "Guards", "Alerts", "quotas", "Time sync", "Error budgets"])
      expect(
        titles.some((t) => t.includes(topic)),
        topic,
      ).toBe(true);
  });

  it("link every SOP with an absolute URL under the runbook base, to an anchor RUNBOOK.md has", () => {
    const runbook = readFileSync(`${root}RUNBOOK.md`, "utf8");
    const d = JSON.parse(readFileSync(`${root}${GENERATED.dashboard}`, "utf8")) as Dashboard;
    const rules = parseYaml(readFileSync(`${root}${GENERATED.rules}`, "utf8")) as {
      groups: { rules: { annotations: { runbook_url: string } }[] }[];
    };
    const urls = [
      ...rules.groups.flatMap((g) => g.rules.map((r) => r.annotations.runbook_url)),
      ...d.panels.flatMap((p) => (p.links ?? []).map((l) => l.url)),
    ];
    expect(d.links[0]!.url).toBe(DEFAULT_RUNBOOK_URL);
    for (const u of urls) {
      expect(u.startsWith(`${DEFAULT_RUNBOOK_URL}#sop-`), u).toBe(true);
      expect(runbook, u).toContain(`<a id="${u.slice(u.indexOf("#") + 1)}"></a>`);
    }
  });

  it("render a desk's configured runbook_url and thresholds into the rules and the dashboard", () => {
    const settings = monitoringSchema.parse({
      job: "tg-prod",
      halt_minutes: 45,
      grafana: { dashboard_uid: "desk-tg" },
    });
    const runbookUrl = "https://wiki.desk.example/ops/RUNBOOK.md#top";
    const rules = parseYaml(renderRules({ settings, runbookUrl })) as {
      groups: { rules: { alert: string; expr: string; for?: string; annotations: Record<string, string> }[] }[];
    };
    const all = rules.groups.flatMap((g) => g.rules);
    const halt = all.find((r) => r.alert === "TradeguardHaltProlonged")!;
    expect(halt.for).toBe("45m");
    expect(halt.expr).toBe('tradeguard_mode{job="tg-prod",mode="halt"} == 1');
    expect(halt.annotations.runbook_url).toBe("https://wiki.desk.example/ops/RUNBOOK.md#sop-watchman-halt-prolonged");
    expect(all.find((r) => r.alert === "TradeguardBotMissing")!.expr).toBe('absent(up{job="tg-prod"})');
    const dash = buildDashboard({ settings, runbookUrl }) as unknown as Dashboard;
    expect(dash.uid).toBe("desk-tg");
    expect(dash.links[0]!.url).toBe("https://wiki.desk.example/ops/RUNBOOK.md");
    expect(JSON.stringify(dash.templating)).toContain('"query":"tg-prod"');
  });

  it("the test rendering overrides every for: duration and nothing else", () => {
    const fast = parseYaml(renderRules({ ...CHECKED_IN, forOverride: "0s" })) as { groups: { rules: object[] }[] };
    const normal = parseYaml(renderRules(CHECKED_IN)) as { groups: { rules: { for?: string }[] }[] };
    expect(fast.groups.flatMap((g) => g.rules).every((r) => !("for" in r))).toBe(true);
    const strip = (rs: object[]) => rs.map((r) => ({ ...r, for: undefined }));
    expect(strip(fast.groups.flatMap((g) => g.rules))).toEqual(strip(normal.groups.flatMap((g) => g.rules)));
  });

  it("refuse a runbook_url that is not an absolute http(s) URL", () => {
    expect(() => runbookBase("RUNBOOK.md")).toThrow(/not an absolute URL/);
    expect(() => runbookBase("file:///srv/RUNBOOK.md")).toThrow(/not an http\(s\) URL/);
    expect(runbookBase("https://x.example/RUNBOOK.md#old")).toBe("https://x.example/RUNBOOK.md");
  });

  it("have a watchman rule for each condition the bot must be watched for", () => {
    const watchman = ruleGroups(CHECKED_IN).find((g) => g.name === "tradeguard-watchman")!;
    const exprs = watchman.rules.map((r) => r.expr);
    expect(exprs).toContain(`up{job="${DEFAULT_MONITORING.job}"} == 0`);
    expect(exprs).toContain(`absent(up{job="${DEFAULT_MONITORING.job}"})`);
    for (const metric of ["tradeguard_heartbeat_age_seconds", "tradeguard_redis_up", "tradeguard_panic_last_outcome"])
      expect(
        exprs.some((e) => e.includes(metric)),
        metric,
      ).toBe(true);
    expect(exprs.some((e) => e.includes('mode="halt"'))).toBe(true);
  });
});
