import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nock from "nock";
import { afterEach, describe, expect, it } from "vitest";
import { verifyChain } from "../../src/audit/chain.js";
import { readEntries } from "../../src/audit/log.js";
import type { Broker } from "../../src/brokers/broker.js";
import { PaperBroker } from "../../src/brokers/paper.js";
import { incompleteSteps, reportText, startingReport } from "../../src/ops/panic-report.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
async function runtime(opts: Parameters<typeof testRuntime>[0] = {}): Promise<T> {
  const t = await testRuntime({ yaml: "panic: { deadline_ms: 5000 }\n", ...opts });
  opened.push(t);
  return t;
}
function useBrokers(t: T, ...brokers: Broker[]) {
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, ...brokers);
}
async function auditActions(t: T): Promise<{ action: string; actor: string; details: Record<string, unknown> }[]> {
  const rows = await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+");
  return rows.map((r) => JSON.parse(r[1][1]!));
}

afterEach(async () => {
  nock.cleanAll();
  nock.enableNetConnect();
  while (opened.length) await opened.pop()!.cleanup();
});

describe("panic (halt)", () => {
  it("sets and publishes mode=halt before the first broker call", async () => {
    const t = await runtime();
    const sub = t.rt.redis.duplicate();
    const published: string[] = [];
    await sub.subscribe(t.rt.keys.modeChannel);
    sub.on("message", (_c, msg) => published.push(msg));
    // MONITOR shows every command Redis executes, in order, scripts' calls included: the PUBLISH of the halt must
    // come before the marker the broker's first call sends.
    const monitor = await t.rt.redis.duplicate().monitor();
    const executed: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[]) => executed.push(args));
    const marker = t.rt.keys.raw("test:first-broker-call");
    const seenByBroker: (string | null)[] = [];
    const b = new FakeBroker("b1").seed("AAPL", "10");
    b.beforeCall = async () => {
      if (seenByBroker.length === 0) await t.rt.redis.get(marker);
      seenByBroker.push(await t.rt.redis.get(t.rt.keys.mode));
    };
    useBrokers(t, b);
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "test" });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(seenByBroker.length).toBeGreaterThan(0);
    expect(seenByBroker.every((m) => m === "halt")).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    const publishAt = executed.findIndex((a) => a[0]?.toLowerCase() === "publish" && a[1] === t.rt.keys.modeChannel);
    const markerAt = executed.findIndex((a) => a[0]?.toLowerCase() === "get" && a[1] === marker);
    expect(publishAt).toBeGreaterThanOrEqual(0);
    expect(markerAt).toBeGreaterThan(publishAt);
    expect(JSON.parse(published[0]!)).toEqual({ mode: "halt", reason: "test", actor: "U1", ts: report.haltedAt });
    expect(await t.rt.redis.hgetall(t.rt.keys.modeMeta)).toMatchObject({
      reason: "test",
      actor: "U1",
      panic_id: report.id,
    });
    sub.disconnect();
  });

  it("flattens every broker in parallel and audits each step with the broker's ids", async () => {
    const t = await runtime();
    const a = new FakeBroker("a").seed("AAPL", "10").seed("MSFT", "-3");
    const b = new FakeBroker("b").seed("BTCUSDT", "0.5");
    a.delayMs = b.delayMs = 50;
    let concurrent = 0;
    let maxConcurrent = 0;
    for (const x of [a, b]) {
      x.beforeCall = () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        setTimeout(() => concurrent--, 40);
      };
    }
    useBrokers(t, a, b);
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "parallel" });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(maxConcurrent).toBeGreaterThanOrEqual(2);
    // cancel strictly before close on each broker
    for (const x of [a, b])
      expect(x.calls.map((c) => c.op).indexOf("cancel_all")).toBeLessThan(
        x.calls.map((c) => c.op).indexOf("close_all"),
      );
    const actions = await auditActions(t);
    expect(actions.map((e) => e.action)).toEqual([
      "panic.confirmed",
      "mode.set",
      "panic.broker_result",
      "panic.broker_result",
      "panic.verified",
      "panic.snapshot",
    ]);
    const resultA = actions.find((e) => e.action === "panic.broker_result" && e.details.broker === "a")!;
    expect(resultA.details.closed).toEqual(
      expect.arrayContaining([expect.objectContaining({ ref: "AAPL", brokerId: "close-AAPL" })]),
    );
    expect(
      await verifyChain(readEntries({ kind: "redis", redis: t.rt.redis, keys: t.rt.keys }), t.rt.auditKeys.publicKey, {
        full: true,
      }),
    ).toMatchObject({ ok: true });
  });

  it("reports HALT-PARTIAL with exactly what is left and why", async () => {
    const t = await runtime({ yaml: "panic: { deadline_ms: 3000 }\n" });
    const a = new FakeBroker("a").seed("AAPL", "10").seed("GME", "-7");
    a.refuseClose.add("GME");
    useBrokers(t, a, new FakeBroker("b").seed("SPY", "1"));
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "partial" });
    expect(report.status).toBe("HALT-PARTIAL");
    const ra = report.brokers.find((x) => x.broker === "a")!;
    expect(ra.verified).toBe(false);
    expect(ra.remaining).toEqual({ orders: [], positions: [{ symbol: "GME", qty: "-7" }] });
    expect(ra.errors.join("\n")).toMatch(/GME: insufficient qty available/);
    expect(report.brokers.find((x) => x.broker === "b")!.verified).toBe(true);
    expect(t.notifier.messages.at(-1)).toMatchObject({ severity: "critical" });
    expect(t.notifier.messages.at(-1)!.text).toMatch(/HALT-PARTIAL[\s\S]*position GME -7/);
  });

  it("an audit log that fails does not stop the halt or the flatten", async () => {
    const t = await runtime();
    const a = new FakeBroker("a").seed("AAPL", "10");
    useBrokers(t, a);
    (t.rt.ops.deps.audit as { append: unknown }).append = async () => {
      throw new Error("audit store broken");
    };
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "audit down" });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(a.positions).toEqual([]);
    expect((await t.rt.mode.get()).mode).toBe("halt");
  });

  it("a second panic while one runs joins it instead of flattening twice", async () => {
    const t = await runtime();
    const a = new FakeBroker("a").seed("AAPL", "10");
    a.delayMs = 100;
    useBrokers(t, a);
    const [r1, r2] = await Promise.all([
      t.rt.ops.panic.halt({ actor: "U1", reason: "first" }),
      t.rt.ops.panic.halt({ actor: "U2", reason: "second" }),
    ]);
    expect(r1.report.id).toBe(r2.report.id);
    expect([r1.joined, r2.joined].sort()).toEqual([false, true]);
    expect(a.calls.filter((c) => c.op === "close_all")).toHaveLength(1);
    const actions = (await auditActions(t)).map((e) => e.action);
    expect(actions.filter((x) => x === "panic.joined")).toHaveLength(1);
  });

  it("a panic from another process joins through Redis, not in memory", async () => {
    const t1 = await runtime();
    const t2 = await testRuntime({ env: { REDIS_PREFIX: t1.env.REDIS_PREFIX!, TRADEGUARD_HOME: t1.home } });
    opened.push(t2);
    const a = new FakeBroker("a").seed("AAPL", "10");
    a.delayMs = 150;
    useBrokers(t1, a);
    useBrokers(t2, a);
    const p1 = t1.rt.ops.panic.halt({ actor: "U1", reason: "first" });
    await new Promise((r) => setTimeout(r, 30));
    const r2 = await t2.rt.ops.panic.halt({ actor: "U2", reason: "second" });
    const r1 = await p1;
    expect(r2.joined).toBe(true);
    expect(r2.report).toEqual(r1.report);
    expect(a.calls.filter((c) => c.op === "close_all")).toHaveLength(1);
  });

  it("resumes an unfinished panic whose process died (lease expired), once", async () => {
    const t = await runtime();
    const paper = new PaperBroker("paper", t.rt.redis, t.rt.keys);
    await paper.setPosition("AAPL", "10", "190");
    useBrokers(t, paper);
    // A process set the halt, claimed the panic, and died before flattening.
    const now = new Date();
    const report = startingReport("U9", "died", now, "set");
    await t.rt.ops.deps.panicStore.begin(report, "dead-host:1", 300);
    const resumed = await t.rt.ops.panic.resumeUnfinished();
    expect(resumed).toMatchObject({ id: report.id, status: "HALT-VERIFIED", attempts: 2 });
    expect(await paper.listPositions()).toEqual([]);
    expect(await t.rt.redis.get(t.rt.keys.panicActive)).toBeNull();
    expect(await t.rt.redis.get(t.rt.keys.panicLast)).toBe(report.id);
    const actions = await auditActions(t);
    expect(actions.find((e) => e.action === "panic.resumed")).toMatchObject({
      details: { panic_id: report.id, previous_owner: "dead-host:1", attempt: 2 },
    });
    expect(await t.rt.ops.panic.resumeUnfinished()).toBeNull();
  });

  it("writes a snapshot with the mode and what the brokers held", async () => {
    const t = await runtime();
    useBrokers(t, new FakeBroker("a").seed("AAPL", "10"));
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "snap" });
    expect(report.snapshot).toMatch(new RegExp(`^${join(t.home, "snapshots")}/.*${report.id}\\.json$`));
    const snap = JSON.parse(readFileSync(report.snapshot!, "utf8"));
    expect(snap.redis.mode).toBe("halt");
    expect(snap.positions_seen[0].closed[0]).toMatchObject({ ref: "AAPL", ok: true });
  });

  it("with Redis down: still flattens the brokers, audits to the local file, and says the halt flag is not set", async () => {
    nock.disableNetConnect();
    nock.enableNetConnect("127.0.0.1");
    const base = "https://paper-api.alpaca.markets";
    const calls: string[] = [];
    const api = nock(base)
      .delete("/v2/orders")
      .reply(207, () => {
        calls.push("cancel");
        return [];
      })
      .delete("/v2/positions")
      .query({ cancel_orders: "true" })
      .reply(207, () => {
        calls.push("close");
        return [{ symbol: "AAPL", status: 200, body: { id: "61e69015-8549-4bfd-b9c3-01e75843f47d", symbol: "AAPL" } }];
      })
      .get("/v2/orders")
      .query(true)
      .reply(200, [])
      .get("/v2/positions")
      .reply(200, []);
    const t = await testRuntime({
      env: {
        REDIS_URL: "redis://127.0.0.1:1",
        APCA_API_KEY_ID: "AKTEST",
        APCA_API_SECRET_KEY: "secret",
        APCA_API_BASE_URL: base,
      },
    });
    try {
      expect(t.rt.ops.deps.brokers.map((b) => b.name)).toEqual(["alpaca"]); // paper lives in Redis: not reachable
      const { report } = await t.rt.ops.panic.halt({ actor: "cli:ops", reason: "redis down" });
      expect(report.haltFlag).toBe("not_set");
      expect(report.status).toBe("HALT-PARTIAL");
      expect(report.brokers[0]).toMatchObject({ broker: "alpaca", verified: true });
      expect(calls).toEqual(["cancel", "close"]);
      expect(api.isDone()).toBe(true);
      const file = t.rt.config.audit.file;
      const lines = readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.map((e) => e.action)).toEqual([
        "panic.confirmed",
        "panic.broker_result",
        "panic.verified",
        "panic.snapshot",
      ]);
      expect(lines[0].details).toMatchObject({ halt_flag: "not_set" });
      expect(
        await verifyChain(readEntries({ kind: "file", file }), t.rt.auditKeys.publicKey, { full: true }),
      ).toMatchObject({ ok: true, entries: 4 });
      expect(t.notifier.messages.at(-1)!.text).toMatch(/HALT FLAG COULD NOT BE SET/);
    } finally {
      await t.rt.close();
    }
  });

  it("checks the panic role itself: a refused actor changes nothing and the refusal is audited", async () => {
    const t = await runtime({ yaml: "roles: { panic: [U1] }\npanic: { deadline_ms: 5000 }\n" });
    const b = new FakeBroker("a").seed("AAPL", "10");
    useBrokers(t, b);
    await expect(t.rt.ops.panic.halt({ actor: "U2", reason: "not mine" })).rejects.toThrow(/not in the `panic` role/);
    await expect(t.rt.ops.panicRequest.prepare("U2", "not mine")).rejects.toThrow(/not in the `panic` role/);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBeNull();
    expect(b.calls).toEqual([]);
    const denied = (await auditActions(t)).filter((e) => e.action === "auth.denied");
    expect(denied).toHaveLength(2);
    expect(denied[0]).toMatchObject({ actor: "U2", details: { role: "panic" } });
  });

  it("a failed snapshot is named in the report and its text, and the panic counts as incomplete", async () => {
    const t = await runtime();
    writeFileSync(join(t.home, "not-a-dir"), "x");
    (t.rt.config.panic as { snapshotDir: string }).snapshotDir = join(t.home, "not-a-dir", "snapshots");
    useBrokers(t, new FakeBroker("a").seed("AAPL", "10"));
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "no snapshot" });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(report.snapshot).toBeNull();
    expect(report.snapshotError).toMatch(/ENOTDIR|not a directory/);
    expect(reportText(report)).toMatch(/SNAPSHOT FAILED: .*(ENOTDIR|not a directory)/);
    expect(incompleteSteps(report)).toEqual([expect.stringMatching(/^snapshot: /)]);
    expect((await auditActions(t)).find((e) => e.action === "panic.snapshot_failed")).toBeTruthy();
  });
});
