// The watchman against a real Prometheus (Debian's /usr/bin/prometheus): a running bot on loopback is scraped every
// second, the rules are the generated ones rendered with the bot's config (its runbook_url) and every `for:` at 0s so
// that a condition fires at the next evaluation, and each alert is watched becoming `firing` through Prometheus's
// HTTP API after a real cause: a dead scrape target, a real panic that cannot flatten a broker (HALT-PARTIAL, and
// trading halted), Redis cut off from the bot. Every dashboard expression is also run through this Prometheus.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { renderOptionsOf } from "../../src/monitoring/config.js";
import { GENERATED } from "../../src/monitoring/files.js";
import { renderRules, ruleGroups } from "../../src/monitoring/rules.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { FakeBroker } from "../support/fake-broker.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

const PROMETHEUS = "/usr/bin/prometheus";
const RUNBOOK = "https://runbooks.test.example/desk/RUNBOOK.md";
const root = fileURLToPath(new URL("../..", import.meta.url));

type Alert = { labels: Record<string, string>; annotations: Record<string, string>; state: string };

let t: Awaited<ReturnType<typeof testRuntime>>;
let bot: RunningBot;
let proxy: TcpProxy;
let prom: ChildProcess;
let promLog = "";
let base = "";
let botTarget = "";
let deadTarget = "";
let dir = "";
const startedAt = performance.now();

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await res.json()) as { status: string; data: T; error?: string };
  if (body.status !== "success") throw new Error(`${path}: ${body.error ?? res.status}`);
  return body.data;
}

/** Polls `probe` until it returns a value (not undefined), at most `ms`; the failure says what was last seen. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last: ${String(last)})` : ""}\n${promLog.slice(-2000)}`);
}

const alerts = async () => (await api<{ alerts: Alert[] }>("/api/v1/alerts")).alerts;
const firing = (name: string, match: (a: Alert) => boolean = () => true) =>
  waitFor(`${name} firing`, async () =>
    (await alerts()).find((a) => a.labels.alertname === name && a.state === "firing" && match(a)),
  );
const query = async (q: string) =>
  (
    await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
      `/api/v1/query?query=${encodeURIComponent(q)}`,
    )
  ).result;

beforeAll(async () => {
  if (!existsSync(PROMETHEUS))
    throw new Error(`${PROMETHEUS} missing: apt-get install prometheus (scripts/ensure-deps.sh --test)`);
  proxy = await startTcpProxy(Number(new URL(inject("redisUrl")).port));
  t = await testRuntime({
    yaml: `runbook_url: ${RUNBOOK}\npanic: { deadline_ms: 1000 }\n`,
    env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}`, HOST: "127.0.0.1", PORT: "0" },
  });
  bot = await startBot(t.rt);
  botTarget = `127.0.0.1:${(bot.server.address() as { port: number }).port}`;
  deadTarget = `127.0.0.1:${await freePort()}`; // nothing listens there

  dir = mkdtempSync(join(tmpdir(), "tg-prom-"));
  writeFileSync(join(dir, "rules.yml"), renderRules({ ...renderOptionsOf(t.rt.config), forOverride: "0s" }));
  writeFileSync(
    join(dir, "prometheus.yml"),
    [
      "global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }",
      "rule_files: [rules.yml]",
      "scrape_configs:",
      "  - job_name: tradeguard",
      `    static_configs: [{ targets: ["${botTarget}", "${deadTarget}"] }]`,
      "",
    ].join("\n"),
  );
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  prom = spawn(
    PROMETHEUS,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  prom.stdout!.on("data", (d) => (promLog += d));
  prom.stderr!.on("data", (d) => (promLog += d));
  await waitFor("Prometheus ready", async () => {
    if (prom.exitCode !== null) throw new Error(`prometheus exited ${prom.exitCode}`);
    const r = await fetch(`${base}/-/ready`).catch(() => null);
    return r?.ok ? true : undefined;
  });
}, 40_000);

afterAll(async () => {
  if (prom && prom.exitCode === null) {
    const exited = new Promise((r) => prom.once("exit", r));
    prom.kill("SIGTERM");
    const timer = setTimeout(() => prom.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  proxy?.restore();
  await bot?.stop();
  await t?.cleanup();
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  process.stdout.write(`real-Prometheus watchman test: ${Math.round(performance.now() - startedAt)} ms\n`);
}, 20_000);

describe("the watchman rules on a real Prometheus", () => {
  it("loads every generated rule, healthy", async () => {
    const data = await waitFor("rules evaluated", async () => {
      const d = await api<{ groups: { rules: { name: string; health: string }[] }[] }>("/api/v1/rules");
      const rules = d.groups.flatMap((g) => g.rules);
      return rules.length && rules.every((r) => r.health === "ok") ? rules : undefined;
    });
    expect(data.map((r) => r.name).sort()).toEqual(
      ruleGroups(renderOptionsOf(t.rt.config))
        .flatMap((g) => g.rules.map((r) => r.alert))
        .sort(),
    );
  });

  it("scrapes the running bot, and fires TradeguardBotDown for the target that does not answer", async () => {
    const down = await firing("TradeguardBotDown");
    expect(down.labels).toMatchObject({ instance: deadTarget, job: "tradeguard", severity: "critical" });
    expect(down.annotations.runbook_url).toBe(`${RUNBOOK}#sop-watchman-bot-down`);
    // Both targets scraped at least once (on a loaded machine the dead one can be scraped, and alerted on, first).
    const up = await waitFor("both targets scraped", async () => {
      const r = await query('up{job="tradeguard"}');
      return r.length === 2 ? r : undefined;
    });
    expect(Object.fromEntries(up.map((s) => [s.metric.instance, s.value[1]]))).toEqual({
      [botTarget]: "1",
      [deadTarget]: "0",
    });
    expect((await alerts()).filter((a) => a.labels.alertname === "TradeguardBotDown")).toHaveLength(1);
  });

  it("a real panic that cannot flatten a broker fires TradeguardHaltPartial and TradeguardHaltProlonged", async () => {
    await waitFor("mode active scraped", async () =>
      (await query(`tradeguard_mode{instance="${botTarget}", mode="active"} == 1`)).length ? true : undefined,
    );
    expect((await alerts()).some((a) => a.labels.alertname === "TradeguardHaltPartial")).toBe(false);
    const broker = new FakeBroker("stuck").seed("GME", "-7");
    broker.refuseClose.add("GME");
    t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, broker);
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "watchman drill" });
    expect(report.status).toBe("HALT-PARTIAL");

    const partial = await firing("TradeguardHaltPartial");
    expect(partial.labels).toMatchObject({ instance: botTarget, outcome: "HALT-PARTIAL", severity: "critical" });
    expect(partial.annotations.runbook_url).toBe(`${RUNBOOK}#sop-halt-partial`);
    const halted = await firing("TradeguardHaltProlonged");
    expect(halted.labels).toMatchObject({ instance: botTarget, mode: "halt", severity: "warning" });
    expect(halted.annotations.runbook_url).toBe(`${RUNBOOK}#sop-watchman-halt-prolonged`);
  });

  it("the running bot's heartbeat is fresh as Prometheus sees it: TradeguardHeartbeatStale does not fire", async () => {
    const age = await waitFor("heartbeat age scraped", async () => {
      const r = await query(`tradeguard_heartbeat_age_seconds{instance="${botTarget}"}`);
      return r[0] ? Number(r[0].value[1]) : undefined;
    });
    expect(age).toBeGreaterThanOrEqual(-5);
    expect(age).toBeLessThan(15);
    expect((await alerts()).filter((a) => a.labels.alertname === "TradeguardHeartbeatStale")).toEqual([]);
    expect((await alerts()).filter((a) => a.labels.alertname === "TradeguardBotMissing")).toEqual([]);
  });

  it("every dashboard expression runs on this Prometheus", async () => {
    const dash = JSON.parse(readFileSync(`${root}${GENERATED.dashboard}`, "utf8")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((x) => ({ title: p.title, expr: x.expr })));
    expect(exprs.length).toBeGreaterThan(20);
    const failures: string[] = [];
    for (const { title, expr } of exprs) {
      const q = expr
        .replaceAll("$__rate_interval", "1m")
        .replaceAll("$job", "tradeguard")
        .replaceAll("$instance", ".*");
      await query(q).catch((err) => failures.push(`${title}: ${(err as Error).message}`));
    }
    expect(failures).toEqual([]);
    const mode = await query(
      'max(tradeguard_mode{job="tradeguard", instance=~".*", mode="reduce_only"}) + 2 * max(tradeguard_mode{job="tradeguard", instance=~".*", mode="halt"})',
    );
    expect(mode[0]?.value[1]).toBe("2"); // the Trading mode panel reads HALT
  });

  it("Redis cut off from the bot fires TradeguardRedisUnreachable", async () => {
    proxy.cut();
    const alert = await firing("TradeguardRedisUnreachable", (a) => a.labels.instance === botTarget);
    expect(alert.annotations.runbook_url).toBe(`${RUNBOOK}#sop-watchman-redis`);
    expect(alert.annotations.summary).toBe(`tradeguard bot ${botTarget} cannot reach Redis`);
  });
});
