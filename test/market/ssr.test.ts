import { describe, expect, it } from "vitest";
import {
  applySsrTrigger,
  shortSalePriceAllowed,
  ssrActive,
  ssrCanTrigger,
  ssrTriggered,
  ssrTriggerPrice,
  ssrUntil,
} from "../../src/market/ssr.js";

const et = (s: string) => new Date(`${s}-05:00`);

describe("Reg SHO Rule 201(b)(1)(i): the 10% circuit breaker", () => {
  it.each([
    ["10.00", "9.00", true, "exactly 10% below the prior close triggers ('10% or more')"],
    ["10.00", "9.01", false, "9.9% below does not"],
    ["10.00", "8.99", true, "more than 10% below triggers"],
    ["33.33", "29.997", true, "trigger price is 90% of the close exactly: 29.997"],
    ["33.33", "29.99", true, "below the exact 29.997"],
    ["33.33", "30.00", false, "above 29.997"],
    ["0.10", "0.09", true, "sub-dollar: 0.09 is 10% below 0.10"],
  ])("prior close %s, price %s → %s (%s)", (prev, price, triggered) => {
    expect(ssrTriggered(prev, price)).toBe(triggered);
  });

  it("the trigger price is computed in decimal, not binary floating point", () => {
    expect(ssrTriggerPrice("33.33").toFixed()).toBe("29.997");
    expect(ssrTriggerPrice("0.3").toFixed()).toBe("0.27");
  });

  it("only a regular session can trigger it here (the listing market's indicator covers the rest)", () => {
    expect(ssrCanTrigger(et("2026-11-25T10:00:00"))).toBe(true);
    expect(ssrCanTrigger(et("2026-11-25T08:00:00"))).toBe(false);
    expect(ssrCanTrigger(et("2026-11-26T10:00:00"))).toBe(false); // Thanksgiving
  });
});

describe("Reg SHO Rule 201(b)(1)(ii): the rest of the day and the following (trading) day", () => {
  it.each([
    ["2026-11-23T10:00:00", "2026-11-25T05:00:00.000Z", "Monday trigger → through Tuesday"],
    ["2026-11-25T15:59:00", "2026-11-28T05:00:00.000Z", "Wednesday before Thanksgiving → through Friday Nov 27"],
    ["2026-11-27T10:00:00", "2026-12-01T05:00:00.000Z", "Friday trigger → through Monday"],
    ["2026-12-31T10:00:00", "2027-01-05T05:00:00.000Z", "New Year's Eve → through Monday Jan 4, 2027 (Jan 1 holiday)"],
  ])("triggered %s ET ends %s (%s)", (at, until) => {
    expect(ssrUntil(et(at)).toISOString()).toBe(until);
  });

  it("SEC Rule 201 FAQ 2.2 (Adopting Release n.290): a new decline while restricted re-triggers it", () => {
    const mon = applySsrTrigger(
      null,
      { at: et("2026-11-23T10:00:00"), source: "trade", prevClose: "10", price: "8.9" },
      et("2026-11-23T10:00:05"),
    );
    expect(mon).toMatchObject({ until: "2026-11-25T05:00:00.000Z", source: "trade", price: "8.9" });
    // Same-day repeat: unchanged (same object back).
    expect(applySsrTrigger(mon, { at: et("2026-11-23T11:00:00"), source: "trade" }, et("2026-11-23T11:00:00"))).toBe(
      mon,
    );
    const tue = applySsrTrigger(
      mon,
      { at: et("2026-11-24T10:00:00"), source: "trade", prevClose: "8.5", price: "7.6" },
      et("2026-11-24T10:00:00"),
    );
    expect(tue).toMatchObject({ until: "2026-11-26T05:00:00.000Z", triggered_at: mon!.triggered_at });
    // Expired and nothing new: gone.
    expect(applySsrTrigger(mon, null, et("2026-11-25T00:00:01"))).toBeNull();
    expect(ssrActive(mon, et("2026-11-24T23:59:59"))).toBe(true);
    expect(ssrActive(mon, et("2026-11-25T00:00:00"))).toBe(false);
  });
});

describe("Rule 201(b)(1)(ii) and the feed's SIP indicator (on through the restriction's second day)", () => {
  const tue = applySsrTrigger(
    null,
    { at: et("2026-03-03T10:00:00"), source: "trade", prevClose: "10", price: "8.9" },
    et("2026-03-03T10:00:00"),
  );
  it("Tue 2026-03-03 trigger ends 2026-03-05T05:00Z although the indicator is still on Wednesday", () => {
    expect(tue).toMatchObject({ until: "2026-03-05T05:00:00.000Z", source: "trade" });
    const wed = et("2026-03-04T10:00:00");
    expect(applySsrTrigger(tue, { at: wed, source: "feed" }, wed)).toBe(tue);
    expect(ssrActive(tue, et("2026-03-05T00:00:00"))).toBe(false);
  });
  it("a restriction known only from the indicator lasts to the end of the current New York day", () => {
    const at = et("2026-03-04T10:00:00");
    expect(applySsrTrigger(null, { at, source: "feed" }, at)).toEqual({
      triggered_at: at.toISOString(),
      until: "2026-03-05T05:00:00.000Z",
      source: "feed",
    });
  });
  it("a price-based trigger on the indicator's day still runs to the end of the following trading day", () => {
    const at = et("2026-03-04T10:00:00");
    const feed = applySsrTrigger(null, { at, source: "feed" }, at);
    const trade = applySsrTrigger(feed, { at, source: "trade", prevClose: "10", price: "8.9" }, at);
    expect(trade).toMatchObject({ until: "2026-03-06T05:00:00.000Z", source: "trade", triggered_at: at.toISOString() });
  });
});

describe("Reg SHO Rule 201(b)(1)(i): short sales only above the national best bid", () => {
  it.each([
    ["10.01", "10.00", true, "one tick above the NBB"],
    ["10.00", "10.00", false, "at the NBB ('less than or equal to')"],
    ["9.99", "10.00", false, "below the NBB"],
    ["10.0001", "10", true, "sub-penny difference is still above"],
  ])("price %s vs NBB %s → %s (%s)", (price, nbb, ok) => {
    expect(shortSalePriceAllowed(price, nbb)).toBe(ok);
  });
});
