// The CLI's conventions, over the whole command tree as commander holds it (walked, not listed): every command has
// a description and a --help that exits 0; every command that prints state takes --json, and its stdout goes
// through JSON.parse (run here in process against the test Redis, after the setup it needs, or by the named test
// file when it needs a venue this file does not start); usage errors exit 2, Redis unreachable exits 3; --version.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildProgram } from "../../src/cli/main.js";
import { runInProcess } from "./in-process.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Every command of the program, with its path from the root (groups and leaves). */
function walk(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  return cmd.commands.flatMap((c) => [{ path: [...path, c.name()], cmd: c }, ...walk(c, [...path, c.name()])]);
}
const all = walk(buildProgram());
const leaves = all.filter((c) => c.cmd.commands.length === 0);
const key = (path: string[]) => path.join(" ");

/** Commands without --json, and why: they do not print state, or what they print is already the document. */
const NO_JSON: Record<string, string> = {
  start: "runs the bot; its output is the log",
  "monitoring rules": "prints the Prometheus rules file (YAML) itself",
  "monitoring dashboard": "prints the Grafana dashboard JSON itself",
  "iam-policy": "prints the IAM policy JSON itself",
};

/** --json commands whose output another test file parses, because they need a venue or input not started here. */
const COVERED: Record<string, string> = {
  "s3 apply": "test/cli/s3.test.ts", // a real S3 (Ceph RGW)
  "s3 check": "test/cli/s3.test.ts",
  "secrets stage": "test/cli/secrets.test.ts", // the secret on stdin, a managed broker and its venue
  "secrets test": "test/cli/secrets.test.ts",
  "secrets retire": "test/cli/secrets.test.ts",
  rotate: "test/cli/secrets.test.ts",
  "endpoint use": "test/cli/endpoint.test.ts", // two answering endpoints
  "dr rehearse": "test/cli/dr.test.ts", // a second redis-server as the scratch
  "budget lift": "test/cli/budget.test.ts", // an SLO's event history
  "budget clear": "test/cli/budget.test.ts",
  soak: "test/cli/soak.test.ts", // a broker with a cheap authenticated read (not paper)
  // Loads the S3 SDK, whose ESM build the test runner's resolution cannot load in process; a spawned CLI can.
  "audit anchor": "test/cli/s3.test.ts",
};

let env: Record<string, string>;
let home: string;
let redis: Redis;
let grafana: Server;
const requestIds: Record<string, string> = {};

/** How each walked command is run here, in order (later ones need the state earlier ones leave). */
interface WalkOpts {
  env?: Record<string, string>;
  /** One JSON document per line (JSONL). */
  lines?: boolean;
  codes?: number[];
  before?: () => Promise<unknown>;
}
const WALK: [string, () => string[], WalkOpts?][] = [
  ["status", () => ["status"]],
  ["paper position", () => ["paper", "position", "--symbol", "AAPL", "--qty", "10", "--price", "190.25"]],
  ["paper order", () => ["paper", "order", "--symbol", "MSFT", "--side", "buy", "--qty", "1", "--limit", "400"]],
  ["paper book", () => ["paper", "book"]],
  ["panic", () => ["panic", "--reason", "conventions", "--yes"]],
  ["clear", () => ["clear", "--reason", "flat"]],
  ["reject", () => ["reject", requestIds.clear!]],
  ["approve", () => ["approve", requestIds.clear!], { env: { SUDO_USER: "alice" } }],
  ["guards run", () => ["guards", "run", "--once"], { codes: [0, 1] }],
  ["guards list", () => ["guards", "list"]],
  ["quota", () => ["quota"]],
  [
    "recon",
    () => ["recon", "--date", "2026-11-30", "--statement", join(home, "ok.csv"), "--ledger", join(home, "fills.jsonl")],
  ],
  ["report", () => ["report", "weekly", "--since", "2026-11-23"], { codes: [0, 1] }],
  ["runbook", () => ["runbook", "panic"]],
  ["market", () => ["market", "--offline", "--at", "2026-12-01T10:00:00"]],
  ["luld", () => ["luld", "--ref-price", "100", "--tier", "1"]],
  ["secrets list", () => ["secrets", "list"]],
  ["dr status", () => ["dr", "status"]],
  ["cutover check", () => ["cutover", "check"], { codes: [1] }],
  ["cutover enable", () => ["cutover", "enable", "equities"], { codes: [1] }],
  [
    "cutover disable",
    () => ["cutover", "disable", "equities", "--reason", "drill"],
    {
      before: () =>
        redis.set(
          `${env.REDIS_PREFIX}cutover:equities`,
          JSON.stringify({ enabled: true, request_id: "g1", approved_by: "cli:alice", at: new Date().toISOString() }),
        ),
    },
  ],
  ["budget status", () => ["budget", "status"]],
  ["endpoint list", () => ["endpoint", "list"]],
  ["monitoring catalog", () => ["monitoring", "catalog"]],
  ["grafana push", () => ["grafana", "push"]],
  ["doctor", () => ["doctor"], { codes: [0, 1] }],
  ["audit verify", () => ["audit", "verify"]],
  ["audit pubkey", () => ["audit", "pubkey"]],
  ["audit tail", () => ["audit", "tail", "-n", "5"], { lines: true }],
];

beforeAll(async () => {
  redis = new Redis(inject("redisUrl"));
  home = mkdtempSync(join(tmpdir(), "tg-conventions-"));
  writeFileSync(
    join(home, "fills.jsonl"),
    `${JSON.stringify({ fill_id: "F1", order_id: "O1", broker: "x", symbol: "AAPL", side: "buy", qty: "0.3", price: "10", fee: "0", ts: "2026-11-30T15:00:00Z" })}\n`,
  );
  writeFileSync(
    join(home, "ok.csv"),
    "record,date,time,order_id,symbol,side,qty,price,amount,description\nfill,2026-11-30,2026-11-30T15:00:00Z,O1,AAPL,buy,0.3,10,,\nposition,2026-11-30,,,AAPL,,0.3,,,\n",
  );
  grafana = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ id: 1, uid: "tradeguard", url: "/d/tradeguard/x", status: "success", version: 1 }));
  });
  await new Promise<void>((r) => grafana.listen(0, "127.0.0.1", r));
  const port = (grafana.address() as { port: number }).port;
  env = {
    TRADEGUARD_HOME: home,
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
    GRAFANA_URL: `http://127.0.0.1:${port}`,
    GRAFANA_TOKEN: "glsa_test",
  };
});
afterAll(async () => {
  redis.disconnect();
  await new Promise<void>((r) => grafana.close(() => r()));
});

describe("every command's --help", () => {
  it("the tree is what the program registers, and every command says what it does", () => {
    expect(leaves.length).toBeGreaterThan(40);
    for (const c of all)
      expect({ command: key(c.path), description: c.cmd.description() }).not.toMatchObject({ description: "" });
  });

  it.each(all.map((c) => [key(c.path)]))("%s --help exits 0 with its usage", async (name) => {
    const r = await runInProcess([...name.split(" "), "--help"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: tradeguard ${name}`);
  });

  it("the top-level help names the environment that matters, the exit codes and examples", async () => {
    const r = await runInProcess(["--help"], env);
    expect(r.code).toBe(0);
    for (const s of ["REDIS_URL", "REDIS_PREFIX", "TRADEGUARD_CONFIG", "TRADEGUARD_HOME", "LOG_LEVEL", "NO_COLOR"])
      expect(r.stdout).toContain(s);
    expect(r.stdout).toMatch(/Exit codes: 0 ok, 1 .*2 usage or configuration, 3 Redis unreachable/s);
    expect(r.stdout).toMatch(/Examples:\n {2}tradeguard /);
  });
});

describe("every command's --json", () => {
  it("every command takes --json, or is listed here with why not, and each is walked here or by its own test", () => {
    for (const { path, cmd } of leaves) {
      const name = key(path);
      const json = cmd.options.some((o) => o.long === "--json");
      expect({ name, json }).toEqual({ name, json: !(name in NO_JSON) });
      if (!json) continue;
      const walked = WALK.some(([n]) => n === name);
      expect({ name, walked, covered: name in COVERED }).toEqual({
        name,
        walked: !(name in COVERED),
        covered: !walked,
      });
    }
    for (const [name, file] of Object.entries(COVERED)) {
      expect(existsSync(join(root, file))).toBe(true);
      expect(readFileSync(join(root, file), "utf8")).toContain(`"${name.split(" ").at(-1)}"`);
    }
  });

  it.each(WALK.map((w) => [w[0], w] as const))("%s --json prints JSON", async (_name, [name, args, opts]) => {
    await opts?.before?.();
    const r = await runInProcess([...args(), "--json"], { ...env, ...opts?.env });
    if (!(opts?.codes ?? [0]).includes(r.code)) throw new Error(`${name} exited ${r.code}: ${r.stderr}`);
    const docs = opts?.lines ? r.stdout.trim().split("\n") : [r.stdout];
    expect(docs.length).toBeGreaterThan(0);
    const parsed = docs.map((d) => JSON.parse(d));
    if (name === "clear") requestIds.clear = parsed[0].id;
    if (name === "reject") {
      expect(parsed[0]).toMatchObject({ id: requestIds.clear, state: expect.any(String) });
      const again = await runInProcess(["clear", "--reason", "flat again", "--json"], env);
      requestIds.clear = JSON.parse(again.stdout).id;
    }
  });
});

describe("exit codes (README): usage 2, Redis unreachable 3", () => {
  it("--version prints package.json's version", async () => {
    const r = await runInProcess(["--version"], env);
    expect(r).toMatchObject({
      code: 0,
      stdout: `${JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version}\n`,
    });
  });

  it.each([
    [["paper", "order", "--symbol", "A", "--side", "sideways", "--qty", "1"], /Allowed choices are buy, sell/],
    [["paper", "order", "--symbol", "A", "--side", "buy", "--qty", "-1"], /--qty <decimal>' argument '-1' is invalid/],
    [["luld", "--ref-price", "100", "--tier", "3"], /Allowed choices are 1, 2/],
    [["report", "yearly"], /Allowed choices are weekly, monthly/],
    [["recon", "--date", "30/11/2026"], /expected a date YYYY-MM-DD/],
    [["audit", "tail", "-n", "0"], /expected an integer from 1 to 100000/],
    [["guards", "run", "--once", "--at", "tomorrow"], /expected an ISO-8601 time/],
    [["guards", "run"], /required option '--once' not specified/],
    [["panic"], /required option '--reason <reason>' not specified/],
    [["no-such-command"], /unknown command 'no-such-command'/],
    [["status", "--no-such-flag"], /unknown option '--no-such-flag'/],
    [["runbook", "zzzzqqqq"], /no SOP matches/],
    [["paper", "book", "--broker", "nope"], /--broker nope: no paper broker of that name/],
  ])("%j exits 2", async (args, message) => {
    const r = await runInProcess(args, env);
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });

  it.each([[["status"]], [["guards", "run", "--once"]], [["paper", "book"]], [["quota", "--json"]]])(
    "%j exits 3 with Redis unreachable",
    async (args) => {
      const r = await runInProcess(args, { ...env, REDIS_URL: "redis://127.0.0.1:1" });
      expect(r.stderr).toMatch(/Redis .*unreachable/);
      expect(r.code).toBe(3);
    },
  );
});
