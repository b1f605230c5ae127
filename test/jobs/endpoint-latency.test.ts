// The endpoint_latency guard. Pure evaluate with the clock passed in: the switch at, just below and just above the
// threshold and the duration, after N failed reads in a row, never to an unhealthy endpoint, never back on its own;
// garbage in Redis is "data invalid", not a crash. Then the whole path on the run's redis-server with two local Alpaca
// endpoints, one slow: the probe measures both, the guard switches after the sustained breach and not before, the
// flag change is audited and alerted, the adapters follow, and `endpoint use` switches back.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { encodeSample, type LatencySample } from "../../src/brokers/latency.js";
import {
  createEndpointLatencyGuard,
  type EndpointLatencyProbe,
  endpointLatency,
  withEndpointLatency,
} from "../../src/jobs/endpoint-latency.js";
import { type Finding, ReadFailure } from "../../src/jobs/guard.js";
import { GuardRunner } from "../../src/jobs/runner.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "../brokers/alpaca-endpoints.js";
import { silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";

const A = "https://api.alpaca.markets";
const B = "https://alpaca-backup.example.net";
const T0 = Date.parse("2026-12-01T15:00:00.000Z");
const cfg = endpointLatency.config.parse({
  threshold_ms: 200,
  duration_ms: 60_000,
  window_ms: 30_000,
  min_samples: 3,
  max_failures: 3,
});
const guard = createEndpointLatencyGuard({
  targets: [{ broker: "alp", urls: [A, B], measure: async () => ({ ts: 0, ms: 0, ok: true }) }],
  record: async () => {},
});

/** Samples every 10 s over [from, to]: `ms` each, or failed reads for null. */
function every10s(from: number, to: number, ms: number | null): LatencySample[] {
  const out: LatencySample[] = [];
  for (let t = from; t <= to; t += 10_000)
    out.push(
      ms === null ? { ts: t, ms: 3000, ok: false, error: "GET /v2/account: timed out" } : { ts: t, ms, ok: true },
    );
  return out;
}

/** Evaluates at `now` with each endpoint's window (the newest sample is this tick's fresh one) and the flag. */
function run(now: number, windows: Record<string, LatencySample[] | ReadFailure | string[]>, flag: unknown = {}) {
  const values: Record<string, unknown> = { "active:alp": flag };
  const fresh: Record<string, LatencySample> = {};
  for (const [url, w] of Object.entries(windows)) {
    if (w instanceof ReadFailure || typeof w[0] === "string") {
      values[`latency:alp:${url}`] = w;
      continue;
    }
    const sorted = [...(w as LatencySample[])].sort((x, y) => y.ts - x.ts);
    if (sorted[0]?.ts === now) fresh[url] = sorted.shift()!;
    values[`latency:alp:${url}`] = sorted.map(encodeSample);
  }
  const probe: EndpointLatencyProbe = { at: now, fresh: { alp: fresh }, recordError: null };
  return guard.evaluate({ values, probe }, new Date(now), cfg);
}
const keys = (fs: Finding[]) => fs.map((f) => [f.key, f.severity]);
const switches = (fs: Finding[]) => fs.flatMap((f) => f.actions ?? []);

describe("endpoint_latency: the threshold (p99 over 30 s, above 200 ms, for 60 s)", () => {
  const now = T0 + 120_000;
  const healthyB = every10s(T0, now, 5);
  it("at the threshold: no finding, no switch", () => {
    expect(run(now, { [A]: every10s(T0, now, 200), [B]: healthyB })).toEqual([]);
  });
  it("just below: no finding", () => {
    expect(run(now, { [A]: every10s(T0, now, 199.9), [B]: healthyB })).toEqual([]);
  });
  it("just above, sustained: fails over to the backup with a critical alert and the flag change", () => {
    const fs = run(now, { [A]: every10s(T0, now, 200.1), [B]: healthyB });
    expect(keys(fs)).toEqual([
      [`endpoint_latency:alp:${A}`, "warn"],
      [`endpoint_latency:alp:on:${B}`, "critical"],
    ]);
    const failover = fs[1]!;
    expect(failover.title).toBe(`alp: failed over from ${A} to ${B}`);
    expect(failover.detail).toContain(`tradeguard endpoint use alp ${A}`);
    expect(failover.sop).toBe("sop-endpoint-failover");
    expect(switches(fs)).toEqual([
      {
        op: "hset",
        key: "endpoint:active:alp",
        fields: {
          url: B,
          since: new Date(now).toISOString(),
          by: "guard:endpoint_latency",
          reason: `${A}: p99 200.1 ms > 200 ms for 1.7 min`, // breaching since T0 + 20 s (the first judged window)
          from: A,
        },
      },
    ]);
  });
});

describe("endpoint_latency: the duration (injected clock)", () => {
  const start = T0 + 20_000; // the first judged point of a slow run beginning at T0
  const slow = (now: number) => every10s(T0, now, 450);
  it("just before the duration: a warning that says when it fails over, no switch", () => {
    const now = start + 59_999;
    const fs = run(now, { [A]: [...slow(start + 50_000), { ts: now, ms: 450, ok: true }], [B]: every10s(T0, now, 5) });
    expect(keys(fs)).toEqual([[`endpoint_latency:alp:${A}`, "warn"]]);
    expect(fs[0]!.detail).toMatch(/Fails over once it lasts 1 min/);
    expect(switches(fs)).toEqual([]);
  });
  it("at the duration: switches", () => {
    const now = start + 60_000;
    expect(switches(run(now, { [A]: slow(now), [B]: every10s(T0, now, 5) }))).toHaveLength(1);
  });
});

describe("endpoint_latency: failures, health, and no switching back", () => {
  const now = T0 + 50_000;
  const okA = every10s(T0, T0 + 20_000, 5);
  it("switches after max_failures failed reads in a row, not before", () => {
    const two = [...okA, ...every10s(T0 + 40_000, now, null)];
    const three = [...okA, ...every10s(T0 + 30_000, now, null)];
    expect(switches(run(now, { [A]: two, [B]: every10s(T0, now, 5) }))).toEqual([]);
    const fs = run(now, { [A]: three, [B]: every10s(T0, now, 5) });
    expect(switches(fs)[0]).toMatchObject({
      fields: { url: B, reason: `${A}: 3 failed reads in a row (last: GET /v2/account: timed out)` },
    });
  });
  it("never switches to an endpoint that is not healthy: a critical alert instead", () => {
    const fs = run(now, {
      [A]: every10s(T0, now, null),
      [B]: [...every10s(T0, T0 + 40_000, 5), { ts: now, ms: 3000, ok: false }],
    });
    expect(keys(fs)).toEqual([
      [`endpoint_latency:alp:${A}`, "warn"],
      [`endpoint_latency:alp:${B}`, "info"], // its newest read failed: it breaches, but it is not the active one
      ["endpoint_latency:alp:no_healthy_endpoint", "critical"],
    ]);
    expect(switches(fs)).toEqual([]);
  });
  it("on a failing backup with nowhere to go: the standing alert stays open beside the critical one", () => {
    const fs = run(now, { [A]: every10s(T0, now, null), [B]: every10s(T0, now, null) }, { url: B });
    expect(keys(fs)).toEqual([
      [`endpoint_latency:alp:${A}`, "warn"],
      [`endpoint_latency:alp:${B}`, "warn"],
      ["endpoint_latency:alp:no_healthy_endpoint", "critical"],
      [`endpoint_latency:alp:on:${B}`, "warn"],
    ]);
    expect(switches(fs)).toEqual([]);
  });
  it("on the backup with a recovered primary: a standing warning, no switch back", () => {
    const flag = { url: B, since: "2026-12-01T14:00:00.000Z", by: "guard:endpoint_latency", reason: "slow", from: A };
    const fs = run(now, { [A]: every10s(T0, now, 5), [B]: every10s(T0, now, 6) }, flag);
    expect(keys(fs)).toEqual([[`endpoint_latency:alp:on:${B}`, "warn"]]);
    expect(fs[0]!.detail).toMatch(
      /primary https:\/\/api\.alpaca\.markets now: healthy\. Switch back with: tradeguard endpoint use alp/,
    );
    expect(switches(fs)).toEqual([]);
  });
  it("moves on from a failing backup, to the primary if that is the healthy one", () => {
    const flag = { url: B, by: "guard:endpoint_latency" };
    const fs = run(now, { [A]: every10s(T0, now, 5), [B]: every10s(T0, now, null) }, flag);
    expect(switches(fs)[0]).toMatchObject({ fields: { url: A, from: B } });
  });
  it("a backup that fails is a warning even while the primary is fine; a slow backup only information", () => {
    expect(keys(run(now, { [A]: every10s(T0, now, 5), [B]: every10s(T0, now, null) }))).toEqual([
      [`endpoint_latency:alp:${B}`, "warn"],
    ]);
    expect(keys(run(now, { [A]: every10s(T0, now, 5), [B]: every10s(T0, now, 900) }))).toEqual([
      [`endpoint_latency:alp:${B}`, "info"],
    ]);
  });
});

describe("endpoint_latency: garbage in Redis", () => {
  const now = T0 + 50_000;
  it("a flag naming an unknown endpoint, garbage samples and an unreadable window are data invalid, not a crash", () => {
    const fs = run(
      now,
      {
        [A]: ["{not json", encodeSample({ ts: now - 10_000, ms: 5, ok: true })],
        [B]: new ReadFailure("endpoint:latency:alp:B", "wrong type (hash)"),
      },
      { url: "https://evil.example" },
    );
    const invalid = fs.find((f) => f.key === "endpoint_latency:alp:data_invalid")!;
    expect(invalid).toMatchObject({ severity: "warn", sop: "sop-guard-data-invalid" });
    expect(invalid.detail).toContain('url "https://evil.example" is not a configured endpoint');
    expect(invalid.detail).toContain("1 unreadable sample(s)");
    expect(invalid.detail).toContain("wrong type (hash)");
    expect(switches(fs)).toEqual([]);
  });
  it("the registry's entry, unbound, says it measures nothing", () => {
    expect(keys(endpointLatency.evaluate({ values: {}, probe: { unbound: true } }, new Date(now), cfg))).toEqual([
      ["endpoint_latency:unbound", "warn"],
    ]);
  });
  it("exports p50/p99, failures and the active endpoint per endpoint", () => {
    const values = {
      "active:alp": {},
      [`latency:alp:${A}`]: every10s(now - 20_000, now - 10_000, 10).map(encodeSample),
      [`latency:alp:${B}`]: [],
    };
    const probe: EndpointLatencyProbe = {
      at: now,
      fresh: { alp: { [A]: { ts: now, ms: 30, ok: true }, [B]: { ts: now, ms: 3000, ok: false } } },
      recordError: null,
    };
    const m = guard.measure!({ values, probe }, cfg);
    const get = (name: string, endpoint: string, quantile?: string) =>
      m.find((x) => x.name === name && x.labels?.endpoint === endpoint && x.labels?.quantile === quantile)?.value;
    expect(get("tradeguard_endpoint_latency_ms", A, "0.5")).toBe(10);
    expect(get("tradeguard_endpoint_latency_ms", A, "0.99")).toBe(30);
    expect(get("tradeguard_endpoint_latency_ms", B, "0.5")).toBeNaN();
    expect(get("tradeguard_endpoint_consecutive_failures", B)).toBe(1);
    expect(get("tradeguard_endpoint_active", A)).toBe(1);
    expect(get("tradeguard_endpoint_active", B)).toBe(0);
  });
});

describe("endpoint_latency end to end: two local Alpaca endpoints, the primary slow", () => {
  let primary: AlpacaEndpoint;
  let backup: AlpacaEndpoint;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let clock = T0;
  let runner: GuardRunner;

  beforeAll(async () => {
    const account = new AlpacaAccount();
    [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
    t = await testRuntime({
      yaml:
        `brokers:\n  - { name: alp, kind: alpaca, endpoints: ["${primary.url}", "${backup.url}"], key_id_env: K, secret_key_env: S }\n` +
        "guards:\n  endpoint_latency: { threshold_ms: 150, window_ms: 10000, duration_ms: 20000, min_samples: 1, probe_timeout_ms: 5000 }\n",
      env: { K: "PKTEST", S: "secret" },
    });
    runner = new GuardRunner({
      redis: t.rt.redis,
      keys: t.rt.keys,
      config: t.rt.config,
      log: silentLog,
      metrics: t.rt.metrics,
      guards: withEndpointLatency([endpointLatency], t.rt.config, () => t.rt.brokers, t.rt.redis, t.rt.keys),
      alerts: t.rt.alerts,
      audit: t.rt.audit,
      instanceId: "test-runner",
      now: () => new Date(clock),
    });
  });
  afterAll(async () => {
    await t.cleanup();
    await Promise.all([primary.close(), backup.close()]);
  });

  const tick = async (at: number) => {
    clock = at;
    return (await runner.runOnce({ guard: "endpoint_latency" })).findings;
  };
  const flag = () => t.rt.redis.hgetall(t.rt.keys.endpointActive("alp"));

  it("switches after the sustained breach and not before; audited, alerted, followed; `endpoint use` switches back", async () => {
    primary.behaviour = { mode: "slow", ms: 400 };
    // T0: the breach begins; T0 + 10 s: 10 s of the 20 s; T0 + 20 s: sustained.
    expect(keys(await tick(T0))).toEqual([[`endpoint_latency:alp:${primary.url}`, "warn"]]);
    expect(keys(await tick(T0 + 10_000))).toEqual([[`endpoint_latency:alp:${primary.url}`, "warn"]]);
    expect(await flag()).toEqual({});
    const third = await tick(T0 + 20_000);
    expect(keys(third)).toContainEqual([`endpoint_latency:alp:on:${backup.url}`, "critical"]);
    expect(await flag()).toMatchObject({ url: backup.url, from: primary.url, by: "guard:endpoint_latency" });

    // Each probe measured both endpoints and kept the samples: the slow one ≥ 400 ms, every read of the backup ok.
    const window = await t.rt.redis.lrange(t.rt.keys.endpointLatency("alp", primary.url), 0, -1);
    expect(window.map((s) => JSON.parse(s))).toEqual([
      expect.objectContaining({ ts: T0 + 20_000, ok: true, ms: expect.any(Number) }),
      expect.objectContaining({ ts: T0 + 10_000 }),
      expect.objectContaining({ ts: T0 }),
    ]);
    expect(window.every((s) => JSON.parse(s).ms >= 400)).toBe(true);
    expect(backup.server.requestsTo("/v2/account")).toHaveLength(3);

    // Announced: the alert is persisted as open and critical, and posted; the flag change is in the audit chain.
    const open = await t.rt.redis.hget(t.rt.keys.alertsOpen, `endpoint_latency/endpoint_latency:alp:on:${backup.url}`);
    expect(JSON.parse(open!)).toMatchObject({ severity: "critical" });
    await vi.waitFor(() => expect(t.notifier.messages.some((m) => m.text.includes("failed over"))).toBe(true));
    const audited = (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(([, f]) => JSON.parse(f[1]!));
    expect(audited).toContainEqual(
      expect.objectContaining({
        actor: "guard:endpoint_latency",
        action: "flag.changed",
        details: expect.objectContaining({ key: "endpoint:active:alp" }),
      }),
    );

    // The adapters follow (within the cache's TTL; here the read is forced).
    const broker = t.rt.brokers.find((b) => b.name === "alp")!;
    await broker.endpoints!.refresh();
    expect(broker.endpoints!.current()).toBe(backup.url);

    // The primary recovers: the guard stays on the backup (a standing warning), it never switches back itself.
    primary.behaviour = { mode: "ok" };
    expect(keys(await tick(T0 + 60_000))).toEqual([[`endpoint_latency:alp:on:${backup.url}`, "warn"]]);
    expect((await flag()).url).toBe(backup.url);

    // Switching back is a command: checked, written, adopted at once, audited, and the failover alert resolved.
    const r = await t.rt.ops.endpoints.use("cli:ops", "alp", `${primary.url}/`, { reason: "primary healthy again" });
    expect(r).toMatchObject({ changed: true, from: backup.url, to: primary.url, check: { ok: true } });
    expect(await flag()).toMatchObject({
      url: primary.url,
      by: "cli:ops",
      reason: "primary healthy again",
      from: backup.url,
    });
    expect(broker.endpoints!.current()).toBe(primary.url);
    expect(
      await t.rt.redis.hget(t.rt.keys.alertsOpen, `endpoint_latency/endpoint_latency:alp:on:${backup.url}`),
    ).toBeNull();
    expect(await tick(T0 + 70_000)).toEqual([]);
  });
});
