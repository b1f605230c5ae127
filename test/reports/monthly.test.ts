// The monthly cost and strategy-risk report on a fixture month (November 2026, New York) written into the real test
// Redis in the formats the cost guard's exporters, the slippage guard, the trading processes (ledger:fills) and the
// alert pipeline write; every number worked out by hand in the comments.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../src/config.js";
import { allGuards } from "../../src/jobs/registry.js";
import { parseFixed } from "../../src/recon/fixed.js";
import { addFill, emptyDay, fillSlippage, formatSlippageDay } from "../../src/recon/ledger-slippage.js";
import { REPORT_SECTIONS } from "../../src/reports/config.js";
import { gatherMonthly } from "../../src/reports/monthly.js";
import { lastPeriod } from "../../src/reports/period.js";
import type { ReportSources } from "../../src/reports/sources.js";
import { COST_KEYS, SLIPPAGE_KEYS } from "../../src/state/keys.js";
import { testRedis } from "../support/redis.js";
import { writeAlerts } from "../support/report-fixtures.js";

const NOW = new Date("2026-12-01T12:00:00.000Z"); // the 1st, 07:00 New York

let t: ReturnType<typeof testRedis>;
beforeEach(() => {
  t = testRedis();
});
afterEach(() => t.cleanup());

const YAML = `guards:
  cost:
    sources:
      exchange: { monthly_budget: "1000", daily_budget: "50" }
      vendor: { monthly_budget: "200" }
      empty: { monthly_budget: "10" }
      broken: { daily_budget: "5" }
`;

function config(yaml = YAML): Config {
  const home = mkdtempSync(join(tmpdir(), "tg-report-"));
  writeFileSync(join(home, "config.yml"), yaml);
  return loadConfig(
    { TRADEGUARD_HOME: home, REDIS_URL: t.url, REDIS_PREFIX: t.prefix, TRADEGUARD_CONFIG: join(home, "config.yml") },
    allGuards,
    REPORT_SECTIONS,
  );
}

const sources = (c: Config): ReportSources => ({
  redis: t.redis,
  keys: t.keys,
  config: c,
  now: () => NOW,
  keyAges: async () => [],
});

const k = (logical: string) => t.keys.raw(logical);
const fx = (s: string) => parseFixed(s) as bigint;

async function writeCosts() {
  await t.redis.hset(k(COST_KEYS.daily("exchange")), {
    "2026-10-31": "999", // October: not this month
    "2026-11-02": "40.10",
    "2026-11-03": "55.25", // over the daily budget of 50
    "2026-11-30": "60.00", // over
    "2026-12-01": "5", // December: not this month
  });
  await t.redis.hset(k(COST_KEYS.monthly("vendor")), { "2026-11": "210.5" });
  await t.redis.hset(k(COST_KEYS.forecast("vendor")), { "2026-11": "215.00" });
  await t.redis.hset(k(COST_KEYS.daily("broken")), { "2026-11-05": "abc" });
}

async function writeSlippage() {
  const day = (fills: { side: "buy" | "sell"; qty: string; price: string; expected: string }[]) => {
    const d = emptyDay();
    for (const f of fills)
      addFill(d, fillSlippage({ side: f.side, qty: fx(f.qty), price: fx(f.price) }, fx(f.expected)), "1-0", "x");
    return formatSlippageDay(d);
  };
  // momo 11-03: buy 10 @ 100.05 vs 100 → +5 bps (cost 0.50); sell 10 @ 100.02 vs 100 → −2 bps (cost −0.20).
  // momo 11-04: buy 20 @ 50.10 vs 50 → +20 bps (cost 2.00). meanrev 11-04: sell 5 @ 199.80 vs 200 → +10 bps (1.00).
  const aggregates: [string, string, Record<string, string>][] = [
    [
      "2026-11-03",
      "momo",
      day([
        { side: "buy", qty: "10", price: "100.05", expected: "100" },
        { side: "sell", qty: "10", price: "100.02", expected: "100" },
      ]),
    ],
    ["2026-11-04", "momo", day([{ side: "buy", qty: "20", price: "50.10", expected: "50" }])],
    ["2026-11-04", "meanrev", day([{ side: "sell", qty: "5", price: "199.80", expected: "200" }])],
    ["2026-11-05", "bad", { fills: "x", sum_bps: "0", min_bps: "0", max_bps: "0" }],
    ["2026-12-01", "momo", day([{ side: "buy", qty: "1", price: "2", expected: "1" }])], // December: not counted
  ];
  for (const [date, strategy, hash] of aggregates) {
    await t.redis.hset(k(SLIPPAGE_KEYS.daily(date, strategy)), hash);
    await t.redis.sadd(k(SLIPPAGE_KEYS.strategies(date)), strategy);
  }
}

async function writeLedger() {
  const fill = (
    ts: string,
    id: string,
    strategy: string | null,
    side: string,
    symbol: string,
    qty: string,
    price: string,
    fee: string,
  ) => {
    const fields = ["fill_id", id, "order_id", `O-${id}`, "broker", "alpaca", "symbol", symbol, "side", side];
    fields.push("qty", qty, "price", price, "fee", fee, "ts", ts);
    if (strategy) fields.push("strategy", strategy, "expected_price", price);
    return t.redis.xadd(k("ledger:fills"), `${Date.parse(ts)}-0`, ...fields);
  };
  await fill("2026-10-30T15:00:00.000Z", "F1", "momo", "buy", "AAPL", "10", "100", "1"); // opening lot
  await fill("2026-11-03T15:00:00.000Z", "F2", "momo", "sell", "AAPL", "10", "110", "1"); // +100.00, fee 1
  await fill("2026-11-04T15:00:00.000Z", "F3", "meanrev", "buy", "MSFT", "5", "200", "0.5");
  await fill("2026-11-05T15:00:00.000Z", "F4", "meanrev", "sell", "MSFT", "5", "190", "0.5"); // −50.00, fees 1.00
  await fill("2026-11-06T15:00:00.000Z", "F5", null, "buy", "TSLA", "1", "300", "0"); // untagged, opens a lot
  await t.redis.xadd(k("ledger:fills"), `${Date.parse("2026-11-07T15:00:00Z")}-0`, "fill_id", "F6", "qty", "abc");
  await fill("2026-12-02T15:00:00.000Z", "F7", "momo", "buy", "AAPL", "1", "1", "9"); // December
}

async function writeCaps() {
  const e = (at: string, key: string) => ({
    type: "opened" as const,
    at,
    stream: "strategy_caps",
    guard: "strategy_caps",
    key,
    severity: "critical" as const,
    title: key,
  });
  await writeAlerts(t.redis, t.keys, [
    e("2026-10-20T15:00:00.000Z", "strategy_caps:weight:momo:max_weight"), // October
    e("2026-11-02T15:00:00.000Z", "strategy_caps:weight:momo:max_weight"),
    e("2026-11-09T15:00:00.000Z", "strategy_caps:weight:momo:max_weight"),
    e("2026-11-10T15:00:00.000Z", "strategy_caps:weight:meanrev:policy_floor"),
    e("2026-11-11T15:00:00.000Z", "strategy_caps:weights_total"),
    e("2026-11-12T15:00:00.000Z", "strategy_caps:weights_stale"), // data quality, not a cap
  ]);
}

describe("monthly report", () => {
  it("costs, P&L, slippage and caps of the fixture month, exactly as worked out by hand", async () => {
    await Promise.all([writeCosts(), writeSlippage(), writeLedger(), writeCaps()]);
    const period = lastPeriod("monthly", NOW);
    // 2026-11-01 00:00 New York is still EDT (DST ends at 02:00 that day): 04:00Z; December 1st is EST: 05:00Z.
    expect(period).toMatchObject({
      from: "2026-11-01T04:00:00.000Z",
      to: "2026-12-01T05:00:00.000Z",
      label: "November 2026",
    });
    const r = await gatherMonthly(sources(config()), period);
    const s = r.sections;

    // exchange: 40.10 + 55.25 + 60.00 = 155.35 of 1000 = 15.535 % → 15.54 (half-even); 2 days over 50; the run rate
    // (95.35 over 29 complete days × 30 = 98.64) is below what was spent, so the forecast is the 155.35 spent.
    // vendor: the writer's month total 210.50 of 200 = 105.25 %, its forecast 215.00. Total 365.85 USD.
    expect(s.costs).toEqual({
      status: "ok",
      notes: ["Cost months are UTC (2026-11); the whole month.", "empty: no figures for 2026-11"],
      data: {
        month: "2026-11",
        rows: [
          {
            source: "exchange",
            currency: "USD",
            spent: "155.35",
            monthlyBudget: "1000.00",
            pctOfBudget: "15.54",
            forecast: "155.35",
            forecastFrom: "run_rate",
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
            forecastFrom: "writer",
            dailyBudget: null,
            daysOverDailyBudget: null,
          },
        ],
        totals: [{ currency: "USD", spent: "365.85" }],
      },
    });

    // meanrev: (190 − 200) × 5 = −50.00, fees 1.00 → −51.00; momo: (110 − 100) × 10 = 100.00 on the October lot,
    // fee 1.00 → 99.00; untagged: one opening buy, no fee. Net 48.00.
    expect(s.pnl).toMatchObject({
      status: "ok",
      data: {
        net: "48.00",
        rows: [
          { strategy: "meanrev", realized: "-50.00", fees: "1.00", net: "-51.00", fills: 2 },
          { strategy: "momo", realized: "100.00", fees: "1.00", net: "99.00", fills: 1 },
          { strategy: "(untagged)", realized: "0.00", fees: "0.00", net: "0.00", fills: 1 },
        ],
      },
    });

    // momo: 5 − 2 + 20 = 23 bps over 3 fills → 7.67; weighted 2.30 / 3000 × 10 000 = 7.67; meanrev 10 bps.
    expect(s.slippage).toEqual({
      status: "ok",
      notes: [],
      data: {
        rows: [
          {
            strategy: "meanrev",
            fills: 1,
            meanBps: "10.00",
            weightedBps: "10.00",
            adverse: 1,
            favourable: 0,
            minBps: "10.00",
            maxBps: "10.00",
            cost: "1.00",
          },
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
        buckets: expect.arrayContaining(["[-inf, -100)", "[0, 1)", "[100, +inf)"]),
        histogram: [
          { label: "[10, 20)", strategy: "meanrev", fills: 1 },
          { label: "[-2, -1)", strategy: "momo", fills: 1 },
          { label: "[5, 10)", strategy: "momo", fills: 1 },
          { label: "[20, 50)", strategy: "momo", fills: 1 },
        ],
      },
    });

    expect(s.caps).toMatchObject({
      status: "ok",
      data: {
        total: 4,
        rows: [
          { strategy: "momo", rule: "max_weight", count: 2 },
          { strategy: "(all)", rule: "max_total_weight", count: 1 },
          { strategy: "meanrev", rule: "policy_floor", count: 1 },
        ],
      },
    });

    expect(r.problems).toEqual([
      'cost source broken: cost:daily:broken[2026-11-05]: not a decimal amount ("abc")',
      "ledger:fills: 1 entry could not be booked (run `tradeguard recon` for the reasons)",
      'slippage:daily:2026-11-05:bad: fills: not a count ("x")',
    ]);
  });

  it("a month with nothing recorded says 'no data' per section, never zeros", async () => {
    const r = await gatherMonthly(sources(config("{}\n")), lastPeriod("monthly", NOW));
    expect(r.sections.costs).toEqual({
      status: "no_data",
      reason: "no cost source is configured (guards.cost.sources)",
    });
    expect(r.sections.pnl).toEqual({ status: "no_data", reason: "no fill in ledger:fills in the period" });
    expect(r.sections.slippage).toMatchObject({ status: "no_data" });
    expect(r.sections.caps).toEqual({
      status: "no_data",
      reason: "no allocator weight broke a strategy bound in the period",
    });
    expect(r.problems).toEqual([]);
  });
});
