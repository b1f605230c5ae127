import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FifoLedger, LotBook } from "../../src/recon/fifo.js";
import { formatProductMoney, ONE } from "../../src/recon/fixed.js";
import type { LedgerFill, Side } from "../../src/recon/types.js";
import { fx, lf } from "./helpers.js";

const money = formatProductMoney;
const at = (s: number) => new Date(Date.parse("2026-12-01T15:00:00Z") + s * 1000).toISOString();

describe("LotBook (FIFO lots, hand-computed)", () => {
  it("a sell closes long lots oldest first: realized (sell − lot) × qty", () => {
    const b = new LotBook();
    expect(b.apply("buy", fx("10"), fx("100"))).toBe(0n);
    expect(b.apply("buy", fx("5"), fx("110"))).toBe(0n);
    // 10 × (120 − 100) + 2 × (120 − 110) = 200 + 20
    expect(money(b.apply("sell", fx("12"), fx("120")))).toBe("220.00");
    expect(b.net).toBe(fx("3"));
    expect(b.openLots()).toEqual([{ qty: fx("3"), price: fx("110") }]);
  });

  it("a short is opened by sell_short and covered FIFO by buys: realized (lot − buy) × qty; the rest flips long", () => {
    const b = new LotBook();
    b.apply("sell_short", fx("10"), fx("50"));
    expect(money(b.apply("buy", fx("4"), fx("45")))).toBe("20.00"); // 4 × (50 − 45)
    expect(b.net).toBe(fx("-6"));
    expect(money(b.apply("buy", fx("10"), fx("40")))).toBe("60.00"); // 6 × (50 − 40), then long 4 @ 40
    expect(b.openLots()).toEqual([{ qty: fx("4"), price: fx("40") }]);
  });

  it("a sell bigger than the long position closes it and opens a short with the remainder", () => {
    const b = new LotBook();
    b.apply("buy", fx("5"), fx("10"));
    expect(money(b.apply("sell", fx("8"), fx("12")))).toBe("10.00");
    expect(b.openLots()).toEqual([{ qty: fx("-3"), price: fx("12") }]);
    // A losing cover: 3 × (12 − 13)
    expect(money(b.apply("buy", fx("3"), fx("13")))).toBe("-3.00");
    expect(b.net).toBe(0n);
  });

  it("sell_short while long is treated as a sell (closes the long lots first)", () => {
    const b = new LotBook();
    b.apply("buy", fx("2"), fx("10"));
    expect(money(b.apply("sell_short", fx("3"), fx("11")))).toBe("2.00");
    expect(b.openLots()).toEqual([{ qty: fx("-1"), price: fx("11") }]);
  });

  it("fractional quantities that do not sum in floats close exactly (0.1 + 0.2 = 0.3)", () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    const b = new LotBook();
    b.apply("buy", fx("0.1"), fx("100.01"));
    b.apply("buy", fx("0.2"), fx("100.02"));
    // 0.1 × (100.03 − 100.01) + 0.2 × (100.03 − 100.02) = 0.002 + 0.002, exact below the cent
    expect(money(b.apply("sell", fx("0.3"), fx("100.03")))).toBe("0.004");
    expect(b.net).toBe(0n);
    expect(b.openLots()).toEqual([]);
  });

  it("keeps lots right across many closes (internal compaction)", () => {
    const b = new LotBook();
    for (let i = 0; i < 3000; i++) b.apply("buy", ONE, BigInt(i + 1) * ONE);
    // Closes lots priced 1..2500 at 3000 each: Σ (3000 − p) = 2500 × 3000 − 2500 × 2501 / 2
    expect(b.apply("sell", 2500n * ONE, 3000n * ONE)).toBe((2500n * 3000n - (2500n * 2501n) / 2n) * ONE * ONE);
    const lots = b.openLots();
    expect(lots).toHaveLength(500);
    expect(lots[0]).toEqual({ qty: ONE, price: 2501n * ONE });
  });

  it("realized P&L = sells − buys + open lots at cost, for any sequence (property)", () => {
    const fill = fc.record({
      side: fc.constantFrom<Side>("buy", "sell", "sell_short"),
      qty: fc.bigInt({ min: 1n, max: 10n ** 12n }).map((n) => n * 10n ** 10n), // up to 8 decimals
      price: fc.bigInt({ min: 0n, max: 10n ** 12n }).map((n) => n * 10n ** 10n),
    });
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 60 }), (fills) => {
        const b = new LotBook();
        let realized = 0n;
        let cash = 0n;
        let net = 0n;
        for (const f of fills) {
          realized += b.apply(f.side, f.qty, f.price);
          cash += (f.side === "buy" ? -1n : 1n) * f.qty * f.price;
          net += f.side === "buy" ? f.qty : -f.qty;
        }
        const lots = b.openLots();
        expect(b.net).toBe(net);
        expect(lots.reduce((s, l) => s + l.qty, 0n)).toBe(net);
        expect(lots.every((l) => (net > 0n ? l.qty > 0n : l.qty < 0n))).toBe(true);
        expect(realized).toBe(cash + lots.reduce((s, l) => s + l.qty * l.price, 0n));
      }),
    );
  });
});

describe("FifoLedger (books per broker and symbol, reorder buffer)", () => {
  const run = (fills: LedgerFill[], windowMs?: number) => {
    const booked: string[] = [];
    const realized = new Map<string, bigint>();
    const fifo = new FifoLedger({
      windowMs,
      onBooked: (f, r) => {
        booked.push(f.fillId);
        realized.set(f.symbol, (realized.get(f.symbol) ?? 0n) + r);
      },
    });
    const errors = fills.map((f) => fifo.add(f)).filter((e) => e !== null);
    fifo.flush();
    return { fifo, booked, realized, errors };
  };

  it("keeps brokers and symbols apart", () => {
    const { fifo } = run([
      lf({ broker: "a", symbol: "X", qty: "5" }),
      lf({ broker: "b", symbol: "X", side: "sell", qty: "2" }),
      lf({ broker: "a", symbol: "Y", side: "sell_short", qty: "1" }),
    ]);
    expect(fifo.positions()).toEqual([
      { broker: "a", symbol: "X", net: fx("5") },
      { broker: "a", symbol: "Y", net: fx("-1") },
      { broker: "b", symbol: "X", net: fx("-2") },
    ]);
  });

  it("books a fill that arrives up to 5 s late in execution order (the sell after the buy it closes)", () => {
    const sell = lf({ fill_id: "S", side: "sell", qty: "1", price: "110", ts: at(3) });
    const buy = lf({ fill_id: "B", side: "buy", qty: "1", price: "100", ts: at(0) });
    const { booked, realized, errors } = run([sell, buy]);
    expect(errors).toEqual([]);
    expect(booked).toEqual(["B", "S"]);
    expect(money(realized.get("AAPL")!)).toBe("10.00");
  });

  it("orders equal times by fill id, whatever order they came in", () => {
    const { booked } = run([lf({ fill_id: "b", ts: at(0) }), lf({ fill_id: "a", ts: at(0) })]);
    expect(booked).toEqual(["a", "b"]);
  });

  it("refuses a fill older than one already booked: 'out of order by more than 5 s', never misplaced", () => {
    const first = lf({ fill_id: "A", ts: at(0) });
    const later = lf({ fill_id: "C", ts: at(10) }); // books A (10 s > 5 s newer)
    const late = lf({ fill_id: "LATE", ts: at(-1) });
    const { booked, errors } = run([first, later, late]);
    expect(booked).toEqual(["A", "C"]);
    expect(errors).toEqual([
      {
        where: late.where,
        reason: `out of order by more than 5 s: ${late.ts} is before ${first.ts} (fill A), already booked`,
      },
    ]);
  });

  it("accepts a late fill that is still newer than everything booked (it can be placed correctly)", () => {
    const { booked, errors } = run([
      lf({ fill_id: "A", ts: at(0) }),
      lf({ fill_id: "C", ts: at(10) }),
      lf({ fill_id: "B", ts: at(1) }),
    ]);
    expect(errors).toEqual([]);
    expect(booked).toEqual(["A", "B", "C"]);
  });

  it("reports a fill recorded twice", () => {
    const a = lf({ fill_id: "A", ts: at(0) });
    const { errors, booked } = run([a, { ...a, where: "ledger.jsonl:99" }]);
    expect(booked).toEqual(["A"]);
    expect(errors).toEqual([{ where: "ledger.jsonl:99", reason: `fill_id: "A" recorded twice (also ${a.where})` }]);
  });

  it("holds no more than the window's worth of fills (memory stays bounded)", () => {
    const fifo = new FifoLedger();
    let peak = 0;
    const base = lf({});
    for (let i = 0; i < 50_000; i++) {
      fifo.add({ ...base, fillId: `f${i}`, tsMs: base.tsMs + i, side: i % 2 ? "sell" : "buy" });
      peak = Math.max(peak, fifo.heldCount());
    }
    expect(peak).toBeLessThanOrEqual(5_001);
    fifo.flush();
    expect(fifo.heldCount()).toBe(0);
    expect(fifo.book("alpaca", "AAPL")!.net).toBe(0n);
  });
});
