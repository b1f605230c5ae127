import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { activeWindows, economicEvents } from "../../src/jobs/economic-events.js";
import type { Finding, FlagChange } from "../../src/jobs/guard.js";
import { type CalendarEvent, shippedEvents } from "../../src/market/economic-calendar.js";
import { eventLockSchema } from "../../src/state/validate.js";
import { type testRuntime as TestRuntime, testRuntime } from "../support/runtime.js";

const cfg = economicEvents.config.parse({});
type V = { lock: string | null; earnings: [string, unknown][] };
const vals = (over: Partial<V> = {}): V => ({ lock: null, earnings: [], ...over });
const at = (iso: string) => Date.parse(iso);
const run = (
  v: V,
  nowMs: number,
  c = cfg,
  file: { events: CalendarEvent[]; invalid: string[] } | { error: string } | null = null,
) => economicEvents.evaluate({ values: v, probe: { at: nowMs, file } }, new Date(nowMs), c);
const actions = (fs: Finding[]): FlagChange[] => fs.flatMap((f) => f.actions ?? []);
const setLock = (fs: Finding[]) =>
  actions(fs).find((a): a is Extract<FlagChange, { op: "set" }> => a.op === "set" && a.key === "risk:event_lock");
const alerting = (fs: Finding[]) => fs.filter((f) => f.severity !== "info");

// FOMC statement 2026-12-09 14:00 EST = 19:00Z; window 13:45-14:30 ET.
const FOMC_DEC = at("2026-12-09T19:00:00.000Z");

describe("economic_events windows across DST (luxon)", () => {
  it("puts the March 2026 FOMC window at 17:45-18:30 UTC (EDT), not an hour off", () => {
    const mar = at("2026-03-18T18:00:00Z");
    expect(setLock(run(vals(), mar - 15 * 60_000))).toBeDefined();
    expect(setLock(run(vals(), mar - 15 * 60_000 - 1))).toBeUndefined();
    expect(setLock(run(vals(), mar + 30 * 60_000 - 1))).toBeDefined();
    expect(setLock(run(vals(), mar + 30 * 60_000))).toBeUndefined();
  });
});

describe("economic_events windows (15 min before, 30 min after)", () => {
  it("locks from exactly 15 minutes before (inclusive)", () => {
    expect(setLock(run(vals(), FOMC_DEC - 15 * 60_000 - 1))).toBeUndefined();
    const s = setLock(run(vals(), FOMC_DEC - 15 * 60_000));
    expect(s).toBeDefined();
    expect(s!.ttlMs).toBe(45 * 60_000);
  });
  it("writes exactly the contract JSON", () => {
    const s = setLock(run(vals(), FOMC_DEC));
    expect(JSON.parse(s!.value)).toStrictEqual({
      event: "FOMC 2026-12-09 14:00 ET",
      until: "2026-12-09T19:30:00.000Z",
      cap: 0.25,
      exempt: ["basis", "market-making"],
    });
    expect(Object.keys(JSON.parse(s!.value))).toEqual(["event", "until", "cap", "exempt"]);
    expect(s!.ttlMs).toBe(30 * 60_000);
  });
  it("lifts at exactly 30 minutes after (exclusive)", () => {
    expect(setLock(run(vals(), FOMC_DEC + 30 * 60_000 - 1))).toBeDefined();
    expect(run(vals(), FOMC_DEC + 30 * 60_000)).toEqual([]);
  });
  it("locks around CPI at 08:30 ET", () => {
    const cpi = at("2026-12-10T13:30:00Z");
    expect(JSON.parse(setLock(run(vals(), cpi - 60_000))!.value).event).toBe("CPI 2026-12-10 08:30 ET");
  });
  it("uses configured windows, per kind overriding the default", () => {
    const c = economicEvents.config.parse({
      before_min: 5,
      after_min: 10,
      windows: { FOMC: { before_min: 60, after_min: 0 } },
      cap: 0.1,
      exempt: ["basis"],
    });
    expect(setLock(run(vals(), FOMC_DEC - 60 * 60_000, c))).toBeDefined();
    expect(setLock(run(vals(), FOMC_DEC, c))).toBeUndefined();
    const cpi = at("2026-12-10T13:30:00Z");
    expect(setLock(run(vals(), cpi - 5 * 60_000 - 1, c))).toBeUndefined();
    expect(JSON.parse(setLock(run(vals(), cpi + 9 * 60_000, c))!.value)).toMatchObject({ cap: 0.1, exempt: ["basis"] });
  });
  it("joins overlapping events and keeps the latest end", () => {
    const member = JSON.stringify({ symbol: "ORCL", name: "Oracle Q2 FY27" });
    const earnings: [string, unknown][] = [[member, FOMC_DEC + 20 * 60_000]];
    const lock = JSON.parse(setLock(run(vals({ earnings }), FOMC_DEC + 10 * 60_000))!.value);
    expect(lock.event).toBe("FOMC 2026-12-09 14:00 ET + earnings ORCL (Oracle Q2 FY27) 2026-12-09 14:20 ET");
    expect(lock.until).toBe(new Date(FOMC_DEC + 50 * 60_000).toISOString());
  });
  it("is pure: same inputs, same findings", () => {
    expect(run(vals(), FOMC_DEC)).toEqual(run(vals(), FOMC_DEC));
  });
});

describe("economic_events existing locks", () => {
  const lock = (until: number, cap = 0.25) =>
    JSON.stringify({ event: "manual", until: new Date(until).toISOString(), cap, exempt: [] });
  it("keeps a lock that already covers the window, replaces a shorter or looser one", () => {
    expect(setLock(run(vals({ lock: lock(FOMC_DEC + 60 * 60_000) }), FOMC_DEC))).toBeUndefined();
    expect(setLock(run(vals({ lock: lock(FOMC_DEC + 10 * 60_000) }), FOMC_DEC))).toBeDefined();
    expect(setLock(run(vals({ lock: lock(FOMC_DEC + 60 * 60_000, 0.5) }), FOMC_DEC))).toBeDefined();
  });
  it("replaces a long, strict lock that exempts a strategy the configuration does not (e.g. momo)", () => {
    const wide = (exempt: string[]) =>
      JSON.stringify({ event: "manual", until: new Date(FOMC_DEC + 60 * 60_000).toISOString(), cap: 0.1, exempt });
    const replaced = setLock(run(vals({ lock: wide(["momo"]) }), FOMC_DEC));
    expect(replaced).toBeDefined();
    expect(JSON.parse(replaced!.value).exempt).toEqual(["basis", "market-making"]);
    expect(setLock(run(vals({ lock: wide(["basis", "momo"]) }), FOMC_DEC))).toBeDefined();
    // A subset of the configured exemptions is at least as strict: kept.
    expect(setLock(run(vals({ lock: wide(["basis"]) }), FOMC_DEC))).toBeUndefined();
    expect(setLock(run(vals({ lock: wide(["market-making", "basis"]) }), FOMC_DEC))).toBeUndefined();
  });
  it("deletes an expired lock and leaves a live one alone outside windows", () => {
    const now = FOMC_DEC + 2 * 3_600_000;
    expect(actions(run(vals({ lock: lock(now) }), now))).toEqual([{ op: "del", key: "risk:event_lock" }]);
    expect(run(vals({ lock: lock(now + 1) }), now)).toEqual([]);
  });
  it.each([
    "not json",
    "{}",
    '{"event":"x","until":"tomorrow","cap":0.25,"exempt":[]}',
    '{"event":"x","until":"2026-12-09T19:30:00Z","cap":2,"exempt":[]}',
    '{"event":"x","until":"2026-12-09T19:30:00Z","cap":0.25,"exempt":[],"by":"me"}',
  ])("reports an unreadable lock %j outside windows and overwrites it inside one", (raw) => {
    const outside = run(vals({ lock: raw }), FOMC_DEC + 3_600_000);
    expect(outside).toHaveLength(1);
    expect(outside[0]).toMatchObject({
      key: "economic_events:lock_invalid",
      severity: "warn",
      sop: "sop-economic-event",
    });
    expect(actions(outside)).toEqual([]);
    expect(setLock(run(vals({ lock: raw }), FOMC_DEC))).toBeDefined();
  });
});

describe("economic_events earnings", () => {
  const earningsAt = at("2027-02-02T21:30:00Z");
  it("locks around an earnings entry from the Redis sorted set", () => {
    const earnings: [string, unknown][] = [[JSON.stringify({ symbol: "GOOGL", name: "Alphabet Q4 2026" }), earningsAt]];
    expect(setLock(run(vals({ earnings }), earningsAt - 16 * 60_000))).toBeUndefined();
    expect(JSON.parse(setLock(run(vals({ earnings }), earningsAt))!.value).event).toBe(
      "earnings GOOGL (Alphabet Q4 2026) 2027-02-02 16:30 ET",
    );
  });
  it("skips malformed members with a warning and still locks FOMC", () => {
    const earnings: [string, unknown][] = [
      ["not json", earningsAt],
      [JSON.stringify({ name: "no symbol" }), earningsAt],
      [JSON.stringify({ symbol: "X" }), Number.NaN],
      [JSON.stringify({ symbol: "Y" }), -5],
    ];
    const fs = run(vals({ earnings }), FOMC_DEC);
    expect(setLock(fs)).toBeDefined();
    const warn = alerting(fs).filter((f) => f.key !== "economic_events:lock");
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatchObject({ key: "economic_events:earnings_invalid", severity: "warn" });
    expect(warn[0]!.detail).toContain("4 entries skipped");
  });
  it("parses the sorted set once per tick: evaluate and measure share the snapshot's parse", () => {
    const member = JSON.stringify({ symbol: "ONCE", name: "parsed once" });
    const earnings: [string, unknown][] = [[member, earningsAt]];
    const snapshot = { values: vals({ earnings }), probe: { at: earningsAt, file: null } };
    const spy = vi.spyOn(JSON, "parse");
    try {
      economicEvents.evaluate(snapshot, new Date(earningsAt), cfg);
      economicEvents.measure!(snapshot, cfg);
      expect(spy.mock.calls.filter(([s]) => s === member)).toHaveLength(1);
      // A new snapshot (the next tick) is parsed again.
      economicEvents.evaluate({ ...snapshot }, new Date(earningsAt), cfg);
      expect(spy.mock.calls.filter(([s]) => s === member)).toHaveLength(2);
    } finally {
      spy.mockRestore();
    }
  });
  it("declares the sorted set with a schema that lets evaluate see each member", () => {
    const reads = economicEvents.reads(cfg);
    expect(reads.earnings).toMatchObject({ key: "risk:events:earnings", type: "zset" });
    expect(reads.earnings.schema.safeParse([["x", Number.NaN]]).success).toBe(true);
    expect(reads.lock).toMatchObject({ key: "risk:event_lock", type: "string" });
  });
  it("reads the file in the probe and locks on its events; reports an unreadable file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-earn-"));
    const path = join(dir, "earnings.yml");
    writeFileSync(path, "earnings:\n  - symbol: NVDA\n    at: '2027-02-24T16:20'\n");
    const c = economicEvents.config.parse({ earnings_file: path });
    const now = at("2027-02-24T21:20:00Z");
    const probe = await economicEvents.probe!(c, { signal: new AbortController().signal, now: new Date(now) });
    const fs = economicEvents.evaluate({ values: vals(), probe }, new Date(now), c);
    expect(JSON.parse(setLock(fs)!.value).event).toBe("earnings NVDA 2027-02-24 16:20 ET");

    const missing = economicEvents.config.parse({ earnings_file: join(dir, "nope.yml") });
    const p2 = await economicEvents.probe!(missing, { signal: new AbortController().signal, now: new Date(now) });
    const f2 = economicEvents.evaluate({ values: vals(), probe: p2 }, new Date(now), missing);
    expect(f2.find((f) => f.key === "economic_events:earnings_invalid")?.detail).toContain("ENOENT");
  });
});

describe("economic_events calendar upkeep", () => {
  it("is quiet today, and warns 30 days before the shipped FOMC and CPI calendars run out", () => {
    expect(alerting(run(vals(), at("2026-11-25T17:00:00Z")))).toEqual([]);
    const late = alerting(run(vals(), at("2027-11-20T17:00:00Z"))).map((f) => f.key);
    expect(late).toEqual(["economic_events:coverage:FOMC", "economic_events:coverage:CPI"]);
  });
  it("warns 14 days ahead of an estimated date, not 1 ms earlier", () => {
    const jan = at("2027-01-13T13:30:00Z"); // estimated CPI, 08:30 EST
    const keys = (now: number) => alerting(run(vals(), now)).map((f) => f.key);
    expect(keys(jan - 14 * 86_400_000 - 1)).toEqual([]);
    expect(keys(jan - 14 * 86_400_000)).toEqual(["economic_events:unconfirmed:CPI:2027-01-13"]);
  });
});

describe("economic_events metrics and config", () => {
  it("exports lock state and time to the next window", () => {
    const m = (now: number) =>
      Object.fromEntries(
        economicEvents.measure!({ values: vals(), probe: { at: now, file: null } }, cfg)
          .filter((x) => !x.labels)
          .map((x) => [x.name, x.value]),
      );
    expect(m(FOMC_DEC)).toMatchObject({ tradeguard_event_lock_active: 1 });
    expect(m(FOMC_DEC - 16 * 60_000)).toEqual({
      tradeguard_event_lock_active: 0,
      tradeguard_event_next_window_seconds: 60,
    });
  });
  it("has the issue's defaults and rejects unknown keys", () => {
    expect(cfg).toMatchObject({ before_min: 15, after_min: 30, cap: 0.25, exempt: ["basis", "market-making"] });
    expect(economicEvents.config.safeParse({ enabled: false, schedule: "0 * * * * *", timeout_ms: 100 }).success).toBe(
      true,
    );
    expect(economicEvents.config.safeParse({ cap: 0 }).success).toBe(false);
    expect(economicEvents.config.safeParse({ windows: { NFP: { before_min: 1, after_min: 1 } } }).success).toBe(false);
  });
  it("exposes the active windows for other code", () => {
    expect(activeWindows(shippedEvents(), FOMC_DEC, cfg).map((w) => w.event.kind)).toEqual(["FOMC"]);
    expect(
      eventLockSchema.safeParse({ event: "x", until: "2026-12-09T19:30:00.000Z", cap: 0.25, exempt: [] }).success,
    ).toBe(true);
  });
});

describe("economic_events through the runner (real Redis)", () => {
  let t: Awaited<ReturnType<typeof TestRuntime>> | undefined;
  afterEach(async () => {
    await t?.cleanup();
    t = undefined;
  });

  it("sets risk:event_lock with a TTL to the window end, then removes an expired one", async () => {
    let now = new Date(FOMC_DEC - 10 * 60_000);
    t = await testRuntime({
      yaml: "guards:\n  economic_events:\n    before_min: 15\n    after_min: 30\n",
      guards: [economicEvents],
      now: () => now,
    });
    const { rt } = t;
    const key = rt.keys.raw("risk:event_lock");
    const r = await rt.guards.runOnce({ guard: "economic_events" });
    // A lock in force is announced once (an open alert), and resolves when the window ends.
    expect(r.guards[0]).toMatchObject({ state: "warn", detail: "Event lock: FOMC 2026-12-09 14:00 ET" });
    expect((await rt.alerts.open()).map((a) => a.title)).toEqual(["Event lock: FOMC 2026-12-09 14:00 ET"]);
    expect(JSON.parse((await rt.redis.get(key))!)).toStrictEqual({
      event: "FOMC 2026-12-09 14:00 ET",
      until: "2026-12-09T19:30:00.000Z",
      cap: 0.25,
      exempt: ["basis", "market-making"],
    });
    const ttl = await rt.redis.pttl(key);
    expect(ttl).toBeGreaterThan(39 * 60_000);
    expect(ttl).toBeLessThanOrEqual(40 * 60_000);

    // After the window: a lock whose TTL was lost (e.g. restored from a backup) is removed.
    await rt.redis.persist(key);
    now = new Date(FOMC_DEC + 31 * 60_000);
    await rt.guards.runOnce({ guard: "economic_events" });
    expect(await rt.redis.exists(key)).toBe(0);
    expect(await rt.alerts.open()).toEqual([]);
    const history = (await rt.redis.lrange(rt.keys.alerts("economic_events"), 0, -1)).map((e) => JSON.parse(e).type);
    expect(history).toEqual(["resolved", "opened"]);
  });

  it("locks on earnings the desk adds to the sorted set", async () => {
    const earningsAt = at("2027-02-02T21:30:00Z");
    // (unconfirmed_warn_days 0: the estimated CPI date of 2027-02-10 would warn too.)
    t = await testRuntime({
      yaml: "guards:\n  economic_events:\n    unconfirmed_warn_days: 0\n",
      guards: [economicEvents],
      now: () => new Date(earningsAt - 5 * 60_000),
    });
    const { rt } = t;
    await rt.redis.zadd(
      rt.keys.raw("risk:events:earnings"),
      earningsAt,
      JSON.stringify({ symbol: "GOOGL", name: "Alphabet Q4 2026" }),
    );
    await rt.redis.zadd(rt.keys.raw("risk:events:earnings"), earningsAt, "garbage");
    const r = await rt.guards.runOnce();
    expect(r.guards[0]?.state).toBe("warn");
    expect(r.findings.map((f) => f.key).sort()).toEqual(["economic_events:earnings_invalid", "economic_events:lock"]);
    expect(JSON.parse((await rt.redis.get(rt.keys.raw("risk:event_lock")))!).event).toBe(
      "earnings GOOGL (Alphabet Q4 2026) 2027-02-02 16:30 ET",
    );
  });

  it("removes earnings whose window ended more than a day ago from the sorted set, keeping the others", async () => {
    const nowMs = at("2027-02-10T15:00:00Z");
    t = await testRuntime({
      guards: [economicEvents],
      now: () => new Date(nowMs),
      yaml: "guards:\n  economic_events:\n    unconfirmed_warn_days: 0\n",
    });
    const { rt } = t;
    const key = rt.keys.raw("risk:events:earnings");
    await rt.redis.zadd(
      key,
      String(nowMs - 3 * 86_400_000),
      JSON.stringify({ symbol: "OLD" }),
      String(nowMs - 2 * 3_600_000),
      JSON.stringify({ symbol: "RECENT" }),
      String(nowMs + 86_400_000),
      JSON.stringify({ symbol: "NEXT" }),
    );
    await rt.guards.runOnce({ guard: "economic_events" });
    expect((await rt.redis.zrange(key, "0", "-1")).map((m) => JSON.parse(m).symbol)).toEqual(["RECENT", "NEXT"]);
    const audit = (await rt.redis.xrange(rt.keys.auditLog, "-", "+")).map((r) => JSON.parse(r[1][1]!));
    expect(audit.find((e) => e.action === "flag.changed")?.details).toMatchObject({
      op: "zremrangebyscore",
      key: "risk:events:earnings",
    });
  });
});
