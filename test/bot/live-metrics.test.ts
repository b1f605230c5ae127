// The gauges /metrics reads from Redis at every scrape: what the watchman rules judge. Each is read as the gates and
// /status read it — garbage never reads as a harmless value — and a Redis that is away gives redis_up 0 fast.
import { afterEach, describe, expect, inject, it } from "vitest";
import { refreshLiveMetrics } from "../../src/bot/live-metrics.js";
import { startingReport } from "../../src/ops/panic-report.js";
import { testRuntime } from "../support/runtime.js";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
let t: T | undefined;
let proxy: TcpProxy | undefined;
afterEach(async () => {
  proxy?.restore();
  await t?.cleanup();
  await proxy?.close();
  t = proxy = undefined;
});

/** One gauge's value for these labels (undefined when the series is not exported). */
async function value(rt: T["rt"], name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const m = await rt.metrics.registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
}

const NOW = Date.parse("2026-03-02T15:00:00.000Z");

describe("scrape-time gauges", () => {
  it("with nothing in Redis: active, no heartbeat (+Inf), no panic, no alert", async () => {
    t = await testRuntime();
    await refreshLiveMetrics(t.rt, () => NOW);
    const { rt } = t;
    expect(await value(rt, "tradeguard_redis_up")).toBe(1);
    expect(await value(rt, "tradeguard_mode", { mode: "active" })).toBe(1);
    expect(await value(rt, "tradeguard_mode", { mode: "halt" })).toBe(0);
    expect(await value(rt, "tradeguard_mode_since_timestamp_seconds")).toBeNaN();
    expect(await value(rt, "tradeguard_heartbeat_age_seconds")).toBe(Number.POSITIVE_INFINITY);
    expect(await value(rt, "tradeguard_panic_running")).toBe(0);
    expect(await value(rt, "tradeguard_panic_last_outcome", { outcome: "HALT-PARTIAL" })).toBe(0);
    expect(await value(rt, "tradeguard_panic_last_finished_timestamp_seconds")).toBeNaN();
    expect(await value(rt, "tradeguard_alerts_open", { severity: "critical" })).toBe(0);
    // Prometheus's text format spells infinity +Inf, which it parses back.
    expect(await rt.metrics.registry.metrics()).toMatch(/^tradeguard_heartbeat_age_seconds \+Inf$/m);
  });

  it("the heartbeat's age as the gates read it: fresh, from the future, unreadable, of the wrong type", async () => {
    t = await testRuntime();
    const { rt } = t;
    const age = async (raw: string | null) => {
      await rt.redis.del(rt.keys.heartbeatBot);
      if (raw !== null) await rt.redis.set(rt.keys.heartbeatBot, raw);
      await refreshLiveMetrics(rt, () => NOW);
      return value(rt, "tradeguard_heartbeat_age_seconds");
    };
    expect(await age(String(NOW - 3_250))).toBe(3.25);
    expect(await age(String(NOW + 10_000))).toBe(-10);
    expect(await age("soon")).toBe(Number.POSITIVE_INFINITY);
    expect(await age("1700000000")).toBe(Number.POSITIVE_INFINITY); // seconds, not milliseconds
    await rt.redis.del(rt.keys.heartbeatBot);
    await rt.redis.hset(rt.keys.heartbeatBot, "ts", String(NOW));
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_heartbeat_age_seconds")).toBe(Number.POSITIVE_INFINITY);
    expect(await value(rt, "tradeguard_redis_up")).toBe(1);
  });

  it("the mode and since when; a garbage mode reads as halt", async () => {
    t = await testRuntime();
    const { rt } = t;
    await rt.mode.set("halt", { reason: "drill", actor: "U1", now: new Date(NOW - 60_000) });
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_mode", { mode: "halt" })).toBe(1);
    expect(await value(rt, "tradeguard_mode", { mode: "active" })).toBe(0);
    expect(await value(rt, "tradeguard_mode_since_timestamp_seconds")).toBe((NOW - 60_000) / 1000);
    await rt.redis.set(rt.keys.mode, "banana");
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_mode", { mode: "halt" })).toBe(1);
    expect(await value(rt, "tradeguard_mode", { mode: "reduce_only" })).toBe(0);
  });

  it("a running panic, then the last one's outcome and end, whoever ran it; a garbage pointer is no panic", async () => {
    t = await testRuntime();
    const { rt } = t;
    const report = startingReport("cli:ops", "drill", new Date(NOW - 5_000), "set");
    await rt.panicStore.begin(report, "another-process", 30_000);
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_panic_running")).toBe(1);
    const finishedAt = new Date(NOW - 1_000).toISOString();
    await rt.panicStore.finish({ ...report, status: "HALT-PARTIAL", finishedAt, durationMs: 4_000 }, "another-process");
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_panic_running")).toBe(0);
    expect(await value(rt, "tradeguard_panic_last_outcome", { outcome: "HALT-PARTIAL" })).toBe(1);
    expect(await value(rt, "tradeguard_panic_last_outcome", { outcome: "HALT-VERIFIED" })).toBe(0);
    expect(await value(rt, "tradeguard_panic_last_finished_timestamp_seconds")).toBe((NOW - 1_000) / 1000);
    await rt.redis.set(rt.keys.panicLast, "not-a-panic-id");
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_panic_last_outcome", { outcome: "HALT-PARTIAL" })).toBe(0);
    expect(await value(rt, "tradeguard_redis_up")).toBe(1);
  });

  it("open alerts by severity, leaving unreadable entries out", async () => {
    t = await testRuntime();
    const { rt } = t;
    const alert = (key: string, severity: string) =>
      JSON.stringify({
        guard: "time_sync",
        key,
        stream: "time_sync",
        severity,
        title: key,
        detail: "d",
        sop: "sop-time-sync",
        since: "2026-03-02T14:00:00Z",
        lastSeen: "2026-03-02T14:59:00Z",
        count: 1,
        notifiedSeverity: severity,
      });
    await rt.redis.hset(rt.keys.alertsOpen, {
      "time_sync/a": alert("a", "critical"),
      "time_sync/b": alert("b", "critical"),
      "time_sync/c": alert("c", "warn"),
      "time_sync/d": "{not json",
    });
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_alerts_open", { severity: "critical" })).toBe(2);
    expect(await value(rt, "tradeguard_alerts_open", { severity: "warn" })).toBe(1);
    expect(await value(rt, "tradeguard_alerts_open", { severity: "info" })).toBe(0);
  });

  it("Redis cut off: redis_up 0 and the heartbeat unknown (NaN), answered without waiting on Redis", async () => {
    const url = new URL(inject("redisUrl"));
    proxy = await startTcpProxy(Number(url.port));
    t = await testRuntime({ env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    const { rt } = t;
    await rt.redis.set(rt.keys.heartbeatBot, String(NOW));
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_heartbeat_age_seconds")).toBe(0);
    proxy.cut();
    await new Promise((r) => setTimeout(r, 50));
    await refreshLiveMetrics(rt, () => NOW);
    expect(await value(rt, "tradeguard_redis_up")).toBe(0);
    expect(await value(rt, "tradeguard_heartbeat_age_seconds")).toBeNaN();
  });
});
