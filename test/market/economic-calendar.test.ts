import { DateTime } from "luxon";
import { describe, expect, it } from "vitest";
import calendarFile from "../../src/market/data/economic-events-2026-2027.json" with { type: "json" };
import {
  activeWindows,
  type CalendarEvent,
  type EventWindows,
  newYorkLabel,
  newYorkToEpochMs,
  nextWindowStart,
  parseEarningsFile,
  parseEarningsTime,
  parseEarningsZset,
  shippedEvents,
} from "../../src/market/economic-calendar.js";

const at = (iso: string) => Date.parse(iso);

describe("shipped calendar (src/market/data/economic-events-2026-2027.json)", () => {
  const events = calendarFile.events;
  it("validates and resolves every entry", () => {
    expect(shippedEvents()).toHaveLength(events.length);
    expect(shippedEvents().every((e) => Number.isFinite(e.at))).toBe(true);
  });
  it("has the eight FOMC decisions of 2026 and 2027, Wednesdays at 14:00 ET", () => {
    const fomc = events.filter((e) => e.kind === "FOMC");
    expect(fomc.map((e) => e.date)).toEqual([
      "2026-01-28",
      "2026-03-18",
      "2026-04-29",
      "2026-06-17",
      "2026-07-29",
      "2026-09-16",
      "2026-10-28",
      "2026-12-09",
      "2027-01-27",
      "2027-03-17",
      "2027-04-28",
      "2027-06-09",
      "2027-07-28",
      "2027-09-15",
      "2027-10-27",
      "2027-12-08",
    ]);
    for (const e of fomc) {
      expect(e.time).toBe("14:00");
      expect(DateTime.fromISO(e.date, { zone: "America/New_York" }).weekday).toBe(3);
    }
  });
  it("has twelve CPI releases per year at 08:30 ET on weekdays; the 2027 ones are marked unconfirmed", () => {
    const cpi = events.filter((e) => e.kind === "CPI");
    for (const year of ["2026", "2027"]) {
      const y = cpi.filter((e) => e.date.startsWith(year));
      expect(y).toHaveLength(12);
      expect(new Set(y.map((e) => e.date.slice(5, 7))).size).toBe(12);
      expect(y.every((e) => e.confirmed === (year === "2026"))).toBe(true);
    }
    for (const e of cpi) {
      expect(e.time).toBe("08:30");
      expect(DateTime.fromISO(e.date).weekday).toBeLessThanOrEqual(5);
    }
    expect(calendarFile.sources["CPI 2027"]).toMatch(/ESTIMATES/);
  });
  it("is sorted and has no duplicates", () => {
    const keys = events.map((e) => `${e.date}T${e.time} ${e.kind}`);
    expect([...keys].sort()).toEqual(keys);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("New York time (luxon, DST-correct)", () => {
  it("converts across both 2026 DST changes", () => {
    expect(newYorkToEpochMs("2026-01-28", "14:00")).toBe(at("2026-01-28T19:00:00Z")); // EST
    expect(newYorkToEpochMs("2026-03-18", "14:00")).toBe(at("2026-03-18T18:00:00Z")); // EDT since Mar 8
    expect(newYorkToEpochMs("2026-10-14", "08:30")).toBe(at("2026-10-14T12:30:00Z")); // EDT
    expect(newYorkToEpochMs("2026-11-10", "08:30")).toBe(at("2026-11-10T13:30:00Z")); // EST since Nov 1
    expect(newYorkLabel(at("2026-03-18T18:00:00Z"))).toBe("2026-03-18 14:00 ET");
  });
  it("refuses a wall time that does not exist (spring-forward gap)", () => {
    expect(newYorkToEpochMs("2026-03-08", "02:30")).toBeNaN();
  });
  it("reads earnings times as New York wall time unless they carry an offset", () => {
    expect(parseEarningsTime("2027-01-28T16:30")).toBe(at("2027-01-28T21:30:00Z"));
    expect(parseEarningsTime("2027-07-28T16:30")).toBe(at("2027-07-28T20:30:00Z"));
    expect(parseEarningsTime("2027-01-28T21:30:00Z")).toBe(at("2027-01-28T21:30:00Z"));
    expect(parseEarningsTime("2027-01-28T16:30:00-05:00")).toBe(at("2027-01-28T21:30:00Z"));
    expect(parseEarningsTime("next tuesday")).toBeNaN();
  });
});

describe("earnings parsing", () => {
  it("parses the YAML earnings file, skipping bad entries", () => {
    const f = parseEarningsFile(
      "earnings:\n  - symbol: AAPL\n    name: Apple Q1 FY27\n    at: '2027-01-28T16:30'\n  - symbol: BAD\n    at: someday\n",
    );
    expect(f.events).toHaveLength(1);
    expect(f.events[0]).toMatchObject({ kind: "earnings", at: at("2027-01-28T21:30:00Z") });
    expect(f.invalid).toEqual(['BAD: at "someday" is not a date-time']);
    expect(parseEarningsFile("earnings: 7").invalid).toHaveLength(1);
    expect(parseEarningsFile("").events).toEqual([]);
  });
  it("parses sorted-set members (score = epoch ms), skipping bad members and scores", () => {
    const t = at("2027-02-02T21:30:00Z");
    const z = parseEarningsZset([
      [JSON.stringify({ symbol: "GOOGL", name: "Alphabet Q4 2026" }), t],
      ["not json", t],
      [JSON.stringify({ symbol: "X" }), Number.NaN],
      [JSON.stringify({ symbol: "Y" }), -5],
    ]);
    expect(z.events).toEqual([
      {
        kind: "earnings",
        at: t,
        label: "earnings GOOGL (Alphabet Q4 2026) 2027-02-02 16:30 ET",
        title: "GOOGL earnings",
        confirmed: true,
      },
    ]);
    expect(z.invalid).toEqual([
      "not json (score 1801603800000)",
      '{"symbol":"X"} (score NaN)',
      '{"symbol":"Y"} (score -5)',
    ]);
  });
});

describe("event windows", () => {
  const ev = (kind: CalendarEvent["kind"], atMs: number): CalendarEvent => ({
    kind,
    at: atMs,
    label: `${kind} ${atMs}`,
    title: kind,
    confirmed: true,
  });
  const windows: EventWindows = {
    FOMC: { before: 15 * 60_000, after: 30 * 60_000 },
    CPI: { before: 5 * 60_000, after: 10 * 60_000 },
    earnings: { before: 0, after: 60_000 },
  };
  const T = at("2026-12-09T19:00:00.000Z");
  const events = [ev("CPI", T + 25 * 60_000), ev("FOMC", T)];

  it("opens at start (inclusive), closes at end (exclusive), per kind, sorted by event time", () => {
    expect(activeWindows(events, T - 15 * 60_000 - 1, windows)).toEqual([]);
    expect(activeWindows(events, T - 15 * 60_000, windows)).toEqual([
      { event: events[1], start: T - 15 * 60_000, end: T + 30 * 60_000 },
    ]);
    expect(activeWindows(events, T + 20 * 60_000, windows).map((w) => w.event.kind)).toEqual(["FOMC", "CPI"]);
    expect(activeWindows(events, T + 30 * 60_000, windows).map((w) => w.event.kind)).toEqual(["CPI"]);
    expect(activeWindows(events, T + 30 * 60_000 - 1, windows).map((w) => w.event.kind)).toEqual(["FOMC", "CPI"]);
  });
  it("finds the start of the next window strictly after now, or null", () => {
    expect(nextWindowStart(events, T - 60 * 60_000, windows)).toBe(T - 15 * 60_000);
    expect(nextWindowStart(events, T - 15 * 60_000, windows)).toBe(T + 20 * 60_000);
    expect(nextWindowStart(events, T + 20 * 60_000, windows)).toBeNull();
  });
});
