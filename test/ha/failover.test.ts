// The halt survives a Redis Sentinel failover (issue 16). Real processes on loopback: a master, a replica that
// replicates through a TCP proxy, three sentinels with short detection times (test/support/sentinel.ts); the bot's
// runtime, the CLI and a gate all connect through Sentinel. With replication healthy, the halt and the resume
// transitions wait for the replica (WAIT) and say so. With replication cut, a CLI panic's halt is acknowledged by a
// master that is then killed: Sentinel promotes a replica that never had the halt, and the CLI — the only process
// that still knows it set one — re-asserts it there; the report says so, the panic ends HALT-VERIFIED, and a gate
// polled every few milliseconds never allowed an order from the moment it saw the halt.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGate, type Gate, MARKET_KEYS, type OrderCheck } from "../../src/gate/index.js";
import type { PanicReport } from "../../src/ops/panic-report.js";
import { createRedis } from "../../src/state/redis.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "../brokers/alpaca-endpoints.js";
import { runCli } from "../support/cli.js";
import { testRuntime } from "../support/runtime.js";
import { type SentinelCluster, startSentinelCluster, waitUntil } from "../support/sentinel.js";

const order: OrderCheck = {
  broker: "paper",
  account: "A1",
  strategy: "ha",
  symbol: "BTCUSD",
  side: "buy",
  qty: 1,
  price: 100,
};

let cluster: SentinelCluster;
let t: Awaited<ReturnType<typeof testRuntime>>;
let gate: Gate;
let heartbeat: NodeJS.Timeout;
let alpaca: AlpacaEndpoint | undefined;
const clients: Redis[] = [];

/** The YAML of a runtime that reaches Redis through the cluster's sentinels. */
function yaml(extra = "") {
  return [
    "redis:",
    `  sentinels: [${cluster.sentinelAddrs.map((a) => `"${a}"`).join(", ")}]`,
    `  name: ${cluster.name}`,
    "  replication: { wait_ms: 500, confirm_ms: 20000 }",
    "resume: { soak_minutes: 0 }",
    "panic: { deadline_ms: 20000 }",
    extra,
  ].join("\n");
}

beforeAll(async () => {
  cluster = await startSentinelCluster({ downAfterMs: 400, failoverTimeoutMs: 2_000 });
  await cluster.waitUntilReady();
  t = await testRuntime({ yaml: yaml(), env: { REDIS_URL: "" } });
  // The bot's heartbeat (the gate's dead-man's switch), written through Sentinel like the bot writes it.
  const hb = createRedis(t.rt.config.redis, { name: "test-heartbeat" });
  clients.push(hb);
  const beat = () => void hb.set(t.rt.keys.raw(MARKET_KEYS.heartbeat), String(Date.now())).catch(() => {});
  beat();
  heartbeat = setInterval(beat, 200);
  gate = await createGate({
    sentinels: cluster.sentinelAddrs,
    name: cluster.name,
    prefix: t.rt.keys.prefix,
    pollMs: 50,
    refreshMs: 500,
    maxStalenessMs: 1_500,
    marketRulesBrokers: [],
  });
  await waitUntil(() => gate.check(order).allow, 5_000, "the gate to allow an order before any halt");
}, 60_000);

afterAll(async () => {
  clearInterval(heartbeat);
  await gate?.close();
  await t?.rt.close();
  for (const c of clients) c.disconnect();
  await cluster?.stop();
  await alpaca?.close();
});

describe("Redis Sentinel: replication healthy", () => {
  it("the halt waits for the replica and is reported replicated; the resume transitions WAIT and record it", async () => {
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "ha drill (healthy)", announce: false });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(report.haltReplication).toMatchObject({ status: "replicated", acked: 1, connected: 1 });
    console.log(`[ha] WAIT with a healthy replica: ${report.haltReplication!.waitedMs} ms`);
    const replica = cluster.direct(cluster.replica.port);
    expect(await replica.get(t.rt.keys.mode)).toBe("halt");
    const req = await t.rt.ops.resume.request("U1", "drill over");
    const approved = await t.rt.ops.resume.approve("U2", req.id);
    expect(approved.replication).toMatchObject({ outcome: "replicated", acked: 1 });
    // soak_minutes 0: the approval ended the soak at once (reduce_only → active), also waited for.
    expect(await replica.get(t.rt.keys.mode)).toBe("active");
    await t.rt.audit.drained();
    const entries = await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+");
    const modeSets = entries
      .map(([, f]) => JSON.parse(f[1]!) as { action: string; details: Record<string, unknown> })
      .filter((e) => e.action === "mode.set" || e.action === "panic.verified");
    expect(modeSets.find((e) => e.action === "panic.verified")?.details.halt_replication).toMatchObject({
      status: "replicated",
      confirmed: true,
    });
    expect(modeSets.filter((e) => e.details.mode === "reduce_only" || e.details.mode === "active")).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ mode: "reduce_only", replicated: "replicated" }) }),
      expect.objectContaining({ details: expect.objectContaining({ mode: "active", replicated: "replicated" }) }),
    ]);
    await waitUntil(() => gate.check(order).allow, 5_000, "the gate to allow again after the resume");
  }, 30_000);
});

describe("Redis Sentinel: replication cut, master killed in the middle of a CLI panic", () => {
  it("the CLI re-asserts the halt on the promoted replica; HALT-VERIFIED; the gate never allowed an order", async () => {
    const prefix = t.rt.keys.prefix;
    const cliConfig = join(t.home, "cli.yml");
    // A slow broker (a local Alpaca, 600 ms a call): the master dies while the CLI is still flattening.
    alpaca = await alpacaEndpoint(AlpacaAccount.withExposure());
    alpaca.behaviour = { mode: "slow", ms: 600 };
    writeFileSync(
      cliConfig,
      yaml(`brokers: [{ name: alp, kind: alpaca, base_url: "${alpaca.url}", key_id_env: K, secret_key_env: S }]`),
    );
    cluster.replication.cut();
    await waitUntil(
      async () => ((await cluster.direct(cluster.master.port).role()) as unknown[][])[2]!.length === 0,
      5_000,
      "the master to lose its replica",
    );

    // From the moment the gate sees the halt, every check must refuse (polled every few ms, to the end).
    let gateSawHalt = 0;
    let allowedAfterHalt = 0;
    const reasons = new Set<string>();
    const poll = setInterval(() => {
      const r = gate.check(order);
      if (!gateSawHalt && gate.view().mode === "halt") gateSawHalt = Date.now();
      if (!gateSawHalt) return;
      if (r.allow) allowedAfterHalt++;
      for (const x of r.reasons) reasons.add(x.slice(0, x.indexOf(":")));
    }, 3);

    // The halt is published on the master: once the gate has it too, the master is killed (no replica has it).
    const watch = new Redis({ port: cluster.master.port, host: "127.0.0.1", retryStrategy: () => null });
    watch.on("error", () => {});
    clients.push(watch);
    let killedAt = 0;
    const killed = new Promise<void>((resolve, reject) => {
      watch.on("message", (_c, msg) => {
        if (JSON.parse(msg).mode !== "halt" || killedAt) return;
        void waitUntil(() => gateSawHalt > 0, 5_000, "the gate to see the halt")
          .then(async () => {
            killedAt = Date.now();
            await cluster.master.kill();
            resolve();
          })
          .catch(reject);
      });
    });
    await watch.subscribe(`${prefix}mode`);

    const promoted = cluster.direct(cluster.replica.port);
    const cli = runCli(["panic", "--yes", "--json", "--reason", "ha drill (failover)"], {
      ...t.env,
      TRADEGUARD_CONFIG: cliConfig,
      LOG_LEVEL: "error",
      K: "PKTEST",
      S: "secret",
    });
    await killed;
    let promotedAt = 0;
    void waitUntil(
      async () => {
        if ((await cluster.masterAddr()) !== `127.0.0.1:${cluster.replica.port}`) return false;
        promotedAt = Date.now();
        return true;
      },
      30_000,
      "the sentinels to name the replica",
    ).catch(() => {});
    let haltOnNewMaster = 0;
    await waitUntil(
      async () => {
        if ((await promoted.get(`${prefix}mode`)) !== "halt") return false;
        haltOnNewMaster = Date.now();
        return true;
      },
      30_000,
      "the halt on the promoted replica",
    );
    const out = await cli;
    await cluster.waitForMaster(cluster.replica.port);
    // The gate re-reads on the new master: it shows the re-asserted halt (no longer one it merely holds).
    await waitUntil(() => gate.view().down === null && gate.view().heldHalt === null, 10_000, "the gate back up");
    clearInterval(poll);

    console.log(
      `[ha] master killed → halt on the new master: ${haltOnNewMaster - killedAt} ms (Sentinel named the new master after ${promotedAt - killedAt} ms); gate refusals seen: ${[...reasons].join(", ")}`,
    );
    const report = JSON.parse(out.stdout) as PanicReport;
    expect(report.status).toBe("HALT-VERIFIED");
    expect(report.haltReplication).toMatchObject({ status: "reasserted" });
    expect(report.haltReplication!.reassertedAt).not.toBeNull();
    expect(out.stdout + out.stderr).not.toMatch(/HALT FLAG NOT CONFIRMED/);
    expect(allowedAfterHalt).toBe(0);
    expect(gate.check(order).reasons[0]).toMatch(/^mode_halt: trading is halted \(ha drill \(failover\)/);
    // The halt on the new master is the panic's own, as it was set (same since), and its record came back with it.
    const meta = await promoted.hgetall(`${prefix}mode:meta`);
    expect(meta).toMatchObject({ panic_id: report.id, since: report.haltedAt, reason: "ha drill (failover)" });
    expect(meta.reasserted_at).toBeTruthy();
    expect(await promoted.hget(`${prefix}panic:${report.id}`, "state")).toBe("done");
  }, 90_000);
});
