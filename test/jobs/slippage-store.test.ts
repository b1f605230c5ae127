// The slippage probe against the real redis-server: it reads only the entries after its cursor, a bounded page per
// tick, aggregates tracked fills per New York trade date and strategy exactly once (two overlapping ticks included),
// names what it skips, and turns a wrong Redis type or a garbage aggregate into "data invalid", never a crash. The
// last test runs the bound guard through the runner.
import { afterEach, describe, expect, it } from "vitest";
import { createSlippageGuard } from "../../src/jobs/slippage.js";
import { runSlippageTick, type SlippageTickOptions } from "../../src/jobs/slippage-store.js";
import { formatBps, parseSlippageDay, type SlippageDay } from "../../src/recon/ledger-slippage.js";
import type { Runtime } from "../../src/runtime.js";
import { testRedis } from "../support/redis.js";
import { testRuntime } from "../support/runtime.js";

const NOW = new Date("2026-12-15T20:00:00.000Z");
const T = NOW.getTime();
const fill = (over: Record<string, string> = {}) => ({
  fill_id: `F${Math.random().toString(36).slice(2, 8)}`,
  order_id: "O1",
  broker: "alpaca",
  symbol: "AAPL",
  side: "buy",
  qty: "10",
  price: "100.05",
  fee: "0",
  ts: "2026-12-15T15:00:00Z",
  strategy: "momo",
  expected_price: "100",
  ...over,
});

let r: ReturnType<typeof testRedis>;
let opened: ReturnType<typeof testRedis> | undefined;
afterEach(async () => {
  await opened?.cleanup();
  opened = undefined;
});
function setup() {
  r = testRedis();
  opened = r;
  const keyOf = (l: string) => `${r.prefix}${l}`;
  const add = (f: Record<string, string>, id = "*") =>
    r.redis.xadd(keyOf("ledger:fills"), id, ...Object.entries(f).flat());
  const opts = (over: Partial<SlippageTickOptions> = {}): SlippageTickOptions => ({
    now: NOW,
    windowDates: ["2026-12-14", "2026-12-15"],
    maxEntries: 100,
    backfillDays: 35,
    retentionDays: 120,
    skippedCap: 200,
    ...over,
  });
  const tick = (over: Partial<SlippageTickOptions> = {}, redis = r.redis) => runSlippageTick(redis, keyOf, opts(over));
  const agg = async (date: string, strategy: string) =>
    parseSlippageDay(await r.redis.hgetall(keyOf(`slippage:daily:${date}:${strategy}`))) as SlippageDay;
  return { keyOf, add, tick, agg };
}
/** Ids within the backfill (the stream's ids are insertion times). */
const id = (n: number) => `${T - 3_600_000 + n}-0`;

describe("slippage tick", () => {
  it("aggregates tracked fills per trade date and strategy, skips and names the bad, ignores untracked", async () => {
    const s = setup();
    await s.add(fill(), id(1)); // +5 bps
    await s.add(fill({ side: "sell", price: "99.98", ts: "2026-12-15T01:00:00Z" }), id(2)); // +2, trade date 14th
    await s.add(fill({ strategy: "hft", side: "sell_short", price: "100.10", qty: "1" }), id(3)); // −10
    const { strategy: _s, expected_price: _e, ...plain } = fill();
    await s.add(plain, id(4)); // a recon fill, not tracked
    await s.add(fill({ expected_price: "abc" }), id(5));
    await s.add(fill({ qty: "-1" }), id(6));
    const t = await s.tick();
    expect(t).toMatchObject({ read: 6, applied: 3, untracked: 1, more: false, committed: true, cursor: id(6) });
    expect(t.invalid).toEqual([]);
    expect(t.skipped.map((x) => [x.entry, x.reason])).toEqual([
      [id(6), "qty: must be positive"],
      [id(5), 'expected_price: not a decimal ("abc")'],
    ]);
    expect(Object.keys(t.days).sort()).toEqual(["2026-12-14", "2026-12-15"]);
    expect(formatBps(t.days["2026-12-15"]!.momo!.sumBps)).toBe("5.00");
    expect(formatBps(t.days["2026-12-14"]!.momo!.sumBps)).toBe("2.00");
    expect(formatBps(t.days["2026-12-15"]!.hft!.sumBps)).toBe("-10.00");
    const stored = await r.redis.hgetall(s.keyOf("slippage:daily:2026-12-15:momo"));
    expect(stored).toMatchObject({
      fills: "1",
      adverse: "1",
      sum_bps: "5",
      sum_cost: "0.5",
      "h:5:10": "1",
      last_entry: id(1),
    });
    expect(await r.redis.smembers(s.keyOf("slippage:strategies:2026-12-15"))).toEqual(
      expect.arrayContaining(["momo", "hft"]),
    );
    // Expires retention_days after the trade date (+1 day: the date's end).
    const ttl = await r.redis.pexpiretime(s.keyOf("slippage:daily:2026-12-15:momo"));
    expect(ttl).toBe(Date.parse("2026-12-15T00:00:00Z") + 121 * 86_400_000);
    expect(await r.redis.get(s.keyOf("slippage:cursor"))).toBe(id(6));
    expect(await r.redis.llen(s.keyOf("slippage:skipped"))).toBe(2);
  });

  it("reads only new entries: a tick without any changes nothing, a new entry is added once", async () => {
    const s = setup();
    await s.add(fill(), id(1));
    await s.tick();
    const again = await s.tick();
    expect(again).toMatchObject({ read: 0, applied: 0, committed: false, cursor: id(1) });
    expect(again.days["2026-12-15"]!.momo!.fills).toBe(1);
    await s.add(fill({ price: "100.10" }), id(2));
    await s.tick();
    expect((await s.agg("2026-12-15", "momo")).fills).toBe(2);
    expect(formatBps((await s.agg("2026-12-15", "momo")).sumBps)).toBe("15.00");
  });

  it("does bounded work: a page of max_entries per tick, the backlog on the next ticks, each entry once", async () => {
    const s = setup();
    for (let i = 1; i <= 5; i++) await s.add(fill(), id(i));
    const first = await s.tick({ maxEntries: 2 });
    expect(first).toMatchObject({ read: 2, more: true, cursor: id(2) });
    expect(await s.tick({ maxEntries: 2 })).toMatchObject({ read: 2, more: true, cursor: id(4) });
    expect(await s.tick({ maxEntries: 2 })).toMatchObject({ read: 1, more: false, cursor: id(5) });
    expect((await s.agg("2026-12-15", "momo")).fills).toBe(5);
  });

  it("counts an entry once when two ticks overlap (the commit checks the cursor it read)", async () => {
    const s = setup();
    for (let i = 1; i <= 20; i++) await s.add(fill(), id(i));
    const other = r.connect();
    const [a, b] = await Promise.all([s.tick(), s.tick({}, other)]);
    // Whichever read the cursor second either saw the first's commit or had its own refused: one commit.
    expect([a.committed, b.committed].filter(Boolean)).toHaveLength(1);
    await s.tick();
    expect((await s.agg("2026-12-15", "momo")).fills).toBe(20);
  });

  it("starts backfill_days back on its first run", async () => {
    const s = setup();
    await s.add(fill(), `${T - 36 * 86_400_000}-0`);
    await s.add(fill({ ts: "2026-11-20T15:00:00Z" }), `${T - 25 * 86_400_000}-0`);
    const t = await s.tick();
    expect(t.read).toBe(1);
    expect((await s.agg("2026-11-20", "momo")).fills).toBe(1);
  });

  it("turns wrong Redis types into named invalid entries, never a crash", async () => {
    const s = setup();
    await r.redis.set(s.keyOf("ledger:fills"), "not a stream");
    expect((await s.tick()).invalid).toEqual(["ledger:fills: wrong type (string)"]);
    await r.redis.del(s.keyOf("ledger:fills"));
    await r.redis.set(s.keyOf("slippage:strategies:2026-12-15"), "x");
    await r.redis.hset(s.keyOf("slippage:skipped"), "a", "b");
    const t = await s.tick();
    expect(t.invalid).toEqual([
      "slippage:skipped: wrong type (hash)",
      "slippage:strategies:2026-12-15: wrong type (string)",
    ]);
    await r.redis.set(s.keyOf("slippage:cursor"), "yesterday");
    expect((await s.tick()).invalid).toContain('slippage:cursor: not a stream id ("yesterday")');
  });

  it("keeps the cursor while an aggregate it must update is garbage, and resumes once it is fixed", async () => {
    const s = setup();
    await s.add(fill(), id(1));
    await r.redis.hset(s.keyOf("slippage:daily:2026-12-15:momo"), "fills", "many");
    const t = await s.tick();
    expect(t.committed).toBe(false);
    expect(t.invalid).toEqual([
      'slippage:daily:2026-12-15:momo: fills: not a count ("many") (the cursor stays at its start until it is fixed or deleted)',
    ]);
    expect(await r.redis.get(s.keyOf("slippage:cursor"))).toBeNull();
    await r.redis.del(s.keyOf("slippage:daily:2026-12-15:momo"));
    expect(await s.tick()).toMatchObject({ committed: true, applied: 1 });
  });
});

describe("slippage guard in the runner", () => {
  it("reads the ledger through its bound probe and raises the threshold finding", async () => {
    let rt: Runtime | undefined;
    const guard = createSlippageGuard({
      get redis() {
        return rt!.redis;
      },
      keyOf: (l) => rt!.keys.raw(l),
    });
    const t = await testRuntime({
      guards: [guard],
      now: () => NOW,
      yaml: "guards:\n  slippage: { min_fills: 3, max_mean_adverse_bps: '4' }\n",
    });
    rt = t.rt;
    try {
      const key = rt.keys.raw("ledger:fills");
      for (let i = 1; i <= 3; i++) await rt.redis.xadd(key, id(i), ...Object.entries(fill()).flat());
      const res = await rt.guards.runOnce({ guard: "slippage" });
      expect(res.findings).toEqual([
        expect.objectContaining({ key: "slippage:momo:mean_adverse", severity: "warn", value: "5.00 bps (3 fills)" }),
      ]);
      expect(res.guards[0]).toMatchObject({ name: "slippage", state: "warn" });
      expect(await rt.redis.get(rt.keys.raw("slippage:cursor"))).toBe(id(3));
    } finally {
      await t.cleanup();
    }
  });
});
