// Slippage of ledger fills: the optional fields (and that recon's reader ignores them, malformed or not), the bps of
// a fill computed by hand, half-even rounding at the 8th decimal, histogram buckets at their edges, and the
// aggregate's Redis form read back exactly (and refused when it is garbage).
import { describe, expect, it } from "vitest";
import { ONE } from "../../src/recon/fixed.js";
import { parseLedgerFill, readLedgerStream } from "../../src/recon/ledger.js";
import {
  addFill,
  bucketOf,
  divRoundHalfEven,
  emptyDay,
  fillSlippage,
  formatBps,
  formatProductAmount,
  formatSlippageDay,
  HISTOGRAM_FIELDS,
  meanBps,
  mergeDays,
  parseExecutionFields,
  parseSlippageDay,
  weightedBps,
} from "../../src/recon/ledger-slippage.js";
import type { Side } from "../../src/recon/types.js";
import { testRedis } from "../support/redis.js";

const row = {
  fill_id: "F1",
  order_id: "O1",
  broker: "alpaca",
  symbol: "AAPL",
  side: "buy",
  qty: "10",
  price: "100.05",
  fee: "0",
  ts: "2026-12-02T15:30:00Z",
};
/** A decimal string as fixed (10^18), for hand-written prices. */
const fx = (s: string): bigint => {
  if (s.startsWith("-")) return -fx(s.slice(1));
  const [i, f = ""] = s.split(".");
  return BigInt(i!) * ONE + BigInt(f.padEnd(18, "0"));
};
const bps = (side: Side, price: string, expected: string, qty = "1") =>
  formatBps(fillSlippage({ side, qty: fx(qty), price: fx(price) }, fx(expected)).bps, 8);

describe("optional ledger fields", () => {
  it("reads strategy and expected_price; neither means the fill is not tracked", () => {
    expect(parseExecutionFields({ ...row, strategy: "momo_us", expected_price: "100" })).toEqual({
      tracked: true,
      strategy: "momo_us",
      expectedPrice: 100n * ONE,
    });
    expect(parseExecutionFields(row)).toEqual({ tracked: false });
  });

  it("names every fault: one field without the other, a bad decimal, a price ≤ 0, a bad name", () => {
    expect(parseExecutionFields({ strategy: "momo" })).toEqual({
      tracked: true,
      error: "expected_price: missing (strategy is set)",
    });
    expect(parseExecutionFields({ expected_price: "1" })).toEqual({
      tracked: true,
      error: "strategy: missing (expected_price is set)",
    });
    expect(parseExecutionFields({ strategy: "momo", expected_price: "1,5" })).toEqual({
      tracked: true,
      error: 'expected_price: not a decimal ("1,5")',
    });
    expect(parseExecutionFields({ strategy: "momo", expected_price: "0" })).toEqual({
      tracked: true,
      error: 'expected_price: must be positive ("0")',
    });
    expect(parseExecutionFields({ strategy: "a b", expected_price: "1e3" })).toEqual({
      tracked: true,
      error: 'strategy: not a strategy name ("a b"); expected_price: not a decimal ("1e3")',
    });
  });

  it("does not change recon's validation: a row with the fields, even malformed, is the same LedgerFill", () => {
    const plain = parseLedgerFill(row, "x");
    expect(parseLedgerFill({ ...row, strategy: "momo", expected_price: "100" }, "x")).toEqual(plain);
    expect(parseLedgerFill({ ...row, strategy: "no good!", expected_price: "abc" }, "x")).toEqual(plain);
  });

  it("recon's stream reader reads entries that carry them like any other", async () => {
    const r = testRedis();
    try {
      const key = `${r.prefix}ledger:fills`;
      await r.redis.xadd(key, "*", ...Object.entries({ ...row, strategy: "momo", expected_price: "x" }).flat());
      const out = [];
      for await (const f of readLedgerStream(r.redis, key)) out.push(f);
      expect(out).toHaveLength(1);
      expect(out[0]).toMatchObject({ fillId: "F1", qty: 10n * ONE });
    } finally {
      await r.cleanup();
    }
  });
});

describe("slippage of one fill, by hand", () => {
  it("a buy above the expected price is adverse: (100.05 − 100) / 100 × 10 000 = +5 bps", () => {
    expect(bps("buy", "100.05", "100")).toBe("5.00000000");
  });
  it("a sell below the expected price is adverse: (50 − 49.99) / 50 × 10 000 = +2 bps", () => {
    expect(bps("sell", "49.99", "50")).toBe("2.00000000");
  });
  it("a short sale above the expected price is favourable: (50 − 50.10) / 50 × 10 000 = −20 bps", () => {
    expect(bps("sell_short", "50.10", "50")).toBe("-20.00000000");
  });
  it("a buy below the expected price is favourable: (99.9 − 100) / 100 × 10 000 = −10 bps", () => {
    expect(bps("buy", "99.9", "100")).toBe("-10.00000000");
  });
  it("non-terminating ratios round half-even at the 8th decimal", () => {
    // 0.01 / 3 × 10 000 = 33.333333333… → 33.33333333
    expect(bps("buy", "3.01", "3")).toBe("33.33333333");
    // (7 − 7.01) / 7 × 10 000 = −14.2857142857… → −14.28571429
    expect(bps("sell", "7.01", "7")).toBe("-14.28571429");
    // Exact ties: 0.000000015 → 0.00000002 (1 is odd), 0.000000005 → 0 (0 is even), −0.000000025 → −0.00000002.
    expect(bps("buy", "1.0000000000015", "1")).toBe("0.00000002");
    expect(bps("buy", "1.0000000000005", "1")).toBe("0.00000000");
    expect(bps("sell", "1.0000000000025", "1")).toBe("-0.00000002");
  });
  it("notional and adverse cost are exact: 10 × 100 = 1000, 10 × 0.05 = 0.50", () => {
    const s = fillSlippage({ side: "buy", qty: fx("10"), price: fx("100.05") }, fx("100"));
    expect(formatProductAmount(s.notional)).toBe("1000.00");
    expect(formatProductAmount(s.cost)).toBe("0.50");
  });
  it("divRoundHalfEven rounds halves to even both ways", () => {
    expect([5n, 15n, 25n, -5n, -15n, -25n, 14n, 16n].map((n) => divRoundHalfEven(n, 10n))).toEqual([
      0n,
      2n,
      2n,
      0n,
      -2n,
      -2n,
      1n,
      2n,
    ]);
  });
});

describe("histogram buckets [lo, hi)", () => {
  const at = (s: string) => HISTOGRAM_FIELDS[bucketOf(fx(s) / 10n ** 10n)];
  it("puts an edge in the bucket it opens", () => {
    expect(at("5")).toBe("h:5:10");
    expect(at("4.99999999")).toBe("h:2:5");
    expect(at("0")).toBe("h:0:1");
    expect(at("-0.00000001")).toBe("h:-1:0");
    expect(at("-20")).toBe("h:-20:-10");
    expect(at("-100")).toBe("h:-100:-50");
    expect(at("-100.00000001")).toBe("h:-inf:-100");
    expect(at("100")).toBe("h:100:+inf");
  });
  it("has 16 buckets named after their edges", () => {
    expect(HISTOGRAM_FIELDS).toHaveLength(16);
    expect(HISTOGRAM_FIELDS[0]).toBe("h:-inf:-100");
    expect(HISTOGRAM_FIELDS[15]).toBe("h:100:+inf");
  });
});

describe("aggregates", () => {
  const day = () => {
    const d = emptyDay();
    addFill(d, fillSlippage({ side: "buy", qty: fx("10"), price: fx("100.05") }, fx("100")), "1-0", "T1");
    addFill(d, fillSlippage({ side: "sell", qty: fx("2"), price: fx("49.99") }, fx("50")), "2-0", "T2");
    addFill(d, fillSlippage({ side: "sell_short", qty: fx("1"), price: fx("50.10") }, fx("50")), "3-0", "T3");
    return d;
  };

  it("sums exactly, with sign: +5, +2 and −20 bps", () => {
    const d = day();
    expect(formatSlippageDay(d)).toEqual({
      fills: "3",
      adverse: "2",
      favourable: "1",
      sum_bps: "-13",
      sum_adverse_bps: "7",
      sum_favourable_bps: "-20",
      sum_sq_bps: "429",
      min_bps: "-20",
      max_bps: "5",
      // 10 × 100 + 2 × 50 + 1 × 50
      sum_notional: "1150",
      // 10 × 0.05 + 2 × 0.01 − 1 × 0.10
      sum_cost: "0.42",
      "h:5:10": "1",
      "h:2:5": "1",
      "h:-20:-10": "1",
      last_entry: "3-0",
      updated_at: "T3",
    });
    // −13 / 3 = −4.3333…; weighted: 0.42 / 1150 × 10 000 = 3.652173913…
    expect(formatBps(meanBps(d)!, 8)).toBe("-4.33333333");
    expect(formatBps(weightedBps(d)!, 8)).toBe("3.65217391");
  });

  it("reads its Redis form back to the same aggregate", () => {
    const d = day();
    expect(parseSlippageDay(formatSlippageDay(d))).toEqual(d);
    expect(parseSlippageDay({})).toEqual(emptyDay());
  });

  it("merges days: counts, sums, extremes and buckets add up", () => {
    const m = mergeDays([day(), day()]);
    expect(m.fills).toBe(6);
    expect(formatBps(m.sumBps)).toBe("-26.00");
    expect(formatBps(m.minBps!)).toBe("-20.00");
    expect(m.histogram.reduce((a, b) => a + b, 0)).toBe(6);
  });

  it("names the field at fault in a garbage hash", () => {
    const good = formatSlippageDay(day());
    expect(parseSlippageDay({ ...good, sum_bps: "1.2.3" })).toBe('sum_bps: not a decimal ("1.2.3")');
    expect(parseSlippageDay({ ...good, fills: "-1" })).toBe('fills: not a count ("-1")');
    expect(parseSlippageDay({ ...good, fills: "4" })).toBe("histogram: its buckets do not add up to fills");
    expect(parseSlippageDay({ ...good, extra: "1" })).toBe("extra: not a field of a slippage aggregate");
    expect(parseSlippageDay({ ...good, sum_bps: "1.123456789" })).toBe('sum_bps: more than 8 decimals ("1.123456789")');
    const { fills: _f, ...noFills } = good;
    expect(parseSlippageDay(noFills)).toBe("fills: missing");
  });
});
