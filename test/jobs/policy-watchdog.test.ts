import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Finding, FlagChange } from "../../src/jobs/guard.js";
import { type RelayOutcome, startPolicyRestartRelay } from "../../src/jobs/policy-restart-relay.js";
import { policyWatchdog, restartRequestSchema } from "../../src/jobs/policy-watchdog.js";
import { POLICY_KEYS } from "../../src/state/keys.js";
import { silentLog } from "../support/log.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const T0 = Date.parse("2026-11-25T15:00:00.000Z");
const cfg = policyWatchdog.config.parse({});

type V = {
  lastUpdate: string | null;
  entropy: string | null;
  lowSince: string | null;
  floor: string | null;
  restartAt: string | null;
};
const healthy = (over: Partial<V> = {}): V => ({
  lastUpdate: String(T0 - 1_000),
  entropy: "0.8",
  lowSince: null,
  floor: null,
  restartAt: null,
  ...over,
});
const run = (v: V, nowMs = T0, c = cfg) =>
  policyWatchdog.evaluate({ values: v, probe: { at: nowMs } }, new Date(nowMs), c);
const actions = (fs: Finding[]): FlagChange[] => fs.flatMap((f) => f.actions ?? []);
const alerting = (fs: Finding[]) => fs.filter((f) => f.severity !== "info");
const published = (fs: Finding[]) =>
  actions(fs).filter((a): a is Extract<FlagChange, { op: "publish" }> => a.op === "publish");

describe("policy_watchdog config", () => {
  it("has the issue's defaults and accepts the runner's keys", () => {
    expect(cfg).toMatchObject({
      stale_after_ms: 300_000,
      entropy_min: 0.05,
      entropy_low_for_ms: 120_000,
      weight_floor: 0.05,
    });
    expect(policyWatchdog.config.safeParse({ enabled: true, schedule: "*/5 * * * * *", timeout_ms: 500 }).success).toBe(
      true,
    );
  });
  it("rejects unknown keys and bad values", () => {
    expect(policyWatchdog.config.safeParse({ stale_after: 1 }).success).toBe(false);
    expect(policyWatchdog.config.safeParse({ weight_floor: 0 }).success).toBe(false);
    expect(policyWatchdog.config.safeParse({ restart_webhook: "not a url" }).success).toBe(false);
  });
  it("declares its keys as plain strings (content is judged by evaluate, so garbage never blinds it)", () => {
    const reads = policyWatchdog.reads(cfg);
    expect(Object.values(reads).map((r) => r.key)).toEqual([
      "policy:last_update",
      "policy:entropy",
      "policy:entropy_low_since",
      "policy:weight_floor",
      "policy:restart_requested_at",
    ]);
    expect(reads.lastUpdate.schema.safeParse("garbage").success).toBe(true);
    expect(reads.lastUpdate.schema.safeParse(null).success).toBe(true);
    expect(reads.lastUpdate.schema.safeParse(42).success).toBe(false);
  });
});

describe("policy_watchdog staleness (5 minutes)", () => {
  it("is quiet at exactly 5 minutes", () => {
    expect(run(healthy({ lastUpdate: String(T0 - 300_000) }))).toEqual([]);
  });
  it("is quiet just under 5 minutes", () => {
    expect(run(healthy({ lastUpdate: String(T0 - 299_999) }))).toEqual([]);
  });
  it("fires 1 ms past 5 minutes: critical, floor 0.05, one restart request", () => {
    const fs = run(healthy({ lastUpdate: String(T0 - 300_001) }));
    expect(alerting(fs)).toHaveLength(1);
    expect(fs[0]).toMatchObject({
      key: "policy_watchdog:stale",
      severity: "critical",
      sop: "sop-policy-watchdog",
      value: "300 s",
      threshold: "300 s",
    });
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:weight_floor", value: "0.05" });
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:restart_requested_at", value: String(T0) });
    const [pub] = published(fs);
    expect(pub?.channel).toBe("policy:restart");
    const msg = restartRequestSchema.parse(JSON.parse(pub!.message));
    expect(msg).toMatchObject({
      type: "restart",
      target: "policy-daemon",
      reasons: ["stale"],
      id: `stale-${T0}`,
      last_update: new Date(T0 - 300_001).toISOString(),
      entropy: 0.8,
    });
  });
  it("treats an absent last_update as stale", () => {
    const fs = run(healthy({ lastUpdate: null }));
    expect(fs[0]).toMatchObject({ key: "policy_watchdog:stale", severity: "critical" });
    expect(published(fs)).toHaveLength(1);
  });
  it("uses a configured limit", () => {
    const c = policyWatchdog.config.parse({ stale_after_ms: 60_000 });
    expect(run(healthy({ lastUpdate: String(T0 - 60_000) }), T0, c)).toEqual([]);
    expect(alerting(run(healthy({ lastUpdate: String(T0 - 60_001) }), T0, c))).toHaveLength(1);
  });
});

describe("policy_watchdog entropy (below 0.05 for 2 minutes)", () => {
  it("does not count exactly 0.05 as low", () => {
    expect(run(healthy({ entropy: "0.05" }))).toEqual([]);
  });
  it("starts the low clock on the first low tick without alerting", () => {
    const fs = run(healthy({ entropy: "0.0499" }));
    expect(alerting(fs)).toEqual([]);
    expect(actions(fs)).toEqual([{ op: "set", key: "policy:entropy_low_since", value: String(T0) }]);
  });
  it("keeps watching just under 2 minutes", () => {
    const fs = run(healthy({ entropy: "0.01", lowSince: String(T0 - 119_999) }));
    expect(alerting(fs)).toEqual([]);
    expect(published(fs)).toEqual([]);
    expect(actions(fs)).toEqual([]);
  });
  it("fires at exactly 2 minutes low: floor and restart", () => {
    const fs = run(healthy({ entropy: "0.01", lowSince: String(T0 - 120_000) }));
    expect(alerting(fs)).toHaveLength(1);
    expect(fs[0]).toMatchObject({ key: "policy_watchdog:entropy_low", severity: "warn", value: "0.01" });
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:weight_floor", value: "0.05" });
    expect(restartRequestSchema.parse(JSON.parse(published(fs)[0]!.message)).reasons).toEqual(["entropy_low"]);
    // The low-since mark is kept (not rewritten) while the entropy stays low.
    expect(actions(fs).some((a) => "key" in a && a.key === "policy:entropy_low_since")).toBe(false);
  });
  it("clears the low clock when the entropy recovers", () => {
    const fs = run(healthy({ entropy: "0.06", lowSince: String(T0 - 100_000) }));
    expect(alerting(fs)).toEqual([]);
    expect(actions(fs)).toEqual([{ op: "del", key: "policy:entropy_low_since" }]);
  });
  it("restarts the low clock when the recorded one is unreadable or in the future", () => {
    for (const lowSince of ["yesterday", String(T0 + 10_000)]) {
      const fs = run(healthy({ entropy: "0.0", lowSince }));
      expect(alerting(fs)).toEqual([]);
      expect(actions(fs)).toEqual([{ op: "set", key: "policy:entropy_low_since", value: String(T0) }]);
    }
  });
  it("warns without touching the floor when the entropy is absent but updates are fresh", () => {
    const fs = run(healthy({ entropy: null, floor: "0.05", restartAt: String(T0 - 1000) }));
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({ key: "policy_watchdog:entropy_missing", severity: "warn" });
    expect(actions(fs)).toEqual([]);
  });
});

describe("policy_watchdog recovery and restart pacing", () => {
  it("removes the floor and its bookkeeping once healthy", () => {
    const fs = run(healthy({ floor: "0.05", restartAt: String(T0 - 90_000) }));
    expect(alerting(fs)).toEqual([]);
    expect(actions(fs)).toEqual([
      { op: "del", key: "policy:weight_floor" },
      { op: "del", key: "policy:restart_requested_at" },
    ]);
  });
  it("does not republish within the cooldown, and does at exactly the cooldown", () => {
    const stale = { lastUpdate: String(T0 - 400_000), floor: "0.05" };
    const soon = run(healthy({ ...stale, restartAt: String(T0 - 59_999) }));
    expect(published(soon)).toEqual([]);
    expect(actions(soon)).toEqual([{ op: "set", key: "policy:weight_floor", value: "0.05" }]);
    expect(published(run(healthy({ ...stale, restartAt: String(T0 - 60_000) })))).toHaveLength(1);
  });
  it("attaches the actions once when several conditions hold", () => {
    const fs = run(healthy({ lastUpdate: String(T0 - 900_000), entropy: "0.0", lowSince: String(T0 - 600_000) }));
    expect(alerting(fs).map((f) => f.key)).toEqual(["policy_watchdog:stale", "policy_watchdog:entropy_low"]);
    expect(published(fs)).toHaveLength(1);
    expect(restartRequestSchema.parse(JSON.parse(published(fs)[0]!.message)).reasons).toEqual(["stale", "entropy_low"]);
  });
});

describe("policy_watchdog malformed Redis values", () => {
  it.each([
    ["abc", "expected epoch milliseconds"],
    ["", "expected epoch milliseconds"],
    ["1795623594.5", "expected epoch milliseconds"],
    ["-1795623594000", "expected epoch milliseconds"],
    ["1795623594", "looks like epoch seconds"],
    // Matches the 16-digit pattern but is beyond the largest JS Date (8.64e15): used to throw in toISOString().
    ["9999999999999999", "expected epoch milliseconds"],
    ["8640000000000001", "expected epoch milliseconds"],
  ])("last_update %j is data invalid (critical, floor set)", (lastUpdate, hint) => {
    const fs = run(healthy({ lastUpdate }));
    expect(fs[0]).toMatchObject({ key: "policy_watchdog:data_invalid", severity: "critical" });
    expect(fs[0]!.detail).toContain(hint);
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:weight_floor", value: "0.05" });
    expect(restartRequestSchema.parse(JSON.parse(published(fs)[0]!.message))).toMatchObject({
      reasons: ["invalid"],
      last_update: null,
    });
  });
  it("survives out-of-range epoch values in its bookkeeping keys (restart clock, low-since clock)", () => {
    const fs = run(
      healthy({ lastUpdate: "9999999999999999", restartAt: "9999999999999999", lowSince: "9999999999999999" }),
    );
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:weight_floor", value: "0.05" });
    expect(published(fs)).toHaveLength(1);
    const m = policyWatchdog.measure!({ values: healthy({ lastUpdate: "9999999999999999" }), probe: { at: T0 } }, cfg);
    expect(m.find((x) => x.name === "tradeguard_policy_last_update_timestamp_seconds")!.value).toBeNaN();
  });
  it("treats a last_update far in the future as invalid, and a little skew as fresh", () => {
    expect(run(healthy({ lastUpdate: String(T0 + 60_000) }))).toEqual([]);
    expect(run(healthy({ lastUpdate: String(T0 + 60_001) }))[0]).toMatchObject({ key: "policy_watchdog:data_invalid" });
  });
  it.each(["NaN", "-0.1", "0.5abc", "", "Infinity", "1e999"])("entropy %j is data invalid", (entropy) => {
    const fs = run(healthy({ entropy }));
    expect(fs[0]).toMatchObject({ key: "policy_watchdog:data_invalid", severity: "critical" });
    expect(actions(fs)).toContainEqual({ op: "set", key: "policy:weight_floor", value: "0.05" });
  });
  it("accepts entropy in exponent notation", () => {
    expect(run(healthy({ entropy: "5e-2" }))).toEqual([]);
  });
});

describe("policy_watchdog metrics", () => {
  it("exports staleness, last update, entropy and the floor", () => {
    const m = policyWatchdog.measure!(
      { values: healthy({ lastUpdate: String(T0 - 400_000), entropy: "0.3" }), probe: { at: T0 } },
      cfg,
    );
    const byName = Object.fromEntries(m.map((x) => [x.name, x.value]));
    expect(byName).toEqual({
      tradeguard_policy_staleness_seconds: 400,
      tradeguard_policy_last_update_timestamp_seconds: (T0 - 400_000) / 1000,
      tradeguard_policy_entropy: 0.3,
      tradeguard_policy_weight_floor_active: 1,
    });
    const bad = policyWatchdog.measure!({ values: healthy({ lastUpdate: "x", entropy: "y" }), probe: { at: T0 } }, cfg);
    expect(bad.find((x) => x.name === "tradeguard_policy_staleness_seconds")?.value).toBeNaN();
    expect(bad.find((x) => x.name === "tradeguard_policy_entropy")?.value).toBeNaN();
  });
});

describe("policy_watchdog through the runner (real Redis)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("sets the floor, publishes a restart request and alerts on alerts:policy; clears itself when healthy", async () => {
    let now = new Date(T0);
    t = await testRuntime({
      yaml: "guards:\n  policy_watchdog:\n    enabled: true\n    schedule: '*/15 * * * * *'\n",
      guards: [policyWatchdog],
      now: () => now,
    });
    const { rt } = t;
    const k = (n: string) => rt.keys.raw(n);
    const sub = rt.redis.duplicate();
    const messages: string[] = [];
    sub.on("message", (_ch, m) => messages.push(m));
    await sub.subscribe(k(POLICY_KEYS.restartChannel));
    try {
      await rt.redis.set(k("policy:last_update"), String(T0 - 301_000));
      await rt.redis.set(k("policy:entropy"), "0.7");

      const first = await rt.guards.runOnce({ guard: "policy_watchdog" });
      expect(first.guards[0]).toMatchObject({ name: "policy_watchdog", state: "critical" });
      expect(await rt.redis.get(k("policy:weight_floor"))).toBe("0.05");
      expect(await rt.redis.get(k("policy:restart_requested_at"))).toBe(String(T0));
      const alerts = (await rt.redis.lrange(k("alerts:policy"), 0, -1)).map((s) => JSON.parse(s));
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        type: "opened",
        alert: { key: "policy_watchdog:stale", severity: "critical", sop: "sop-policy-watchdog" },
      });
      // The published request reaches a subscriber (a PING round trip flushes the delivery order).
      await sub.ping();
      await rt.redis.ping();
      expect(messages.map((m) => restartRequestSchema.parse(JSON.parse(m)).reasons)).toEqual([["stale"]]);

      // Still stale 15 s later: no second request inside the cooldown, alert deduplicated.
      now = new Date(T0 + 15_000);
      await rt.guards.runOnce({ guard: "policy_watchdog" });
      expect(await rt.redis.get(k("policy:restart_requested_at"))).toBe(String(T0));
      expect(await rt.redis.llen(k("alerts:policy"))).toBe(1);

      // The daemon is back: the floor and the bookkeeping go, the alert resolves.
      now = new Date(T0 + 30_000);
      await rt.redis.set(k("policy:last_update"), String(T0 + 29_000));
      const healed = await rt.guards.runOnce({ guard: "policy_watchdog" });
      expect(healed.guards[0]?.state).toBe("ok");
      expect(await rt.redis.exists(k("policy:weight_floor"), k("policy:restart_requested_at"))).toBe(0);
      expect(JSON.parse((await rt.redis.lindex(k("alerts:policy"), 0))!)).toMatchObject({ type: "resolved" });
    } finally {
      sub.disconnect();
    }
  });

  it("tracks low entropy across ticks through policy:entropy_low_since", async () => {
    let now = new Date(T0);
    t = await testRuntime({
      yaml: "guards: { policy_watchdog: { enabled: true } }\n",
      guards: [policyWatchdog],
      now: () => now,
    });
    const { rt } = t;
    const k = (n: string) => rt.keys.raw(n);
    await rt.redis.set(k("policy:last_update"), String(T0));
    await rt.redis.set(k("policy:entropy"), "0.01");
    expect((await rt.guards.runOnce()).guards[0]?.state).toBe("ok");
    expect(await rt.redis.get(k("policy:entropy_low_since"))).toBe(String(T0));

    now = new Date(T0 + 119_999);
    await rt.redis.set(k("policy:last_update"), String(now.getTime()));
    expect((await rt.guards.runOnce()).guards[0]?.state).toBe("ok");
    expect(await rt.redis.exists(k("policy:weight_floor"))).toBe(0);

    now = new Date(T0 + 120_000);
    const fired = await rt.guards.runOnce();
    expect(fired.guards[0]?.state).toBe("warn");
    expect(await rt.redis.get(k("policy:weight_floor"))).toBe("0.05");
    expect(await rt.redis.get(k("policy:entropy_low_since"))).toBe(String(T0));

    // A wrong type in Redis is the runner's "data invalid" (the guard is not evaluated, nothing is lost).
    await rt.redis.del(k("policy:entropy"));
    await rt.redis.hset(k("policy:entropy"), "v", "1");
    const invalid = await rt.guards.runOnce();
    expect(invalid.findings[0]?.key).toBe("policy_watchdog:data_invalid");
    expect(await rt.redis.get(k("policy:weight_floor"))).toBe("0.05");
  });
});

describe("policy restart relay (webhook and command)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("POSTs each request once across replicas, runs the command, ignores garbage", async () => {
    t = await testRuntime({ guards: [] });
    const { rt } = t;
    const posts: { body: string; type: string | undefined }[] = [];
    const server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      posts.push({ body: Buffer.concat(chunks).toString(), type: req.headers["content-type"] });
      res.writeHead(202).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/restart`;
    const dir = mkdtempSync(join(tmpdir(), "tg-relay-"));
    const outcomes: RelayOutcome[] = [];
    const waiters: (() => void)[] = [];
    const onHandled = (o: RelayOutcome) => {
      outcomes.push(o);
      for (const w of waiters.splice(0)) w();
    };
    const until = async (n: number) => {
      while (outcomes.length < n) await new Promise<void>((r) => waiters.push(r));
    };
    const subs = [rt.redis.duplicate(), rt.redis.duplicate()];
    const relays = await Promise.all(
      subs.map((subscriber, i) =>
        startPolicyRestartRelay({
          subscriber,
          redis: rt.redis,
          keys: rt.keys,
          log: silentLog,
          webhook: url,
          command: ["sh", "-c", `printf %s "$TRADEGUARD_RESTART_REQUEST" > ${join(dir, `req-${i}.json`)}`],
          instanceId: `replica-${i}`,
          onHandled,
        }),
      ),
    );
    try {
      const fs = run(healthy({ lastUpdate: String(T0 - 400_000) }));
      const message = published(fs)[0]!.message;
      await rt.redis.publish(rt.keys.raw("policy:restart"), message);
      await until(2);
      expect(outcomes.filter((o) => o.relayed)).toHaveLength(1);
      expect(outcomes.filter((o) => !o.relayed)).toEqual([{ id: `stale-${T0}`, relayed: false, reason: "duplicate" }]);
      expect(posts).toEqual([{ body: message, type: "application/json" }]);
      const done = outcomes.find((o) => o.relayed) as Extract<RelayOutcome, { relayed: true }>;
      expect(done).toMatchObject({ webhook: { status: 202 }, command: { code: 0 } });
      // The command ran on exactly one replica, with the request in its environment.
      expect(readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"))).toEqual([message]);

      await rt.redis.publish(rt.keys.raw("policy:restart"), "{not json");
      await until(4);
      expect(outcomes.slice(2)).toEqual([
        { id: null, relayed: false, reason: "invalid" },
        { id: null, relayed: false, reason: "invalid" },
      ]);
      expect(posts).toHaveLength(1);
    } finally {
      await Promise.all(relays.map((r) => r.close()));
      for (const s of subs) s.disconnect();
      await new Promise((r) => server.close(r));
    }
  });

  it("runs the command when it is the only target, and reports a failing command", async () => {
    t = await testRuntime({ guards: [] });
    const { rt } = t;
    const dir = mkdtempSync(join(tmpdir(), "tg-relay-"));
    const subscriber = rt.redis.duplicate();
    const outcomes: RelayOutcome[] = [];
    let wake: () => void = () => {};
    const relay = await startPolicyRestartRelay({
      subscriber,
      redis: rt.redis,
      keys: rt.keys,
      log: silentLog,
      command: ["sh", "-c", `printf %s "$TRADEGUARD_RESTART_REQUEST" > ${join(dir, "req.json")}; exit 3`],
      instanceId: "solo",
      onHandled: (o) => {
        outcomes.push(o);
        wake();
      },
    });
    try {
      const message = published(run(healthy({ entropy: "x" })))[0]!.message;
      const handled = new Promise<void>((r) => {
        wake = r;
      });
      await rt.redis.publish(rt.keys.raw("policy:restart"), message);
      await handled;
      expect(outcomes).toEqual([{ id: `invalid-${T0}`, relayed: true, command: { code: 3 } }]);
      expect(JSON.parse(readFileSync(join(dir, "req.json"), "utf8"))).toMatchObject({ reasons: ["invalid"] });
    } finally {
      await relay.close();
      subscriber.disconnect();
    }
  });
});
