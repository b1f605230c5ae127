import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { NORMAL } from "../../src/market/luld.js";
import {
  parsePrevClose,
  parseQuote,
  parseState,
  parseTrades,
  quoteProblems,
  type SymbolState,
  safePaused,
  safeSsr,
  stateFields,
} from "../../src/market/luld-ssr-values.js";

describe("md:trades:<symbol>: member JSON {id, price, size}, score epoch ms", () => {
  it("keeps readable trades and counts the others (bad JSON, bad price, non-finite or missing score)", () => {
    const { trades, invalid } = parseTrades([
      [JSON.stringify({ id: "1", price: "100.5", size: 100 }), 1_000],
      ["not json", 2_000],
      [JSON.stringify({ id: "3", price: "1e3" }), 3_000],
      [JSON.stringify({ id: "4", price: "99" }), Number.POSITIVE_INFINITY],
      [JSON.stringify({ id: "5", price: "99" }), "5000"],
      [JSON.stringify({ price: "98" }), 6_000],
    ]);
    expect(trades.map((t) => [t.ts, t.price.toString()])).toEqual([
      [1_000, "100.5"],
      [6_000, "98"],
    ]);
    expect(invalid).toBe(4);
  });
});

describe("md:quote:<symbol>: the NBBO {bid, ask, ts, low?, halted?, ssr?}", () => {
  it("reads prices, the time and the feed's indicators", () => {
    const q = parseQuote({ bid: "94.9", ask: "95", ts: "1700000000000", low: "90.01", halted: "1", ssr: "true" });
    expect(q).toMatchObject({ ts: 1_700_000_000_000, halted: true, ssr: true });
    expect([q.bid?.toString(), q.ask?.toString(), q.low?.toString()]).toEqual(["94.9", "95", "90.01"]);
  });

  it("an unreadable field is null (and reported by quoteProblems); empty or absent fields are not problems", () => {
    const h = { bid: "abc", ask: "", ts: "soon", halted: "yes" };
    expect(parseQuote(h)).toMatchObject({ bid: null, ask: null, ts: null, low: null, halted: false, ssr: false });
    expect(quoteProblems(h)).toEqual(['bid="abc"', 'ts="soon"']);
    expect(quoteProblems({ bid: "1", ask: "2", ts: "3" })).toEqual([]);
  });
});

describe("md:prev_close: JSON {close, date}, usable only when dated the previous trading day", () => {
  it.each([
    [JSON.stringify({ close: "100", date: "2026-11-24" }), { status: "ok", date: "2026-11-24" }],
    [JSON.stringify({ close: "100", date: "2026-11-20" }), { status: "stale", date: "2026-11-20" }],
    ["100.25", { status: "stale", date: null }],
    ["{not json", { status: "unreadable", raw: "{not json" }],
    [JSON.stringify({ close: 100, date: "2026-11-24" }), { status: "unreadable" }],
    [undefined, { status: "missing" }],
  ])("%s → %o", (raw, expected) => {
    expect(parsePrevClose(raw, "2026-11-24")).toMatchObject(expected);
  });

  it("keeps the close of a stale entry (for the finding), as a Decimal", () => {
    const pc = parsePrevClose("100.25", "2026-11-24");
    expect(pc.status === "stale" && pc.close?.toString()).toBe("100.25");
  });
});

describe("luld:<symbol>: the guard's own state", () => {
  it("stateFields and parseState round-trip a state", () => {
    const s: SymbolState = {
      date: "2026-11-25",
      reference: { price: new Decimal("100"), since: 1_000 },
      reopenedAt: 2_000,
      limit: { phase: "paused", side: "down", limitSince: 3_000, pausedAt: 18_000, pauseUntil: 318_000 },
    };
    const bands = { lower: new Decimal("95"), upper: new Decimal("105"), percent: new Decimal("0.05"), doubled: false };
    const fields = stateFields(s, bands);
    expect(fields).toMatchObject({ ref: "100", phase: "paused", lower: "95", upper: "105", doubled: "0" });
    const back = parseState(fields);
    expect(back.reference?.price.toString()).toBe("100");
    expect({ ...back, reference: null }).toEqual({ ...s, reference: null });
  });

  it("an empty or unreadable hash is a normal state without a reference", () => {
    expect(parseState({})).toEqual({ date: null, reference: null, reopenedAt: null, limit: NORMAL });
    expect(parseState({ phase: "bogus", side: "left", ref: "x", ref_since: "1", limit_since: "NaN" })).toEqual({
      date: null,
      reference: null,
      reopenedAt: null,
      limit: NORMAL,
    });
    expect(stateFields(parseState({}), null)).toMatchObject({ ref: "", lower: "", doubled: "", phase: "normal" });
  });
});

describe("ssr:active and luld:paused entries", () => {
  it("safeSsr accepts an SsrRecord and refuses anything else", () => {
    const rec = { triggered_at: "2026-11-25T15:00:00Z", until: "2026-11-27T05:00:00Z", source: "trade", price: "90" };
    expect(safeSsr(JSON.stringify(rec))).toEqual(rec);
    expect(safeSsr(JSON.stringify({ ...rec, until: "tomorrow" }))).toBeNull();
    expect(safeSsr(JSON.stringify({ ...rec, source: "rumour" }))).toBeNull();
    expect(safeSsr("{")).toBeNull();
  });

  it("safePaused accepts {since, until, side?} and refuses anything else", () => {
    const p = { since: "2026-11-25T15:00:15Z", until: "2026-11-25T15:05:15Z", side: "down" };
    expect(safePaused(JSON.stringify(p))).toEqual(p);
    expect(safePaused(JSON.stringify({ since: "x" }))).toBeNull();
    expect(safePaused("1")).toBeNull();
  });
});
