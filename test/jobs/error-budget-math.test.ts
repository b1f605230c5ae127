// Error-budget arithmetic against hand-computed cases: burn rate = error ratio / (1 − target), "burns faster" strictly
// above the factor and exact (no float neighbours), budget left over day buckets, window edges, garbage fields.
import { describe, expect, it } from "vitest";
import {
  budgetEvents,
  budgetLeftPct,
  burnRate,
  burnsFaster,
  leftAbove,
  parseBuckets,
  parseWindow,
  periodCounts,
  showBurn,
  showLeft,
  showWindow,
  sloKeys,
  sloWriteTarget,
  windowCounts,
} from "../../src/jobs/error-budget-math.js";

const c = (good: number, total: number) => ({ good: BigInt(good), total: BigInt(total) });
const NOW = Date.parse("2026-11-25T15:00:30Z");
const MIN = Math.floor(NOW / 60_000);

describe("burn rate (SRE workbook: error ratio / error budget)", () => {
  it("99.9% target: 144 bad of 10,000 is exactly 14.4× — not faster than 14.4×; 145 is, 143 is not", () => {
    // 144 / 10000 = 1.44 % = 14.4 × 0.1 %. In binary floats 0.0144 / 0.001 is 14.399999999999999.
    expect(burnRate(c(10_000 - 144, 10_000), 99.9)!.toString()).toBe("14.4");
    expect(burnsFaster(c(10_000 - 144, 10_000), 99.9, 14.4)).toBe(false);
    expect(burnsFaster(c(10_000 - 145, 10_000), 99.9, 14.4)).toBe(true);
    expect(burnsFaster(c(10_000 - 143, 10_000), 99.9, 14.4)).toBe(false);
  });
  it("99.5% target: 3 bad of 100 is 6× exactly (0.03 / 0.005); 1 bad of 200 is 1×", () => {
    expect(burnRate(c(97, 100), 99.5)!.toString()).toBe("6");
    expect(burnsFaster(c(97, 100), 99.5, 6)).toBe(false);
    expect(burnsFaster(c(1_000_000 - 30_001, 1_000_000), 99.5, 6)).toBe(true);
    expect(burnRate(c(199, 200), 99.5)!.toString()).toBe("1");
    expect(burnsFaster(c(199, 200), 99.5, 1)).toBe(false);
  });
  it("no events: no burn rate, never faster", () => {
    expect(burnRate(c(0, 0), 99.9)).toBeNull();
    expect(burnsFaster(c(0, 0), 99.9, 0.001)).toBe(false);
    expect(showBurn(null)).toBe("—");
    expect(showBurn(burnRate(c(10_000 - 152, 10_000), 99.9))).toBe("15.20×");
  });
});

describe("budget left over the period", () => {
  it("99.5% of 100,000 events allows 500 bad: 250 bad leaves 50%, 500 leaves 0%, 600 is overspent by 20%", () => {
    expect(budgetEvents(c(0, 100_000), 99.5).toString()).toBe("500");
    expect(budgetLeftPct(c(100_000 - 250, 100_000), 99.5)!.toString()).toBe("50");
    expect(budgetLeftPct(c(100_000 - 500, 100_000), 99.5)!.toString()).toBe("0");
    expect(showLeft(budgetLeftPct(c(100_000 - 600, 100_000), 99.5))).toBe("-20.0%");
  });
  it("is strictly above a share or not: 475 bad leaves exactly 5% (not above 5), 474 leaves 5.2%", () => {
    expect(leftAbove(c(100_000 - 475, 100_000), 99.5, 5)).toBe(false);
    expect(leftAbove(c(100_000 - 474, 100_000), 99.5, 5)).toBe(true);
    expect(leftAbove(c(100_000 - 476, 100_000), 99.5, 5)).toBe(false);
    expect(leftAbove(c(100_000 - 500, 100_000), 99.5, 0)).toBe(false);
    expect(leftAbove(c(100_000 - 499, 100_000), 99.5, 0)).toBe(true);
    expect(leftAbove(c(0, 0), 99.5, 0)).toBe(false);
  });
  it("rounds the shown share down, never up", () => {
    // 1 bad of 3,000 at 99.9 %: 1 - 1/3 = 66.666…% → "66.6%".
    expect(showLeft(budgetLeftPct(c(2_999, 3_000), 99.9))).toBe("66.6%");
  });
});

describe("windows and periods over the rings", () => {
  it("a window is its N most recent minutes, the current one included", () => {
    const { buckets } = parseBuckets([
      {
        key: "m",
        fields: {
          [`${MIN}:g`]: "9",
          [`${MIN}:t`]: "10",
          [`${MIN - 4}:g`]: "0",
          [`${MIN - 4}:t`]: "5",
          [`${MIN - 5}:g`]: "0",
          [`${MIN - 5}:t`]: "100",
          [`${MIN + 1}:g`]: "0",
          [`${MIN + 1}:t`]: "7",
        },
      },
    ]);
    expect(windowCounts(buckets, NOW, 5)).toEqual(c(9, 15));
    expect(windowCounts(buckets, NOW, 6)).toEqual(c(9, 115));
    expect(windowCounts(buckets, NOW, 1)).toEqual(c(9, 10));
  });
  it("a period is its N most recent UTC days, today included", () => {
    const today = Math.floor(NOW / 86_400_000);
    const { buckets } = parseBuckets([
      {
        key: "d",
        fields: { [`${today}:g`]: "1", [`${today}:t`]: "1", [`${today - 29}:g`]: "2", [`${today - 29}:t`]: "3" },
      },
      { key: "d2", fields: { [`${today - 30}:g`]: "0", [`${today - 30}:t`]: "1000" } },
    ]);
    expect(periodCounts(buckets, NOW, 30)).toEqual(c(3, 4));
    expect(periodCounts(buckets, NOW, 31)).toEqual(c(3, 1004));
  });
  it("garbage fields are named and left out; so are buckets missing a half or with good > total", () => {
    const r = parseBuckets([
      {
        key: "slo:x:m:0",
        fields: {
          "5:g": "1",
          "5:t": "2",
          "6:g": "3",
          "7:g": "5",
          "7:t": "4",
          "8:t": "-1",
          nonsense: "1",
          "9:g": "1.5",
        },
      },
    ]);
    expect([...r.buckets]).toEqual([[5, c(1, 2)]]);
    expect(r.invalid.sort()).toEqual(
      [
        'slo:x:m:0 8:t="-1"',
        'slo:x:m:0 nonsense="1"',
        'slo:x:m:0 9:g="1.5"',
        "slo:x:m:0 6: t missing",
        "slo:x:m:0 7: good 5 > total 4",
      ].sort(),
    );
  });
});

describe("key layout (the writer's recipe)", () => {
  it("minute slot = epoch day mod 5, day block = floor(epoch day / 32) mod 3; fields carry the absolute bucket", () => {
    const at = Date.parse("2026-11-25T15:00:30Z");
    const day = Math.floor(at / 86_400_000); // 20782 (2026-11-25)
    expect(sloWriteTarget("order_ack", at)).toEqual({
      minuteKey: "slo:order_ack:m:2", // 20782 mod 5
      dayKey: "slo:order_ack:d:1", // floor(20782 / 32) = 649, mod 3
      minute: Math.floor(at / 60_000),
      day,
    });
    expect(day).toBe(20782);
    expect(sloKeys("x")).toEqual({
      minutes: ["slo:x:m:0", "slo:x:m:1", "slo:x:m:2", "slo:x:m:3", "slo:x:m:4"],
      days: ["slo:x:d:0", "slo:x:d:1", "slo:x:d:2"],
    });
  });
  it("window lengths: 5m, 30m, 1h, 6h, 3d", () => {
    expect(["5m", "30m", "1h", "6h", "3d", "90m"].map(parseWindow)).toEqual([5, 30, 60, 360, 4320, 90]);
    expect(["0m", "1w", "", "5"].map(parseWindow)).toEqual([null, null, null, null]);
    expect([5, 30, 60, 360, 4320, 90].map(showWindow)).toEqual(["5m", "30m", "1h", "6h", "3d", "90m"]);
  });
});
