import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { ONE } from "../../src/recon/fixed.js";
import { parseLedgerFill, readLedgerFile, readLedgerStream } from "../../src/recon/ledger.js";
import type { InputError, LedgerFill } from "../../src/recon/types.js";
import { testRedis } from "../support/redis.js";

const row = {
  fill_id: "F1",
  order_id: "O1",
  broker: "alpaca",
  symbol: "AAPL",
  side: "buy",
  qty: "0.1",
  price: "187.25",
  fee: "0",
  ts: "2026-12-02T00:30:00Z",
};

async function collect(it: AsyncIterable<LedgerFill | InputError>) {
  const out: (LedgerFill | InputError)[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe("parseLedgerFill", () => {
  it("turns a valid row into a LedgerFill: fixed decimals, epoch ms and the New York trade date", () => {
    expect(parseLedgerFill(row, "ledger.jsonl:1")).toEqual({
      fillId: "F1",
      orderId: "O1",
      broker: "alpaca",
      symbol: "AAPL",
      side: "buy",
      qty: ONE / 10n,
      price: 18725n * (ONE / 100n),
      fee: 0n,
      ts: "2026-12-02T00:30:00Z",
      tsMs: Date.parse("2026-12-02T00:30:00Z"),
      tradeDate: "2026-12-01",
      where: "ledger.jsonl:1",
    });
  });

  it("names the field and the reason for a bad decimal, exactly as the contract prints it", () => {
    const e = parseLedgerFill({ ...row, qty: "abc" }, "ledger.jsonl:17");
    expect(JSON.stringify(e)).toBe('{"where":"ledger.jsonl:17","reason":"qty: not a decimal (\\"abc\\")"}');
  });

  it("names every field at fault: missing, wrong type, bad enum, sign rules, time without offset", () => {
    const { fill_id: _drop, ...noId } = row;
    expect(parseLedgerFill(noId, "x:1")).toEqual({ where: "x:1", reason: "fill_id: missing" });
    expect(parseLedgerFill({ ...row, qty: 5 }, "x:2")).toEqual({
      where: "x:2",
      reason: "qty: not a decimal string (5)",
    });
    expect(parseLedgerFill({ ...row, side: "long" }, "x:3")).toEqual({
      where: "x:3",
      reason: 'side: not buy, sell or sell_short ("long")',
    });
    expect(parseLedgerFill({ ...row, qty: "0", price: "-1", fee: "-0.01" }, "x:4")).toEqual({
      where: "x:4",
      reason: "qty: must be positive; price: must not be negative; fee: must not be negative",
    });
    expect(parseLedgerFill({ ...row, ts: "2026-12-01T10:00:00" }, "x:5")).toEqual({
      where: "x:5",
      reason: 'ts: not an ISO-8601 time with an offset ("2026-12-01T10:00:00")',
    });
    expect(parseLedgerFill({ ...row, symbol: "" }, "x:6")).toEqual({ where: "x:6", reason: "symbol: empty" });
    expect(parseLedgerFill({ ...row, qty: "1e3" }, "x:7")).toEqual({
      where: "x:7",
      reason: 'qty: not a decimal ("1e3")',
    });
  });

  it("refuses a row that is not an object", () => {
    expect(parseLedgerFill([row], "x:1")).toEqual({ where: "x:1", reason: "expected a JSON object, got array" });
    expect(parseLedgerFill("F1", "x:2")).toEqual({ where: "x:2", reason: "expected a JSON object, got string" });
    expect(parseLedgerFill(null, "x:3")).toEqual({ where: "x:3", reason: "expected a JSON object, got null" });
  });

  it("ignores fields it does not know (writers may add their own)", () => {
    expect(parseLedgerFill({ ...row, strategy: "mm-1" }, "x:1")).toMatchObject({ fillId: "F1" });
  });
});

describe("readLedgerFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "recon-ledger-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("streams fills and names <basename>:<line> for every bad row; blank lines are skipped", async () => {
    const path = join(dir, "ledger.jsonl");
    const lines = [
      JSON.stringify(row),
      "",
      "   ",
      "{not json",
      JSON.stringify([row]),
      JSON.stringify({ ...row, fill_id: "F2", price: "1.2.3" }),
      `${JSON.stringify({ ...row, fill_id: "F3" })}\r`,
      JSON.stringify({ ...row, fill_id: "F4", fee: undefined }),
    ];
    writeFileSync(path, `\uFEFF${lines.join("\n")}\n`);
    const got = await collect(readLedgerFile(path));
    expect(got.map((x) => ("fillId" in x ? `${x.where} ${x.fillId}` : `${x.where} ${x.reason}`))).toEqual([
      "ledger.jsonl:1 F1",
      expect.stringMatching(/^ledger\.jsonl:4 not JSON \(/),
      "ledger.jsonl:5 expected a JSON object, got array",
      'ledger.jsonl:6 price: not a decimal ("1.2.3")',
      "ledger.jsonl:7 F3",
      "ledger.jsonl:8 fee: missing",
    ]);
  });

  it("fails loudly on a file that does not exist (not a row error)", async () => {
    await expect(collect(readLedgerFile(join(dir, "nope.jsonl")))).rejects.toThrow(/ENOENT/);
  });
});

describe("readLedgerStream (real Redis)", () => {
  let t: ReturnType<typeof testRedis>;
  let key: string;
  beforeEach(() => {
    t = testRedis();
    key = t.keys.raw("ledger:fills");
  });
  afterEach(() => t.cleanup());

  const fields = (o: Record<string, string>) => Object.entries(o).flat();

  it("reads every entry oldest first across pages; where = 'ledger:fills <entry id>'", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await t.redis.xadd(key, "*", ...fields({ ...row, fill_id: `F${i}` })))!);
    const got = await collect(readLedgerStream(t.redis, key, { pageSize: 3 }));
    expect(got.map((f) => ("fillId" in f ? f.fillId : f.reason))).toEqual(["F0", "F1", "F2", "F3", "F4", "F5", "F6"]);
    expect(got.map((f) => f.where)).toEqual(ids.map((id) => `ledger:fills ${id}`));
  });

  it("turns bad entries into InputErrors and carries on", async () => {
    const a = await t.redis.xadd(key, "*", ...fields({ ...row, qty: "abc" }));
    const b = await t.redis.xadd(key, "*", ...fields(row), "qty", "2");
    const c = await t.redis.xadd(key, "*", ...fields({ ...row, fill_id: "F9" }));
    expect(await collect(readLedgerStream(t.redis, key))).toEqual([
      { where: `ledger:fills ${a}`, reason: 'qty: not a decimal ("abc")' },
      { where: `ledger:fills ${b}`, reason: "qty: appears twice in the entry" },
      expect.objectContaining({ fillId: "F9", where: `ledger:fills ${c}` }),
    ]);
  });

  it("pages across a sequence number at its maximum", async () => {
    await t.redis.xadd(key, "5-18446744073709551615", ...fields({ ...row, fill_id: "A" }));
    await t.redis.xadd(key, "6-0", ...fields({ ...row, fill_id: "B" }));
    const got = await collect(readLedgerStream(t.redis, key, { pageSize: 1 }));
    expect(got.map((f) => ("fillId" in f ? f.fillId : f.reason))).toEqual(["A", "B"]);
  });

  it("prefetches the next page while the current one is consumed, and stops at the entry last present at start", async () => {
    for (let i = 0; i < 5; i++) await t.redis.xadd(key, "*", ...fields({ ...row, fill_id: `F${i}` }));
    const calls: string[] = [];
    const spy = new Proxy(t.redis, {
      get(target, p, recv) {
        const v = Reflect.get(target, p, recv);
        if (p === "xrange" && typeof v === "function") {
          return (...args: unknown[]) => {
            calls.push(String(args[1]));
            return v.apply(target, args);
          };
        }
        return typeof v === "function" ? v.bind(target) : v;
      },
    }) as Redis;
    const it = readLedgerStream(spy, key, { pageSize: 2 });
    const first = await it.next();
    expect(first.value).toMatchObject({ fillId: "F0" });
    expect(calls).toHaveLength(2); // page 1, and page 2 already requested
    await t.redis.xadd(key, "*", ...fields({ ...row, fill_id: "LATE" }));
    const rest: string[] = [];
    for await (const f of { [Symbol.asyncIterator]: () => it }) rest.push("fillId" in f ? f.fillId : f.reason);
    expect(rest).toEqual(["F1", "F2", "F3", "F4"]);
  });

  it("yields nothing for a missing key and one InputError for a key of the wrong type", async () => {
    expect(await collect(readLedgerStream(t.redis, key))).toEqual([]);
    await t.redis.set(key, "oops");
    expect(await collect(readLedgerStream(t.redis, key))).toEqual([
      { where: "ledger:fills", reason: "not a stream (string)" },
    ]);
  });
});
