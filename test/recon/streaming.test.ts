// The streaming statement path: a CSV or Alpaca statement read with a sink hands the date's items to it as they are
// read (keeping none), and reconciling that way gives exactly the result of reconciling the collected Statement.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Reconciler } from "../../src/recon/compare.js";
import { readAlpacaStatement } from "../../src/recon/statement-alpaca.js";
import { CSV_COLUMNS, parseCsvStatement, readCsvStatement, type StatementSink } from "../../src/recon/statement-csv.js";
import type { StatementFee, StatementFill, StatementPosition } from "../../src/recon/types.js";
import { position } from "../support/alpaca.js";
import { fillActivity, nonTradeActivity } from "../support/alpaca-server.js";
import { lf } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "tg-recon-stream-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const DATE = "2026-12-01";

/** A sink that records what it was given, in order. */
function recorder() {
  const got: { fills: StatementFill[]; fees: StatementFee[]; positions: StatementPosition[] } = {
    fills: [],
    fees: [],
    positions: [],
  };
  const sink: StatementSink = {
    addStatementFill: (f) => got.fills.push(f),
    addStatementFee: (f) => got.fees.push(f),
    addStatementPositions: (ps) => got.positions.push(...ps),
  };
  return { got, sink };
}

function documentedExample(): string {
  const doc = readFileSync(new URL("../../docs/recon.md", import.meta.url), "utf8");
  return /```csv\n([\s\S]*?)```/.exec(doc)![1]!;
}

describe("CSV statement with a sink", () => {
  it("hands the date's fills, fees and positions to the sink and keeps only rows, errors and cash", async () => {
    const file = join(dir, "statement.csv");
    writeFileSync(file, documentedExample());
    const collected = await readCsvStatement(file, { date: DATE });
    const { got, sink } = recorder();
    const streamed = await readCsvStatement(file, { date: DATE, sink });
    expect(got.fills).toEqual(collected.fills);
    expect(got.fees).toEqual(collected.fees);
    expect(got.positions).toEqual(collected.positions);
    expect(collected.fills.length).toBeGreaterThan(0);
    expect(streamed).toEqual({ ...collected, fills: [], fees: [], positions: [] });
  });

  it("reconciles to the same result as the collected statement, errors and mismatches included", async () => {
    const rows = [
      CSV_COLUMNS.join(","),
      "opening_cash,2026-12-01,,,,,,,1000,",
      "fill,2026-12-01,2026-12-01T15:00:00Z,o1,AAPL,buy,2,100,,",
      "fill,2026-12-01,2026-12-01T15:01:00Z,o2,MSFT,sell_short,1,50.5,,",
      "fill,2026-12-01,2026-12-01T15:02:00Z,o9,IBM,buy,1,10,,only theirs",
      "fill,2026-12-01,2026-12-01T15:03:00Z,o3,AAPL,buy,abc,10,,bad row",
      "fee,2026-12-01,,o1,AAPL,,,,0.38,",
      "position,2026-12-01,,,AAPL,,2,,,",
      "position,2026-12-01,,,MSFT,,-1,,,",
      "closing_cash,2026-12-01,,,,,,,849.12,",
      "fill,2026-11-30,2026-11-30T15:00:00Z,o0,AAPL,buy,1,1,,another date",
    ].join("\n");
    const ledger = [
      lf({ order_id: "o1", qty: "2", price: "100", fee: "0.37" }),
      lf({ order_id: "o2", symbol: "MSFT", side: "sell_short", qty: "1", price: "50.5", ts: "2026-12-01T15:01:00Z" }),
    ];
    const a = new Reconciler({ date: DATE });
    a.addStatement(await parseCsvStatement(rows, "statement.csv", { date: DATE }));
    const b = new Reconciler({ date: DATE });
    b.addStatement(await parseCsvStatement(rows, "statement.csv", { date: DATE, sink: b }));
    for (const f of ledger) {
      a.addLedger(f);
      b.addLedger(f);
    }
    const result = b.result();
    expect(result).toEqual(a.result());
    expect(result.errors).toEqual([{ where: "statement.csv:6", reason: expect.stringMatching(/^qty: /) }]);
    expect(result.mismatches.map((m) => m.kind).sort()).toEqual(["cash", "fees", "missing_in_ledger"]);
  });

  it("a statement without positions is still a flat book when streamed", async () => {
    const rows = [CSV_COLUMNS.join(","), "fill,2026-12-01,2026-12-01T15:00:00Z,o1,AAPL,buy,2,100,,"].join("\n");
    const r = new Reconciler({ date: DATE });
    r.addStatement(await parseCsvStatement(rows, "s.csv", { date: DATE, sink: r }));
    r.addLedger(lf({ order_id: "o1", qty: "2" }));
    expect(r.result().mismatches).toEqual([
      { kind: "position", symbol: "AAPL", order_id: null, ours: "2", theirs: "0", diff: "-2" },
    ]);
  });

  it("gives the collected statement's result for any mix of fills (property)", async () => {
    const row = fc.record({
      order: fc.constantFrom("o1", "o2", "o3"),
      symbol: fc.constantFrom("AAPL", "MSFT"),
      side: fc.constantFrom("buy", "sell", "sell_short"),
      qty: fc.constantFrom("1", "0.1", "2.5", "x"),
      minute: fc.integer({ min: 0, max: 59 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 30 }), async (rs) => {
        const text = [
          CSV_COLUMNS.join(","),
          ...rs.map((x) => {
            const ts = `2026-12-01T15:${String(x.minute).padStart(2, "0")}:00Z`;
            return `fill,2026-12-01,${ts},${x.order},${x.symbol},${x.side},${x.qty},10,,`;
          }),
        ].join("\n");
        const a = new Reconciler({ date: DATE });
        a.addStatement(await parseCsvStatement(text, "s.csv", { date: DATE }));
        const b = new Reconciler({ date: DATE });
        b.addStatement(await parseCsvStatement(text, "s.csv", { date: DATE, sink: b }));
        expect(b.result()).toEqual(a.result());
      }),
      { numRuns: 40 },
    );
  });
});

describe("Alpaca statement with a sink", () => {
  it("streams the date's fills and fees, keeps positions (rolled back) and counts", async () => {
    const activities = join(dir, "activities.json");
    const positions = join(dir, "positions.json");
    writeFileSync(
      activities,
      JSON.stringify([
        fillActivity({ id: "1", symbol: "AAPL", side: "buy", qty: "4", transaction_time: "2022-02-02T15:00:00Z" }),
        nonTradeActivity({ activity_type: "FEE", date: "2022-02-02", symbol: "AAPL", net_amount: "-0.5" }),
        fillActivity({ id: "2", symbol: "AAPL", side: "buy", qty: "3", transaction_time: "2022-02-03T15:00:00Z" }),
        { activity_type: "FILL", id: "bad" },
      ]),
    );
    writeFileSync(positions, JSON.stringify([position({ symbol: "AAPL", qty: "7" })]));
    const files = { activities, positions };
    const opts = { date: "2022-02-02", rollBackPositions: true };
    const collected = await readAlpacaStatement(files, opts);
    const { got, sink } = recorder();
    const streamed = await readAlpacaStatement(files, { ...opts, sink });
    expect(got.fills).toEqual(collected.fills);
    expect(got.fees).toEqual(collected.fees);
    expect(got.fills).toHaveLength(1);
    expect(got.fees).toHaveLength(1);
    expect(streamed).toEqual({ ...collected, fills: [], fees: [] });
    expect(streamed.positions!.map((p) => p.qty)).toEqual([collected.positions![0]!.qty]);
    expect(streamed.errors).toHaveLength(1);
  });
});
