// How a cost source's figures are read (the guard and the monthly report alike): the day, the month to date, the
// forecast (the writer's, else a run rate of complete days) — hand-computed — and every malformed field named.
import { afterEach, describe, expect, it } from "vitest";
import {
  addUtcDays,
  daysInMonth,
  formatMoney,
  formatPct,
  Money,
  type MonthView,
  monthTotal,
  monthView,
  nextMonthStart,
  previousMonth,
  readSourceFigures,
  type SourceFigures,
} from "../../src/cost/figures.js";
import { caught } from "../support/caught.js";
import { testRedis } from "../support/redis.js";

const NOW = new Date("2026-12-15T14:00:00.000Z");
const figures = (over: Partial<SourceFigures> = {}): SourceFigures => ({
  daily: {},
  monthly: {},
  forecast: {},
  updated: null,
  ...over,
});
/** 10.00 a day from the 1st to the 14th, 4.50 so far today. */
const december = () => {
  const daily: Record<string, string> = { "2026-12-15": "4.50", "2026-11-30": "99" };
  for (let d = 1; d <= 14; d++) daily[`2026-12-${String(d).padStart(2, "0")}`] = "10.00";
  return daily;
};
const view = (f: SourceFigures, now = NOW, forecastMinDays = 3) =>
  monthView("fees", f, now, { forecastMinDays }) as MonthView;

describe("monthView", () => {
  it("sums the month's days: 14 × 10.00 + 4.50 = 144.50, and runs 140 / 14 × 31 = 310.00 to the month's end", () => {
    const v = view(figures({ daily: december() }));
    expect(v.day.toFixed(2)).toBe("4.50");
    expect(v.yesterday.toFixed(2)).toBe("10.00");
    expect(v.mtd.toFixed(2)).toBe("144.50");
    expect(v.mtdFrom).toBe("days");
    expect(v.completeDays).toBe(14);
    expect(v.forecast?.toFixed(2)).toBe("310.00");
    expect(v.forecastFrom).toBe("run_rate");
    expect(Object.keys(v.days)).toHaveLength(15); // November's day is not this month's
  });

  it("prefers the writer's month total and forecast", () => {
    const v = view(figures({ daily: december(), monthly: { "2026-12": "150.25" }, forecast: { "2026-12": "401" } }));
    expect(v.mtd.toFixed(2)).toBe("150.25");
    expect(v.mtdFrom).toBe("monthly");
    expect(v.forecast?.toFixed(2)).toBe("401.00");
    expect(v.forecastFrom).toBe("writer");
  });

  it("has no run rate before forecast_min_days complete days, and never forecasts below the month to date", () => {
    const early = figures({ daily: { "2026-12-01": "5", "2026-12-02": "5", "2026-12-03": "100" } });
    expect(view(early, new Date("2026-12-03T10:00:00Z")).forecast).toBeNull();
    // 10 / 2 × 31 = 155, but 110 is spent already (today's 100 is not a complete day).
    expect(view(early, new Date("2026-12-03T10:00:00Z"), 2).forecast?.toFixed(2)).toBe("155.00");
    const spiky = figures({ daily: { "2026-12-01": "1", "2026-12-02": "1", "2026-12-03": "1", "2026-12-04": "500" } });
    expect(view(spiky, new Date("2026-12-04T10:00:00Z")).forecast?.toFixed(2)).toBe("503.00");
  });

  it("keeps decimals exact: 0.1 + 0.2 is 0.3, a third of 100 is carried to 40 digits", () => {
    const v = view(figures({ daily: { "2026-12-01": "0.1", "2026-12-02": "0.2" } }), new Date("2026-12-02T12:00:00Z"));
    expect(v.mtd.toString()).toBe("0.3");
    const r = view(
      figures({ daily: { "2026-12-01": "33", "2026-12-02": "33", "2026-12-03": "34" } }),
      new Date("2026-12-04T00:00:00Z"),
    );
    // 100 / 3 × 31 = 1033.333…
    expect(r.forecast?.toFixed(6)).toBe("1033.333333");
  });

  it("multiplies before it divides: a run rate that lands on a whole figure is that figure exactly", () => {
    const v = view(
      figures({ daily: { "2026-11-01": "33.33", "2026-11-02": "33.33", "2026-11-03": "33.34" } }),
      new Date("2026-11-04T00:00:00Z"),
    );
    // 100 / 3 × 30 = 1000 (dividing first gives 999.99…9 at 40 digits).
    expect(v.forecast?.toString()).toBe("1000");
    // Not a whole figure: rounded down at 40 digits, so the forecast never reads above the run rate.
    const r = view(
      figures({ daily: { "2026-12-01": "2", "2026-12-02": "0", "2026-12-03": "0" } }),
      new Date("2026-12-04T00:00:00Z"),
    );
    // 2 / 3 × 31 = 20.666…
    expect(r.forecast?.toString()).toBe(`20.${"6".repeat(38)}`);
  });

  it("reads yesterday across a month boundary (the 1st judges the last day of the month before)", () => {
    const v = view(figures({ daily: { "2026-12-31": "77", "2027-01-01": "3" } }), new Date("2027-01-01T08:00:00Z"));
    expect(v.yesterday.toFixed(0)).toBe("77");
    expect(v.mtd.toFixed(0)).toBe("3");
    expect(v.month).toBe("2027-01");
  });

  it("names the first malformed field: a bad date, a bad amount, an exponent, a bad month", () => {
    const bad = (f: Partial<SourceFigures>) => monthView("fees", figures(f), NOW, { forecastMinDays: 3 });
    expect(bad({ daily: { "2026-12-3": "1" } })).toEqual({
      invalid: "cost:daily:fees[2026-12-3]: not a YYYY-MM-DD date",
    });
    expect(bad({ daily: { "2026-02-30": "1" } })).toEqual({
      invalid: "cost:daily:fees[2026-02-30]: not a YYYY-MM-DD date",
    });
    expect(bad({ daily: { "2026-12-01": "12,5" } })).toEqual({
      invalid: 'cost:daily:fees[2026-12-01]: not a decimal amount ("12,5")',
    });
    expect(bad({ daily: { "2026-12-01": "1e3" } })).toEqual({
      invalid: 'cost:daily:fees[2026-12-01]: not a decimal amount ("1e3")',
    });
    expect(bad({ monthly: { "2026-13": "1" } })).toEqual({
      invalid: "cost:monthly:fees[2026-13]: not a YYYY-MM month",
    });
    expect(bad({ forecast: { "2026-12": "" } })).toEqual({
      invalid: 'cost:forecast:fees[2026-12]: not a decimal amount ("")',
    });
  });
});

describe("monthTotal (a month just ended, for the monthly report)", () => {
  it("sums the month's days, or takes the writer's total, with the forecast last made for it", () => {
    const daily = { "2026-11-01": "10.5", "2026-11-30": "4.5", "2026-12-01": "99" };
    const t = monthTotal("fees", figures({ daily }), "2026-11");
    expect("invalid" in t ? t : { total: t.total.toFixed(2), from: t.from, days: Object.keys(t.days) }).toEqual({
      total: "15.00",
      from: "days",
      days: ["2026-11-01", "2026-11-30"],
    });
    const w = monthTotal(
      "fees",
      figures({ daily, monthly: { "2026-11": "16" }, forecast: { "2026-11": "20" } }),
      "2026-11",
    );
    expect("invalid" in w ? w : [w.total.toFixed(0), w.from, w.forecast?.toFixed(0)]).toEqual(["16", "monthly", "20"]);
    expect(monthTotal("fees", figures({ daily: { x: "1" } }), "2026-11")).toEqual({
      invalid: "cost:daily:fees[x]: not a YYYY-MM-DD date",
    });
  });
});

describe("calendar and formatting helpers", () => {
  it("knows month lengths and boundaries (UTC)", () => {
    expect([daysInMonth("2026-02"), daysInMonth("2028-02"), daysInMonth("2026-12")]).toEqual([28, 29, 31]);
    expect(nextMonthStart("2026-12")).toBe("2027-01-01");
    expect(previousMonth("2027-01")).toBe("2026-12");
    expect(addUtcDays("2026-03-08", 1)).toBe("2026-03-09");
  });
  it("prints money and percentages for people", () => {
    expect(formatMoney(new Money("412.0749"), "USD")).toBe("412.07 USD");
    expect(formatPct(new Money("80"), new Money("100"))).toBe("80.0 %");
    expect(formatPct(new Money("1"), new Money("0"))).toBe("∞ %");
  });
});

describe("readSourceFigures", () => {
  let r: ReturnType<typeof testRedis> | undefined;
  afterEach(async () => {
    await r?.cleanup();
    r = undefined;
  });
  it("reads the four keys of a source in one round trip, and names a key of the wrong type", async () => {
    r = testRedis();
    const keyOf = (l: string) => `${r!.prefix}${l}`;
    await r.redis.hset(keyOf("cost:daily:fees"), "2026-12-15", "4.5");
    await r.redis.set(keyOf("cost:updated:fees"), "2026-12-15T06:00:00.000Z");
    expect(await readSourceFigures(r.redis, keyOf, "fees")).toEqual({
      daily: { "2026-12-15": "4.5" },
      monthly: {},
      forecast: {},
      updated: "2026-12-15T06:00:00.000Z",
    });
    await r.redis.set(keyOf("cost:monthly:fees"), "x");
    expect(String(await caught(readSourceFigures(r.redis, keyOf, "fees")))).toMatch(
      /^Error: cost:monthly:fees: WRONGTYPE/,
    );
  });
});
