import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addDays,
  CLOSE_MINUTE,
  calendarDay,
  closuresFromHash,
  EARLY_CLOSE_MINUTE,
  easterSunday,
  isTradingDay,
  marketStatus,
  nextOpen,
  nextTradingDay,
  nyDate,
  OPEN_MINUTE,
  previousTradingDay,
  publishedCalendar,
  publishedYears,
  ruleEarlyCloses,
  ruleHolidays,
  tradingDaysEnding,
  weekday,
} from "../../packages/gate/src/market/calendar.js";

const sorted = (m: Map<string, string>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));

describe("NYSE calendar: the generating rule reproduces NYSE's published calendars", () => {
  it("ships the years NYSE Group has published (2025–2028)", () => {
    expect(publishedYears()).toEqual([2025, 2026, 2027, 2028]);
  });

  it.each([2025, 2026, 2027, 2028])(
    "NYSE Group holiday and early-closings announcement: the rule gives exactly the published %i dates and names",
    (year) => {
      const p = publishedCalendar(year)!;
      expect(sorted(ruleHolidays(year))).toEqual(sorted(p.holidays));
      expect(sorted(ruleEarlyCloses(year))).toEqual(sorted(p.earlyCloses));
    },
  );

  // Earlier years, from NYSE's announcements for those years (dates only; the JSON ships 2025 onwards).
  it.each([
    {
      year: 2021,
      source: "NYSE 2021 calendar: no Juneteenth yet; Christmas (Sat) observed Fri Dec 24; no early close on Jul 2",
      holidays: [
        "2021-01-01",
        "2021-01-18",
        "2021-02-15",
        "2021-04-02",
        "2021-05-31",
        "2021-07-05",
        "2021-09-06",
        "2021-11-25",
        "2021-12-24",
      ],
      early: ["2021-11-26"],
    },
    {
      year: 2022,
      source: "NYSE 2022 calendar: New Year's Day on a Saturday not observed; Juneteenth first observed Mon Jun 20",
      holidays: [
        "2022-01-17",
        "2022-02-21",
        "2022-04-15",
        "2022-05-30",
        "2022-06-20",
        "2022-07-04",
        "2022-09-05",
        "2022-11-24",
        "2022-12-26",
      ],
      early: ["2022-11-25"],
    },
    {
      year: 2023,
      source: "NYSE 2023 calendar: New Year's Day (Sun) observed Mon Jan 2; early close Mon Jul 3",
      holidays: [
        "2023-01-02",
        "2023-01-16",
        "2023-02-20",
        "2023-04-07",
        "2023-05-29",
        "2023-06-19",
        "2023-07-04",
        "2023-09-04",
        "2023-11-23",
        "2023-12-25",
      ],
      early: ["2023-07-03", "2023-11-24"],
    },
    {
      year: 2024,
      source: "NYSE 2024 calendar: early closes Jul 3, Nov 29, Dec 24",
      holidays: [
        "2024-01-01",
        "2024-01-15",
        "2024-02-19",
        "2024-03-29",
        "2024-05-27",
        "2024-06-19",
        "2024-07-04",
        "2024-09-02",
        "2024-11-28",
        "2024-12-25",
      ],
      early: ["2024-07-03", "2024-11-29", "2024-12-24"],
    },
  ])("$source", ({ year, holidays, early }) => {
    expect([...ruleHolidays(year).keys()].sort()).toEqual(holidays);
    expect([...ruleEarlyCloses(year).keys()].sort()).toEqual(early);
  });
});

describe("NYSE calendar: observed-date rules and exceptions (NYSE Rule 7.2)", () => {
  it.each([
    ["2021-12-31", true, "Rule 7.2: New Year's Day 2022 falls on a Saturday; the year-end exception keeps Dec 31 open"],
    ["2027-12-31", true, "NYSE 2028 calendar: 'no New Year's Day holiday is observed' for Sat Jan 1, 2028"],
    ["2027-06-18", false, "NYSE 2027 calendar: Juneteenth (Sat) observed Fri Jun 18"],
    ["2027-07-05", false, "NYSE 2027 calendar: Independence Day (Sun) observed Mon Jul 5"],
    ["2026-07-03", false, "NYSE 2026 calendar: Independence Day (Sat) observed Fri Jul 3"],
    ["2026-07-02", true, "NYSE 2026 calendar: no early close before an observed Friday Independence Day"],
    [
      "2021-06-18",
      true,
      "Nasdaq ETA2021-45: markets open Fri Jun 18, 2021 (Juneteenth on NYSE only from 2022, SR-NYSE-2021-56)",
    ],
    ["2022-06-20", false, "SR-NYSE-2021-56 / Nasdaq ETA2022-55: Juneteenth (Sun) observed Mon Jun 20, 2022"],
  ])("%s trading day = %s (%s)", (date, trading) => {
    expect(isTradingDay(date)).toBe(trading);
  });

  it.each([
    ["2025-01-09", "National Day of Mourning for President Jimmy Carter", "Nasdaq ETA2025-1"],
    ["2018-12-05", "National Day of Mourning for President George H. W. Bush", "Nasdaq ETA2018-98"],
    ["2012-10-29", "Hurricane Sandy", "Nasdaq ETA2012-44"],
    ["2012-10-30", "Hurricane Sandy", "Nasdaq ETA2012-45"],
    ["2007-01-02", "National Day of Mourning for President Gerald R. Ford", "NYSE closure 2007-01-02"],
  ])("one-off closure %s: %s (%s)", (date, reason) => {
    expect(calendarDay(date)).toMatchObject({
      session: "closed",
      reason,
      source: "one_off",
      opens: null,
      closes: null,
    });
  });

  it("2012-10-31 reopened after Sandy (Nasdaq ETA2012-45: 'open as normal on Wednesday, October 31st')", () => {
    expect(calendarDay("2012-10-31").session).toBe("regular");
  });

  it.each([
    [2008, "2008-03-23"],
    [2024, "2024-03-31"],
    [2025, "2025-04-20"],
    [2026, "2026-04-05"],
    [2027, "2027-03-28"],
    [2028, "2028-04-16"],
    [2038, "2038-04-25"],
    [2285, "2285-03-22"],
  ])("Gregorian Easter %i is %s (Good Friday = Easter − 2)", (year, date) => {
    expect(easterSunday(year)).toBe(date);
  });
});

describe("NYSE calendar: sessions at an instant (09:30–16:00 America/New_York; early close 13:00)", () => {
  it.each([
    ["2026-11-25T14:29:59.999Z", false, "regular", null, "one ms before the 09:30 EST open"],
    ["2026-11-25T14:30:00.000Z", true, "regular", null, "09:30 EST open is inclusive"],
    ["2026-11-25T20:59:59.999Z", true, "regular", null, "just before 16:00 EST"],
    ["2026-11-25T21:00:00.000Z", false, "regular", null, "16:00 close is exclusive"],
    ["2026-03-09T13:30:00.000Z", true, "regular", null, "first Monday of daylight saving time: 09:30 EDT = 13:30Z"],
    ["2026-03-06T13:30:00.000Z", false, "regular", null, "last Friday of standard time: 13:30Z is 08:30 EST"],
    [
      "2026-11-27T17:59:59.000Z",
      true,
      "early_close",
      "Day after Thanksgiving (early close 13:00 ET)",
      "before the 13:00 early close",
    ],
    [
      "2026-11-27T18:00:00.000Z",
      false,
      "early_close",
      "Day after Thanksgiving (early close 13:00 ET)",
      "13:00 early close",
    ],
    [
      "2026-12-24T15:00:00.000Z",
      true,
      "early_close",
      "Christmas Eve (early close 13:00 ET)",
      "Christmas Eve 2026 (Thu)",
    ],
    ["2026-11-26T15:00:00.000Z", false, "closed", "Thanksgiving Day", "Thanksgiving"],
    ["2026-11-28T15:00:00.000Z", false, "closed", "weekend", "Saturday"],
    [
      "2026-11-28T03:00:00.000Z",
      false,
      "early_close",
      "Day after Thanksgiving (early close 13:00 ET)",
      "22:00 ET Friday is still Friday in New York",
    ],
  ])("%s → open=%s, %s (%s)", (iso, open, session, reason, _why) => {
    const s = marketStatus(new Date(iso));
    expect(s).toMatchObject({ open, session, reason });
    if (session === "closed") expect([s.opens, s.closes]).toEqual([null, null]);
  });

  it("a run-time closure (market:closures) closes a regular day with its reason; weekends and holidays keep theirs", () => {
    const { closures, invalid } = closuresFromHash({
      "2026-12-01": "Exchange outage",
      "2026-11-28": "ignored: a Saturday",
      "2026-11-26": "ignored: Thanksgiving",
      "2026-13-01": "not a date",
      tomorrow: "not a date",
    });
    expect(invalid.sort()).toEqual(["2026-13-01", "tomorrow"]);
    expect(marketStatus(new Date("2026-12-01T15:00:00Z"), closures)).toMatchObject({
      open: false,
      session: "closed",
      reason: "Exchange outage",
    });
    expect(calendarDay("2026-12-01", closures).source).toBe("runtime");
    expect(calendarDay("2026-11-28", closures).reason).toBe("weekend");
    expect(calendarDay("2026-11-26", closures).reason).toBe("Thanksgiving Day");
    expect(nextTradingDay("2026-11-30", closures)).toBe("2026-12-02");
    expect(calendarDay("2026-12-01").session).toBe("regular");
  });

  it("trading-day arithmetic skips weekends and holidays (FINRA's five business days over Thanksgiving)", () => {
    expect(tradingDaysEnding("2026-11-30", 5)).toEqual([
      "2026-11-23",
      "2026-11-24",
      "2026-11-25",
      "2026-11-27",
      "2026-11-30",
    ]);
    expect(tradingDaysEnding("2026-11-28", 2)).toEqual(["2026-11-25", "2026-11-27"]);
    expect(previousTradingDay("2027-01-04")).toBe("2026-12-31");
    expect(nextOpen(new Date("2026-11-25T21:00:00Z")).toISOString()).toBe("2026-11-27T14:30:00.000Z");
  });
});

describe("NYSE calendar: invariants (property tests)", () => {
  const dateArb = fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2040, 11, 31) }).map((t) => new Date(t));
  const yearArb = fc.integer({ min: 1998, max: 2100 });

  it("open ⇒ inside that day's bounds; the bounds are 09:30 and 16:00 (or 13:00) New York time", () => {
    fc.assert(
      fc.property(dateArb, (at) => {
        const s = marketStatus(at);
        if (s.open) expect(s.opens!.getTime() <= at.getTime() && at.getTime() < s.closes!.getTime()).toBe(true);
        if (s.session === "closed") expect(s.open).toBe(false);
        else {
          const len = (s.closes!.getTime() - s.opens!.getTime()) / 60_000;
          expect(len).toBe((s.session === "early_close" ? EARLY_CLOSE_MINUTE : CLOSE_MINUTE) - OPEN_MINUTE);
          expect(nyDate(s.opens!)).toBe(s.date);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("weekends are always closed; observed holidays and early closes always fall on weekdays and never coincide", () => {
    fc.assert(
      fc.property(yearArb, (year) => {
        const h = ruleHolidays(year);
        const e = ruleEarlyCloses(year);
        for (const d of [...h.keys(), ...e.keys()]) expect([1, 2, 3, 4, 5]).toContain(weekday(d));
        for (const d of e.keys()) expect(h.has(d)).toBe(false);
        // 9 holidays (10 with Juneteenth from 2022), one fewer when New Year's Day is a Saturday.
        const expected = (year >= 2022 ? 10 : 9) - (weekday(`${year}-01-01`) === 6 ? 1 : 0);
        expect(h.size).toBe(expected);
        expect(e.size).toBeGreaterThanOrEqual(1);
        expect(e.size).toBeLessThanOrEqual(3);
      }),
    );
  });

  it("nextTradingDay / previousTradingDay: the neighbour is a trading day and nothing in between is", () => {
    const dayArb = fc.integer({ min: 0, max: 365 * 30 }).map((n) => addDays("2000-01-01", n));
    fc.assert(
      fc.property(dayArb, (d) => {
        const next = nextTradingDay(d);
        const prev = previousTradingDay(d);
        expect(isTradingDay(next) && isTradingDay(prev)).toBe(true);
        for (let x = addDays(d, 1); x < next; x = addDays(x, 1)) expect(isTradingDay(x)).toBe(false);
        for (let x = addDays(prev, 1); x < d; x = addDays(x, 1)) expect(isTradingDay(x)).toBe(false);
        expect(previousTradingDay(next) <= d || !isTradingDay(d)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("nextOpen(t) is at or after t, and the market is open right at it", () => {
    fc.assert(
      fc.property(dateArb, (at) => {
        const o = nextOpen(at);
        expect(o.getTime()).toBeGreaterThanOrEqual(at.getTime());
        expect(marketStatus(o).open).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
