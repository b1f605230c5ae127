// The Alpaca statement: account activities and positions in the wire format of the official OpenAPI spec
// (shared/specs/alpaca-trading-openapi.yaml), validated entry by entry, streamed from saved files.
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { UsageError } from "../../src/errors.js";
import { ONE, parseFixed } from "../../src/recon/fixed.js";
import {
  ALPACA_ACTIVITY_TYPES,
  type AlpacaStatement,
  AlpacaStatementBuilder,
  type AlpacaStatementOptions,
  readAlpacaStatement,
  streamJsonArray,
} from "../../src/recon/statement-alpaca.js";
import { position, shortXlk } from "../support/alpaca.js";
import { fillActivity, nonTradeActivity } from "../support/alpaca-server.js";
import { caught } from "../support/caught.js";
import { sharedSpec } from "../support/shared-specs.js";

const dir = mkdtempSync(join(tmpdir(), "tg-statement-alpaca-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fx = (d: string) => parseFixed(d) as bigint;
let fileNo = 0;

/** Writes `entries` (or raw text) as a saved activities file and reads it for `date`. */
async function readActivities(
  entries: unknown[] | string,
  opts: Partial<AlpacaStatementOptions> = {},
  positions?: unknown[] | string,
): Promise<AlpacaStatement> {
  const sub = join(dir, `${++fileNo}`); // a directory per call, so the files keep their statement names
  mkdirSync(sub);
  const activities = join(sub, "activities.json");
  writeFileSync(activities, typeof entries === "string" ? entries : JSON.stringify(entries, null, 1));
  let positionsFile: string | undefined;
  if (positions !== undefined) {
    positionsFile = join(sub, "positions.json");
    writeFileSync(positionsFile, typeof positions === "string" ? positions : JSON.stringify(positions));
  }
  return readAlpacaStatement({ activities, positions: positionsFile }, { date: "2022-02-02", ...opts });
}

const openapi = sharedSpec(
  "alpaca-trading-openapi.yaml",
  "these tests use the spec's ActivityType enum and x-examples",
);

describe.skipIf(openapi.skip)("the spec's wire format", () => {
  // biome-ignore lint/suspicious/noExplicitAny: walking an untyped OpenAPI document
  const spec = openapi.present ? (parse(readFileSync(openapi.require(), "utf8")) as any) : null;
  const schemas = spec?.components.schemas;

  it("knows exactly the spec's ActivityType enum, and the fixtures are the spec's x-examples", () => {
    expect([...ALPACA_ACTIVITY_TYPES]).toEqual(schemas.ActivityType.enum);
    expect(fillActivity()).toEqual(schemas.TradingActivities["x-examples"]["example-1"]);
    expect(nonTradeActivity()).toEqual(schemas.NonTradeActivities["x-examples"]["example-1"]);
  });

  it("reads one activity of every type: FILL is a fill, FEE and CFEE are fees, the rest are counted only", async () => {
    const fill = schemas.TradingActivities["x-examples"]["example-1"];
    const nta = schemas.NonTradeActivities["x-examples"]["example-1"];
    const entries = schemas.ActivityType.enum.map((type: string, i: number) =>
      type === "FILL"
        ? fill
        : { ...nta, activity_type: type, id: `${nta.id}-${i}`, date: "2022-02-02", net_amount: "-0.25" },
    );
    const s = await readActivities(entries);
    expect(s.errors).toEqual([]);
    expect(s.rows).toBe(35);
    expect(Object.keys(s.activityCounts).sort()).toEqual([...schemas.ActivityType.enum].sort());
    expect(Object.values(s.activityCounts).every((n) => n === 1)).toBe(true);
    expect(s.fills).toEqual([
      {
        orderId: "b5abe576-6a8a-49f3-a353-46b72c1ccae9",
        symbol: "AAPL",
        side: "buy",
        qty: 2n * ONE,
        price: 17478n * (ONE / 100n),
        ts: "2022-02-02T18:55:09.981482Z",
        tradeDate: "2022-02-02",
        where: `activities.json[${schemas.ActivityType.enum.indexOf("FILL")}]`,
      },
    ]);
    const feeAt = (t: string) => `activities.json[${schemas.ActivityType.enum.indexOf(t)}]`;
    expect(s.fees).toEqual([
      { symbol: "T", amount: fx("0.25"), tradeDate: "2022-02-02", where: feeAt("CFEE") },
      { symbol: "T", amount: fx("0.25"), tradeDate: "2022-02-02", where: feeAt("FEE") },
    ]);
    expect(s.positions).toBeNull();
    expect(s.cash).toBeNull();
  });

  it("reads the spec's Position x-examples", async () => {
    const examples = schemas.Position["x-examples"];
    const s = await readActivities([], {}, [examples["example-1"], { ...examples["example-2"], symbol: "MSFT" }]);
    expect(s.errors).toEqual([]);
    expect(s.positions).toEqual([
      { symbol: "AAPL", qty: 5n * ONE, where: "positions.json[0]" },
      { symbol: "MSFT", qty: 2n * ONE, where: "positions.json[1]" },
    ]);
  });
});

describe("fees", () => {
  it("normalises the sign: a charge (negative net_amount) is a positive cost, a refund a negative one", async () => {
    const s = await readActivities([
      nonTradeActivity({ activity_type: "FEE", id: "a1", date: "2022-02-02", net_amount: "-0.38", symbol: "AAPL" }),
      nonTradeActivity({
        activity_type: "CFEE",
        id: "a2",
        date: "2022-02-02",
        net_amount: "-0.000123",
        symbol: "BTCUSD",
      }),
      nonTradeActivity({ activity_type: "FEE", id: "a3", date: "2022-02-02", net_amount: "0.05", symbol: undefined }),
      nonTradeActivity({ activity_type: "FEE", id: "a4", date: "2022-02-03", net_amount: "-9.99" }),
      // A date-time `date` is taken as its New York date: 01:00 UTC on the 3rd is the evening of the 2nd.
      nonTradeActivity({ activity_type: "FEE", id: "a5", date: "2022-02-03T01:00:00Z", net_amount: "-0.01" }),
    ]);
    expect(s.errors).toEqual([]);
    expect(s.fees.map((f) => [f.symbol, f.amount, f.where])).toEqual([
      ["AAPL", fx("0.38"), "activities.json[0]"],
      ["BTCUSD", fx("0.000123"), "activities.json[1]"],
      [null, -fx("0.05"), "activities.json[2]"],
      ["T", fx("0.01"), "activities.json[4]"],
    ]);
    expect(s.rows).toBe(5);
    expect(s.outsideDate).toBe(1);
  });

  it("a FEE without net_amount is an error, not a zero fee", async () => {
    const s = await readActivities([
      nonTradeActivity({ activity_type: "FEE", net_amount: undefined, date: "2022-02-02" }),
    ]);
    expect(s.fees).toEqual([]);
    expect(s.errors).toEqual([{ where: "activities.json[0]", reason: "net_amount: missing" }]);
  });
});

describe("fills", () => {
  it("keeps partial fills as separate executions of one order", async () => {
    const order = { order_id: "o-1", symbol: "SPY", side: "sell", order_status: "filled" };
    const s = await readActivities([
      fillActivity({
        ...order,
        id: "f1",
        type: "partial_fill",
        qty: "0.1",
        price: "470.01",
        cum_qty: "0.1",
        leaves_qty: "0.2",
        order_status: "partially_filled",
      }),
      fillActivity({
        ...order,
        id: "f2",
        type: "partial_fill",
        qty: "0.1",
        price: "470.02",
        cum_qty: "0.2",
        leaves_qty: "0.1",
        order_status: "partially_filled",
      }),
      fillActivity({ ...order, id: "f3", type: "fill", qty: "0.1", price: "470.03", cum_qty: "0.3", leaves_qty: "0" }),
    ]);
    expect(s.errors).toEqual([]);
    expect(s.fills.map((f) => [f.orderId, f.side, f.qty, f.price])).toEqual([
      ["o-1", "sell", ONE / 10n, fx("470.01")],
      ["o-1", "sell", ONE / 10n, fx("470.02")],
      ["o-1", "sell", ONE / 10n, fx("470.03")],
    ]);
    expect(s.fills.reduce((a, f) => a + f.qty, 0n)).toBe((3n * ONE) / 10n); // exactly 0.3, as floats never sum
  });

  it("keeps a short sale as sell_short", async () => {
    const s = await readActivities([fillActivity({ side: "sell_short", symbol: "XLK", qty: "24", price: "82.69" })]);
    expect(s.errors).toEqual([]);
    expect(s.fills[0]).toMatchObject({ side: "sell_short", symbol: "XLK", qty: 24n * ONE });
  });

  it("dates a fill across midnight UTC by its New York calendar date (winter and summer time)", async () => {
    const entries = [
      fillActivity({ id: "w1", transaction_time: "2026-12-02T00:30:00Z" }), // 19:30 EST on the 1st
      fillActivity({ id: "w2", transaction_time: "2026-12-02T04:59:59.999Z" }), // 23:59:59 EST on the 1st
      fillActivity({ id: "w3", transaction_time: "2026-12-02T05:00:00Z" }), // midnight EST: the 2nd
      fillActivity({ id: "s1", transaction_time: "2026-07-02T03:30:00Z" }), // 23:30 EDT on the 1st
    ];
    const dec1 = await readActivities(entries, { date: "2026-12-01" });
    expect(dec1.fills.map((f) => f.ts)).toEqual(["2026-12-02T00:30:00Z", "2026-12-02T04:59:59.999Z"]);
    expect(dec1.outsideDate).toBe(2);
    const dec2 = await readActivities(entries, { date: "2026-12-02" });
    expect(dec2.fills.map((f) => f.tradeDate)).toEqual(["2026-12-02"]);
    const jul1 = await readActivities(entries, { date: "2026-07-01" });
    expect(jul1.fills.map((f) => f.where)).toEqual(["activities.json[3]"]);
  });

  it("ignores other dates' entries for comparison but counts them in rows", async () => {
    const s = await readActivities([
      fillActivity({ id: "x1", transaction_time: "2022-02-01T15:00:00Z" }),
      fillActivity({ id: "x2" }),
      nonTradeActivity({ id: "x3", date: "2022-02-01" }),
      nonTradeActivity({ id: "x4", activity_type: "CSD", date: "2022-02-02", net_amount: "1000" }),
    ]);
    expect(s.rows).toBe(4);
    expect(s.fills).toHaveLength(1);
    expect(s.outsideDate).toBe(2);
    expect(s.activityCounts).toEqual({ FILL: 2, DIV: 1, CSD: 1 });
  });
});

describe("positions", () => {
  it("signs shorts whichever way Alpaca writes them, never twice", async () => {
    const s = await readActivities([], {}, [
      position(),
      shortXlk, // side "short", qty "-24" (live Alpaca)
      position({ symbol: "TSLA", side: "short", qty: "3" }), // side "short", unsigned qty
      position({ symbol: "ZERO", qty: "0" }),
    ]);
    expect(s.errors).toEqual([]);
    expect(s.positions!.map((p) => [p.symbol, p.qty])).toEqual([
      ["AAPL", 2n * ONE],
      ["XLK", -24n * ONE],
      ["TSLA", -3n * ONE],
      ["ZERO", 0n],
    ]);
    expect(s.rows).toBe(4);
  });

  it("a negative long, a second entry for a symbol and a bad qty are errors", async () => {
    const s = await readActivities([], {}, [
      position({ qty: "-2" }),
      position({ symbol: "MSFT" }),
      position({ symbol: "MSFT" }),
      position({ symbol: "IBM", qty: "1e3" }),
      position({ symbol: "GE", side: "flat" }),
    ]);
    expect(s.positions!.map((p) => p.symbol)).toEqual(["MSFT"]);
    expect(s.errors).toEqual([
      { where: "positions.json[0]", reason: 'qty: negative ("-2") but side is "long"' },
      { where: "positions.json[2]", reason: "symbol: a second position for MSFT (first at positions.json[1])" },
      { where: "positions.json[3]", reason: 'qty: not a decimal ("1e3")' },
      { where: "positions.json[4]", reason: 'side: not one of long | short ("flat")' },
    ]);
  });

  it("an empty positions file is a flat book; no positions file is no positions", async () => {
    expect((await readActivities([], {}, [])).positions).toEqual([]);
    expect((await readActivities([])).positions).toBeNull();
  });

  it("rolls GET /v2/positions back to the date's close over later fills", () => {
    const b = new AlpacaStatementBuilder({ date: "2022-02-02", rollBackPositions: true });
    b.activity(
      fillActivity({ id: "1", symbol: "AAPL", side: "buy", qty: "4", transaction_time: "2022-02-03T15:00:00Z" }),
      "a[0]",
    );
    b.activity(
      fillActivity({ id: "2", symbol: "MSFT", side: "sell", qty: "5", transaction_time: "2022-02-04T15:00:00Z" }),
      "a[1]",
    );
    b.activity(
      fillActivity({ id: "3", symbol: "IBM", side: "sell_short", qty: "1", transaction_time: "2022-02-03T15:00:00Z" }),
      "a[2]",
    );
    b.activity(fillActivity({ id: "4", symbol: "AAPL", side: "buy", qty: "7" }), "a[3]"); // on the date: stays
    b.positionsSupplied();
    b.position(position({ symbol: "AAPL", qty: "10" }), "p[0]");
    b.position(position({ symbol: "IBM", side: "short", qty: "-1" }), "p[1]");
    const s = b.finish();
    expect(s.errors).toEqual([]);
    expect(s.positions!.map((p) => [p.symbol, p.qty])).toEqual([
      ["AAPL", 6n * ONE],
      ["MSFT", 5n * ONE],
    ]);
  });

  it("refuses to roll back over a later position-changing activity (a split)", () => {
    const b = new AlpacaStatementBuilder({ date: "2022-02-02", rollBackPositions: true });
    b.activity(nonTradeActivity({ activity_type: "SSP", date: "2022-02-03", symbol: "AAPL", qty: "10" }), "a[0]");
    b.positionsSupplied();
    b.position(position(), "p[0]");
    const s = b.finish();
    expect(s.positions).toBeNull();
    expect(s.errors).toEqual([
      {
        where: "a[0]",
        reason:
          "activity_type: SSP on 2022-02-03 changes positions after 2022-02-02, so GET /v2/positions cannot be rolled back to the date",
      },
    ]);
  });
});

describe("malformed input", () => {
  it("names the entry and the field, with parseFixed's wording", async () => {
    const s = await readActivities([
      fillActivity({ id: "ok0" }),
      fillActivity({ id: "ok1" }),
      fillActivity({ id: "ok2" }),
      fillActivity({ id: "bad3", qty: "abc" }),
      fillActivity({ id: "bad4", symbol: undefined }),
      fillActivity({ id: "bad5", price: 174.78 }),
      fillActivity({ id: "bad6", transaction_time: "2022-02-02T18:55:09" }),
      fillActivity({ id: "bad7", side: "short" }),
      fillActivity({ id: "bad8", qty: "0" }),
      "FILL",
      [fillActivity()],
      { ...fillActivity(), activity_type: "TRADE" },
      { ...fillActivity(), activity_type: undefined },
      nonTradeActivity({ net_amount: "1,02" }),
    ]);
    expect(s.errors).toEqual([
      { where: "activities.json[3]", reason: 'qty: not a decimal ("abc")' },
      { where: "activities.json[4]", reason: "symbol: missing" },
      { where: "activities.json[5]", reason: "price: not a decimal string (174.78)" },
      {
        where: "activities.json[6]",
        reason: 'transaction_time: not an ISO-8601 time with an offset ("2022-02-02T18:55:09")',
      },
      { where: "activities.json[7]", reason: 'side: not one of buy | sell | sell_short ("short")' },
      { where: "activities.json[8]", reason: "qty: not positive" },
      { where: "activities.json[9]", reason: 'not an object (a string: "FILL")' },
      { where: "activities.json[10]", reason: "not an object (an array)" },
      { where: "activities.json[11]", reason: 'activity_type: not an Alpaca activity type ("TRADE")' },
      { where: "activities.json[12]", reason: "activity_type: missing" },
      { where: "activities.json[13]", reason: 'net_amount: not a decimal ("1,02")' },
    ]);
    expect(s.fills).toHaveLength(3);
    expect(s.rows).toBe(14);
  });

  it("reports every bad field of one entry", async () => {
    const s = await readActivities([fillActivity({ qty: "x", price: "y" })]);
    expect(s.errors).toEqual([
      { where: "activities.json[0]", reason: 'price: not a decimal ("y"); qty: not a decimal ("x")' },
    ]);
  });

  it("a file that is not a JSON array is one error naming the file", async () => {
    const cases: [string, string][] = [
      ['{"activities": []}', "not a JSON array (an object)"],
      ['"FILL"', "not a JSON array (a string)"],
      ["", "empty: not a JSON array"],
      ["null", 'not a JSON array (starts with "n")'],
    ];
    for (const [text, reason] of cases) {
      const s = await readActivities(text);
      expect(s.errors, text).toEqual([{ where: "activities.json", reason }]);
      expect(s.rows).toBe(0);
    }
  });

  it("a syntax error or a truncated file ends the read with an error; nothing after it is guessed at", async () => {
    const good = JSON.stringify(fillActivity());
    const broken = await readActivities(`[${good},${good},{"id": "x", qty: 1},${good}]`);
    expect(broken.rows).toBe(2);
    expect(broken.errors).toHaveLength(1);
    expect(broken.errors[0]!.where).toBe("activities.json[2]");
    expect(broken.errors[0]!.reason).toMatch(/^not valid JSON \(.+\); the rest of activities\.json was not read$/);

    const truncated = await readActivities(`[${good},${good.slice(0, 40)}`);
    expect(truncated.rows).toBe(1);
    expect(truncated.errors).toEqual([
      { where: "activities.json", reason: "truncated: the array is not closed (after 1 entries)" },
    ]);

    const missingComma = await readActivities(`[${good} ${good}]`);
    expect(missingComma.errors).toEqual([
      {
        where: "activities.json[1]",
        reason: 'not valid JSON (expected "," or "]", got "{"); the rest of activities.json was not read',
      },
    ]);
    expect((await readActivities(`[${good},]`)).errors).toEqual([
      { where: "activities.json[1]", reason: 'not valid JSON (a "," before "]")' },
    ]);
    expect((await readActivities(`[${good}] x`)).errors).toEqual([
      { where: "activities.json", reason: 'not valid JSON ("x" after the closing "]")' },
    ]);
  });

  it("a missing file is a usage error naming it", async () => {
    const err = await caught(readAlpacaStatement({ activities: join(dir, "nope.json") }, { date: "2022-02-02" }));
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toContain("nope.json: cannot read (ENOENT)");
  });
});

describe("streamJsonArray", () => {
  async function entries(chunks: string[]): Promise<{ values: unknown[]; end: unknown }> {
    const values: unknown[] = [];
    async function* source() {
      yield* chunks;
    }
    const end = await streamJsonArray(source(), "f.json", (v) => values.push(v));
    return { values, end };
  }

  it("gives the same values as JSON.parse however the text is split into chunks", async () => {
    const doc = [
      { s: 'a "quoted" ] } [ { \\ \u00e9 \ud83d\ude00', n: [1, [2, [3]], {}], e: "" },
      'top "string" with ] and ,',
      12.5e3,
      -0,
      true,
      null,
      [],
      { "": { "}": "]" } },
    ];
    const text = ` \n[ ${doc.map((d) => JSON.stringify(d)).join(" ,\n ")} ]\n`;
    for (let i = 0; i <= text.length; i++) {
      for (const j of [i, Math.min(text.length, i + 1), Math.min(text.length, i + 7)]) {
        const { values, end } = await entries([text.slice(0, i), text.slice(i, j), text.slice(j)]);
        expect(end).toBeNull();
        expect(values).toEqual(JSON.parse(text));
      }
    }
  });

  it("round-trips arbitrary JSON arrays in arbitrary chunks (property)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.jsonValue()), fc.array(fc.nat(), { maxLength: 8 }), async (arr, cuts) => {
        const text = JSON.stringify(arr, null, cuts.length % 3);
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...points].map((p, k, all) => text.slice(p, all[k + 1] ?? text.length));
        const { values, end } = await entries(chunks);
        expect(end).toBeNull();
        expect(values).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });
});

describe("a large file", () => {
  it("streams 200,000 activities without holding the file in memory", async () => {
    const file = join(dir, "big-activities.json");
    const out = createWriteStream(file);
    const N = 200_000;
    const write = (s: string) =>
      out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once("drain", () => r()));
    await write("[\n");
    for (let i = 0; i < N; i++) {
      // One in 200 on the date (2022-02-02); the rest the day before. ~270 bytes each.
      const onDate = i % 200 === 0;
      const t = new Date(Date.UTC(2022, 1, onDate ? 2 : 1, 15, 0, 0, i % 1000)).toISOString();
      const a = fillActivity({
        id: `${t}::${i}`,
        transaction_time: t,
        order_id: `order-${i}`,
        qty: `${1 + (i % 7)}.25`,
      });
      await write(`${i ? ",\n" : ""}${JSON.stringify(a)}`);
    }
    await write("\n]\n");
    await new Promise<void>((r) => out.end(r));
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(50_000_000);

    // Live memory (after a forced GC, so garbage V8 has not collected yet does not count), sampled between the chunks
    // of the read: heap plus ArrayBuffers, where fs.readFile would hold the whole file.
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const base = live();
    let peak = base;
    let samples = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, live());
      samples++;
    }, 20);
    const s = await readAlpacaStatement({ activities: file }, { date: "2022-02-02" });
    clearInterval(timer);
    expect(s.errors).toEqual([]);
    expect(s.rows).toBe(N);
    expect(s.fills).toHaveLength(N / 200);
    expect(s.outsideDate).toBe(N - N / 200);
    // Loosely: streaming holds a chunk, an entry and the date's 1,000 fills (a few MB); reading the ~55 MB file whole
    // and parsing it peaks above the file's size (measured: ~4 MB against ~77 MB for a 77 MB file).
    expect(samples).toBeGreaterThan(5);
    expect(peak - base).toBeLessThan(size / 4);
  }, 60_000);
});
