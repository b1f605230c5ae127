import { describe, expect, it } from "vitest";
import { ETB_MAX_AGE_MS, etbFresh, type Locate, locateCoverage } from "../../packages/gate/src/market/locate.js";

const now = Date.parse("2026-11-25T15:00:00Z");
const L = (id: string, v: Partial<Locate>): Locate => ({
  id,
  symbol: "GME",
  qty: 100,
  expires_at: "2026-11-25T21:00:00Z",
  ...v,
});
const order = { symbol: "GME", account: "A1", broker: "alpaca", qty: 150 };

describe("Reg SHO Rule 203(b)(1): easy-to-borrow lists (reasonable grounds only when under 24 hours old)", () => {
  it.each([
    [now - 1000, true, "published a second ago"],
    [now - ETB_MAX_AGE_MS + 1, true, "23:59:59.999 old"],
    [now - ETB_MAX_AGE_MS, false, "exactly 24 hours old"],
    [null, false, "not on the list"],
    [now + 3600_000, false, "dated an hour in the future (clock or writer bug)"],
  ])("ETB entry at %s → fresh=%s (%s)", (asOf, fresh, _why) => {
    expect(etbFresh(asOf, now)).toBe(fresh);
  });

  it("a fresh ETB entry covers any quantity", () => {
    expect(locateCoverage(order, [], now - 60_000, now)).toMatchObject({ covered: true, via: "etb" });
  });
});

describe("Reg SHO Rule 203(b)(1)(i)/(iii): documented locates with id, quantity and expiry", () => {
  it.each([
    {
      src: "two locates for the account add up (100 + 50 ≥ 150)",
      locates: [L("a", {}), L("b", { qty: 50, account: "A1" })],
      covered: true,
      available: 150,
    },
    {
      src: "a desk-wide locate (no account) applies to every account",
      locates: [L("a", { qty: 200 })],
      covered: true,
      available: 200,
    },
    {
      src: "an expired locate does not count",
      locates: [L("a", { qty: 200, expires_at: "2026-11-25T14:59:59Z" })],
      covered: false,
      available: 0,
    },
    {
      src: "another account's locate does not count",
      locates: [L("a", { qty: 200, account: "B2" })],
      covered: false,
      available: 0,
    },
    {
      src: "another broker's locate does not count",
      locates: [L("a", { qty: 200, broker: "ibkr" })],
      covered: false,
      available: 0,
    },
    {
      src: "another symbol's locate does not count",
      locates: [L("a", { qty: 200, symbol: "AMC" })],
      covered: false,
      available: 0,
    },
    {
      src: "too few located shares: not covered, 100 available",
      locates: [L("a", {})],
      covered: false,
      available: 100,
    },
  ])("$src", ({ locates, covered, available }) => {
    const c = locateCoverage(order, locates, null, now);
    expect(c.covered).toBe(covered);
    expect(c.available).toBe(available);
  });

  it("a stale ETB entry falls back to the locates", () => {
    expect(locateCoverage(order, [L("a", { qty: 150 })], now - ETB_MAX_AGE_MS, now)).toMatchObject({
      covered: true,
      via: "locate",
      ids: ["a"],
    });
  });
});
