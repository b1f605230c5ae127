// The cutover gates with more than one of what they judge (brokers, exchanges) and with records that must not be
// believed: every configured broker needs its own recent, clean recon (a run without --broker says nothing about
// whose statement it was), every configured exchange its own quota report, a disabled or silent time_sync guard
// proves nothing, and a DR rehearsal dated ahead of this host's clock is not fresh. Over live state in a real Redis.
import { afterEach, describe, expect, it } from "vitest";
import { timeSync } from "../../src/jobs/time-sync.js";
import { runGates } from "../../src/ops/cutover-gates.js";
import type { GuardStatus } from "../../src/ops/deps.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

/** Tuesday 10:00 New York: the last closed trading day is Monday 2026-11-30; one day behind allows Friday 11-27. */
const NOW = new Date("2026-12-01T15:00:00.000Z");
const BROKERS = "brokers:\n  - { name: paper, kind: paper }\n  - { name: paper2, kind: paper }\n";

async function desk(yaml: string) {
  const t = await testRuntime({ yaml, guards: [timeSync], now: () => NOW });
  opened.push(t);
  return t;
}
const gate = async (t: T, name: string) => (await t.rt.ops.cutover.check()).gates.find((g) => g.gate === name)!;

describe("recon gate: every configured broker", () => {
  const push = (t: T, broker: string | null, date: string, ok = true) =>
    t.rt.redis.lpush(
      t.rt.keys.reconLast,
      JSON.stringify({ date, broker, ok, mismatches: ok ? 0 : 1, errors: 0, at: `${date}T22:31:00.000Z` }),
    );

  it("a broker never reconciled is unknown, even when the other one is clean", async () => {
    const t = await desk(BROKERS);
    await push(t, "paper", "2026-11-30");
    expect(await gate(t, "recon")).toEqual({
      gate: "recon",
      verdict: "unknown",
      evidence:
        "paper 2026-11-30 ok; paper2: no recon recorded (tradeguard recon --broker paper2); a trade date on or after 2026-11-27 is needed",
    });
    await push(t, "paper2", "2026-11-27");
    expect((await gate(t, "recon")).verdict).toBe("pass");
  });

  it("a run without --broker counts for no broker", async () => {
    const t = await desk(BROKERS);
    await push(t, null, "2026-11-30");
    expect(await gate(t, "recon")).toMatchObject({
      verdict: "unknown",
      evidence: expect.stringMatching(
        /^paper: no recon recorded .*; paper2: no recon recorded .*; 1 run\(s\) without --broker not counted/,
      ),
    });
    // With a single broker too: a statement file run does not say whose statement it was.
    const one = await desk("");
    await push(one, null, "2026-11-30");
    expect((await gate(one, "recon")).verdict).toBe("unknown");
  });

  it("the latest run of any broker not ok fails (fail beats unknown), a broker not configured is ignored", async () => {
    const t = await desk(BROKERS);
    await push(t, "paper", "2026-11-30", false);
    expect(await gate(t, "recon")).toMatchObject({
      verdict: "fail",
      evidence: expect.stringContaining("paper 2026-11-30 1 mismatch(es); paper2: no recon recorded"),
    });
    await push(t, "paper", "2026-11-30");
    await push(t, "paper2", "2026-11-30");
    await push(t, "gone", "2026-11-30", false);
    expect((await gate(t, "recon")).verdict).toBe("pass");
    await push(t, "paper2", "2026-11-25"); // the latest run counts, even an older trade date re-run
    expect((await gate(t, "recon")).verdict).toBe("fail");
  });
});

describe("quotas gate: every configured exchange", () => {
  const report = async (t: T, ex: string, used: number) => {
    await t.rt.redis.sadd(t.rt.keys.raw("quota:exchanges"), ex);
    await t.rt.redis.set(t.rt.keys.raw(`quota:${ex}:limit`), "1000");
    await t.rt.redis.hset(t.rt.keys.raw(`quota:${ex}:used`), String(Math.floor(NOW.getTime() / 60_000)), String(used));
  };

  it("an exchange of guards.api_quota.exchanges that no limiter reported is unknown", async () => {
    const t = await desk("guards:\n  api_quota: { exchanges: [binance, okx] }\n");
    await report(t, "binance", 100);
    expect(await gate(t, "quotas")).toEqual({
      gate: "quotas",
      verdict: "unknown",
      evidence: "binance 10.0% (100/1000); okx not reported by any rate limiter (not in quota:exchanges); limit < 80%",
    });
    await report(t, "okx", 799);
    expect((await gate(t, "quotas")).verdict).toBe("pass");
    await report(t, "okx", 800); // the same minute: 800 of 1000 is not under 80%
    expect((await gate(t, "quotas")).verdict).toBe("fail");
  });

  it("honours a configured limit_15m as the guard does; with none configured, the reported exchanges are judged", async () => {
    const t = await desk("guards:\n  api_quota: { exchanges: { binance: { limit_15m: 100 } } }\n");
    await report(t, "binance", 90);
    expect(await gate(t, "quotas")).toMatchObject({ verdict: "fail", evidence: "binance 90.0% (90/100); limit < 80%" });
    const plain = await desk("");
    await report(plain, "kraken", 10);
    expect((await gate(plain, "quotas")).verdict).toBe("pass");
  });
});

describe("time_sync gate: only an enabled guard's recent record", () => {
  const rec = (t: T, lastRun: string, state = "ok") =>
    t.rt.redis.hset(
      t.rt.keys.guardsState,
      "time_sync",
      JSON.stringify({ name: "time_sync", state, detail: "offset 1 ms", lastRun, durationMs: 1 }),
    );

  it("a disabled guard's 'ok' is unknown, however recent", async () => {
    const t = await desk("guards:\n  time_sync: { servers: ['127.0.0.1:1'], enabled: false }\n");
    await rec(t, "2026-12-01T14:59:00.000Z");
    expect(await gate(t, "time_sync")).toMatchObject({
      verdict: "unknown",
      evidence: expect.stringMatching(/^time_sync is disabled \(guards\.time_sync\.enabled: false\)/),
    });
  });

  it("judges lastRun itself: within three schedule intervals passes, older or in the future is unknown", async () => {
    const t = await desk("guards:\n  time_sync: { servers: ['127.0.0.1:1'] }\n");
    // The engine's record as read, handed to the gate as it is (its own staleness rule aside).
    const status = (lastRun: string, over: Partial<GuardStatus> = {}): GuardStatus => ({
      name: "time_sync",
      state: "ok",
      detail: "offset 1 ms",
      lastRun,
      durationMs: 1,
      schedule: "0 * * * * *", // every minute: three intervals are 180 s
      enabled: true,
      ...over,
    });
    const judge = async (g: GuardStatus) =>
      (
        await runGates({ ...t.rt.ops.deps, guards: { readStates: async () => ({ guards: [g], unreadable: [] }) } }, NOW)
      ).find((x) => x.gate === "time_sync")!;
    expect((await judge(status("2026-12-01T14:57:00.000Z"))).verdict).toBe("pass");
    expect(await judge(status("2026-12-01T14:56:59.999Z"))).toMatchObject({
      verdict: "unknown",
      evidence: expect.stringMatching(/last ran 2026-12-01T14:56:59\.999Z, more than 3 intervals \(180 s\) ago/),
    });
    expect((await judge(status("2026-12-01T15:05:00.000Z"))).verdict).toBe("unknown");
    expect((await judge(status(""))).verdict).toBe("unknown");
    expect((await judge(status("2026-12-01T14:59:00.000Z", { enabled: false }))).verdict).toBe("unknown");
  });
});

describe("dr_rehearsal gate: a rehearsal dated in the future", () => {
  const set = (t: T, key: string, ts: string, ok = true) =>
    t.rt.redis.set(t.rt.keys.raw(key), JSON.stringify({ ts, ok, keys: 7, ms: 1 }));

  it("is unknown past dr_freshness's future tolerance (60 s by default), believed within it", async () => {
    const t = await desk("");
    await set(t, "dr:last_success", "2026-12-01T15:01:00.001Z");
    expect(await gate(t, "dr_rehearsal")).toMatchObject({
      verdict: "unknown",
      evidence: expect.stringMatching(/^dr:last_success says 2026-12-01T15:01:00\.001Z, ahead of this host's clock/),
    });
    await set(t, "dr:last_success", "2026-12-01T15:01:00.000Z");
    expect((await gate(t, "dr_rehearsal")).verdict).toBe("pass");
    // A future "latest" rehearsal casts doubt on the records too.
    await set(t, "dr:last_rehearsal", "2027-01-01T00:00:00.000Z");
    expect((await gate(t, "dr_rehearsal")).verdict).toBe("unknown");
  });

  it("uses the guard's configured tolerance", async () => {
    const t = await desk("guards:\n  dr_freshness: { future_tolerance_ms: 0 }\n");
    await set(t, "dr:last_success", "2026-12-01T15:00:00.001Z");
    expect((await gate(t, "dr_rehearsal")).verdict).toBe("unknown");
  });
});
