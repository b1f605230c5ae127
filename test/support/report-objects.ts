// Report objects with data in every section (the numbers of the fixture week and month of test/reports/weekly and
// monthly), for the chart, Markdown and publishing tests that do not need Redis.
import { type MonthlyReport, ok, type WeeklyReport } from "../../src/reports/model.js";
import { lastPeriod } from "../../src/reports/period.js";

const MIN = 60_000;

/** A weekly report with every section filled. */
export function fixtureWeekly(): WeeklyReport {
  const period = lastPeriod("weekly", new Date("2026-12-07T12:00:00Z"));
  const item = (openedAt: string, guard: string, severity: "warn" | "critical", ttaMs: number | null) => ({
    field: `${guard}/${guard}:x`,
    guard,
    severity,
    title: `${guard} alert`,
    openedAt,
    ackedAt: ttaMs === null ? null : openedAt,
    ackedBy: ttaMs === null ? null : "U1",
    ttaMs,
    resolvedAt: null,
  });
  const items = [
    item("2026-12-01T14:00:00.000Z", "policy_watchdog", "warn", 4 * MIN),
    item("2026-12-02T09:00:00.000Z", "time_sync", "critical", 90_000),
    item("2026-12-03T10:00:00.000Z", "policy_watchdog", "warn", 38 * MIN),
    item("2026-12-04T16:00:00.000Z", "api_quota", "warn", null),
  ];
  return {
    kind: "weekly",
    title: "Weekly health report, fixture",
    period,
    generatedAt: "2026-12-07T12:00:00.000Z",
    problems: [],
    sections: {
      guards: ok({
        rows: [
          { guard: "time_sync", warn: 0, critical: 1, escalated: 0 },
          { guard: "policy_watchdog", warn: 2, critical: 0, escalated: 1 },
          { guard: "api_quota", warn: 1, critical: 0, escalated: 0 },
        ],
        warn: 3,
        critical: 1,
        escalated: 1,
      }),
      alerts: ok({
        opened: 4,
        acknowledged: 3,
        unacknowledged: 1,
        resolved: 3,
        tta: { samples: 3, p50Ms: 4 * MIN, p90Ms: 38 * MIN, maxMs: 38 * MIN },
        items,
      }),
      halts: ok({
        haltedMsInPeriod: 58_320_000,
        halts: [
          {
            panicId: "p1",
            haltedAt: "2026-12-02T15:00:00.000Z",
            actor: "U3",
            reason: "runaway orders",
            status: "HALT-PARTIAL",
            flatMs: 30_000,
            resumeRequestId: "c1",
            resumedAt: "2026-12-02T16:12:00.000Z",
            haltedMs: 72 * MIN,
            activeAt: "2026-12-02T16:17:00.000Z",
            soakMs: 5 * MIN,
            ongoing: false,
            startedBefore: false,
          },
          {
            panicId: "p2",
            haltedAt: "2026-12-06T23:00:00.000Z",
            actor: "U3",
            reason: "exchange outage",
            status: "HALT-VERIFIED",
            flatMs: 2_000,
            resumeRequestId: null,
            resumedAt: null,
            haltedMs: 6 * 60 * MIN,
            activeAt: null,
            soakMs: null,
            ongoing: true,
            startedBefore: false,
          },
        ],
      }),
      recon: ok({
        runs: [
          { date: "2026-12-01", broker: "alpaca", ok: true, mismatches: 0, errors: 0, at: "2026-12-01T22:30:00.000Z" },
          { date: "2026-12-02", broker: "alpaca", ok: false, mismatches: 2, errors: 0, at: "2026-12-02T22:30:00.000Z" },
          { date: "2026-12-03", broker: "alpaca", ok: false, mismatches: 0, errors: 1, at: "2026-12-03T22:30:00.000Z" },
        ],
        ok: 1,
        mismatched: 1,
        couldNotReconcile: 1,
      }),
      keys: ok({
        asOf: "2026-12-07T12:00:00.000Z",
        maxAgeDays: 7,
        brokers: [
          { broker: "alpaca-live", keyId: "PK1", ageDays: 9, due: true, pending: null, previous: null },
          { broker: "binance", keyId: "BK7", ageDays: 2, due: false, pending: null, previous: null },
        ],
      }),
      errorBudget: ok({
        rows: [
          {
            slo: "order_ack",
            target: "99.9",
            periodDays: 30,
            good: "9980",
            total: "10000",
            burnRate: "2.00",
            leftPct: "40.0%",
            spent: false,
            state: "ok" as const,
          },
          {
            slo: "fills_booked",
            target: "99",
            periodDays: 30,
            good: "995",
            total: "1000",
            burnRate: "0.50",
            leftPct: "90.0%",
            spent: false,
            state: "ok" as const,
          },
        ],
      }),
    },
  };
}

/** A monthly report with every section filled. */
export function fixtureMonthly(): MonthlyReport {
  const period = lastPeriod("monthly", new Date("2026-12-01T12:00:00Z"));
  return {
    kind: "monthly",
    title: "Monthly cost and strategy-risk report, fixture",
    period,
    generatedAt: "2026-12-01T12:00:00.000Z",
    problems: [],
    sections: {
      costs: ok({
        month: "2026-11",
        rows: [
          {
            source: "exchange",
            currency: "USD",
            spent: "155.35",
            monthlyBudget: "1000.00",
            pctOfBudget: "15.54",
            forecast: "155.35",
            forecastFrom: "run_rate" as const,
            dailyBudget: "50.00",
            daysOverDailyBudget: 2,
          },
          {
            source: "vendor",
            currency: "USD",
            spent: "210.50",
            monthlyBudget: "200.00",
            pctOfBudget: "105.25",
            forecast: "215.00",
            forecastFrom: "writer" as const,
            dailyBudget: null,
            daysOverDailyBudget: null,
          },
        ],
        totals: [{ currency: "USD", spent: "365.85" }],
      }),
      pnl: ok({
        net: "48.00",
        rows: [
          { strategy: "meanrev", realized: "-50.00", fees: "1.00", net: "-51.00", fills: 2 },
          { strategy: "momo", realized: "100.00", fees: "1.00", net: "99.00", fills: 1 },
        ],
      }),
      slippage: ok({
        rows: [
          {
            strategy: "momo",
            fills: 3,
            meanBps: "7.67",
            weightedBps: "7.67",
            adverse: 2,
            favourable: 1,
            minBps: "-2.00",
            maxBps: "20.00",
            cost: "2.30",
          },
        ],
        buckets: ["[-inf, -100)", "[-2, -1)", "[0, 1)", "[5, 10)", "[20, 50)", "[100, +inf)"],
        histogram: [
          { label: "[-2, -1)", strategy: "momo", fills: 1 },
          { label: "[5, 10)", strategy: "momo", fills: 4 },
          { label: "[20, 50)", strategy: "momo", fills: 2 },
        ],
      }),
      caps: ok({
        total: 4,
        rows: [
          { strategy: "momo", rule: "max_weight", count: 2 },
          { strategy: "meanrev", rule: "policy_floor", count: 2 },
        ],
      }),
    },
  };
}
