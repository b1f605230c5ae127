// The weekly health report on a fixture week written into the real test Redis, every number computed by hand:
// week of Monday 2026-11-30 (New York) = [2026-11-30T05:00Z, 2026-12-07T05:00Z), reported on Monday 07:00.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../src/config.js";
import { budgetSource } from "../../src/jobs/error-budget-source.js";
import { allGuards } from "../../src/jobs/registry.js";
import type { ManagedKeys } from "../../src/ops/secrets.js";
import { REPORT_SECTIONS } from "../../src/reports/config.js";
import { lastPeriod } from "../../src/reports/period.js";
import type { ReportSources } from "../../src/reports/sources.js";
import { gatherWeekly } from "../../src/reports/weekly.js";
import { SLO_KEYS } from "../../src/state/keys.js";
import { testRedis } from "../support/redis.js";
import { type FixtureAlert, writeAlerts, writeAudit, writeRecon } from "../support/report-fixtures.js";

const NOW = new Date("2026-12-07T12:00:00.000Z"); // Monday 07:00 New York
const MIN = 60_000;

let t: ReturnType<typeof testRedis>;
beforeEach(() => {
  t = testRedis();
});
afterEach(() => t.cleanup());

function config(yaml?: string): Config {
  const home = mkdtempSync(join(tmpdir(), "tg-report-"));
  const env: Record<string, string> = { TRADEGUARD_HOME: home, REDIS_URL: t.url, REDIS_PREFIX: t.prefix };
  if (yaml) {
    writeFileSync(join(home, "config.yml"), yaml);
    env.TRADEGUARD_CONFIG = join(home, "config.yml");
  }
  return loadConfig(env, allGuards, REPORT_SECTIONS);
}

const KEY_AGES: ManagedKeys[] = [
  {
    broker: "alpaca-live",
    secret: "alpaca",
    current: { keyId: "PK1", createdAt: "", ageDays: 9 },
    pending: "PK2",
    previous: null,
  },
  {
    broker: "binance",
    secret: "bn",
    current: { keyId: "BK7", createdAt: "", ageDays: 2 },
    pending: null,
    previous: "BK6",
  },
  { broker: "kraken", secret: "kr", current: null, pending: null, previous: null },
];

function sources(c: Config): ReportSources {
  return {
    redis: t.redis,
    keys: t.keys,
    config: c,
    now: () => NOW,
    keyAges: async () => KEY_AGES,
    budgets: budgetSource(t.redis, t.prefix, c),
  };
}

const a = (
  type: FixtureAlert["type"],
  at: string,
  stream: string,
  guard: string,
  key: string,
  severity: FixtureAlert["severity"],
): FixtureAlert => ({ type, at, stream, guard, key, severity, title: `${guard} ${key}` });

const ack = (ts: string, actor: string, field: string) => ({
  ts,
  actor,
  action: "alert.acknowledged",
  details: { alert: field, title: "x", severity: "warn" },
});
const mode = (ts: string, m: string, extra: Record<string, unknown> = {}) => ({
  ts,
  actor: "U3",
  action: "mode.set",
  details: { mode: m, ...extra },
});
const verified = (ts: string, panic: string, status: string) => ({
  ts,
  actor: "tradeguard",
  action: "panic.verified",
  details: { panic_id: panic, status, brokers: [] },
});

async function writeFixtureWeek(): Promise<void> {
  await writeAlerts(t.redis, t.keys, [
    // Before the week: not counted.
    a("opened", "2026-11-29T10:00:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "warn"),
    a("resolved", "2026-11-29T10:30:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "warn"),
    // #1 warn, escalated, acked after 4 min, resolved.
    a("opened", "2026-12-01T14:00:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "warn"),
    a("escalated", "2026-12-01T14:05:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "critical"),
    a("resolved", "2026-12-01T14:30:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "critical"),
    // #2 the same condition again: warn, acked after 38 min, resolved.
    a("opened", "2026-12-03T10:00:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "warn"),
    a("resolved", "2026-12-03T11:00:00.000Z", "policy", "policy_watchdog", "policy_watchdog:stale", "warn"),
    // #3 critical, acked after 90 s (and again later: the first counts), still open.
    a("opened", "2026-12-02T09:00:00.000Z", "time_sync", "time_sync", "time_sync:offset", "critical"),
    // #4 warn, never acknowledged, resolved.
    a("opened", "2026-12-04T16:00:00.000Z", "api_quota", "api_quota", "api_quota:binance:quota", "warn"),
    a("resolved", "2026-12-04T16:20:00.000Z", "api_quota", "api_quota", "api_quota:binance:quota", "warn"),
  ]);
  await t.redis.lpush(t.keys.alerts("api_quota"), "not json");
  await writeAudit(t.redis, t.keys, [
    ack("2026-11-29T10:02:00.000Z", "U9", "policy/policy_watchdog:stale"),
    ack("2026-12-01T14:04:00.000Z", "U1", "policy/policy_watchdog:stale"),
    ack("2026-12-03T10:38:00.000Z", "U2", "policy/policy_watchdog:stale"),
    ack("2026-12-02T09:01:30.000Z", "U1", "time_sync/time_sync:offset"),
    ack("2026-12-02T09:10:00.000Z", "U2", "time_sync/time_sync:offset"),
    // Halt A: began before the week (Saturday), resumed Monday 09:00 New York, soak 5 min.
    mode("2026-11-28T20:00:00.000Z", "halt", { panic_id: "p0", reason: "weekend drill" }),
    verified("2026-11-28T20:00:04.000Z", "p0", "HALT-VERIFIED"),
    mode("2026-11-30T14:00:00.000Z", "reduce_only", { request_id: "c0" }),
    mode("2026-11-30T14:05:00.000Z", "active", { request_id: "c0" }),
    // Halt B: inside the week, flat after 30 s (partial), resumed after 72 min.
    mode("2026-12-02T15:00:00.000Z", "halt", { panic_id: "p1", reason: "runaway orders" }),
    verified("2026-12-02T15:00:30.000Z", "p1", "HALT-PARTIAL"),
    mode("2026-12-02T16:12:00.000Z", "reduce_only", { request_id: "c1" }),
    mode("2026-12-02T16:17:00.000Z", "active", { request_id: "c1" }),
    // Halt C: Sunday 18:00 New York, still halted when the week ends.
    mode("2026-12-06T23:00:00.000Z", "halt", { panic_id: "p2", reason: "exchange outage" }),
    verified("2026-12-06T23:00:02.000Z", "p2", "HALT-VERIFIED"),
    // After the week: not counted.
    ack("2026-12-07T06:00:00.000Z", "U1", "api_quota/api_quota:binance:quota"),
  ]);
  await writeRecon(t.redis, t.keys, [
    { date: "2026-11-27", broker: "alpaca", ok: true, mismatches: 0, errors: 0, at: "2026-11-27T22:30:00.000Z" },
    { date: "2026-12-01", broker: "alpaca", ok: true, mismatches: 0, errors: 0, at: "2026-12-01T22:30:00.000Z" },
    { date: "2026-12-02", broker: "alpaca", ok: false, mismatches: 2, errors: 0, at: "2026-12-02T22:30:00.000Z" },
    "{garbage",
    { date: "2026-12-03", broker: "alpaca", ok: false, mismatches: 0, errors: 1, at: "2026-12-03T22:30:00.000Z" },
  ]);
}

describe("weekly report", () => {
  it("computes the fixture week's numbers exactly as worked out by hand", async () => {
    await writeFixtureWeek();
    const period = lastPeriod("weekly", NOW);
    expect(period).toMatchObject({ from: "2026-11-30T05:00:00.000Z", to: "2026-12-07T05:00:00.000Z", partial: false });
    const r = await gatherWeekly(sources(config()), period);
    const s = r.sections;

    // Guards fired: policy_watchdog 2 warn + 1 escalation, time_sync 1 critical, api_quota 1 warn.
    expect(s.guards).toEqual({
      status: "ok",
      notes: [],
      data: {
        rows: [
          { guard: "time_sync", warn: 0, critical: 1, escalated: 0 },
          { guard: "policy_watchdog", warn: 2, critical: 0, escalated: 1 },
          { guard: "api_quota", warn: 1, critical: 0, escalated: 0 },
        ],
        warn: 3,
        critical: 1,
        escalated: 1,
      },
    });

    // 4 opened; acked after 240 000, 2 280 000 and 90 000 ms; sorted [90 000, 240 000, 2 280 000]:
    // p50 = the ⌈0.5·3⌉ = 2nd = 240 000; p90 = the ⌈0.9·3⌉ = 3rd = 2 280 000.
    if (s.alerts.status !== "ok") throw new Error(JSON.stringify(s.alerts));
    expect({ ...s.alerts.data, items: undefined }).toEqual({
      opened: 4,
      acknowledged: 3,
      unacknowledged: 1,
      resolved: 3,
      tta: { samples: 3, p50Ms: 4 * MIN, p90Ms: 38 * MIN, maxMs: 38 * MIN },
      items: undefined,
    });
    expect(
      s.alerts.data.items.map((i) => [i.openedAt.slice(0, 16), i.ackedBy, i.ttaMs, i.resolvedAt !== null]),
    ).toEqual([
      ["2026-12-01T14:00", "U1", 4 * MIN, true],
      ["2026-12-02T09:00", "U1", 90_000, false],
      ["2026-12-03T10:00", "U2", 38 * MIN, true],
      ["2026-12-04T16:00", null, null, true],
    ]);

    // Halts: A 42 h (9 h of it in the week), B 72 min, C 6 h so far: 9 h + 72 min + 6 h = 16 h 12 min in the week.
    if (s.halts.status !== "ok") throw new Error(JSON.stringify(s.halts));
    expect(s.halts.data.haltedMsInPeriod).toBe((16 * 60 + 12) * MIN);
    expect(
      s.halts.data.halts.map((h) => [h.panicId, h.status, h.flatMs, h.haltedMs, h.soakMs, h.ongoing, h.startedBefore]),
    ).toEqual([
      ["p0", "HALT-VERIFIED", 4_000, 42 * 60 * MIN, 5 * MIN, false, true],
      ["p1", "HALT-PARTIAL", 30_000, 72 * MIN, 5 * MIN, false, false],
      ["p2", "HALT-VERIFIED", 2_000, 6 * 60 * MIN, null, true, false],
    ]);
    expect(s.halts.data.halts[1]).toMatchObject({ actor: "U3", reason: "runaway orders", resumeRequestId: "c1" });

    // Recon: 3 runs in the week (1 ok, 1 mismatch, 1 could not reconcile); the garbage entry is a problem.
    expect(s.recon).toMatchObject({ status: "ok", data: { ok: 1, mismatched: 1, couldNotReconcile: 1 } });
    if (s.recon.status === "ok")
      expect(s.recon.data.runs.map((x) => x.date)).toEqual(["2026-12-01", "2026-12-02", "2026-12-03"]);

    // Keys: limit 7 days: alpaca-live (9 d) and kraken (no key) are due.
    expect(s.keys).toMatchObject({ status: "ok", data: { maxAgeDays: 7 } });
    if (s.keys.status === "ok")
      expect(s.keys.data.brokers.map((b) => [b.broker, b.ageDays, b.due])).toEqual([
        ["alpaca-live", 9, true],
        ["binance", 2, false],
        ["kraken", null, true],
      ]);

    expect(s.errorBudget).toEqual({ status: "no_data", reason: "no SLO is declared (guards.error_budget.slos)" });
    expect(r.problems).toEqual([
      "alerts:api_quota: 1 entry is not alert events",
      "recon:last: 1 entry is not recon summaries",
    ]);
  });

  it("says 'no data' for a quiet week instead of zeros, and names what it could not read", async () => {
    await t.redis.set(t.keys.reconLast, "a string, not a list");
    const r = await gatherWeekly(sources(config()), lastPeriod("weekly", NOW));
    expect(r.sections.guards).toEqual({ status: "no_data", reason: "no guard raised an alert in the period" });
    expect(r.sections.alerts).toEqual({ status: "no_data", reason: "no alert opened in the period" });
    expect(r.sections.halts).toEqual({ status: "no_data", reason: "trading was not halted in the period" });
    expect(r.sections.recon).toEqual({ status: "unreadable", reason: "recon:last could not be read" });
    expect(r.problems[0]).toMatch(/^recon:last: unreadable \(WRONGTYPE/);
  });

  it("an unreadable audit entry is named, and the others still count", async () => {
    await writeAudit(t.redis, t.keys, [mode("2026-12-02T15:00:00.000Z", "halt", { panic_id: "p1" })]);
    await t.redis.xadd(t.keys.auditLog, "2-0", "e", "{not an entry");
    await writeAlerts(t.redis, t.keys, [
      a("opened", "2026-12-01T14:00:00.000Z", "policy", "policy_watchdog", "k", "warn"),
    ]);
    const r = await gatherWeekly(sources(config()), lastPeriod("weekly", NOW));
    expect(r.problems).toEqual(["audit:log: 1 entry unreadable (2-0); run `tradeguard audit verify`"]);
    expect(r.sections.halts).toMatchObject({ status: "ok", data: { halts: [{ panicId: "p1", ongoing: true }] } });
  });

  it("a halt during the reduce-only soak ends that soak and starts a new halt", async () => {
    await writeAudit(t.redis, t.keys, [
      mode("2026-12-01T15:00:00.000Z", "halt", { panic_id: "p1" }),
      mode("2026-12-01T15:30:00.000Z", "reduce_only", { request_id: "c1" }),
      mode("2026-12-01T15:32:00.000Z", "halt", { panic_id: "p2" }),
      mode("2026-12-01T16:32:00.000Z", "reduce_only", { request_id: "c2" }),
      mode("2026-12-01T16:37:00.000Z", "active", { request_id: "c2" }),
    ]);
    const r = await gatherWeekly(sources(config()), lastPeriod("weekly", NOW));
    if (r.sections.halts.status !== "ok") throw new Error(JSON.stringify(r.sections.halts));
    expect(r.sections.halts.data.halts.map((h) => [h.panicId, h.haltedMs, h.soakMs, h.activeAt, h.ongoing])).toEqual([
      ["p1", 30 * MIN, 2 * MIN, null, false],
      ["p2", 60 * MIN, 5 * MIN, "2026-12-01T16:37:00.000Z", false],
    ]);
    expect(r.sections.halts.data.haltedMsInPeriod).toBe(90 * MIN);
  });

  it("error-budget burn of the week from the SLO's day counts: 20 bad of 10 000 at 99.9 % = 2.00×", async () => {
    const c = config(
      "guards:\n  error_budget:\n    slos:\n      - { name: order_ack, target: 99.9, period_days: 30 }\n",
    );
    // UTC days starting in the week: epoch days of 2026-12-01 … 2026-12-06 (12-07 00:00Z is inside too).
    const day = (iso: string) => Math.floor(Date.parse(iso) / 86_400_000);
    const first = day("2026-12-01T00:00:00Z");
    const fields: Record<string, Record<string, string>> = {};
    const put = (d: number, g: number, tot: number) => {
      const k = t.keys.raw(SLO_KEYS.days("order_ack", Math.floor(d / SLO_KEYS.DAY_BLOCK_DAYS) % SLO_KEYS.DAY_BLOCKS));
      fields[k] = { ...(fields[k] ?? {}), [`${d}:g`]: String(g), [`${d}:t`]: String(tot) };
    };
    put(first, 4_990, 5_000); // 10 bad
    put(first + 2, 4_990, 5_000); // 10 bad
    put(first - 5, 0, 1_000); // 2026-11-26: before the week, not counted
    for (const [k, f] of Object.entries(fields)) await t.redis.hset(k, f);
    const r = await gatherWeekly(sources(c), lastPeriod("weekly", NOW));
    // 20 bad / 10 000 = 0.2 % errors; budget 0.1 % → 2.00×.
    expect(r.sections.errorBudget).toMatchObject({
      status: "ok",
      data: {
        rows: [{ slo: "order_ack", target: "99.9", good: "9980", total: "10000", burnRate: "2.00", state: "ok" }],
      },
    });
  });
});
