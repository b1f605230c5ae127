// The recon operation end to end on real Redis: statement files and the ledger stream, the result object, its
// persistence (recon:statements:<date>, recon:last, the snapshot store), the audit entry with the inputs' SHA-256,
// the critical alert and its resolution, the live Alpaca statement paged from a local server speaking Alpaca's API.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { AlpacaServer, activityId, fillActivity } from "../support/alpaca-server.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: (T | AlpacaServer)[] = [];
afterEach(async () => {
  while (opened.length) {
    const x = opened.pop()!;
    await ("cleanup" in x ? x.cleanup() : x.close());
  }
});

const DATE = "2026-11-30";
const fill = (over: Record<string, string>) => ({
  fill_id: "F1",
  order_id: "O1",
  broker: "alpaca",
  symbol: "AAPL",
  side: "buy",
  qty: "10",
  price: "190.25",
  fee: "0",
  ts: "2026-11-30T15:00:00Z",
  ...over,
});
const activity = (over: Record<string, unknown>) =>
  fillActivity({
    id: activityId("2026-11-30T15:00:00Z"),
    transaction_time: "2026-11-30T15:00:00Z",
    order_id: "O1",
    symbol: "AAPL",
    side: "buy",
    qty: "10",
    price: "190.25",
    cum_qty: "10",
    leaves_qty: "0",
    ...over,
  });

async function runtime(yaml = "", env: Record<string, string> = {}): Promise<T> {
  const t = await testRuntime({ yaml, env, now: () => new Date("2026-11-30T23:00:00Z") });
  opened.push(t);
  return t;
}
async function actions(t: T) {
  return (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map((r) => JSON.parse(r[1][1]!));
}

describe("recon", () => {
  it("a matching day: ok, persisted, audited with the inputs' SHA-256, shown by status", async () => {
    const t = await runtime();
    const ledger = join(t.home, "fills.jsonl");
    writeFileSync(
      ledger,
      [
        fill({ fill_id: "F0", order_id: "O0", qty: "5", price: "180", ts: "2026-11-27T15:00:00Z" }), // opening lot
        fill({}),
        fill({ fill_id: "F2", order_id: "O2", side: "sell", qty: "7.5", price: "191.10", fee: "0.37" }),
      ]
        .map((f) => JSON.stringify(f))
        .join("\n"),
    );
    const statement = join(t.home, "activities.json");
    writeFileSync(
      statement,
      JSON.stringify([
        activity({}),
        activity({
          id: activityId("2026-11-30T15:00:01Z", 1),
          order_id: "O2",
          side: "sell",
          qty: "7.5",
          price: "191.10",
        }),
        {
          activity_type: "FEE",
          id: activityId("2026-11-30T21:00:00Z", 2),
          date: "2026-11-30",
          net_amount: "-0.37",
          symbol: "AAPL",
        },
      ]),
    );
    const positions = join(t.home, "positions.json");
    writeFileSync(positions, JSON.stringify([{ symbol: "AAPL", qty: "7.5", side: "long", asset_class: "us_equity" }]));
    const { result } = await t.rt.ops.recon.run({
      actor: "U1",
      date: DATE,
      statement: { file: statement, positions },
      ledger,
    });
    expect(result).toMatchObject({ date: DATE, ok: true, mismatches: [], errors: [] });
    // FIFO: sold 7.5 of (5 @ 180, then 10 @ 190.25): 5 × 11.10 + 2.5 × 0.85 = 55.50 + 2.125 = 57.625
    expect(result.symbols).toEqual([{ symbol: "AAPL", qty: "7.5", realized_pnl: "57.625", fees: "0.37" }]);
    expect(JSON.parse((await t.rt.redis.get(t.rt.keys.reconStatements(DATE)))!)).toMatchObject({ ok: true });
    const run = (await actions(t)).find((e) => e.action === "recon.run");
    const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
    expect(run.details).toMatchObject({ date: DATE, ok: true, mismatches: 0 });
    expect(run.details.inputs[0].sha256).toBe(
      createHash("sha256").update(readFileSync(statement)).update(readFileSync(positions)).digest("hex"),
    );
    expect(run.details.inputs[1]).toMatchObject({ source: ledger });
    expect(sha(ledger)).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(run)).not.toContain("190.25"); // never whole statements in the audit log
    expect((await t.rt.ops.status()).recon[0]).toMatchObject({ date: DATE, ok: true, mismatches: 0 });
  });

  it("a one-cent fee mismatch is a critical alert with the top differences; a clean re-run resolves it", async () => {
    const t = await runtime();
    const ledger = join(t.home, "fills.jsonl");
    writeFileSync(ledger, JSON.stringify(fill({ fee: "0.37" })));
    const statement = join(t.home, "s.csv");
    const csv = (fee: string) =>
      `record,date,time,order_id,symbol,side,qty,price,amount,description\nfill,${DATE},2026-11-30T15:00:00Z,O1,AAPL,buy,10,190.25,,\nfee,${DATE},,O1,AAPL,,,,${fee},\nposition,${DATE},,,AAPL,,10,,,\n`;
    writeFileSync(statement, csv("0.38"));
    const bad = await t.rt.ops.recon.run({ actor: "U1", date: DATE, statement: { file: statement }, ledger });
    expect(bad.result.ok).toBe(false);
    expect(bad.result.mismatches).toEqual([
      { kind: "fees", symbol: "AAPL", order_id: null, ours: "0.37", theirs: "0.38", diff: "0.01" },
    ]);
    const open = await t.rt.alerts.open();
    expect(open).toEqual([
      expect.objectContaining({ guard: "recon", severity: "critical", key: `recon:all:${DATE}`, sop: "sop-recon" }),
    ]);
    expect(open[0]!.detail).toMatch(/fees AAPL: ours 0\.37, theirs 0\.38 \(diff 0\.01\)/);
    writeFileSync(statement, csv("0.37"));
    const good = await t.rt.ops.recon.run({ actor: "U1", date: DATE, statement: { file: statement }, ledger });
    expect(good.result.ok).toBe(true);
    expect(await t.rt.alerts.open()).toEqual([]);
  });

  it("reads the ledger from the Redis stream and fetches the statement live, paging Alpaca's API", async () => {
    const fills = Array.from({ length: 250 }, (_, i) =>
      activity({
        id: activityId("2026-11-30T15:00:00Z", i),
        order_id: `O${i}`,
        qty: "1",
        price: "10.01",
        cum_qty: "1",
      }),
    );
    const server = await AlpacaServer.start({
      activities: fills,
      positions: [{ symbol: "AAPL", qty: "250", side: "long", asset_class: "us_equity" }],
    });
    opened.push(server);
    const t = await runtime(
      `brokers:\n  - { name: alpaca, kind: alpaca, base_url: "${server.url}", key_id_env: K, secret_key_env: S }\n`,
      { K: "PKTEST", S: "test-secret" },
    );
    for (let i = 0; i < 250; i++)
      await t.rt.redis.xadd(
        t.rt.keys.raw("ledger:fills"),
        "*",
        ...Object.entries(fill({ fill_id: `F${i}`, order_id: `O${i}`, qty: "1", price: "10.01" })).flat(),
      );
    expect(t.rt.ops.recon.statementBrokers()).toEqual(["alpaca"]);
    const { result } = await t.rt.ops.recon.run({ actor: "U1", date: DATE, broker: "alpaca" });
    expect(result).toMatchObject({ ok: true, broker: "alpaca" });
    expect(server.requestsTo("/v2/account/activities").length).toBe(3);
  });

  it("usage errors name what is wrong; a malformed row makes it 'could not reconcile', naming the row", async () => {
    const t = await runtime();
    await expect(t.rt.ops.recon.run({ actor: "U1", date: "2026-13-01", statement: { file: "x.csv" } })).rejects.toThrow(
      UsageError,
    );
    await expect(t.rt.ops.recon.run({ actor: "U1", date: DATE })).rejects.toThrow(
      /--broker NAME .* or --statement FILE/,
    );
    await expect(t.rt.ops.recon.run({ actor: "U1", date: DATE, statement: { file: "/nope.csv" } })).rejects.toThrow(
      /no such file/,
    );
    const statement = join(t.home, "s.csv");
    writeFileSync(
      statement,
      `record,date,time,order_id,symbol,side,qty,price,amount,description\nfill,${DATE},2026-11-30T15:00:00Z,O1,AAPL,buy,abc,190.25,,\n`,
    );
    const ledger = join(t.home, "fills.jsonl");
    writeFileSync(ledger, "");
    const { result } = await t.rt.ops.recon.run({ actor: "U1", date: DATE, statement: { file: statement }, ledger });
    expect(result.ok).toBe(false);
    expect(result.errors).toEqual([{ where: "s.csv:2", reason: 'qty: not a decimal ("abc")' }]);
  });
});
