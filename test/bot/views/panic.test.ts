// The panic confirmation: the blast radius as a compact table (per broker orders, positions, gross notional, exact),
// biggest first, the rest folded with exact sums, problems spelled out, exactly one danger button; within Slack's
// limits with hundreds of brokers.
import { describe, expect, it } from "vitest";
import { ids } from "../../../src/bot/ids.js";
import { blastRadiusTable, panicConfirmView } from "../../../src/bot/views/panic.js";
import { blockKitViolations, renderedTexts } from "../../support/block-kit-limits.js";
import { many, radius, radiusBroker, TOKEN } from "./fixtures.js";

describe("panic confirmation", () => {
  it("a table per broker with exact gross notional, biggest first, and the totals", () => {
    const t = blastRadiusTable(
      radius([
        radiusBroker({ broker: "paper", kind: "paper", openOrders: 0, positions: 1, grossNotional: "0.10" }),
        radiusBroker({ broker: "alpaca", openOrders: 12, positions: 40, grossNotional: "1234567.891" }),
      ]),
    );
    const lines = t.split("\n");
    expect(lines[1]).toMatch(/^Broker\s+Kind\s+Orders\s+Positions\s+Gross notional$/);
    expect(lines[2]).toMatch(/^alpaca\s+alpaca\s+12\s+40\s+1,234,567\.891$/);
    expect(lines[3]).toMatch(/^paper\s+paper\s+0\s+1\s+0\.10$/);
    expect(lines[5]).toMatch(/^Total\s+12\s+41\s+12,500\.40$/); // the operation's own total, as given
    // Right-aligned: every number column ends at the same place.
    expect(new Set(lines.slice(1, 4).map((l) => l.length)).size).toBe(1);
  });

  it("folds the smallest brokers into one row with their exact sums", () => {
    const brokers = many(45, (i) =>
      radiusBroker({ broker: `b${i}`, openOrders: 1, positions: 2, grossNotional: `${i}.10` }),
    );
    const t = blastRadiusTable(radius(brokers));
    expect(t).toContain("b44");
    expect(t).not.toMatch(/\bb0\b/);
    // 26 hidden brokers b0..b25: 26 orders, 52 positions, 0.10×26 + (0+…+25) = 2.60 + 325 = 327.60
    expect(t).toMatch(/… and 26 more\s+26\s+52\s+327\.60/);
  });

  it("names brokers that could not be read and orders that cannot be cancelled", () => {
    const v = panicConfirmView(
      radius([
        radiusBroker({ broker: "binance", error: "timeout after 2500 ms", grossNotional: "0.00" }),
        radiusBroker({ notCancellable: many(7, (i) => ({ id: `o-${i}`, symbol: "AAPL", status: "pending_cancel" })) }),
      ]),
      "fat finger",
      TOKEN,
    );
    const all = renderedTexts(v).join("\n");
    expect(all).toContain("⚠ binance");
    expect(all).toContain("*binance*: could not read live: timeout after 2500 ms");
    expect(all).toContain("*alpaca*: 7 order(s) cannot be cancelled now: o-0 AAPL (pending_cancel)");
    expect(all).toContain("and 2 more");
    const buttons = v.blocks.flatMap((b) => (b.type === "actions" ? b.elements : []));
    expect(buttons.map((b) => (b.type === "button" ? [b.action_id, b.style, b.value] : []))).toEqual([
      [ids.panicConfirm, "danger", TOKEN],
      [ids.panicCancel, undefined, "cancel"],
    ]);
    expect(blockKitViolations(v)).toEqual([]);
  });

  it("500 brokers with hostile 1 KB names and problems everywhere stay within Slack's limits", () => {
    const evil = "<!channel>`".repeat(100);
    const v = panicConfirmView(
      radius(
        many(500, (i) =>
          radiusBroker({
            broker: `${evil}${i}`,
            kind: evil,
            grossNotional: `${i}000000.${i % 10}`,
            error: evil,
            notCancellable: [{ id: evil, symbol: evil, status: evil }],
          }),
        ),
      ),
      evil,
      TOKEN,
    );
    expect(blockKitViolations(v)).toEqual([]);
    const all = renderedTexts(v).join("\n");
    expect(all).not.toContain("<!channel>");
    expect(all).toContain("more brokers with problems");
    expect(all).toMatch(/… and \d+ more/);
  });

  it("no brokers: says so", () => {
    const v = panicConfirmView(radius([]), "r", TOKEN);
    expect(renderedTexts(v).join("\n")).toContain("_No brokers configured._");
  });
});
