// The metric catalog (src/metrics-catalog.ts) is the one list of what /metrics exports: the registry is built from
// it, every guard's declared gauges match it exactly, nothing in src/ registers a metric around it, and a bot's real
// /metrics serves nothing it lacks.
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { AuditLog } from "../../src/audit/log.js";
import { startPlainServer } from "../../src/bot/http-routes.js";
import { loadConfig } from "../../src/config.js";
import type { AlertPipeline } from "../../src/jobs/alerts.js";
import { defineGuard } from "../../src/jobs/guard.js";
import { allGuards } from "../../src/jobs/registry.js";
import { GuardRunner } from "../../src/jobs/runner.js";
import { createMetrics, UncataloguedMetricError } from "../../src/metrics.js";
import { METRICS, metricSpec, PROMETHEUS_SERIES, queryableSeries, seriesNames } from "../../src/metrics-catalog.js";
import { createKeys } from "../../src/state/keys.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });

/** Metric family names in a Prometheus text exposition (# TYPE lines). */
function exposedFamilies(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

describe("the metric catalog", () => {
  it("names each metric once, in Prometheus's naming rules, with help, a type and valid labels", () => {
    const names = METRICS.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of METRICS) {
      expect(m.name, m.name).toMatch(/^tradeguard_[a-z0-9_]+$/);
      expect(m.help.length, m.name).toBeGreaterThan(5);
      for (const l of m.labels) expect(l, m.name).toMatch(/^[a-z_][a-z0-9_]*$/);
      if (m.type === "counter") expect(m.name, "counters end in _total").toMatch(/_total$/);
      if (m.type === "histogram")
        expect(m.buckets?.length ?? (m.source === "prom-client" ? 1 : 0), m.name).toBeGreaterThan(0);
    }
    expect(queryableSeries()).toContain("tradeguard_panic_duration_seconds_bucket");
    expect(queryableSeries()).not.toContain("tradeguard_panic_duration_seconds");
    for (const s of PROMETHEUS_SERIES) expect(metricSpec(s)).toBeUndefined();
  });

  it("holds every registered guard's gauges exactly as the guard declares them, and no gauge of a guard that lacks it", () => {
    const declared = new Map<string, { guard: string; help: string; labels: string[] }>();
    for (const g of allGuards)
      for (const m of g.metrics ?? [])
        declared.set(m.name, { guard: g.name, help: m.help, labels: m.labelNames ?? [] });
    expect(declared.size).toBeGreaterThan(10);
    for (const [name, d] of declared) {
      const s = metricSpec(name);
      expect(s, `${name} (guard ${d.guard}) is missing from src/metrics-catalog.ts`).toBeDefined();
      expect({ type: s!.type, source: s!.source, help: s!.help, labels: [...s!.labels] }, name).toEqual({
        type: "gauge",
        source: `guard:${d.guard}`,
        help: d.help,
        labels: d.labels,
      });
    }
    const guardEntries = METRICS.filter((m) => m.source.startsWith("guard:")).map((m) => m.name);
    expect(guardEntries.filter((n) => !declared.has(n))).toEqual([]);
  });

  it("is the registry: every metric createMetrics registers (and every guard gauge once used) is catalogued as registered", async () => {
    const metrics = createMetrics();
    for (const m of METRICS.filter((x) => x.source.startsWith("guard:"))) metrics.guardGauge(m.name);
    const registered = await metrics.registry.getMetricsAsJSON();
    const onLinux = process.platform === "linux";
    const expected = METRICS.filter((m) => onLinux || !m.linuxOnly);
    expect(registered.map((r) => r.name).sort()).toEqual(expected.map((m) => m.name).sort());
    for (const r of registered) {
      const s = metricSpec(r.name)!;
      expect({ type: String(r.type), help: r.help }, r.name).toEqual({ type: s.type, help: s.help });
      const labelNames = (metrics.registry.getSingleMetric(r.name) as unknown as { labelNames: string[] }).labelNames;
      if (s.source !== "prom-client") expect(labelNames, r.name).toEqual([...s.labels]);
    }
  });

  it("refuses a metric it lacks, one asked for as the wrong type, and a guard gauge that is someone else's", () => {
    const metrics = createMetrics();
    expect(() => metrics.guardGauge("tradeguard_not_in_catalog")).toThrow(UncataloguedMetricError);
    expect(() => metrics.guardGauge("tradeguard_mode")).toThrow(/set by scrape, not by a guard/);
    expect(() => metrics.guardGauge("tradeguard_process_open_fds")).toThrow(/collectDefaultMetrics/);
    expect(() => metrics.guardGauge("tradeguard_panics_total")).toThrow(/counter/);
    expect(metrics.guardGauge("tradeguard_market_open")).toBe(metrics.guardGauge("tradeguard_market_open"));
  });

  it("is the only place metrics are made: no file in src/ constructs a prom-client metric but src/metrics.ts", () => {
    const offenders = files(SRC)
      .filter((f) => !f.endsWith("/src/metrics.ts"))
      .flatMap((f) => {
        const text = readFileSync(f, "utf8");
        const hits = [
          ...text.matchAll(/new\s+(?:client\.|promClient\.)?(?:Gauge|Counter|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(/g),
          ...text.matchAll(/^import\s+(?!type\b)[^;]*from\s+"prom-client"/gm),
        ];
        return hits.map((h) => `${f.slice(SRC.length)}: ${h[0]}`);
      });
    expect(offenders).toEqual([]);
  });
});

describe("a bot's /metrics", () => {
  let t: Awaited<ReturnType<typeof testRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("serves only catalogued families, and no gauge of a guard that never measured (a 0 would read as a value)", async () => {
    t = await testRuntime({ guards: allGuards });
    const server = await startPlainServer(t.rt, "127.0.0.1", 0);
    try {
      const port = (server.address() as { port: number }).port;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const families = exposedFamilies(text);
      expect(families.size).toBeGreaterThan(30);
      for (const [name, type] of families) {
        const s = metricSpec(name);
        expect(s, `${name} is served but not catalogued`).toBeDefined();
        expect(type, name).toBe(s!.type);
      }
      for (const m of METRICS.filter((x) => x.source.startsWith("guard:")))
        expect(families.has(m.name), `${m.name} before its guard measured`).toBe(false);
      // The scrape-time gauges are all there, from the first scrape.
      for (const m of METRICS.filter((x) => x.source === "scrape")) expect(families.get(m.name), m.name).toBe("gauge");
      for (const m of METRICS.filter((x) => x.source === "scrape" || x.source === "bot" || x.source === "runner"))
        for (const series of seriesNames(m).slice(0, 1))
          expect(text.includes(`# HELP ${m.name} `), `${series}: HELP line`).toBe(true);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("the runner refuses, when it is built, a guard that declares a gauge the catalog lacks", () => {
    const rogue = defineGuard({
      name: "rogue_guard",
      schedule: "* * * * *",
      config: z.object({}).default({}),
      reads: () => ({}),
      evaluate: () => [],
      metrics: [{ name: "tradeguard_rogue_value", help: "not catalogued" }],
    });
    const config = loadConfig({ TRADEGUARD_HOME: mkdtempSync(join(tmpdir(), "tg-cat-")) }, [rogue]);
    const redis = new Redis({ lazyConnect: true });
    const build = () =>
      new GuardRunner({
        redis,
        keys: createKeys(""),
        config,
        log: silentLog,
        metrics: createMetrics(),
        guards: [rogue],
        alerts: {} as AlertPipeline,
        audit: {} as AuditLog,
        instanceId: "test",
      });
    expect(build).toThrow(/metric tradeguard_rogue_value: not in the catalog/);
    redis.disconnect();
  });
});
