// The kill switch against a Redis that is down, dies or is cut off mid-panic: the halt is tried live every time,
// the brokers are flattened whatever Redis does, the report says which Redis steps were missed, and a running bot
// finishes the panic's record once Redis is back. Real redis-server processes of the test's own, and a TCP proxy
// to cut one client off without losing Redis's data.
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../../src/brokers/broker.js";
import { reportText } from "../../src/ops/panic-report.js";
import { startServices } from "../../src/services.js";
import { FakeBroker } from "../support/fake-broker.js";
import { freePort, startRedisServer } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { startTcpProxy } from "../support/tcp-proxy.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function runtimeOn(url: string): Promise<T> {
  const t = await testRuntime({ env: { REDIS_URL: url }, yaml: "panic: { deadline_ms: 5000 }\n" });
  cleanups.push(() => t.rt.close());
  return t;
}
function useBrokers(t: T, ...brokers: Broker[]) {
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, ...brokers);
}
/** A broker with 3 open orders and 2 positions. */
function loadedBroker(): FakeBroker {
  const b = new FakeBroker("venue").seed("AAPL", "10").seed("MSFT", "-5");
  b.orders.push({ ...b.orders[0]!, id: "o-extra", symbol: "NVDA" });
  return b;
}
async function waitFor(check: () => Promise<boolean> | boolean, ms: number, what: string) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
/** A subscriber on the mode channel of `url`; `onHalt` runs when mode=halt is published. */
async function onHalt(url: string, channel: string, fn: () => void): Promise<string[]> {
  const sub = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  sub.on("error", () => {});
  cleanups.push(() => sub.disconnect());
  const seen: string[] = [];
  await sub.subscribe(channel);
  sub.on("message", (_c, msg) => {
    seen.push(msg);
    if (JSON.parse(msg).mode === "halt") fn();
  });
  return seen;
}

describe("panic and a failing Redis", () => {
  it("a runtime started while Redis was down sets and publishes the halt once Redis is up (health is live)", async () => {
    const port = await freePort();
    const t = await runtimeOn(`redis://127.0.0.1:${port}`);
    useBrokers(t, loadedBroker());
    await new Promise((r) => setTimeout(r, 300)); // the client has tried and failed to connect
    expect(t.rt.redis.status).not.toBe("ready");
    const srv = await startRedisServer({ port });
    cleanups.push(() => srv.stop());
    const published = await onHalt(srv.url, t.rt.keys.modeChannel, () => {});
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "after Redis came back" });
    expect(report).toMatchObject({ haltFlag: "set", status: "HALT-VERIFIED", redisErrors: [] });
    const direct = new Redis(srv.url);
    cleanups.push(() => direct.disconnect());
    expect(await direct.get(t.rt.keys.mode)).toBe("halt");
    await waitFor(() => published.length > 0, 2_000, "the mode message");
    expect(JSON.parse(published[0]!)).toMatchObject({ mode: "halt", reason: "after Redis came back", actor: "U1" });
  });

  it("Redis killed the moment mode=halt is seen: the broker still ends flat and the report names what Redis missed", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const t = await runtimeOn(srv.url);
    const broker = loadedBroker();
    useBrokers(t, broker);
    let dead!: () => void;
    const killed = new Promise<void>((r) => {
      dead = r;
    });
    await onHalt(srv.url, t.rt.keys.modeChannel, () => {
      srv.proc.once("exit", () => dead());
      srv.proc.kill("SIGKILL");
    });
    broker.beforeCall = () => killed; // the broker work starts only once Redis is gone
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "redis dies" });
    expect(broker.calls.map((c) => c.op)).toContain("close_all");
    expect(broker.orders).toEqual([]);
    expect(broker.positions).toEqual([]);
    expect(report.haltFlag).toBe("set");
    expect(report.brokers[0]).toMatchObject({ broker: "venue", verified: true });
    expect(report.brokers[0]!.cancelled).toHaveLength(3);
    expect(report.brokers[0]!.closed).toHaveLength(2);
    const missed = report.redisErrors.join("\n");
    expect(missed).toMatch(/save the panic's progress/);
    expect(missed).toMatch(/record the finished panic/);
    expect(reportText(report)).toMatch(/Redis failed during the panic \(\d step\(s\)\)/);
    // The audit entries Redis could not take went to the local file, chained.
    const file = readFileSync(t.rt.config.audit.file, "utf8");
    expect(file).toContain('"action":"panic.verified"');
  });

  it("a running bot finishes the record of a panic Redis missed, as soon as Redis is reachable again", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const proxy = await startTcpProxy(srv.port);
    cleanups.push(() => proxy.close());
    const t = await runtimeOn(`redis://127.0.0.1:${proxy.port}`);
    const broker = loadedBroker();
    useBrokers(t, broker);
    const services = startServices(t.rt);
    cleanups.push(() => services.stop());
    // Cut off right after the halt was acknowledged: the broker work and every later Redis step see no Redis.
    broker.beforeCall = () => {
      if (broker.calls.length === 1) proxy.cut();
    };
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "network partition" });
    expect(report.brokers[0]?.verified).toBe(true);
    expect(report.redisErrors.join("\n")).toMatch(/record the finished panic/);
    const direct = new Redis(srv.url);
    cleanups.push(() => direct.disconnect());
    expect(await direct.get(t.rt.keys.panicActive)).toBe(report.id); // Redis still thinks it runs
    proxy.restore();
    await waitFor(
      async () => (await direct.hget(t.rt.keys.panic(report.id), "state")) === "done",
      10_000,
      "the resumed panic to be recorded",
    );
    expect(await direct.get(t.rt.keys.panicActive)).toBeNull();
    expect(await direct.get(t.rt.keys.panicLast)).toBe(report.id);
    const recorded = JSON.parse((await direct.hget(t.rt.keys.panic(report.id), "report"))!);
    expect(recorded).toMatchObject({ status: "HALT-VERIFIED", attempts: 2, redisErrors: [] });
    const actions = (await direct.xrange(t.rt.keys.auditLog, "-", "+")).map((r) => JSON.parse(r[1][1]!).action);
    expect(actions).toContain("panic.resumed");
  });

  it("a frozen Redis: the brokers are flattened without waiting; when it wakes up, the same panic is recorded, once", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const t = await runtimeOn(srv.url);
    const broker = loadedBroker();
    useBrokers(t, broker);
    const services = startServices(t.rt); // its recovery must not run this panic a second time
    cleanups.push(() => services.stop());
    await waitFor(() => t.rt.redis.status === "ready", 2_000, "the connection");
    srv.proc.kill("SIGSTOP");
    cleanups.push(() => srv.proc.kill("SIGCONT"));
    const wake = setTimeout(() => srv.proc.kill("SIGCONT"), 3_500); // after the 3 s the halt flag may take
    cleanups.push(() => clearTimeout(wake));
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "frozen redis" });
    // Flattened although Redis never answered in time; one execution only (one cancel round per broker).
    expect(broker.orders).toEqual([]);
    expect(broker.positions).toEqual([]);
    expect(broker.calls.filter((c) => c.op === "cancel_all").map((c) => c.panicId)).toEqual([report.id]);
    expect(report.redisErrors[0]).toMatch(/^set the halt flag: Redis did not answer within 3000 ms$/);
    // The late script ran: Redis records this very panic (same id), and no second execution happened.
    const direct = new Redis(srv.url);
    cleanups.push(() => direct.disconnect());
    await waitFor(
      async () => (await direct.hget(t.rt.keys.panic(report.id), "state")) === "done",
      8_000,
      "the panic record",
    );
    expect(await direct.get(t.rt.keys.mode)).toBe("halt");
    expect(await direct.get(t.rt.keys.panicActive)).toBeNull();
    await new Promise((r) => setTimeout(r, 300));
    expect(new Set(broker.calls.flatMap((c) => (c.panicId ? [c.panicId] : [])))).toEqual(new Set([report.id]));
    expect(broker.calls.filter((c) => c.op === "cancel_all")).toHaveLength(1);
  });

  it("a stale panic:active (its record gone) never stops a new panic from setting the halt flag", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const t = await runtimeOn(srv.url);
    useBrokers(t, loadedBroker());
    await t.rt.redis.set(t.rt.keys.panicActive, "p20261201T000000Z-000000");
    const { report, joined } = await t.rt.ops.panic.halt({ actor: "U1", reason: "after a stale pointer" });
    expect(joined).toBe(false);
    expect(report).toMatchObject({ haltFlag: "set", status: "HALT-VERIFIED" });
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("halt");
  });
});
