// The cost guard end to end: YAML settings → the runner → its probe against the local Cost Explorer (JSON 1.1) and
// an exporter's figures in the real Redis → findings, with Cost Explorer called once and then served from the cache;
// and the composition root's binding (withCost) taking the access keys from the configuration's environment.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { CostExplorer } from "../../src/cost/aws.js";
import type { CostConfig } from "../../src/cost/config.js";
import { costGuard, createCostGuard, withCost } from "../../src/jobs/cost.js";
import { timeSync } from "../../src/jobs/time-sync.js";
import type { Runtime } from "../../src/runtime.js";
import { type CostExplorerServer, startCostExplorerServer } from "../cost/cost-explorer-server.js";
import { runCli } from "../support/cli.js";
import { testRuntime } from "../support/runtime.js";

const NOW = new Date("2026-12-15T14:00:00.000Z");
const CREDS = { accessKeyId: "AKIDTESTFAKE00000000", secretAccessKey: "fake-aws-secret-access-key-0000000000" };
let srv: CostExplorerServer;
type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];

beforeAll(async () => {
  srv = await startCostExplorerServer();
});
afterAll(async () => {
  await srv.stop();
});
afterEach(async () => {
  srv.reset();
  while (opened.length) await opened.pop()!.cleanup();
});

const yaml = () => `guards:
  cost:
    sources:
      aws: { kind: aws, daily_budget: "50", monthly_budget: "1000" }
      binance_fees: { daily_budget: "20", monthly_budget: "400" }
    aws: { endpoint: "${srv.url}", max_attempts: 1, request_timeout_ms: 2000 }
`;

describe("cost guard in the runner", () => {
  it("judges Cost Explorer's and an exporter's figures, and calls Cost Explorer once per refresh interval", async () => {
    srv.today = "2026-12-15";
    srv.days.set("2026-12-15", "60");
    srv.days.set("2026-12-10", "300");
    srv.forecast = "900";
    let rt: Runtime | undefined;
    const guard = createCostGuard({
      get redis() {
        return rt!.redis;
      },
      keyOf: (l) => rt!.keys.raw(l),
      explorer: (s) =>
        new CostExplorer({
          region: s.region,
          endpoint: s.endpoint,
          credentials: CREDS,
          requestTimeoutMs: 2000,
          maxAttempts: 1,
        }),
    });
    const t = await testRuntime({ guards: [guard], now: () => NOW, yaml: yaml() });
    opened.push(t);
    rt = t.rt;
    await rt.redis.hset(rt.keys.raw("cost:daily:binance_fees"), "2026-12-15", "17.00");
    await rt.redis.set(rt.keys.raw("cost:updated:binance_fees"), "2026-12-15T13:30:00Z");

    const first = await rt.guards.runOnce({ guard: "cost" });
    const found = first.findings.map((f) => `${f.key}=${f.severity}`);
    // 60 of 50 today; 360 of 1000 this month, forecast 300 (complete days) + 900 = 1200; fees 17 of 20 = 85 %.
    expect(found).toEqual([
      "cost:aws:day:2026-12-15=critical",
      "cost:aws:forecast:2026-12=warn",
      "cost:binance_fees:day:2026-12-15=warn",
    ]);
    expect(first.guards[0]).toMatchObject({ name: "cost", state: "critical" });
    expect(srv.requests).toHaveLength(3);
    expect(await rt.redis.hget(rt.keys.raw("cost:forecast:aws"), "2026-12")).toBe("1200");

    const second = await rt.guards.runOnce({ guard: "cost" });
    expect(second.findings.map((f) => `${f.key}=${f.severity}`)).toEqual(found);
    expect(srv.requests).toHaveLength(3);

    // A wrong Redis type blinds that source only.
    await rt.redis.del(rt.keys.raw("cost:daily:binance_fees"));
    await rt.redis.set(rt.keys.raw("cost:daily:binance_fees"), "17");
    const third = await rt.guards.runOnce({ guard: "cost" });
    expect(third.findings.map((f) => f.key)).toEqual([
      "cost:aws:day:2026-12-15",
      "cost:aws:forecast:2026-12",
      "cost:binance_fees:data_invalid",
    ]);
    expect(third.findings[2]!.detail).toMatch(/cost:daily:binance_fees: wrong type \(string\)/);
  });
});

describe("withCost", () => {
  it("binds the registry's entry to this process's Redis and Cost Explorer, with the environment's access keys", async () => {
    srv.today = "2026-12-15";
    const t = await testRuntime({
      guards: [costGuard],
      now: () => NOW,
      yaml: yaml(),
      env: { AWS_ACCESS_KEY_ID: "AKIDFROMENV000000000", AWS_SECRET_ACCESS_KEY: "from-env-secret" },
    });
    opened.push(t);
    const list = withCost([timeSync, costGuard], { redis: t.rt.redis, keys: t.rt.keys, config: t.rt.config });
    expect(list[0]).toBe(timeSync);
    const bound = list[1]!;
    expect(bound).not.toBe(costGuard);
    expect(bound.name).toBe("cost");
    const settings = t.rt.config.guards.cost!.settings as CostConfig;
    const probe = await bound.probe!(settings, { signal: AbortSignal.timeout(10_000), now: NOW });
    expect(probe).toMatchObject({ aws: { source: "aws", outcome: { status: "refreshed" } } });
    expect(srv.requests[0]!.headers.authorization).toMatch(/Credential=AKIDFROMENV000000000\//);
    expect(await t.rt.redis.get(t.rt.keys.raw("cost:updated:aws"))).toBe(NOW.toISOString());
    // The registry's own entry has no client: it says so rather than calling anything.
    const unbound = await costGuard.probe!(settings, { signal: AbortSignal.timeout(1_000), now: NOW });
    expect(unbound).toEqual({ at: NOW.getTime(), aws: { source: "aws", outcome: { status: "unbound" } } });
  });
});

describe("tradeguard guards run --once --guard cost", () => {
  it("goes through the composition root's binding; --json stays parseable (the SDK's warning is not on stdout)", async () => {
    const today = new Date().toISOString().slice(0, 10);
    srv.today = today;
    srv.days.set(today, "55");
    const home = mkdtempSync(join(tmpdir(), "tg-cost-"));
    writeFileSync(join(home, "config.yml"), yaml());
    const r = await runCli(["guards", "run", "--once", "--guard", "cost", "--json"], {
      TRADEGUARD_HOME: home,
      TRADEGUARD_CONFIG: join(home, "config.yml"),
      REDIS_URL: inject("redisUrl"),
      REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
      AWS_ACCESS_KEY_ID: CREDS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey,
    });
    expect(r.code).toBe(1); // a critical finding (README: guards run exits 1 on a finding at warn or worse)
    const out = JSON.parse(r.stdout) as { findings: { key: string; severity: string }[] };
    expect(out.findings).toContainEqual(
      expect.objectContaining({ key: `cost:aws:day:${today}`, severity: "critical" }),
    );
    expect(srv.ops().sort()).toEqual(["GetCostAndUsage", "GetCostAndUsage", "GetCostForecast"]);
    expect(r.stdout).not.toMatch(/NodeVersionSupportWarning/);
    if (Number(process.versions.node.split(".")[0]) < 22) expect(r.stderr).toMatch(/NodeVersionSupportWarning/);
  });
});
