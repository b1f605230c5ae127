// The generic CSV statement (docs/recon.md): the documented example, quoted fields, header and row errors with the
// file and line they name.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { ONE } from "../../src/recon/fixed.js";
import { CSV_COLUMNS, parseCsvStatement, readCsvStatement } from "../../src/recon/statement-csv.js";
import { caught } from "../support/caught.js";

const dir = mkdtempSync(join(tmpdir(), "tg-statement-csv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = CSV_COLUMNS.join(",");
const DATE = "2026-12-01";
const cents = (c: bigint) => (c * ONE) / 100n;
const parseText = (text: string, date = DATE) => parseCsvStatement(text, "statement.csv", { date });

/** The ```csv block of docs/recon.md. */
function documentedExample(): string {
  const doc = readFileSync(new URL("../../docs/recon.md", import.meta.url), "utf8");
  const m = /```csv\n([\s\S]*?)```/.exec(doc);
  if (!m) throw new Error("docs/recon.md has no ```csv example");
  return m[1]!;
}

describe("the documented format", () => {
  it("reads the example of docs/recon.md: fills, fees, cash and positions", async () => {
    const file = join(dir, "statement.csv");
    writeFileSync(file, documentedExample());
    const s = await readCsvStatement(file, { date: DATE });
    expect(s.errors).toEqual([]);
    expect(s.rows).toBe(11);
    expect(s.fills).toEqual([
      {
        orderId: "ord-1",
        symbol: "AAPL",
        side: "buy",
        qty: 10n * ONE,
        price: cents(19025n),
        ts: "2026-12-01T14:30:05.123Z",
        tradeDate: DATE,
        where: "statement.csv:3",
      },
      {
        orderId: "ord-1",
        symbol: "AAPL",
        side: "buy",
        qty: ONE / 2n,
        price: cents(19026n),
        ts: "2026-12-01T14:30:06Z",
        tradeDate: DATE,
        where: "statement.csv:4",
      },
      {
        orderId: "ord-2",
        symbol: "MSFT",
        side: "sell_short",
        qty: 3n * ONE,
        price: cents(41010n),
        ts: "2026-12-02T00:30:00Z", // 19:30 in New York on the 1st
        tradeDate: DATE,
        where: "statement.csv:5",
      },
    ]);
    expect(s.fees).toEqual([
      { symbol: "AAPL", amount: cents(37n), tradeDate: DATE, where: "statement.csv:6" },
      { symbol: null, amount: cents(2n), tradeDate: DATE, where: "statement.csv:7" },
    ]);
    expect(s.positions).toEqual([
      { symbol: "AAPL", qty: (21n * ONE) / 2n, where: "statement.csv:11" },
      { symbol: "MSFT", qty: -3n * ONE, where: "statement.csv:12" },
    ]);
    expect(s.cash).toEqual({
      opening: cents(10_000_000n),
      closing: cents(9_424_478n),
      movements: cents(-498_750n),
      where: "statement.csv:13",
    });
    // The documented arithmetic holds: closing = opening + movements + sells − buys − fees.
    const trades = s.fills.reduce((a, f) => a + ((f.side === "buy" ? -f.qty : f.qty) * f.price) / ONE, 0n);
    const fees = s.fees.reduce((a, f) => a + f.amount, 0n);
    expect(s.cash!.opening + s.cash!.movements + trades - fees).toBe(s.cash!.closing);
  });

  it("handles quoted fields with commas, quotes and line breaks, and still names the right line after them", async () => {
    const text = [
      HEADER,
      'cash,2026-12-01,,,,,,,1.00,"a, b"',
      'cash,2026-12-01,,,,,,,2.00,"say ""hi"""',
      'cash,2026-12-01,,,,,,,3.00,"line one',
      "line two",
      'line three"',
      "fill,2026-12-01,2026-12-01T15:00:00Z,o,AAPL,buy,abc,1,,",
      "opening_cash,2026-12-01,,,,,,,0,",
      "closing_cash,2026-12-01,,,,,,,6,",
    ].join("\n");
    const s = await parseText(text);
    expect(s.errors).toEqual([{ where: "statement.csv:7", reason: 'qty: not a decimal ("abc")' }]);
    expect(s.cash).toMatchObject({ movements: 6n * ONE, where: "statement.csv:9" });
  });

  it("takes a BOM, CRLF line ends, columns in another order and extra columns", async () => {
    const cols = ["description", "account", ...[...CSV_COLUMNS].reverse().filter((c) => c !== "description")];
    const row = (r: Record<string, string>) => cols.map((c) => r[c] ?? "").join(",");
    const text = `\ufeff${[
      cols.join(","),
      row({ record: "position", date: DATE, symbol: "IBM", qty: "-2.5", account: "X1" }),
      row({ record: "fee", date: DATE, amount: "-0.10", description: "rebate" }),
    ].join("\r\n")}\r\n`;
    const s = await parseText(text);
    expect(s.errors).toEqual([]);
    expect(s.positions).toEqual([{ symbol: "IBM", qty: (-5n * ONE) / 2n, where: "statement.csv:2" }]);
    expect(s.fees).toEqual([{ symbol: null, amount: -cents(10n), tradeDate: DATE, where: "statement.csv:3" }]);
  });

  it("compares only the requested date's records, but validates and counts all of them", async () => {
    const text = [
      HEADER,
      "fill,2026-11-30,2026-11-30T15:00:00Z,o1,AAPL,buy,1,100,,",
      "position,2026-11-30,,,AAPL,,1,,,",
      "opening_cash,2026-11-30,,,,,,,5,",
      "fill,2026-12-01,2026-12-01T15:00:00Z,o2,AAPL,sell,1,101,,",
      "fill,2026-11-30,2026-11-30T15:00:00Z,o3,AAPL,buy,x,100,,",
    ].join("\n");
    const s = await parseText(text);
    expect(s.rows).toBe(5);
    expect(s.fills.map((f) => f.orderId)).toEqual(["o2"]);
    expect(s.positions).toEqual([]); // none of the date: flat
    expect(s.cash).toBeNull(); // no cash records of the date: not checked
    expect(s.errors).toEqual([{ where: "statement.csv:6", reason: 'qty: not a decimal ("x")' }]);
  });
});

describe("errors", () => {
  it("a missing column is one error naming it, and nothing else is read", async () => {
    const header = CSV_COLUMNS.filter((c) => c !== "qty").join(",");
    const s = await parseText(`${header}\nfill,2026-12-01,2026-12-01T15:00:00Z,o,AAPL,buy,1,,\n`);
    expect(s.errors).toEqual([{ where: "statement.csv:1", reason: "missing column: qty" }]);
    expect(s.rows).toBe(0);
    expect(s.fills).toEqual([]);
    const two = await parseText(`record,date,time,order_id,symbol,side,amount,description,date\n`);
    expect(two.errors).toEqual([
      { where: "statement.csv:1", reason: "missing columns: qty, price; duplicate column: date" },
    ]);
  });

  it("a bad row names the file and its line: statement.csv:17", async () => {
    const rows = [HEADER];
    for (let i = 2; i <= 16; i++) rows.push(`fill,2026-12-01,2026-12-01T15:00:00Z,o${i},AAPL,buy,1,100,,`);
    rows.push("fill,2026-12-01,2026-12-01T15:00:00Z,o17,AAPL,buy,abc,100,,");
    const s = await parseText(rows.join("\n"));
    expect(s.errors).toEqual([{ where: "statement.csv:17", reason: 'qty: not a decimal ("abc")' }]);
    expect(s.fills).toHaveLength(15);
    expect(s.rows).toBe(16);
  });

  it("validates every record type's fields", async () => {
    const lines = [
      "trade,2026-12-01,,,,,,,1,", // 2
      ",2026-12-01,,,,,,,1,", // 3
      "fill,2026-12-01,2026-12-01T15:00:00Z,o,AAPL,buy,1,,,", // 4: no price
      "fee,2026-12-01,,,,,,9.99,0.5,", // 5: price on a fee
      "fill,2026-12-02,2026-12-02T00:30:00Z,o,AAPL,buy,1,1,,", // 6: 19:30 on the 1st in New York
      "fill,2026-12-01,2026-12-01T15:00:00,o,AAPL,buy,1,1,,", // 7: no offset
      "fill,2026-12-01,2026-12-01T15:00:00Z,o,AAPL,short,0,-1,,", // 8
      "cash,12/01/2026,,,,,,,1,", // 9
      "position,2026-12-01,,,AAPL,,1,,,", // 10
      "position,2026-12-01,,,AAPL,,2,,,", // 11
      "cash,2026-12-01,,,,,,,1,000.00,", // 12: an unquoted thousands separator is an extra field
      "opening_cash,2026-12-01,,,,,,,1,", // 13
      "opening_cash,2026-12-01,,,,,,,2,", // 14
      "fee,2026-12-01,,,,,,,1e3,", // 15
    ];
    const s = await parseText([HEADER, ...lines].join("\n"));
    expect(s.errors).toEqual([
      {
        where: "statement.csv:2",
        reason: 'record: not one of fill | fee | cash | position | opening_cash | closing_cash ("trade")',
      },
      { where: "statement.csv:3", reason: "record: missing" },
      { where: "statement.csv:4", reason: "price: missing" },
      { where: "statement.csv:5", reason: "price: not used by a fee record (must be empty)" },
      {
        where: "statement.csv:6",
        reason: "date: 2026-12-02 is not the New York trade date of time 2026-12-02T00:30:00Z (2026-12-01)",
      },
      { where: "statement.csv:7", reason: 'time: not an ISO-8601 time with an offset ("2026-12-01T15:00:00")' },
      {
        where: "statement.csv:8",
        reason: 'side: not one of buy | sell | sell_short ("short"); qty: not positive; price: negative',
      },
      { where: "statement.csv:9", reason: 'date: not a date YYYY-MM-DD ("12/01/2026")' },
      {
        where: "statement.csv:11",
        reason: "symbol: a second position for AAPL on 2026-12-01 (first at statement.csv:10)",
      },
      { where: "statement.csv:12", reason: "expected 10 fields, got 11" },
      { where: "statement.csv:14", reason: "record: a second opening_cash for 2026-12-01 (first at statement.csv:13)" },
      { where: "statement.csv:15", reason: 'amount: not a decimal ("1e3")' },
      {
        where: "statement.csv",
        reason: "closing_cash: missing for 2026-12-01 (cash records of the date at statement.csv:13)",
      },
    ]);
    expect(s.cash).toBeNull();
    expect(s.positions).toEqual([{ symbol: "AAPL", qty: ONE, where: "statement.csv:10" }]);
  });

  it("an unclosed quote ends the read with an error naming the line; nothing after it is guessed at", async () => {
    const s = await parseText(
      [HEADER, "cash,2026-12-01,,,,,,,1,ok", 'cash,2026-12-01,,,,,,,1,"unclosed', "cash,2026-12-01,,,,,,,1,"].join(
        "\n",
      ),
    );
    expect(s.errors).toHaveLength(1);
    expect(s.errors[0]!.where).toBe("statement.csv:4"); // where csv-parse gave up: the end of the file
    expect(s.errors[0]!.reason).toMatch(/^not valid CSV \(.*quote.*\); the rest of statement\.csv was not read$/i);
    expect(s.rows).toBe(1); // the row before it was read; the cash lines are not checked for completeness
    expect(s.cash).toBeNull();
  });

  it("an empty file, a missing file and a bad date", async () => {
    expect((await parseText("")).errors).toEqual([{ where: "statement.csv", reason: "empty: no header row" }]);
    const err = await caught(readCsvStatement(join(dir, "none.csv"), { date: DATE }));
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain("none.csv: cannot read (ENOENT)");
    expect(await caught(parseText(HEADER, "2026-13-01"))).toBeInstanceOf(UsageError);
  });

  it("skips rows whose fields are all empty (spreadsheet exports), and only those", async () => {
    const s = await parseText([HEADER, ",,,,,,,,,", "", "position,2026-12-01,,,AAPL,,1,,,"].join("\n"));
    expect(s.errors).toEqual([]);
    expect(s.rows).toBe(1);
    expect(s.positions).toEqual([{ symbol: "AAPL", qty: ONE, where: "statement.csv:4" }]);
  });
});
