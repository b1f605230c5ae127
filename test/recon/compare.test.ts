import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Reconciler, topMismatches } from "../../src/recon/compare.js";
import { readLedgerFile } from "../../src/recon/ledger.js";
import type { InputError, LedgerFill, ReconResult, Statement, StatementPosition } from "../../src/recon/types.js";
import { fx, lf, sf, sfee, statement } from "./helpers.js";

const DATE = "2026-12-01";
const pos = (symbol: string, qty: string): StatementPosition => ({
  symbol,
  qty: fx(qty),
  where: `positions.json:${symbol}`,
});

function recon(ledger: (LedgerFill | InputError)[], st: Statement, opts: { broker?: string } = {}): ReconResult {
  const r = new Reconciler({ date: DATE, ...opts });
  for (const f of ledger) r.addLedger(f);
  r.addStatement(st);
  return r.result();
}

describe("Reconciler: hand-computed days", () => {
  it("partial fills split differently on each side reconcile by order (Σ qty, Σ qty × price)", () => {
    // Ours: 40 @ 100 + 35 @ 100.5 + 25 @ 101 = 4000 + 3517.5 + 2525 = 10042.5 for 100.
    const ledger = [
      lf({ order_id: "O1", qty: "40", price: "100", fee: "0.10" }),
      lf({ order_id: "O1", qty: "35", price: "100.5", fee: "0.10" }),
      lf({ order_id: "O1", qty: "25", price: "101", fee: "0.05" }),
    ];
    // Theirs: 60 @ 100.2 + 40 @ 100.7625 = 6012 + 4030.5 = 10042.5 for 100.
    const st = statement({
      fills: [sf({ order_id: "O1", qty: "60", price: "100.2" }), sf({ order_id: "O1", qty: "40", price: "100.7625" })],
      fees: [sfee("AAPL", "0.25")],
      positions: [pos("AAPL", "100")],
    });
    expect(recon(ledger, st)).toEqual({
      date: DATE,
      ok: true,
      rows: 3 + 4,
      mismatches: [],
      errors: [],
      symbols: [{ symbol: "AAPL", qty: "100", realized_pnl: "0.00", fees: "0.25" }],
    });
  });

  it("fractional quantities that would not sum in floats match exactly (0.1 + 0.2 = 0.3)", () => {
    const ledger = [
      lf({ order_id: "C1", symbol: "BTCUSD", qty: "0.1", price: "0.3" }),
      lf({ order_id: "C1", symbol: "BTCUSD", qty: "0.2", price: "0.3" }),
    ];
    const st = statement({
      fills: [sf({ order_id: "C1", symbol: "BTCUSD", qty: "0.3", price: "0.3" })],
      positions: [pos("BTCUSD", "0.3")],
    });
    const r = recon(ledger, st);
    expect(r.mismatches).toEqual([]);
    expect(r.symbols).toEqual([{ symbol: "BTCUSD", qty: "0.3", realized_pnl: "0.00", fees: "0.00" }]);
  });

  it("opening lots from earlier days, then sells, a short and a cover on the date: FIFO P&L and EOD position", () => {
    const ledger = [
      lf({ order_id: "P1", qty: "10", price: "100", ts: "2026-11-27T15:00:00Z" }),
      lf({ order_id: "P2", qty: "10", price: "105", ts: "2026-11-30T15:00:00Z" }),
      // 15 @ 110 closes 10 @ 100 and 5 @ 105: 100 + 25
      lf({ order_id: "D1", side: "sell", qty: "15", price: "110", ts: "2026-12-01T15:00:00Z" }),
      // 10 @ 108 closes 5 @ 105 (15) and opens a short of 5 @ 108
      lf({ order_id: "D2", side: "sell_short", qty: "10", price: "108", ts: "2026-12-01T16:00:00Z" }),
      // 2 @ 100 covers 2 of the short: 2 × (108 − 100) = 16
      lf({ order_id: "D3", side: "buy", qty: "2", price: "100", ts: "2026-12-01T17:00:00Z" }),
    ];
    const st = statement({
      fills: [
        sf({ order_id: "D1", side: "sell", qty: "15", price: "110" }),
        sf({ order_id: "D2", side: "sell_short", qty: "10", price: "108" }),
        sf({ order_id: "D3", side: "buy", qty: "2", price: "100" }),
      ],
      positions: [pos("AAPL", "-3")],
    });
    const r = recon(ledger, st);
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.symbols).toEqual([{ symbol: "AAPL", qty: "-3", realized_pnl: "156.00", fees: "0.00" }]);
  });

  it("an after-hours fill at 00:30 UTC on the 2nd is a trade of the 1st; one at 05:00 UTC is not", () => {
    const ledger = [
      lf({ order_id: "AH", qty: "5", price: "200", ts: "2026-12-02T00:30:00Z" }),
      lf({ order_id: "NEXT", qty: "7", price: "200", ts: "2026-12-02T05:00:00Z" }),
    ];
    const st = statement({
      fills: [sf({ order_id: "AH", qty: "5", price: "200", ts: "2026-12-02T00:30:00Z" })],
      positions: [pos("AAPL", "5")],
    });
    const r = recon(ledger, st);
    expect(r.mismatches).toEqual([]);
    expect(r.rows).toBe(2 + 2);
    expect(r.symbols).toEqual([{ symbol: "AAPL", qty: "5", realized_pnl: "0.00", fees: "0.00" }]);
  });

  it("catches a one-cent fee difference, and not a half-cent one", () => {
    const ledger = [lf({ fee: "0.185" }), lf({ fee: "0.185" })];
    const fills = [sf({ qty: "2" })];
    expect(recon(ledger, statement({ fills, fees: [sfee("AAPL", "0.38")] })).mismatches).toEqual([
      { kind: "fees", symbol: "AAPL", order_id: null, ours: "0.37", theirs: "0.38", diff: "0.01" },
    ]);
    expect(recon(ledger, statement({ fills, fees: [sfee("AAPL", "0.375")] })).mismatches).toEqual([]);
    // A fee the broker charges without a symbol has nothing on our side to match.
    expect(recon(ledger, statement({ fills, fees: [sfee("AAPL", "0.37"), sfee(null, "0.02")] })).mismatches).toEqual([
      { kind: "fees", symbol: null, order_id: null, ours: "0.00", theirs: "0.02", diff: "0.02" },
    ]);
  });

  it("a missing fill each way: missing_in_statement (ours = qty) and missing_in_ledger (theirs = qty, sells signed)", () => {
    const ledger = [lf({ order_id: "OURS", qty: "5" })];
    const st = statement({ fills: [sf({ order_id: "THEIRS", side: "sell", qty: "2" })] });
    const r = recon(ledger, st);
    expect(r.ok).toBe(false);
    expect(r.mismatches).toEqual([
      { kind: "missing_in_ledger", symbol: "AAPL", order_id: "THEIRS", ours: null, theirs: "-2", diff: null },
      { kind: "missing_in_statement", symbol: "AAPL", order_id: "OURS", ours: "5", theirs: null, diff: null },
    ]);
  });

  it("a price difference of a cent on the order's notional is a `price` mismatch; 0.009 is not", () => {
    const ledger = [lf({ order_id: "O", qty: "10", price: "100" })];
    const at = (price: string) => recon(ledger, statement({ fills: [sf({ order_id: "O", qty: "10", price })] }));
    expect(at("100.001").mismatches).toEqual([
      { kind: "price", symbol: "AAPL", order_id: "O", ours: "1000.00", theirs: "1000.01", diff: "0.01" },
    ]);
    expect(at("100.0009").mismatches).toEqual([]);
    expect(at("99.999").mismatches[0]).toMatchObject({ kind: "price", diff: "-0.01" });
  });

  it("a quantity difference is `qty` only; a side mix-up shows as a signed qty difference", () => {
    const ledger = [lf({ order_id: "O", qty: "10" })];
    expect(recon(ledger, statement({ fills: [sf({ order_id: "O", qty: "9.99999999" })] })).mismatches).toEqual([
      { kind: "qty", symbol: "AAPL", order_id: "O", ours: "10", theirs: "9.99999999", diff: "-0.00000001" },
    ]);
    expect(recon(ledger, statement({ fills: [sf({ order_id: "O", side: "sell", qty: "10" })] })).mismatches).toEqual([
      { kind: "qty", symbol: "AAPL", order_id: "O", ours: "10", theirs: "-10", diff: "-20" },
    ]);
  });

  it("an order id booked under different symbols on the two sides is missing on each side", () => {
    const ledger = [lf({ order_id: "O1", symbol: "AAPL" }), lf({ order_id: "O2", symbol: "MSFT" })];
    const st = statement({ fills: [sf({ order_id: "O1", symbol: "AAPL" }), sf({ order_id: "O2", symbol: "MSFX" })] });
    expect(recon(ledger, st).mismatches).toEqual([
      { kind: "missing_in_ledger", symbol: "MSFX", order_id: "O2", ours: null, theirs: "1", diff: null },
      { kind: "missing_in_statement", symbol: "MSFT", order_id: "O2", ours: "1", theirs: null, diff: null },
    ]);
  });

  it("compares end-of-day positions only when the statement has them, symbols on either side", () => {
    const ledger = [lf({ qty: "5" }), lf({ order_id: "o2", symbol: "MSFT", side: "sell_short", qty: "1" })];
    const fills = [sf({ qty: "5" }), sf({ order_id: "o2", symbol: "MSFT", side: "sell_short" })];
    expect(recon(ledger, statement({ fills })).mismatches).toEqual([]);
    expect(recon(ledger, statement({ fills, positions: [pos("AAPL", "4"), pos("TSLA", "1")] })).mismatches).toEqual([
      { kind: "position", symbol: "AAPL", order_id: null, ours: "5", theirs: "4", diff: "-1" },
      { kind: "position", symbol: "MSFT", order_id: null, ours: "-1", theirs: "0", diff: "1" },
      { kind: "position", symbol: "TSLA", order_id: null, ours: "0", theirs: "1", diff: "1" },
    ]);
  });

  it("cash: closing = opening + movements + sells − buys − our fees, to the cent", () => {
    // 10000 + 50 − 10 × 100 + 5 × 110 − (0.60 + 0.40) = 9599.00
    const ledger = [
      lf({ order_id: "B", qty: "10", price: "100", fee: "0.60" }),
      lf({ order_id: "S", side: "sell", qty: "5", price: "110", fee: "0.40", ts: "2026-12-01T16:00:00Z" }),
    ];
    const fills = [
      sf({ order_id: "B", qty: "10", price: "100" }),
      sf({ order_id: "S", side: "sell", qty: "5", price: "110" }),
    ];
    const cash = (closing: string) => ({
      opening: fx("10000"),
      movements: fx("50"),
      closing: fx(closing),
      where: "statement.csv:9",
    });
    const fees = [sfee("AAPL", "1.00")];
    expect(recon(ledger, statement({ fills, fees, cash: cash("9599.00") })).mismatches).toEqual([]);
    expect(recon(ledger, statement({ fills, fees, cash: cash("9599.01") })).mismatches).toEqual([
      { kind: "cash", symbol: null, order_id: null, ours: "9599.00", theirs: "9599.01", diff: "0.01" },
    ]);
  });

  it("with a broker filter only that broker's fills count", () => {
    const ledger = [lf({ broker: "alpaca", order_id: "A" }), lf({ broker: "ibkr", order_id: "I" })];
    const r = recon(ledger, statement({ fills: [sf({ order_id: "A" })], positions: [pos("AAPL", "1")] }), {
      broker: "alpaca",
    });
    expect(r.mismatches).toEqual([]);
    expect(r.rows).toBe(2 + 2);
    expect(recon(ledger, statement({ fills: [sf({ order_id: "A" })] })).mismatches).toMatchObject([
      { kind: "missing_in_statement", order_id: "I" },
    ]);
  });

  it("ignores statement fills and fees of another trade date", () => {
    const st = statement({
      fills: [sf({ order_id: "X", ts: "2026-11-30T15:00:00Z" })],
      fees: [sfee("AAPL", "1", "2026-11-30")],
    });
    expect(recon([], st).mismatches).toEqual([]);
  });

  it("a fill within the 5 s buffer out of order is fine; one beyond it is an error and the run is not ok", () => {
    const buy = lf({ order_id: "B", qty: "1", price: "100", ts: "2026-12-01T15:00:00Z" });
    const sell = lf({ order_id: "S", side: "sell", qty: "1", price: "101", ts: "2026-12-01T15:00:04Z" });
    const st = statement({ fills: [sf({ order_id: "B" }), sf({ order_id: "S", side: "sell", price: "101" })] });
    const within = recon([sell, buy], st);
    expect(within.ok).toBe(true);
    expect(within.symbols[0]).toMatchObject({ realized_pnl: "1.00" });
    const far = lf({ order_id: "S", side: "sell", qty: "1", price: "101", ts: "2026-12-01T15:00:06Z" });
    const beyond = recon([far, lf({ order_id: "Z", ts: "2026-12-01T15:00:20Z" }), buy], st);
    expect(beyond.ok).toBe(false);
    expect(beyond.errors).toEqual([
      { where: buy.where, reason: expect.stringMatching(/^out of order by more than 5 s/) },
    ]);
  });

  it("malformed ledger rows name the file and line; every error is kept in the order seen; ok is false", async () => {
    const dir = mkdtempSync(join(tmpdir(), "recon-"));
    try {
      const path = join(dir, "ledger.jsonl");
      const good = {
        fill_id: "F1",
        order_id: "O1",
        broker: "alpaca",
        symbol: "AAPL",
        side: "buy",
        qty: "1",
        price: "100",
        fee: "0",
        ts: "2026-12-01T15:00:00Z",
      };
      const { price: _drop, ...noPrice } = good;
      writeFileSync(
        path,
        [JSON.stringify(good), JSON.stringify({ ...good, qty: "abc" }), JSON.stringify(noPrice), '"F4"'].join("\n"),
      );
      const r = new Reconciler({ date: DATE });
      r.addStatement(
        statement({
          fills: [sf({ order_id: "O1" })],
          errors: [{ where: "activities.json[3]", reason: "qty: missing" }],
        }),
      );
      for await (const item of readLedgerFile(path)) r.addLedger(item);
      const res = r.result();
      expect(res.ok).toBe(false);
      expect(res.mismatches).toEqual([]);
      expect(res.errors).toEqual([
        { where: "activities.json[3]", reason: "qty: missing" },
        { where: "ledger.jsonl:2", reason: 'qty: not a decimal ("abc")' },
        { where: "ledger.jsonl:3", reason: "price: missing" },
        { where: "ledger.jsonl:4", reason: "expected a JSON object, got string" },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("gives the same result whichever side comes first, and refuses input after result()", () => {
    const ledger = [
      lf({ order_id: "A", qty: "3" }),
      lf({ order_id: "B", symbol: "MSFT" }),
      lf({ order_id: "C", fee: "1" }),
    ];
    const st = statement({
      fills: [sf({ order_id: "A", qty: "2" }), sf({ order_id: "D" })],
      fees: [sfee("MSFT", "1")],
      positions: [],
    });
    const a = recon(ledger, st);
    const r = new Reconciler({ date: DATE });
    r.addStatement(st);
    for (const f of [...ledger].reverse()) r.addLedger(f);
    expect(r.result()).toEqual(a);
    expect(r.result()).toBe(r.result());
    expect(() => r.addLedger(ledger[0]!)).toThrow(/after result/);
    expect(a.mismatches.map((m) => `${m.kind} ${m.symbol} ${m.order_id}`)).toEqual([
      "missing_in_ledger AAPL D",
      "missing_in_statement AAPL C",
      "missing_in_statement MSFT B",
      "qty AAPL A",
      "fees AAPL null",
      "fees MSFT null",
      "position AAPL null",
      "position MSFT null",
    ]);
  });

  it("refuses a recon date that is not YYYY-MM-DD", () => {
    expect(() => new Reconciler({ date: "2026-12-1" })).toThrow(RangeError);
  });
});

describe("topMismatches", () => {
  it("puts missing orders first, then the largest |diff|, ties in result order", () => {
    const ledger = [
      lf({ order_id: "A", qty: "3" }),
      lf({ order_id: "B", qty: "1", price: "100" }),
      lf({ order_id: "M", fee: "0.5" }),
    ];
    const st = statement({
      fills: [sf({ order_id: "A", qty: "2" }), sf({ order_id: "B", qty: "1", price: "150" }), sf({ order_id: "X" })],
      fees: [sfee("AAPL", "0.4")],
    });
    const r = recon(ledger, st);
    expect(topMismatches(r, 10).map((m) => `${m.kind}:${m.order_id ?? m.symbol}`)).toEqual([
      "missing_in_ledger:X",
      "missing_in_statement:M",
      "price:B",
      "qty:A",
      "fees:AAPL",
    ]);
    expect(topMismatches(r, 2)).toHaveLength(2);
    expect(topMismatches(r, 0)).toEqual([]);
  });
});
