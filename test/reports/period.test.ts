// Report periods in New York time: local midnights, DST-safe, the last complete one by default, --since validated.
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { inPeriod, lastPeriod, periodSince } from "../../src/reports/period.js";

describe("report periods", () => {
  it("weekly: the seven New York days that ended at the latest Monday 00:00", () => {
    const p = lastPeriod("weekly", new Date("2026-12-07T12:00:00Z")); // Monday 07:00 EST
    expect(p).toEqual({
      kind: "weekly",
      from: "2026-11-30T05:00:00.000Z",
      to: "2026-12-07T05:00:00.000Z",
      startDate: "2026-11-30",
      endDate: "2026-12-06",
      label: "week of 2026-11-30 (2026-W49)",
      id: "weekly-2026-11-30",
      zone: "America/New_York",
      partial: false,
    });
    // Sunday 23:59 New York still belongs to the week of 2026-11-30: the last complete week is the one before.
    expect(lastPeriod("weekly", new Date("2026-12-07T04:59:00Z")).startDate).toBe("2026-11-23");
  });

  it("a week across the end of DST has 169 hours; a month across it starts at EDT and ends at EST", () => {
    const p = periodSince("weekly", "2026-10-26", new Date("2027-01-01T00:00:00Z"));
    expect([p.from, p.to]).toEqual(["2026-10-26T04:00:00.000Z", "2026-11-02T05:00:00.000Z"]);
    expect((Date.parse(p.to) - Date.parse(p.from)) / 3_600_000).toBe(169);
    const m = lastPeriod("monthly", new Date("2026-12-01T12:00:00Z"));
    expect([m.from, m.to, m.id, m.label, m.endDate]).toEqual([
      "2026-11-01T04:00:00.000Z",
      "2026-12-01T05:00:00.000Z",
      "monthly-2026-11",
      "November 2026",
      "2026-11-30",
    ]);
  });

  it("--since: a period still running is cut at now and marked partial", () => {
    const now = new Date("2026-12-03T17:00:00Z");
    const p = periodSince("weekly", "2026-11-30", now);
    expect([p.from, p.to, p.partial]).toEqual(["2026-11-30T05:00:00.000Z", "2026-12-03T17:00:00.000Z", true]);
    expect(inPeriod(p, "2026-12-03T16:59:59.999Z")).toBe(true);
    expect(inPeriod(p, "2026-12-03T17:00:00.000Z")).toBe(false);
    expect(inPeriod(p, "not a time")).toBe(false);
  });

  it("--since refuses what is not a date, a future day, and a month that does not start on the 1st", () => {
    const now = new Date("2026-12-03T17:00:00Z");
    expect(() => periodSince("weekly", "2026-13-01", now)).toThrow(UsageError);
    expect(() => periodSince("weekly", "30/11/2026", now)).toThrow(/not a calendar date/);
    expect(() => periodSince("weekly", "2026-12-04", now)).toThrow(/has not started yet/);
    expect(() => periodSince("monthly", "2026-11-15", now)).toThrow(/starts on the 1st/);
  });
});
