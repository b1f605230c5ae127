// `tradeguard budget` as an operator runs it: the budgets as JSON, lifting a policy that is not in force refused, and
// clearing what an SLO taken out of the config left behind.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { recordSloEvents } from "../../src/jobs/error-budget-math.js";
import { cliDesk, runCli } from "../support/cli.js";

let env: Record<string, string>;
let redis: Redis;
let prefix: string;

let close: () => Promise<void>;

beforeAll(() => {
  ({ env, redis, prefix, close } = cliDesk(
    "budget",
    "guards:\n  error_budget:\n    slos: [{ name: fills, target: 99, period_days: 7, policy: reduce_only, strategies: [momo] }]\n",
    inject("redisUrl"),
  ));
});
afterAll(() => close());

describe("tradeguard budget", () => {
  it("status --json shows the budget left from what trading processes wrote", async () => {
    await recordSloEvents(redis, prefix, "fills", { good: 998, total: 1_000, atMs: Date.now() });
    const r = await runCli(["budget", "status", "--json"], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).slos[0]).toMatchObject({
      slo: "fills",
      state: "ok",
      leftPct: "80.0%",
      spent: false,
      total: "1000",
    });
  });

  it("lift exits 1 when the budget is not spent (nothing to lift)", async () => {
    const r = await runCli(["budget", "lift", "fills", "--reason", "test"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/is not spent: there is no policy to lift/);
  });

  it("clear removes what an SLO no longer declared left behind (exit 0), and refuses a declared one (exit 2)", async () => {
    const k = (x: string) => `${prefix}${x}`;
    await redis.hset(
      k("error_budget:exhausted"),
      "retired",
      JSON.stringify({ since: "2026-11-01T00:00:00.000Z", policy: "reduce_only", enforced: true, strategies: ["old"] }),
    );
    await redis.hset(
      k("strategy:reduce_only"),
      "old",
      JSON.stringify({ reason: "r", source: "error_budget:retired", since: "x" }),
    );
    const r = await runCli(["budget", "clear", "retired", "--reason", "SLO retired", "--json"], env);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/State of SLO retired, which no error_budget guard keeps, removed by cli:ops/);
    expect(JSON.parse(r.stdout)).toEqual({ slo: "retired", exhausted: true, waiver: false, reduceOnly: ["old"] });
    expect(await redis.hgetall(k("strategy:reduce_only"))).toEqual({});
    const declared = await runCli(["budget", "clear", "fills", "--reason", "x"], env);
    expect(declared.code).toBe(2);
    expect(declared.stderr).toMatch(/fills is declared and the error_budget guard keeps its state/);
  });
});
