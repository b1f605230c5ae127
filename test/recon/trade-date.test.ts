import fc from "fast-check";
import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import { isCalendarDate, parseExecutionTime, tradeDate, tradeDateOfMs } from "../../src/recon/trade-date.js";

describe("tradeDate", () => {
  it("dates an after-hours fill across midnight UTC to the New York day (00:30 UTC on the 2nd is the 1st)", () => {
    expect(tradeDate("2026-12-02T00:30:00Z")).toBe("2026-12-01");
    expect(tradeDate("2026-12-02T04:59:59.999Z")).toBe("2026-12-01");
    expect(tradeDate("2026-12-02T05:00:00Z")).toBe("2026-12-02");
    // Summer (EDT, UTC−4): midnight is at 04:00 UTC.
    expect(tradeDate("2026-07-02T03:59:59Z")).toBe("2026-07-01");
    expect(tradeDate("2026-07-02T04:00:00Z")).toBe("2026-07-02");
  });

  it("spring forward (2026-03-08, 02:00 EST → 03:00 EDT at 07:00 UTC): the day starts at 05:00 UTC, ends at 04:00", () => {
    expect(tradeDate("2026-03-08T04:59:59Z")).toBe("2026-03-07");
    expect(tradeDate("2026-03-08T05:00:00Z")).toBe("2026-03-08");
    expect(tradeDate("2026-03-08T06:59:59Z")).toBe("2026-03-08"); // 01:59:59 EST
    expect(tradeDate("2026-03-08T07:00:00Z")).toBe("2026-03-08"); // 03:00:00 EDT
    expect(tradeDate("2026-03-09T03:59:59Z")).toBe("2026-03-08");
    expect(tradeDate("2026-03-09T04:00:00Z")).toBe("2026-03-09");
  });

  it("fall back (2026-11-01, 02:00 EDT → 01:00 EST at 06:00 UTC): the day starts at 04:00 UTC, ends at 05:00", () => {
    expect(tradeDate("2026-11-01T03:59:59Z")).toBe("2026-10-31");
    expect(tradeDate("2026-11-01T04:00:00Z")).toBe("2026-11-01");
    expect(tradeDate("2026-11-01T05:30:00Z")).toBe("2026-11-01"); // 01:30 EDT
    expect(tradeDate("2026-11-01T06:30:00Z")).toBe("2026-11-01"); // 01:30 EST, the repeated hour
    expect(tradeDate("2026-11-02T04:59:59Z")).toBe("2026-11-01");
    expect(tradeDate("2026-11-02T05:00:00Z")).toBe("2026-11-02");
  });

  it("honours explicit offsets in every ISO-8601 form", () => {
    expect(tradeDate("2026-12-01T19:30:00-05:00")).toBe("2026-12-01");
    expect(tradeDate("2026-12-02T01:30:00+01:00")).toBe("2026-12-01"); // 00:30 UTC
    expect(tradeDate("2026-12-02T01:30:00+0100")).toBe("2026-12-01");
    expect(tradeDate("2026-12-02T01:30+01")).toBe("2026-12-01");
    expect(tradeDate("2026-12-02T10:00:00.123456789z")).toBe("2026-12-02");
  });

  it("refuses times without an offset, impossible dates and garbage", () => {
    for (const bad of [
      "",
      "abc",
      "2026-12-01",
      "2026-12-01T10:00:00",
      "2026-12-01 10:00:00Z",
      "2026-02-30T10:00:00Z",
      "2025-02-29T10:00:00Z",
      "2026-13-01T10:00:00Z",
      "2026-12-01T24:00:00Z",
      "2026-12-01T10:60:00Z",
      "2026-12-01T10:00:60Z",
      "2026-12-01T10:00:00+25:00",
      "2026-12-01T10:00:00Z trailing",
      "1733097600000",
    ]) {
      expect(tradeDate(bad), bad).toBeNull();
    }
    expect(tradeDate("2028-02-29T10:00:00Z")).toBe("2028-02-29");
  });

  it("parses epoch ms exactly as Date does for well-formed UTC times, truncating below the millisecond", () => {
    expect(parseExecutionTime("2026-12-01T14:30:00.123Z")).toBe(Date.parse("2026-12-01T14:30:00.123Z"));
    expect(parseExecutionTime("2026-12-01T14:30:00.123999Z")).toBe(Date.parse("2026-12-01T14:30:00.123Z"));
    expect(parseExecutionTime("2026-12-01T09:30:00-05:00")).toBe(Date.parse("2026-12-01T14:30:00Z"));
    expect(parseExecutionTime("0099-01-01T00:00:00Z")).toBe(Date.parse("0099-01-01T00:00:00Z"));
  });

  it("agrees with luxon for any instant 1950–2100 (the per-hour cache never changes an answer)", () => {
    const lo = Date.parse("1950-01-01T00:00:00Z");
    const hi = Date.parse("2100-01-01T00:00:00Z");
    fc.assert(
      fc.property(fc.integer({ min: lo, max: hi }), (ms) => {
        const want = DateTime.fromMillis(ms, { zone: "America/New_York" }).toISODate();
        expect(tradeDate(new Date(ms).toISOString())).toBe(want);
        expect(tradeDateOfMs(ms)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });

  it("stays right before 1883, when New York kept local mean time", () => {
    // LMT −4:56:02: 04:56:01 UTC is still the previous day, 04:56:03 is the next.
    expect(tradeDate("1850-06-02T04:56:01Z")).toBe("1850-06-01");
    expect(tradeDate("1850-06-02T04:56:03Z")).toBe("1850-06-02");
  });
});

describe("isCalendarDate", () => {
  it("accepts real YYYY-MM-DD dates only", () => {
    expect(isCalendarDate("2026-12-01")).toBe(true);
    expect(isCalendarDate("2028-02-29")).toBe(true);
    expect(isCalendarDate("2026-02-29")).toBe(false);
    expect(isCalendarDate("2026-12-1")).toBe(false);
    expect(isCalendarDate("2026-12-01T00:00:00Z")).toBe(false);
  });
});
