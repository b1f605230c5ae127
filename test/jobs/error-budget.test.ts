// The error_budget guard: the workbook's three multiwindow rules at, just below and just above their factors (long
// AND short window), which windows each finding names and the budget left, the spent-budget policy with its
// hysteresis, and end to end: a trading process's writes → the runner → strategy:reduce_only (audited, published).
import { afterEach, describe, expect, it } from "vitest";
import { errorBudget } from "../../src/jobs/error-budget.js";
import { recordSloEvents, sloKeys, sloWriteTarget } from "../../src/jobs/error-budget-math.js";
import { readName } from "../../src/jobs/error-budget-slo.js";
import { type Finding, ReadFailure } from "../../src/jobs/guard.js";
import { MARKET_KEYS, SLO_KEYS } from "../../src/state/keys.js";
import { testRuntime } from "../support/runtime.js";

const NOW = new Date("2026-11-25T15:00:30Z");
const SLO = { name: "order_ack", target: 99.9, description: "acks under 250 ms" };
const cfg = (extra: Record<string, unknown> = {}, slo: Record<string, unknown> = {}) =>
  errorBudget.config.parse({ slos: [{ ...SLO, ...slo }], ...extra });

type Event = { ago: number; good: number; total: number };
/** The guard's read values for events `ago` minutes before NOW, laid out exactly as the writer's recipe does. */
function values(events: Event[], state: Record<string, Record<string, string>> = {}, slo = SLO.name) {
  const hashes = new Map<string, Record<string, string>>();
  const add = (key: string, field: string, n: number) => {
    const h = hashes.get(key) ?? {};
    h[field] = String(Number(h[field] ?? 0) + n);
    hashes.set(key, h);
  };
  for (const e of events) {
    const w = sloWriteTarget(slo, NOW.getTime() - e.ago * 60_000);
    add(w.minuteKey, `${w.minute}:g`, e.good);
    add(w.minuteKey, `${w.minute}:t`, e.total);
    add(w.dayKey, `${w.day}:g`, e.good);
    add(w.dayKey, `${w.day}:t`, e.total);
  }
  const out: Record<string, Record<string, string>> = { exhausted: {}, waivers: {}, reduceOnly: {}, ...state };
  const k = sloKeys(slo);
  k.minutes.forEach((key, i) => {
    out[readName(slo, "m", i)] = hashes.get(key) ?? {};
  });
  k.days.forEach((key, i) => {
    out[readName(slo, "d", i)] = hashes.get(key) ?? {};
  });
  return out;
}
const run = (events: Event[], c = cfg(), state?: Record<string, Record<string, string>>): Finding[] =>
  errorBudget.evaluate({ values: values(events, state), probe: { at: NOW.getTime() } }, NOW, c);
const keys = (fs: Finding[]) => fs.filter((f) => f.severity !== "info").map((f) => [f.key, f.severity]);
const burn = (fs: Finding[]) => fs.find((f) => f.key.endsWith(":burn"));
/** `bad` of 10,000 events in the current minute (every window sees them) plus a large good history for the budget. */
const now = (bad: number): Event[] => [
  { ago: 0, good: 10_000 - bad, total: 10_000 },
  { ago: 2 * 1440, good: 10_000_000, total: 10_000_000 },
];

describe("page at 14.4× over 1 h AND 5 min (99.9% target: 1.44% bad)", () => {
  const fast = cfg({ rules: [{ name: "page_fast", severity: "critical", long: "1h", short: "5m", burn_rate: 14.4 }] });
  it("is quiet at exactly 14.4× and just below, pages just above", () => {
    expect(burn(run(now(144), fast))).toBeUndefined();
    expect(burn(run(now(143), fast))).toBeUndefined();
    const f = burn(run(now(145), fast))!;
    expect(f).toMatchObject({ severity: "critical", sop: "sop-error-budget", value: "14.50×", threshold: "14.4×" });
    expect(f.title).toBe("SLO order_ack: error budget burning 14.50× over 1h and 5m (page above 14.4×)");
    expect(f.detail).toContain("page_fast (page) 1h 14.50× and 5m 14.50× > 14.4×: burning");
  });
  it("needs both windows: a burst that stopped (1 h burns, 5 min does not) stays quiet until the 5 min burns too", () => {
    // 50 min ago: 200 bad of 1,000 (20%); now: 1,000 good. 1 h: 200/2,000 = 10% = 100×; 5 min: 0×.
    const burst: Event[] = [
      { ago: 50, good: 800, total: 1_000 },
      { ago: 0, good: 1_000, total: 1_000 },
    ];
    expect(burn(run(burst, fast))).toBeUndefined();
    // 15 bad of 1,000 now: 5 min = 1.5% = 15× > 14.4×; 1 h = 215/2,000 = 107.5×.
    const f = burn(run([burst[0]!, { ago: 0, good: 985, total: 1_000 }], fast))!;
    expect(f.detail).toContain("1h 107.50× and 5m 15.00× > 14.4×: burning");
  });
  it("a window is its minutes up to now: an error 5 minutes ago is outside the 5 min window, 4 minutes ago inside", () => {
    const at = (ago: number): Event[] => [
      { ago, good: 0, total: 100 },
      { ago: 59, good: 9_900, total: 9_900 },
    ];
    // 1 h: 100 bad of 10,000 = 1% = 10× — below 14.4×, so use a 5× factor to look at the 5 min edge alone.
    const c = cfg({ rules: [{ name: "edge", severity: "critical", long: "1h", short: "5m", burn_rate: 5 }] });
    expect(burn(run(at(4), c))).toBeDefined();
    expect(burn(run(at(5), c))).toBeUndefined();
  });
});

describe("page at 6× over 6 h AND 30 min, ticket at 1× over 3 days AND 6 h", () => {
  it("6×: 60 bad of 10,000 at 99.9% is exactly 6× (quiet), 61 pages through page_slow only", () => {
    const c = cfg();
    expect(keys(run(now(60), c))).toEqual([]);
    const fs = run(now(61), c);
    expect(keys(fs)).toEqual([["error_budget:order_ack:burn", "critical"]]);
    expect(burn(fs)!.detail).toContain("page_slow (page) 6h 6.10× and 30m 6.10× > 6×: burning");
    expect(burn(fs)!.detail).toContain("page_fast (page) 1h 6.10× and 5m 6.10× (fires when both > 14.4×)");
  });
  it("ticket: 3 days at 1.6× and 6 h at 1.2× (99.5%), a warning naming every window", () => {
    // 99.5% → budget 0.5%. 66 h ago: 10 bad of 1,000; now: 6 bad of 1,000. 3 d: 16/2,000 = 0.8% = 1.6×; 6 h: 1.2×.
    // A million good events 5 days ago keep the 30-day budget healthy (outside every burn window).
    const c = cfg({}, { target: 99.5 });
    const fs = run(
      [
        { ago: 5 * 1440, good: 1_000_000, total: 1_000_000 },
        { ago: 66 * 60, good: 990, total: 1_000 },
        { ago: 0, good: 994, total: 1_000 },
      ],
      c,
    );
    expect(keys(fs)).toEqual([["error_budget:order_ack:burn", "warn"]]);
    const f = burn(fs)!;
    expect(f.title).toBe("SLO order_ack: error budget burning 1.60× over 3d and 6h (ticket above 1×)");
    expect(f.detail).toContain("ticket (ticket) 3d 1.60× and 6h 1.20× > 1×: burning");
    // 16 bad of 1,002,000 events; the budget is 0.5% of them (5,010): 1 − 16/5,010 = 99.68…% left.
    expect(f.detail).toContain("budget left 99.6% of 30 d (16 bad of 1,002,000 events; budget 5010)");
  });
  it("ticket at exactly 1× over 6 h stays quiet (5 bad of 1,000 at 99.5%)", () => {
    const c = cfg({}, { target: 99.5 });
    const fs = run(
      [
        { ago: 66 * 60, good: 990, total: 1_000 },
        { ago: 0, good: 995, total: 1_000 },
      ],
      c,
    );
    expect(burn(fs)).toBeUndefined();
  });
  it("min_events: windows with fewer events never fire", () => {
    const c = cfg({ min_events: 100 });
    expect(burn(run([{ ago: 0, good: 0, total: 99 }], c))).toBeUndefined();
    expect(burn(run([{ ago: 0, good: 0, total: 100 }], c))).toBeDefined();
  });
});

describe("budget spent: the policy", () => {
  const ro = cfg({}, { target: 99.5, policy: "reduce_only", strategies: ["momo", "basis"] });
  /** 100,000 events of today with `bad` bad ones (99.5% allows 500), spread 2 days back so no burn rule fires. */
  const period = (bad: number): Event[] => [{ ago: 2 * 1440 + 1, good: 100_000 - bad, total: 100_000 }];
  const spent = (fs: Finding[]) => fs.find((f) => f.key.endsWith(":exhausted"));
  const actions = (fs: Finding[]) => fs.flatMap((f) => f.actions ?? []);

  it("at 0% left it is spent: strategies reduce-only with a reason, the state recorded, the gate told", () => {
    const fs = run(period(500), ro);
    expect(spent(fs)).toMatchObject({ severity: "warn", value: "0.0%", threshold: "0%" });
    expect(spent(fs)!.title).toBe("SLO order_ack: error budget spent (0.0% left) — reduce-only");
    expect(spent(fs)!.detail).toContain("strategies momo, basis are reduce-only until the budget is back");
    expect(spent(fs)!.detail).toContain("budget left 0.0% of 30 d (500 bad of 100,000 events; budget 500)");
    const a = actions(fs);
    const ro1 = a.find((x) => x.op === "hset" && x.key === MARKET_KEYS.strategyReduceOnly) as {
      fields: Record<string, string>;
    };
    expect(Object.keys(ro1.fields).sort()).toEqual(["basis", "momo"]);
    expect(JSON.parse(ro1.fields.momo!)).toEqual({
      reason: "error budget of SLO order_ack is spent: reduce-only until it recovers (RUNBOOK.md#sop-error-budget)",
      source: "error_budget:order_ack",
      since: NOW.toISOString(),
    });
    expect(a).toContainEqual({ op: "publish", channel: "flags", message: "strategy:reduce_only" });
    const ex = a.find((x) => x.op === "hset" && x.key === SLO_KEYS.exhausted) as { fields: Record<string, string> };
    expect(JSON.parse(ex.fields.order_ack!)).toEqual({
      since: NOW.toISOString(),
      policy: "reduce_only",
      enforced: true,
      strategies: ["basis", "momo"],
    });
  });
  it("just below it is not spent (499 bad: 0.2% left); once spent it stays spent until more than 5% is back", () => {
    expect(spent(run(period(499), ro))).toBeUndefined();
    const state = {
      exhausted: {
        order_ack: JSON.stringify({
          since: "2026-11-20T00:00:00.000Z",
          policy: "reduce_only",
          enforced: true,
          strategies: ["basis", "momo"],
        }),
      },
      reduceOnly: {
        momo: JSON.stringify({ reason: "r", source: "error_budget:order_ack", since: "2026-11-20T00:00:00.000Z" }),
        basis: JSON.stringify({ reason: "r", source: "error_budget:order_ack", since: "2026-11-20T00:00:00.000Z" }),
      },
    };
    // 475 bad: exactly 5% left — still spent, nothing changes (no actions at all).
    const held = run(period(475), ro, state);
    expect(spent(held)!.detail).toContain("spent since 2026-11-20T00:00:00.000Z");
    expect(actions(held)).toEqual([]);
    // 474 bad: 5.2% left — lifted: fields removed, the gate told, the state cleared.
    const lifted = actions(run(period(474), ro, state));
    expect(lifted).toEqual([
      { op: "hdel", key: SLO_KEYS.exhausted, fields: ["order_ack"] },
      { op: "hdel", key: MARKET_KEYS.strategyReduceOnly, fields: ["momo", "basis"] },
      { op: "publish", channel: "flags", message: "strategy:reduce_only" },
    ]);
  });
  it("no events: a policy in force stays (missing data never lifts it)", () => {
    const state = {
      exhausted: {
        order_ack: JSON.stringify({
          since: "2026-11-20T00:00:00.000Z",
          policy: "reduce_only",
          enforced: true,
          strategies: ["basis", "momo"],
        }),
      },
      reduceOnly: { momo: JSON.stringify({ reason: "r", source: "error_budget:order_ack", since: "x" }) },
    };
    const fs = run([], ro, state);
    expect(keys(fs)).toEqual([
      ["error_budget:order_ack:no_data", "warn"],
      ["error_budget:order_ack:exhausted", "warn"],
    ]);
    // basis was missing: put back; momo kept as it is.
    expect(actions(fs).map((a) => [a.op, "key" in a ? a.key : a.channel])).toEqual([
      ["hset", "strategy:reduce_only"],
      ["publish", "flags"],
    ]);
  });
  it("a waiver lifts the policy while the budget stays spent; it ends when the budget is back", () => {
    const waivers = {
      order_ack: JSON.stringify({ by: "UBOSS", reason: "vendor outage, not us", at: "2026-11-25T14:00:00.000Z" }),
    };
    const reduceOnly = { momo: JSON.stringify({ reason: "r", source: "error_budget:order_ack", since: "x" }) };
    const fs = run(period(600), ro, { waivers, reduceOnly });
    expect(spent(fs)!.title).toContain("policy lifted");
    expect(spent(fs)!.detail).toContain(
      "policy reduce_only lifted by UBOSS at 2026-11-25T14:00:00.000Z: vendor outage, not us",
    );
    expect(actions(fs)).toContainEqual({ op: "hdel", key: MARKET_KEYS.strategyReduceOnly, fields: ["momo"] });
    expect(actions(run(period(0), ro, { waivers }))).toContainEqual({
      op: "hdel",
      key: SLO_KEYS.waivers,
      fields: ["order_ack"],
    });
  });
  it("extra_approver and none: recorded as spent, no strategy touched", () => {
    const ea = cfg({}, { target: 99.5, policy: "extra_approver" });
    const fs = run(period(500), ea);
    expect(spent(fs)!.title).toContain("/clear needs one more approver");
    expect(actions(fs).map((a) => ("key" in a ? a.key : a.channel))).toEqual([SLO_KEYS.exhausted]);
    expect(spent(run(period(500), cfg({}, { target: 99.5 })))!.title).toContain("alert only");
  });
  it("an unreadable policy hash changes nothing; an unreadable SLO key keeps its policy in force and says so", () => {
    const v = values(period(600)) as Record<string, unknown>;
    v.exhausted = new ReadFailure(SLO_KEYS.exhausted, "wrong type (string)");
    const fs = errorBudget.evaluate({ values: v as never }, NOW, ro);
    expect(keys(fs)).toEqual([["error_budget:state_unreadable", "warn"]]);
    expect(fs[0]!.detail).toContain("error_budget:exhausted: wrong type (string)");
    expect(actions(fs)).toEqual([]);
    const held = values(period(0), {
      exhausted: {
        order_ack: JSON.stringify({
          since: "2026-11-20T00:00:00.000Z",
          policy: "reduce_only",
          enforced: true,
          strategies: ["basis", "momo"],
        }),
      },
    }) as Record<string, unknown>;
    held[readName("order_ack", "d", 0)] = new ReadFailure("slo:order_ack:d:0", "wrong type (list)");
    const fs2 = errorBudget.evaluate({ values: held as never }, NOW, ro);
    expect(keys(fs2)).toEqual([
      ["error_budget:order_ack:data_invalid", "warn"],
      ["error_budget:order_ack:exhausted", "warn"],
    ]);
    expect(fs2[1]!.title).toBe("SLO order_ack: error budget spent (now unknown) — reduce-only");
  });
  it("garbage is named, never a crash: bad fields left out, an unreadable policy hash changes nothing", () => {
    const v = values(period(10));
    v[readName("order_ack", "m", 0)] = { ...v[readName("order_ack", "m", 0)], "x:g": "1" };
    const fs = errorBudget.evaluate({ values: v }, NOW, ro);
    expect(keys(fs)).toEqual([["error_budget:order_ack:data_invalid", "warn"]]);
    expect(fs[0]!.detail).toContain('slo:order_ack:m:0 x:g="1"');
  });
});

describe("metrics", () => {
  it("budget left as a ratio, burn rate per window, policy in force", () => {
    const c = cfg({}, { target: 99.5, policy: "extra_approver" });
    // 600 bad of 100,000 two days ago (budget 500: -20% left) and 10 bad of 1,000 now (2× in every short window).
    const v = values([
      { ago: 2 * 1440 + 1, good: 99_400, total: 100_000 },
      { ago: 0, good: 990, total: 1_000 },
    ]);
    const m = errorBudget.measure!({ values: v, probe: { at: NOW.getTime() } }, c);
    const get = (name: string, window?: string) =>
      m.find((x) => x.name === name && (window === undefined || x.labels?.window === window))?.value;
    // 610 bad of 101,000; budget 505 → left 1 − 610/505 = −0.2079…
    expect(get("tradeguard_error_budget_remaining_ratio")).toBeCloseTo(-105 / 505, 12);
    expect(get("tradeguard_error_budget_burn_rate", "5m")).toBe(2);
    expect(get("tradeguard_error_budget_burn_rate", "1h")).toBe(2);
    expect(get("tradeguard_error_budget_burn_rate", "3d")).toBeCloseTo(610 / 101_000 / 0.005, 12);
    expect(get("tradeguard_error_budget_policy_enforced")).toBe(1);
    expect(m.map((x) => x.labels?.window).filter(Boolean)).toEqual(["1h", "5m", "6h", "30m", "3d"]);
  });
});

describe("end to end through the runner and a real Redis", () => {
  type T = Awaited<ReturnType<typeof testRuntime>>;
  const opened: T[] = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!.cleanup();
  });

  it("writes from a trading process spend the budget: reduce_only set, published, audited; lifted when back", async () => {
    let clock = NOW;
    const t = await testRuntime({
      yaml: `guards:\n  error_budget:\n    slos:\n      - { name: fills, target: 99, period_days: 1, policy: reduce_only, strategies: [momo] }\n`,
      guards: [errorBudget],
      now: () => clock,
    });
    opened.push(t);
    const sub = t.rt.redis.duplicate();
    const published: string[] = [];
    sub.on("message", (_c, m) => published.push(m));
    await sub.subscribe(t.rt.keys.raw(MARKET_KEYS.flagsChannel));
    // 99% over 1 day: 1,000 events allow 10 bad. 10 bad (two batches) spends it.
    const at = NOW.getTime() - 3 * 3_600_000;
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 495, total: 500, atMs: at });
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 495, total: 500, atMs: at + 1 });
    const r = await t.rt.guards.runOnce({ guard: "error_budget" });
    expect(r.guards[0]!.state).toBe("warn");
    const ro = await t.rt.redis.hgetall(t.rt.keys.raw(MARKET_KEYS.strategyReduceOnly));
    expect(JSON.parse(ro.momo!)).toMatchObject({ source: "error_budget:fills", since: NOW.toISOString() });
    // 1,000 more good events: 10 bad of 2,000 leaves 50% — lifted.
    await recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good: 1_000, total: 1_000, atMs: at + 2 });
    clock = new Date(NOW.getTime() + 60_000);
    await t.rt.guards.runOnce({ guard: "error_budget" });
    expect(await t.rt.redis.hgetall(t.rt.keys.raw(MARKET_KEYS.strategyReduceOnly))).toEqual({});
    expect(await t.rt.redis.hgetall(t.rt.keys.raw(SLO_KEYS.exhausted))).toEqual({});
    const audit = (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map((e) => JSON.parse(e[1][1]!));
    const changes = audit.filter(
      (e) => e.action === "flag.changed" && e.details.key === MARKET_KEYS.strategyReduceOnly,
    );
    expect(changes.map((e) => [e.actor, e.details.op])).toEqual([
      ["guard:error_budget", "hset"],
      ["guard:error_budget", "hdel"],
    ]);
    await new Promise((r) => setTimeout(r, 50));
    expect(published).toEqual(["strategy:reduce_only", "strategy:reduce_only"]);
    sub.disconnect();
  });
});
