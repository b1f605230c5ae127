import { describe, expect, it } from "vitest";
import {
  BUCKET_MS,
  countSince,
  HOUR_MS,
  parseLimit,
  summarizeExchange,
  sumWindow,
} from "../../packages/gate/src/ratelimit/usage.js";

const NOW = Date.parse("2026-11-25T15:07:30.000Z");
const cur = Math.floor(NOW / BUCKET_MS);

describe("sumWindow (15 one-minute buckets)", () => {
  it("counts the current bucket and the 14 before it, plus one ahead for clock lag", () => {
    const hash = {
      [cur - 15]: "1000",
      [cur - 14]: "1",
      [cur - 1]: "10",
      [cur]: "100",
      [cur + 1]: "5000",
      [cur + 2]: "70000",
    };
    expect(sumWindow(hash, NOW)).toEqual({ total: 5111, invalid: [] });
  });
  it("reports unreadable fields and still sums the rest", () => {
    const r = sumWindow({ [cur]: "3", junk: "1", [cur - 1]: "-2", [cur - 2]: "1.5", [cur - 3]: "" }, NOW);
    expect(r.total).toBe(3);
    expect(r.invalid.sort()).toEqual([`${cur - 1}="-2"`, `${cur - 2}="1.5"`, `${cur - 3}=""`, 'junk="1"'].sort());
  });
});

describe("countSince (one hour)", () => {
  it("excludes exactly one hour ago, includes just after", () => {
    expect(
      countSince(
        [
          ["a", NOW - HOUR_MS],
          ["b", NOW - HOUR_MS + 1],
          ["c", NOW],
          ["d", NOW + 60_000],
          ["e", NOW + 60_001],
        ],
        NOW,
      ),
    ).toEqual({ count: 3, invalid: 0 });
  });
  it("counts non-numeric scores as invalid", () => {
    expect(
      countSince(
        [
          ["a", Number.NaN],
          ["b", "x"],
          ["c", NOW],
        ],
        NOW,
      ),
    ).toEqual({ count: 1, invalid: 2 });
  });
});

describe("summarizeExchange", () => {
  it("prefers a configured limit and computes the ratio", () => {
    const raw = {
      used: { [cur]: "450" },
      limit: "1000",
      throttled: { [cur]: "2" },
      ws: [["x", NOW - 1000]] as [string, unknown][],
    };
    expect(summarizeExchange("binance", raw, NOW).usage).toEqual({
      exchange: "binance",
      used: 450,
      limit: 1000,
      pct: 0.45,
      window: "15m",
      throttled429: 2,
      wsReconnectsLastHour: 1,
    });
    expect(summarizeExchange("binance", raw, NOW, 500).usage.pct).toBe(0.9);
  });
  it.each(["0", "-5", "1.5", "lots", ""])("treats limit %j as invalid and unknown", (limit) => {
    const r = summarizeExchange("bybit", { used: {}, limit, throttled: {}, ws: [] }, NOW);
    expect(r.usage).toMatchObject({ limit: null, pct: null });
    expect(r.invalid).toEqual([`quota:bybit:limit = ${JSON.stringify(limit)}`]);
  });
  it("parses limits", () => {
    expect(parseLimit(null)).toBeNull();
    expect(parseLimit("18000")).toBe(18000);
    expect(parseLimit("1e4")).toBe("invalid");
  });
});
