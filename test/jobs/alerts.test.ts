import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AlertEvent, AlertPipeline, alertText, PacedQueue } from "../../src/jobs/alerts.js";
import type { Finding } from "../../src/jobs/guard.js";
import type { Announcement, Notifier } from "../../src/notify.js";
import { silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";

class Recorder implements Notifier {
  posts: { at: number; msg: Announcement }[] = [];
  fail = false;
  async announce(msg: Announcement) {
    this.posts.push({ at: Date.now(), msg });
    if (this.fail) throw new Error("slack down");
    return null;
  }
}

const finding = (key: string, severity: Finding["severity"], value = "1"): Finding => ({
  guard: "policy_watchdog",
  key,
  severity,
  title: `${key} is bad`,
  detail: "details",
  sop: "sop-policy-watchdog",
  value,
  threshold: "0",
});

describe("AlertPipeline", () => {
  let t: ReturnType<typeof testRedis>;
  let rec: Recorder;
  let pipeline: AlertPipeline;
  const now = (s: number) => new Date(Date.UTC(2026, 10, 25, 16, 0, s));
  beforeEach(() => {
    t = testRedis();
    rec = new Recorder();
    pipeline = new AlertPipeline({
      redis: t.redis,
      keys: t.keys,
      queue: new PacedQueue(rec, silentLog, 0),
      render: (e) => ({ text: alertText(e) }),
      log: silentLog,
    });
  });
  afterEach(() => t.cleanup());

  it("posts once per open condition, counts repeats, re-notifies on escalation, and posts a resolution", async () => {
    const a = await pipeline.process("policy", [finding("stale", "warn")], now(0));
    const b = await pipeline.process("policy", [finding("stale", "warn")], now(5));
    const c = await pipeline.process("policy", [finding("stale", "critical")], now(10));
    const d = await pipeline.process("policy", [finding("stale", "warn")], now(15));
    const e = await pipeline.process("policy", [], now(20));
    expect([a, b, c, d, e].map((x) => x.map((ev) => ev.type))).toEqual([
      ["opened"],
      [],
      ["escalated"],
      [],
      ["resolved"],
    ]);
    expect(e[0]!.alert).toMatchObject({ count: 4, since: now(0).toISOString() });
    await pipeline.drained();
    expect(rec.posts.map((p) => p.msg.text.split("\n")[0])).toEqual([
      "[policy_watchdog] WARN: stale is bad — value 1 vs threshold 0",
      "[policy_watchdog] CRITICAL (escalated): stale is bad — value 1 vs threshold 0",
      "[policy_watchdog] RESOLVED: stale is bad — value 1 vs threshold 0",
    ]);
    expect(await pipeline.open()).toEqual([]);
  });

  it("persists every event to alerts:<stream> (newest first) before posting, even when Slack is down", async () => {
    rec.fail = true;
    await pipeline.process("policy", [finding("stale", "warn")], now(0));
    await pipeline.process("policy", [], now(5));
    await pipeline.drained();
    const list = (await t.redis.lrange(t.keys.alerts("policy"), 0, -1)).map((x) => JSON.parse(x) as AlertEvent);
    expect(list.map((x) => x.type)).toEqual(["resolved", "opened"]);
    expect(rec.posts).toHaveLength(2); // tried both, failures logged, nothing lost
  });

  it("keeps streams apart: one guard's tick does not resolve another's alerts", async () => {
    await pipeline.processTick(
      [
        { stream: "policy", findings: [finding("stale", "warn")] },
        { stream: "quota", findings: [finding("stale", "critical")] },
      ],
      now(0),
    );
    await pipeline.process("quota", [], now(5));
    expect((await pipeline.open()).map((x) => x.stream)).toEqual(["policy"]);
  });

  it("records who acknowledged an open alert", async () => {
    await pipeline.process("policy", [finding("stale", "warn")], now(0));
    expect(await pipeline.acknowledge("policy/stale", "U123")).toMatchObject({ ackedBy: "U123" });
    expect((await pipeline.open())[0]).toMatchObject({ ackedBy: "U123" });
    expect(await pipeline.acknowledge("policy/none", "U123")).toBeNull();
  });
});

describe("PacedQueue", () => {
  afterEach(() => vi.useRealTimers());

  it("spaces posts to one channel at least 1.1 s apart and drops none", async () => {
    vi.useFakeTimers({ now: 0 });
    const rec = new Recorder();
    const q = new PacedQueue(rec, silentLog, 1_100);
    const done = Promise.all(Array.from({ length: 4 }, (_, i) => q.post({ text: `m${i}` })));
    await vi.advanceTimersByTimeAsync(5_000);
    await done;
    expect(rec.posts.map((p) => p.msg.text)).toEqual(["m0", "m1", "m2", "m3"]);
    expect(rec.posts.map((p) => p.at)).toEqual([0, 1_100, 2_200, 3_300]);
  });
});
