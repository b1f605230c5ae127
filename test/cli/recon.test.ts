// `tradeguard recon` as an operator runs it: exit 0 when everything matches, 1 on a mismatch or a could-not-reconcile,
// 2 on usage errors; `--json` prints exactly the contract's object.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { runCli } from "../support/cli.js";

let env: Record<string, string>;
let dir: string;
const DATE = "2026-11-30";
const header = "record,date,time,order_id,symbol,side,qty,price,amount,description";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tg-recon-"));
  env = { TRADEGUARD_HOME: dir, REDIS_URL: inject("redisUrl"), REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:` };
  writeFileSync(
    join(dir, "fills.jsonl"),
    `${JSON.stringify({ fill_id: "F1", order_id: "O1", broker: "x", symbol: "AAPL", side: "buy", qty: "0.1", price: "10", fee: "0", ts: "2026-11-30T15:00:00Z" })}\n${JSON.stringify({ fill_id: "F2", order_id: "O1", broker: "x", symbol: "AAPL", side: "buy", qty: "0.2", price: "10", fee: "0", ts: "2026-11-30T15:00:01Z" })}\n`,
  );
  writeFileSync(
    join(dir, "ok.csv"),
    `${header}\nfill,${DATE},2026-11-30T15:00:00Z,O1,AAPL,buy,0.3,10,,\nposition,${DATE},,,AAPL,,0.3,,,\n`,
  );
  writeFileSync(
    join(dir, "bad.csv"),
    `${header}\nfill,${DATE},2026-11-30T15:00:00Z,O1,AAPL,buy,0.30000000000000004,10,,\nposition,${DATE},,,AAPL,,0.3,,,\n`,
  );
});

const recon = (...args: string[]) =>
  runCli(["recon", "--date", DATE, "--ledger", join(dir, "fills.jsonl"), ...args], env);

describe("tradeguard recon", () => {
  it("exits 0 when everything matches (0.1 + 0.2 = 0.3 exactly) and prints the contract object", async () => {
    const r = await recon("--statement", join(dir, "ok.csv"), "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(["date", "errors", "mismatches", "ok", "rows", "symbols"]);
    expect(out).toMatchObject({ date: DATE, ok: true, symbols: [{ symbol: "AAPL", qty: "0.3" }] });
  });

  it("exits 1 on a mismatch the size of a float rounding error, and names it", async () => {
    const r = await recon("--statement", join(dir, "bad.csv"));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/MISMATCH 2026-11-30/);
    expect(r.stdout).toMatch(/qty .*AAPL .*O1 ours 0\.3 theirs 0\.30000000000000004/);
  });

  it("exits 2 on usage errors", async () => {
    // Independent runs, in parallel (each is a process start).
    const runs = await Promise.all([
      runCli(["recon", "--date", "30/11/2026", "--statement", join(dir, "ok.csv")], env),
      recon("--statement", join(dir, "missing.csv")),
      recon(),
      recon("--positions", "p.json"),
    ]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2]);
  });
});
