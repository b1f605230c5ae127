// The code-block table: aligned columns measured on the raw text, cells escaped and unable to close the block,
// exact decimal sums, and fewer rows when escaped cells would not fit.
import { describe, expect, it } from "vitest";
import { byDecimalDesc, codeTable, groupDigits, sumDecimals } from "../../../src/bot/views/table.js";

const cols = [
  { title: "Name", align: "left", max: 14 },
  { title: "Amount", align: "right", max: 20 },
] as const;
const rest = (hidden: readonly string[][]) => [`… and ${hidden.length} more`, ""];

describe("codeTable", () => {
  it("aligns names left and numbers right, with a rule before the footer", () => {
    const t = codeTable(
      cols,
      [
        ["a", "1.00"],
        ["bbb", "1,234.50"],
      ],
      { maxRows: 10, rest, footer: [["Total", "1,235.50"]] },
    );
    expect(t).toBe(
      [
        "```",
        "Name     Amount",
        "a          1.00",
        "bbb    1,234.50",
        "─────  ────────",
        "Total  1,235.50",
        "```",
      ].join("\n"),
    );
  });
  it("escapes cells, neutralises backticks and newlines, cuts long cells with …", () => {
    const t = codeTable(
      cols,
      [
        ["<!here>`x", "1"],
        ["a\nb", "2"],
        ["0123456789ABC", "3"],
      ],
      { maxRows: 10, rest },
    );
    expect(t).toContain("&lt;!here&gt;ʹx");
    expect(t).not.toContain("<!here>");
    expect(t.split("```").length).toBe(3); // one block, opened and closed once
    expect(t).toContain("a b");
    expect(t).toContain("0123456789ABC");
    expect(codeTable(cols, [["0123456789ABCDEF", "1"]], { maxRows: 10, rest })).toContain("0123456789ABC…");
  });
  it("folds rows beyond maxRows into the caller's row", () => {
    const rows = Array.from({ length: 30 }, (_, i) => [`r${i}`, String(i)]);
    const t = codeTable(cols, rows, { maxRows: 5, rest });
    expect(t).toContain("r3");
    expect(t).not.toContain("r4 ");
    expect(t).toContain("… and 26 more");
  });
  it("shows fewer rows when the escaped text would not fit its room", () => {
    const rows = Array.from({ length: 30 }, () => ["<".repeat(10), "1"]);
    const t = codeTable(cols, rows, { maxRows: 30, rest, room: 600 });
    expect(t.length).toBeLessThanOrEqual(600);
    expect(t).toMatch(/… and \d+ more/);
  });
});

describe("exact decimals", () => {
  it("groups digits without touching the decimals; garbage is shown as is", () => {
    expect(groupDigits("1234567.505")).toBe("1,234,567.505");
    expect(groupDigits("-1000")).toBe("-1,000");
    expect(groupDigits("999.99")).toBe("999.99");
    expect(groupDigits("NaN")).toBe("NaN");
  });
  it("sums exactly (0.1 + 0.2 is 0.30, 18 decimals kept) or says it cannot", () => {
    expect(sumDecimals(["0.1", "0.2"])).toBe("0.30");
    expect(sumDecimals(["123456789012345678.000000000000000001", "1"])).toBe("123456789012345679.000000000000000001");
    expect(sumDecimals(["1", "oops"])).toBeNull();
  });
  it("orders by exact value, biggest first, garbage last", () => {
    const xs = ["10.5", "oops", "100000000000000000000.01", "10.49", "100000000000000000000.001"];
    expect([...xs].sort(byDecimalDesc)).toEqual([
      "100000000000000000000.01",
      "100000000000000000000.001",
      "10.5",
      "10.49",
      "oops",
    ]);
  });
});
