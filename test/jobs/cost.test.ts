// The cost guard's judgement, pure, with injected clocks: each budget at, just below and just above 80 % and 100 %
// (daily, yesterday, monthly), the month-end forecast reaching the budget, staleness at its limit, malformed figures
// (bad decimal, wrong Redis type) as "data invalid" for that source only, and what a Cost Explorer refresh reports.
import { describe, expect, it } from "vitest";
import type { RefreshOutcome } from "../../src/cost/cache.js";
import type { CostConfig } from "../../src/cost/config.js";
import { Money } from "../../src/cost/figures.js";
import { type CostProbe, costGuard } from "../../src/jobs/cost.js";
import { budgetLevel } from "../../src/jobs/cost-judge.js";
import { type Finding, ReadFailure } from "../../src/jobs/guard.js";

const NOW = new Date("2026-12-15T14:00:00.000Z");
const FRESH = "2026-12-15T13:00:00.000Z";
const cfg = (over: Record<string, unknown> = {}) =>
  costGuard.config.parse({
    sources: { fees: { daily_budget: "100", monthly_budget: "1000" } },
    ...over,
  }) as CostConfig;

type V = Record<string, unknown>;
const source = (name: string, f: { daily?: V; monthly?: V; forecast?: V; updated?: unknown } = {}): V => ({
  [`${name}.daily`]: f.daily ?? {},
  [`${name}.monthly`]: f.monthly ?? {},
  [`${name}.forecast`]: f.forecast ?? {},
  [`${name}.updated`]: "updated" in f ? f.updated : FRESH,
});
const run = (values: V, c = cfg(), probe: Partial<CostProbe> = {}, now = NOW): Finding[] =>
  costGuard.evaluate({ values: values as never, probe: { at: now.getTime(), aws: null, ...probe } }, now, c);
const keys = (fs: Finding[]) => fs.map((f) => `${f.key}=${f.severity}`);

describe("cost config", () => {
  it("has the defaults: 80 % / 100 %, stale after 36 h, Cost Explorer paced at 4 refreshes and 12 requests a day", () => {
    expect(cfg()).toMatchObject({
      warn_pct: 80,
      critical_pct: 100,
      stale_after_hours: 36,
      forecast_min_days: 3,
      aws: {
        region: "us-east-1",
        refreshes_per_day: 4,
        max_requests_per_day: 12,
        retry_after_failure_minutes: 60,
        request_timeout_ms: 3000,
        max_attempts: 2,
      },
    });
    expect(cfg().sources.fees).toMatchObject({ kind: "redis", currency: "USD", forecast: true });
    expect(cfg({ sources: { v: { monthly_budget: 1999.5 } } }).sources.v!.monthly_budget).toBe("1999.5");
  });
  it("refuses budgets it cannot judge by and sources it cannot name", () => {
    const ok = (v: Record<string, unknown>) => costGuard.config.safeParse(v).success;
    expect(ok({ sources: { fees: {} } })).toBe(false);
    expect(ok({ sources: { fees: { daily_budget: "1,000" } } })).toBe(false);
    expect(ok({ sources: { fees: { daily_budget: "-5" } } })).toBe(false);
    expect(ok({ sources: { Fees: { daily_budget: "5" } } })).toBe(false);
    expect(ok({ sources: { a: { kind: "aws", daily_budget: "5" }, b: { kind: "aws", daily_budget: "5" } } })).toBe(
      false,
    );
    expect(ok({ warn_pct: 100, critical_pct: 100 })).toBe(false);
    expect(ok({ aws: { refreshes_per_day: 0 } })).toBe(false);
    expect(ok({ sources: { fees: { daily_budget: "5", currency: "usd" } } })).toBe(false);
  });
  it("is not configured until sources are declared", () => {
    expect(costGuard.requires?.hint).toMatch(/guards\.cost\.sources/);
  });
});

describe("daily budget (100.00): 80 % warns, 100 % is critical", () => {
  const today = (amount: string) => source("fees", { daily: { "2026-12-15": amount } });
  it.each([
    ["79.99", []],
    ["80", ["cost:fees:day:2026-12-15=warn"]],
    ["80.01", ["cost:fees:day:2026-12-15=warn"]],
    ["99.99", ["cost:fees:day:2026-12-15=warn"]],
    ["100.00", ["cost:fees:day:2026-12-15=critical"]],
    ["100.01", ["cost:fees:day:2026-12-15=critical"]],
  ])("%s spent today → %j", (amount, want) => {
    expect(keys(run(today(amount)))).toEqual(want);
  });
  it("says what was spent against what, for people", () => {
    const [f] = run(today("80.01"));
    expect(f).toMatchObject({
      guard: "cost",
      sop: "sop-cost",
      title: "Cost: fees at 80.0 % of its daily budget (2026-12-15)",
      value: "80.01 USD (80.0 %)",
      threshold: "80.00 USD (80 %)",
    });
  });
  it("keeps judging yesterday (figures arrive late), across a month boundary too", () => {
    expect(keys(run(source("fees", { daily: { "2026-12-14": "120" } })))).toEqual([
      "cost:fees:day:2026-12-14=critical",
    ]);
    const jan1 = new Date("2027-01-01T09:00:00Z");
    const fs = run(source("fees", { daily: { "2026-12-31": "85" }, updated: "2027-01-01T08:00:00Z" }), cfg(), {}, jan1);
    expect(keys(fs)).toEqual(["cost:fees:day:2026-12-31=warn"]);
  });
  it("uses configured levels", () => {
    const c = cfg({ warn_pct: 50, critical_pct: 90 });
    expect(keys(run(today("49.99"), c))).toEqual([]);
    expect(keys(run(today("50"), c))).toEqual(["cost:fees:day:2026-12-15=warn"]);
    expect(keys(run(today("90"), c))).toEqual(["cost:fees:day:2026-12-15=critical"]);
  });
});

describe("monthly budget (1000.00) and the month-end forecast", () => {
  const month = (mtd: string, forecast?: string) =>
    source("fees", { monthly: { "2026-12": mtd }, forecast: forecast ? { "2026-12": forecast } : {} });
  it.each([
    ["799.99", []],
    ["800", ["cost:fees:month:2026-12=warn"]],
    ["800.01", ["cost:fees:month:2026-12=warn"]],
    ["999.99", ["cost:fees:month:2026-12=warn"]],
    ["1000", ["cost:fees:month:2026-12=critical"]],
    ["1000.01", ["cost:fees:month:2026-12=critical"]],
  ])("%s spent this month → %j", (mtd, want) => {
    expect(keys(run(month(mtd)))).toEqual(want);
  });
  it("warns when the forecast reaches the budget (at 1000.00, not at 999.99)", () => {
    expect(keys(run(month("500", "999.99")))).toEqual([]);
    expect(keys(run(month("500", "1000")))).toEqual(["cost:fees:forecast:2026-12=warn"]);
    expect(keys(run(month("500", "1000.01")))).toEqual(["cost:fees:forecast:2026-12=warn"]);
  });
  it("does not repeat the forecast once the budget is spent, and honours forecast: false", () => {
    expect(keys(run(month("1000", "1400")))).toEqual(["cost:fees:month:2026-12=critical"]);
    const off = cfg({ sources: { fees: { monthly_budget: "1000", forecast: false } } });
    expect(keys(run(month("500", "1400"), off))).toEqual([]);
  });
  it("warns on a run rate landing exactly on the budget: 100 over 3 days of a 30-day month is 1000, not 999.99…", () => {
    const now = new Date("2026-11-04T12:00:00.000Z");
    const c = cfg({ sources: { fees: { monthly_budget: "1000" } } });
    const rate = (d3: string) =>
      source("fees", {
        daily: { "2026-11-01": "33.33", "2026-11-02": "33.33", "2026-11-03": d3 },
        updated: now.toISOString(),
      });
    expect(keys(run(rate("33.34"), c, {}, now))).toEqual(["cost:fees:forecast:2026-11=warn"]);
    expect(keys(run(rate("33.339"), c, {}, now))).toEqual([]); // 999.99 is below
  });
  it("forecasts an exporter's run rate from complete days: 14 × 40.00 → 40 × 31 = 1240.00", () => {
    const daily: V = {};
    for (let d = 1; d <= 14; d++) daily[`2026-12-${String(d).padStart(2, "0")}`] = "40.00";
    const fs = run(source("fees", { daily }), cfg({ sources: { fees: { monthly_budget: "1000" } } }));
    expect(fs).toEqual([
      expect.objectContaining({
        key: "cost:fees:forecast:2026-12",
        value: "1240.00 USD (124.0 %)",
        detail: expect.stringContaining("run rate of 14 complete days"),
      }),
    ]);
  });
  it("judges a zero budget as 'nothing may be spent'", () => {
    expect(budgetLevel(new Money("0.01"), new Money(0), cfg())).toBe("critical");
    expect(budgetLevel(new Money(0), new Money(0), cfg())).toBeNull();
  });
});

describe("stale and malformed figures", () => {
  const aged = (ms: number) => source("fees", { updated: new Date(NOW.getTime() - ms).toISOString() });
  it("is stale past stale_after_hours (36 h), not at it", () => {
    expect(keys(run(aged(36 * 3_600_000)))).toEqual([]);
    expect(keys(run(aged(36 * 3_600_000 + 1_000)))).toEqual(["cost:fees:stale=warn"]);
    expect(keys(run(source("fees", { updated: null })))).toEqual(["cost:fees:stale=warn"]);
    const never = cfg({ sources: { fees: { daily_budget: "100", stale_after_hours: null } } });
    expect(keys(run(aged(1_000 * 3_600_000), never))).toEqual([]);
  });
  it("turns a bad decimal, a bad field or a wrong Redis type into data invalid for that source only", () => {
    const c = cfg({ sources: { fees: { daily_budget: "100" }, vendor: { daily_budget: "10" } } });
    const vendorOver = source("vendor", { daily: { "2026-12-15": "12" } });
    const bad = run({ ...source("fees", { daily: { "2026-12-15": "8O.00" } }), ...vendorOver }, c);
    expect(keys(bad)).toEqual(["cost:fees:data_invalid=warn", "cost:vendor:day:2026-12-15=critical"]);
    expect(bad[0]!.detail).toContain('cost:daily:fees[2026-12-15]: not a decimal amount ("8O.00")');
    const wrongType = {
      ...source("fees"),
      "fees.daily": new ReadFailure("cost:daily:fees", "wrong type (string)"),
      ...vendorOver,
    };
    const fs = run(wrongType, c);
    expect(keys(fs)).toEqual(["cost:fees:data_invalid=warn", "cost:vendor:day:2026-12-15=critical"]);
    expect(fs[0]!.detail).toContain("cost:daily:fees: wrong type (string)");
    expect(keys(run(source("fees", { updated: "yesterday" }), c).slice(0, 1))).toEqual(["cost:fees:data_invalid=warn"]);
  });
});

describe("a Cost Explorer source", () => {
  const c = cfg({ sources: { aws: { kind: "aws", daily_budget: "50", monthly_budget: "1000" } } });
  const probe = (outcome: RefreshOutcome | { status: "unbound" }): Partial<CostProbe> => ({
    aws: { source: "aws", outcome },
  });
  it("judges the refresh's fresh figures over what Redis held before the tick", () => {
    const stale = source("aws", { daily: { "2026-12-15": "1" } });
    const figures = { daily: { "2026-12-15": "45" }, monthly: {}, forecast: {}, updated: NOW.toISOString() };
    const fs = run(stale, c, probe({ status: "refreshed", figures, requestsToday: 3, estimated: true }));
    expect(keys(fs)).toEqual(["cost:aws:day:2026-12-15=warn"]);
  });
  it("judges the cached figures between refreshes, silently", () => {
    const held = source("aws", { daily: { "2026-12-15": "45" } });
    expect(keys(run(held, c, probe({ status: "cached", last: null, requestsToday: 3 })))).toEqual([
      "cost:aws:day:2026-12-15=warn",
    ]);
  });
  it("reports a failed refresh and still judges the last good figures", () => {
    const held = source("aws", { daily: { "2026-12-15": "60" } });
    const fs = run(
      held,
      c,
      probe({ status: "failed", error: "Cost Explorer GetCostAndUsage: AccessDeniedException", requestsToday: 3 }),
    );
    expect(keys(fs)).toEqual(["cost:aws:refresh_failed=warn", "cost:aws:day:2026-12-15=critical"]);
    expect(fs[0]).toMatchObject({ sop: "sop-cost-data", detail: expect.stringContaining("AccessDeniedException") });
  });
  it("says so when no client is wired (the registry's entry), and when its cache is unreadable", () => {
    expect(keys(run(source("aws"), c, probe({ status: "unbound" })))).toEqual(["cost:aws:unbound=warn"]);
    const noted = probe({
      status: "capped",
      last: null,
      requestsToday: 0,
      note: "cost:requests:aws:2026-12-15 is not a request count",
    });
    expect(keys(run(source("aws"), c, noted))).toEqual(["cost:aws:cache_invalid=warn"]);
  });
});

describe("gauges", () => {
  it("export today's spend, the month to date and the forecast per source", () => {
    const values = source("fees", {
      daily: { "2026-12-15": "12.345" },
      monthly: { "2026-12": "300" },
      forecast: { "2026-12": "900" },
    });
    expect(costGuard.measure!({ values: values as never, probe: { at: NOW.getTime(), aws: null } }, cfg())).toEqual([
      { name: "tradeguard_cost_day", labels: { source: "fees" }, value: 12.345 },
      { name: "tradeguard_cost_month_to_date", labels: { source: "fees" }, value: 300 },
      { name: "tradeguard_cost_forecast", labels: { source: "fees" }, value: 900 },
    ]);
  });
});
