// `tradeguard market` and `tradeguard luld`, run in-process through commander (the same program object the CLI
// builds), with the environment the CLI would read.
import { randomBytes } from "node:crypto";
import { Command, CommanderError } from "commander";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { registerMarket } from "../../src/cli/market.js";

async function cli(args: string[], env: Record<string, string> = {}) {
  for (const [k, v] of Object.entries({ LOG_LEVEL: "silent", TRADEGUARD_CONFIG: "", ...env })) vi.stubEnv(k, v);
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((s) => {
    stdout += String(s);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((s) => {
    stderr += String(s);
    return true;
  });
  try {
    const program = new Command("tradeguard").exitOverride();
    registerMarket(program);
    await program.parseAsync(["node", "tradeguard", ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
    vi.unstubAllEnvs();
  }
  return { stdout, stderr };
}

const offline = { REDIS_URL: "redis://127.0.0.1:1" };

describe("tradeguard market --at <ISO-8601> --json", () => {
  it.each([
    {
      at: "2026-11-27T12:45:00-05:00",
      out: {
        open: true,
        session: "early_close",
        opens: "2026-11-27T14:30:00.000Z",
        closes: "2026-11-27T18:00:00.000Z",
        reason: "Day after Thanksgiving (early close 13:00 ET)",
      },
      src: "NYSE 2026 calendar: early close the day after Thanksgiving",
    },
    {
      at: "2026-11-27T13:00:00-05:00",
      out: {
        open: false,
        session: "early_close",
        opens: "2026-11-27T14:30:00.000Z",
        closes: "2026-11-27T18:00:00.000Z",
        reason: "Day after Thanksgiving (early close 13:00 ET)",
      },
      src: "closed from 13:00 on an early-close day",
    },
    {
      at: "2026-11-26T12:00:00-05:00",
      out: { open: false, session: "closed", opens: null, closes: null, reason: "Thanksgiving Day" },
      src: "NYSE 2026 calendar: Thanksgiving",
    },
    {
      at: "2026-11-28T12:00:00",
      out: { open: false, session: "closed", opens: null, closes: null, reason: "weekend" },
      src: "Saturday (no offset: New York time)",
    },
    {
      at: "2026-11-25T20:59:00Z",
      out: {
        open: true,
        session: "regular",
        opens: "2026-11-25T14:30:00.000Z",
        closes: "2026-11-25T21:00:00.000Z",
        reason: null,
      },
      src: "regular session, UTC input",
    },
    {
      at: "2025-01-09T10:00:00",
      out: {
        open: false,
        session: "closed",
        opens: null,
        closes: null,
        reason: "National Day of Mourning for President Jimmy Carter",
      },
      src: "one-off closure (Nasdaq ETA2025-1)",
    },
  ])("$src", async ({ at, out }) => {
    const r = await cli(["market", "--at", at, "--json", "--offline"]);
    expect(JSON.parse(r.stdout)).toEqual(out);
  });

  it("without Redis it still answers from the calendar, and says on stderr that closures were not consulted", async () => {
    const r = await cli(["market", "--at", "2026-12-01T10:00:00", "--json"], offline);
    expect(JSON.parse(r.stdout)).toMatchObject({ open: true, session: "regular" });
    expect(r.stderr).toMatch(/Redis unreachable: unscheduled closures \(market:closures\) not consulted/);
  });

  it("an invalid --at is a usage error (commander's, which the CLI ends with exit 2)", async () => {
    const err = cli(["market", "--at", "next tuesday", "--offline"]);
    await expect(err).rejects.toBeInstanceOf(CommanderError);
    await expect(cli(["market", "--at", "next tuesday", "--offline"])).rejects.toMatchObject({
      code: "commander.invalidArgument",
      message: expect.stringMatching(/--at <iso>' argument 'next tuesday' is invalid\. expected an ISO-8601 time/),
    });
  });

  it("prints a readable line without --json", async () => {
    const r = await cli(["market", "--at", "2026-12-24T12:00:00", "--offline"]);
    expect(r.stdout).toBe(
      "2026-12-24 (New York): early close, 09:30–13:00 ET — Christmas Eve (early close 13:00 ET)\n2026-12-24T17:00:00.000Z: OPEN\n",
    );
  });
});

describe("tradeguard market with the desk's unscheduled closures in Redis", () => {
  let redis: Redis;
  const prefix = `t${randomBytes(5).toString("hex")}:`;
  beforeAll(() => {
    redis = new Redis(inject("redisUrl"));
  });
  afterAll(async () => {
    await redis.del(`${prefix}market:closures`);
    redis.disconnect();
  });
  afterEach(() => vi.unstubAllEnvs());

  it("a date in market:closures is closed all day with the desk's reason", async () => {
    await redis.hset(`${prefix}market:closures`, "2026-12-01", "Exchange outage (desk decision)");
    const r = await cli(["market", "--at", "2026-12-01T10:00:00", "--json"], {
      REDIS_URL: inject("redisUrl"),
      REDIS_PREFIX: prefix,
    });
    expect(JSON.parse(r.stdout)).toEqual({
      open: false,
      session: "closed",
      opens: null,
      closes: null,
      reason: "Exchange outage (desk decision)",
    });
    expect(r.stderr).toBe("");
    const other = await cli(["market", "--at", "2026-12-02T10:00:00", "--json"], {
      REDIS_URL: inject("redisUrl"),
      REDIS_PREFIX: prefix,
    });
    expect(JSON.parse(other.stdout)).toMatchObject({ open: true });
  });
});

describe("tradeguard luld --ref-price P --tier 1|2 --at <ISO-8601> --json", () => {
  it.each([
    {
      args: ["100", "1", "2026-11-25T11:00:00"],
      out: { lower: 95, upper: 105, percent: 0.05, doubled: false },
      src: "Appendix A: Tier 1 > $3.00, 5%",
    },
    {
      args: ["100", "1", "2026-11-25T15:40:00"],
      out: { lower: 90, upper: 110, percent: 0.1, doubled: true },
      src: "Tier 1 doubled 3:35–4:00 p.m.",
    },
    {
      args: ["100", "2", "2026-11-25T15:40:00"],
      out: { lower: 90, upper: 110, percent: 0.1, doubled: false },
      src: "18th Amendment: Tier 2 > $3.00 not doubled at the close",
    },
    {
      args: ["100", "1", "2026-11-25T09:35:00"],
      out: { lower: 95, upper: 105, percent: 0.05, doubled: false },
      src: "18th Amendment: no opening doubling",
    },
    {
      args: ["2.50", "2", "2026-11-27T12:40:00"],
      out: { lower: 1.5, upper: 3.5, percent: 0.4, doubled: true },
      src: "early close: last 25 minutes before 13:00, Tier 2 ≤ $3.00",
    },
    {
      args: ["33.33", "1", "2026-11-25T11:00:00"],
      out: { lower: 31.66, upper: 35, percent: 0.05, doubled: false },
      src: "rounded to the cent",
    },
    {
      args: ["0.50", "2", "2026-11-25T11:00:00"],
      out: { lower: 0.35, upper: 0.65, percent: 0.3, doubled: false },
      src: "< $0.75: lesser of $0.15 or 75%",
    },
  ])("$src", async ({ args, out }) => {
    const [ref, tier, at] = args as [string, string, string];
    const r = await cli(["luld", "--ref-price", ref, "--tier", tier, "--at", at, "--json"]);
    expect(JSON.parse(r.stdout)).toEqual(out);
  });

  it("--prev-close picks the bracket (Appendix A (B)(6))", async () => {
    const r = await cli([
      "luld",
      "--ref-price",
      "3.10",
      "--prev-close",
      "2.90",
      "--tier",
      "2",
      "--at",
      "2026-11-25T11:00:00",
      "--json",
    ]);
    expect(JSON.parse(r.stdout)).toEqual({ lower: 2.48, upper: 3.72, percent: 0.2, doubled: false });
  });

  it.each([
    [["--ref-price", "100", "--tier", "3"], /--tier <tier>' argument '3' is invalid\. Allowed choices are 1, 2/],
    [["--ref-price", "-5", "--tier", "1"], /--ref-price <price>' argument '-5' is invalid\. expected a positive/],
    [["--ref-price", "1e3", "--tier", "1"], /--ref-price <price>' argument '1e3' is invalid/],
  ])("usage errors are commander's (exit 2 through the CLI): %s", async (args, msg) => {
    await expect(cli(["luld", ...args, "--json"])).rejects.toMatchObject({
      code: "commander.invalidArgument",
      message: expect.stringMatching(msg),
    });
  });
});
