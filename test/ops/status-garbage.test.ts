// Garbage in the keys /status, App Home and `tradeguard status` read: every reader names the unreadable key and
// shows the rest; garbage in `mode` reads as halt. Each case is written into a real Redis.
import { afterEach, describe, expect, it } from "vitest";
import { allGuards } from "../../src/jobs/registry.js";
import { MARKET_KEYS } from "../../src/state/keys.js";
import { runCli } from "../support/cli.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});
async function runtime(): Promise<T> {
  const t = await testRuntime({ guards: allGuards });
  opened.push(t);
  return t;
}

/** The 12 keys of issue 10 and what makes each of the wrong type. */
const WRONG_TYPE: [string, (t: T, key: string) => Promise<unknown>][] = [
  ["mode", (t, k) => t.rt.redis.hset(k, "x", "1")],
  ["mode:meta", (t, k) => t.rt.redis.set(k, "halt")],
  ["panic:active", (t, k) => t.rt.redis.rpush(k, "p1")],
  ["panic:last", (t, k) => t.rt.redis.sadd(k, "p1")],
  ["clear:active", (t, k) => t.rt.redis.zadd(k, 1, "c1")],
  ["resume:soak", (t, k) => t.rt.redis.hset(k, "until", "x")],
  ["guards:state", (t, k) => t.rt.redis.set(k, "ok")],
  ["alerts:open", (t, k) => t.rt.redis.set(k, "[]")],
  ["risk:event_lock", (t, k) => t.rt.redis.hset(k, "event", "CPI")],
  [MARKET_KEYS.luldPaused, (t, k) => t.rt.redis.set(k, "GME")],
  [MARKET_KEYS.ssrActive, (t, k) => t.rt.redis.rpush(k, "TSLA")],
];

describe("status with garbage in Redis", () => {
  it.each(WRONG_TYPE)("names %s when it has the wrong type, and shows the rest", async (name, write) => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.raw("heartbeat:bot"), String(Date.now()));
    await write(t, t.rt.keys.raw(name));
    const s = await t.rt.ops.status();
    expect(s.unreadable).toContainEqual({ key: name, problem: expect.stringMatching(/^wrong type \(\w+\)$/) });
    expect(s.brokers.length).toBeGreaterThan(0);
    if (name === "mode") {
      expect(s.mode).toBe("halt");
      expect(s.invalid).toMatch(/wrong type \(hash\)/);
    } else expect(s.mode).toBe("active");
  });

  it("panic:<id> of the wrong type (the last panic) is named too", async () => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.panicLast, "p20261201T120000Z-abcdef");
    await t.rt.redis.set(t.rt.keys.panic("p20261201T120000Z-abcdef"), "garbage");
    const s = await t.rt.ops.status();
    expect(s.unreadable).toEqual([{ key: "panic:p20261201T120000Z-abcdef", problem: "wrong type (string)" }]);
    expect(s.lastPanic).toBeNull();
  });

  it.each([
    ["mode", "sideways", /not a mode/],
    ["panic:active", "x".repeat(100), /not a panic id/],
    ["clear:active", "nope", /not a clear request id/],
    ["resume:soak", '{"request_id":"c1","until":', /not JSON/],
    ["resume:soak", '{"request_id":"c1"}', /until/],
    ["resume:soak", '{"request_id":"c1","until":"NaN"}', /until/],
    ["risk:event_lock", '{"event":"CPI"}', /until|cap|exempt/],
  ])("names %s holding %j", async (name, value, problem) => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.raw(name), value);
    const s = await t.rt.ops.status();
    expect(s.unreadable).toContainEqual({ key: name, problem: expect.stringMatching(problem) });
  });

  it("a corrupt panic report, clear request or alert entry is named, never silently dropped", async () => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.panicLast, "p20261201T120000Z-abcdef");
    await t.rt.redis.hset(t.rt.keys.panic("p20261201T120000Z-abcdef"), "state", "done", "report", '{"id":1}');
    await t.rt.redis.set(t.rt.keys.clearActive, "c20261201T120000Z-abcdef");
    await t.rt.redis.hset(t.rt.keys.clearRequest("c20261201T120000Z-abcdef"), "id", "c1", "state", "maybe");
    await t.rt.redis.hset(t.rt.keys.alertsOpen, "policy/a", "null", "policy/b", "{}");
    const s = await t.rt.ops.status();
    const keys = s.unreadable.map((u) => u.key);
    expect(keys).toEqual(
      expect.arrayContaining([
        "panic:p20261201T120000Z-abcdef",
        "clear:request:c20261201T120000Z-abcdef",
        "alerts:open[policy/a]",
        "alerts:open[policy/b]",
      ]),
    );
  });

  it("`tradeguard status --json` prints the state, names each unreadable key on stderr and exits 1", async () => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.alertsOpen, "oops");
    await t.rt.redis.hset(t.rt.keys.mode, "x", "1");
    const r = await runCli(["status", "--json"], { ...t.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/alerts:open: wrong type \(string\)/);
    expect(r.stderr).toMatch(/mode: wrong type \(hash\)/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    const s = JSON.parse(r.stdout);
    expect(s.mode).toBe("halt");
    expect(s.unreadable).toHaveLength(2);
  });

  it("`tradeguard guards run` with alerts:open of the wrong type still posts the findings, names the key, exits 1", async () => {
    const t = await runtime();
    await t.rt.redis.set(t.rt.keys.alertsOpen, "oops");
    await t.rt.redis.set(t.rt.keys.resumeSoak, "not json");
    const r = await runCli(["guards", "run", "--once", "--guard", "state_integrity"], { ...t.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/alerts:open: wrong type \(string\)/);
    expect(r.stdout).toMatch(/critical resume:soak: unreadable — not JSON/);
    expect(r.stderr).toMatch(/CRITICAL: resume:soak: unreadable/); // posted to the console anyway
  });

  it("the state-integrity guard raises one finding per unreadable key", async () => {
    const t = await runtime();
    t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, new FakeBroker("a"));
    await t.rt.redis.set(t.rt.keys.resumeSoak, '{"request_id":"c1","until":"NaN"}');
    await t.rt.redis.hset(t.rt.keys.raw(MARKET_KEYS.luldPaused), "GME", "{}");
    await t.rt.redis.set(t.rt.keys.raw(MARKET_KEYS.ssrActive), "TSLA");
    await t.rt.redis.hset(t.rt.keys.guardsState, "time_sync", "{broken");
    const res = await t.rt.guards.runOnce({ guard: "state_integrity" });
    expect(res.findings.map((f) => [f.key, f.severity])).toEqual(
      expect.arrayContaining([
        ["unreadable:resume:soak", "critical"],
        ["unreadable:ssr:active", "warn"],
        ["unreadable:guards:state", "warn"],
      ]),
    );
    expect(res.findings).toHaveLength(3);
    expect(res.findings.find((f) => f.key === "unreadable:ssr:active")?.title).toMatch(/wrong type \(string\)/);
  });
});
