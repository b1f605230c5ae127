import { describe, expect, it } from "vitest";
import {
  callDeadline,
  dayTradeWindow,
  INTRADAY_RECORD_MAX_AGE_MS,
  intradayMaxQty,
  meetsPatternDayTrader,
  PDT_RECORD_MAX_AGE_MS,
  type PdtAccount,
  pdtAccountSchema,
  pdtStatus,
  pdtUpdatedAtMs,
  restrictionUntil,
} from "../../packages/gate/src/market/pdt.js";

const acct = (v: Record<string, unknown>): PdtAccount => pdtAccountSchema.parse(v);
/** Spread `dayTrades` and `trades` over the five business days ending 2026-11-30 (Thanksgiving excluded). */
const week = (dayTrades: number, trades: number) => {
  const days = ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"];
  const a: Record<string, { day_trades: number; trades: number }> = {};
  days.forEach((d, i) => {
    a[d] = {
      day_trades: i === 4 ? dayTrades - Math.floor(dayTrades / 5) * 4 : Math.floor(dayTrades / 5),
      trades: i === 4 ? trades - Math.floor(trades / 5) * 4 : Math.floor(trades / 5),
    };
  });
  return a;
};

describe("FINRA Rule 4210(f)(8)(B)(ii): four or more day trades in five business days, more than 6% of trades", () => {
  it.each([
    [4, 50, true, "4 of 50 = 8% > 6%"],
    [4, 66, true, "4 of 66 = 6.06% > 6%"],
    [4, 67, false, "4 of 67 = 5.97% is not more than 6%"],
    [6, 100, false, "6 of 100 = exactly 6% is not 'more than six percent'"],
    [7, 100, true, "7 of 100 = 7%"],
    [3, 4, false, "three day trades are fewer than four whatever the share"],
    [0, 0, false, "no trades"],
  ])("%i day trades of %i trades → %s (%s)", (dt, t, pdt) => {
    expect(meetsPatternDayTrader(dt, t)).toBe(pdt);
  });

  it("the window is five NYSE trading days: Thanksgiving and the weekend do not count, older days drop out", () => {
    const w = dayTradeWindow(
      { "2026-11-20": { day_trades: 9, trades: 9 }, "2026-11-26": { day_trades: 9, trades: 9 }, ...week(4, 40) },
      "2026-11-30",
    );
    expect(w.days).toEqual(["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"]);
    expect([w.dayTrades, w.trades]).toEqual([4, 40]);
  });
});

describe("FINRA Rule 4210(f)(8)(B)(iv): $25,000 minimum equity and the day-trading call", () => {
  it.each([
    {
      equity: "24999.99",
      activity: week(4, 40),
      code: "pdt_min_equity",
      src: "(iv)(a): a pattern day trader below $25,000 may not day trade",
    },
    { equity: "25000", activity: week(4, 40), code: null, src: "(iv)(a): exactly $25,000 meets the minimum" },
    {
      equity: "10000",
      activity: week(3, 20),
      code: "pdt_would_designate",
      src: "(ii): three day trades below $25,000 — the next round trip designates (desk policy)",
    },
    { equity: "30000", activity: week(3, 20), code: null, src: "three day trades with $30,000 equity: allowed" },
    { equity: "10000", activity: week(1, 20), code: null, src: "one day trade: not close to the designation" },
  ])("$src", ({ equity, activity, code }) => {
    const st = pdtStatus(acct({ equity, activity }), "2026-11-30", "pdt_4210");
    expect(st.blocked?.code ?? null).toBe(code);
  });

  it("a firm designation persists outside the window (designated: true)", () => {
    expect(pdtStatus(acct({ equity: "20000", designated: true }), "2026-11-30", "pdt_4210").blocked?.code).toBe(
      "pdt_min_equity",
    );
  });

  it("(iv)(c): an unmet call is due on the fifth business day; after it, 90 days of cash-available trading", () => {
    expect(callDeadline("2026-11-02")).toBe("2026-11-09");
    expect(callDeadline("2026-11-23")).toBe("2026-12-01"); // Thanksgiving is not a business day
    const a = acct({ equity: "30000", day_trading_call: { amount: "5000", issued: "2026-11-02" } });
    expect(restrictionUntil(a, "2026-11-09")).toBeNull();
    expect(restrictionUntil(a, "2026-11-10")).toBe("2027-02-07");
    expect(restrictionUntil(a, "2027-02-08")).toBeNull();
    expect(pdtStatus(a, "2026-11-10", "pdt_4210").blocked?.code).toBe("pdt_restricted");
    const met = acct({ equity: "30000", day_trading_call: { amount: "5000", issued: "2026-11-02", met: true } });
    expect(restrictionUntil(met, "2026-11-10")).toBeNull();
  });
});

describe("SR-FINRA-2025-017: the intraday margin regime replaces the count and the $25,000 minimum", () => {
  it("no day-trade count or $25,000 minimum; opening orders limited to the intraday buying power left", () => {
    const a = acct({
      equity: "5000",
      activity: week(10, 20),
      intraday_buying_power: "100000",
      intraday_exposure: "95000",
    });
    const st = pdtStatus(a, "2026-11-30", "intraday_margin");
    expect(st.blocked).toBeNull();
    expect(st.intradayHeadroom?.toFixed()).toBe("5000");
    expect(intradayMaxQty(st, 100)).toBe(50);
    expect(intradayMaxQty(st, "33.33")).toBe(150);
    // The same account under 4210(f)(8)(B) is a pattern day trader below $25,000.
    expect(pdtStatus(a, "2026-11-30", "pdt_4210").blocked?.code).toBe("pdt_min_equity");
  });

  it("an intraday margin deficit (or no buying power reported) blocks opening orders", () => {
    expect(
      pdtStatus(
        acct({ equity: "1", intraday_buying_power: "1000", intraday_exposure: "1000" }),
        "2026-11-30",
        "intraday_margin",
      ).blocked?.code,
    ).toBe("intraday_margin");
    expect(pdtStatus(acct({ equity: "1" }), "2026-11-30", "intraday_margin").blocked?.code).toBe("intraday_margin");
  });

  it("an account record can carry its own regime (its broker switched on another date during the phase-in)", () => {
    const a = acct({
      regime: "intraday_margin",
      equity: "5000",
      activity: week(10, 20),
      intraday_buying_power: "1000",
    });
    expect(pdtStatus(a, "2026-11-30", "pdt_4210").regime).toBe("intraday_margin");
    expect(pdtStatus(a, "2026-11-30", "pdt_4210").blocked).toBeNull();
  });

  it("the record format is validated (a bad equity is rejected, not read as zero)", () => {
    expect(pdtAccountSchema.safeParse({ equity: "lots" }).success).toBe(false);
    expect(
      pdtAccountSchema.safeParse({ equity: 25000, activity: { "2026-02-30": { day_trades: 1, trades: 1 } } }).success,
    ).toBe(false);
  });
});

describe("the record's age (updated_at)", () => {
  it("parses updated_at to epoch ms; absent or not a time is null (unknown age)", () => {
    expect(pdtUpdatedAtMs(acct({ equity: "1", updated_at: "2026-11-25T16:00:00Z" }))).toBe(
      Date.parse("2026-11-25T16:00:00Z"),
    );
    expect(pdtUpdatedAtMs(acct({ equity: "1" }))).toBeNull();
    expect(pdtUpdatedAtMs(acct({ equity: "1", updated_at: "yesterday" }))).toBeNull();
  });

  it("defaults: 24 h for the 4210(f)(8)(B) count, 15 min for intraday buying power", () => {
    expect(PDT_RECORD_MAX_AGE_MS).toBe(86_400_000);
    expect(INTRADAY_RECORD_MAX_AGE_MS).toBe(900_000);
  });
});
