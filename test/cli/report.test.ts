// `tradeguard report` as an operator runs it: --json prints the report object, --out writes the Markdown, the JSON and
// the chart PNGs, a problem while reading exits 1 and is named, a wrong kind or date exits 2.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createKeys } from "../../src/state/keys.js";
import { runCli } from "../support/cli.js";
import { pngSize } from "../support/png.js";
import { writeAlerts, writeAudit } from "../support/report-fixtures.js";

let env: Record<string, string>;
let redis: Redis;
const prefix = `t${randomBytes(5).toString("hex")}:`;

beforeAll(async () => {
  env = {
    TRADEGUARD_HOME: mkdtempSync(join(tmpdir(), "tg-report-cli-")),
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: prefix,
  };
  redis = new Redis(inject("redisUrl"));
  const keys = createKeys(prefix);
  await writeAlerts(redis, keys, [
    {
      type: "opened",
      at: "2026-11-24T14:00:00.000Z",
      stream: "time_sync",
      guard: "time_sync",
      key: "time_sync:offset",
      severity: "critical",
      title: "Clock offset",
    },
  ]);
  await writeAudit(redis, keys, [
    {
      ts: "2026-11-24T14:10:00.000Z",
      actor: "U1",
      action: "alert.acknowledged",
      details: { alert: "time_sync/time_sync:offset" },
    },
  ]);
});
afterAll(async () => {
  const found = await redis.keys(`${prefix}*`);
  if (found.length) await redis.del(...found);
  redis.disconnect();
});

describe("tradeguard report", () => {
  it("--json prints the report object of the week asked for", async () => {
    const r = await runCli(["report", "weekly", "--since", "2026-11-23", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      kind: "weekly",
      period: { id: "weekly-2026-11-23", from: "2026-11-23T05:00:00.000Z", to: "2026-11-30T05:00:00.000Z" },
      sections: {
        guards: { status: "ok", data: { critical: 1, warn: 0 } },
        alerts: { status: "ok", data: { opened: 1, acknowledged: 1, tta: { p50Ms: 600_000, p90Ms: 600_000 } } },
        halts: { status: "no_data" },
      },
      charts: { drawn: [] },
      problems: [],
    });
  });

  it("--out writes <id>.md, <id>.json and one PNG per chart with data", async () => {
    const dir = join(env.TRADEGUARD_HOME!, "out");
    const r = await runCli(["report", "weekly", "--since", "2026-11-23", "--out", dir], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/drew 2 chart\(s\) in \d+ ms; no data for halts, recon, key-ages, error-budget/);
    const files = readdirSync(dir).sort();
    expect(files).toEqual([
      "weekly-2026-11-23-alerts-by-guard.png",
      "weekly-2026-11-23-time-to-acknowledge.png",
      "weekly-2026-11-23.json",
      "weekly-2026-11-23.md",
    ]);
    expect(r.stdout.trim().split("\n").sort()).toEqual(files.map((f) => join(dir, f)));
    expect(pngSize(readFileSync(join(dir, files[0]!)))).toEqual({ width: 1800, height: 840 });
    expect(readFileSync(join(dir, "weekly-2026-11-23.md"), "utf8")).toContain("p50 **10 min**, p90 **10 min**");
  });

  it("exits 1 naming what it could not read, and 2 on a wrong kind or date", async () => {
    await redis.set(`${prefix}recon:last`, "not a list");
    const r = await runCli(["report", "weekly", "--since", "2026-11-23"], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("# Weekly health report, week of 2026-11-23 (2026-W48)");
    expect(r.stderr).toMatch(/tradeguard: recon:last: unreadable \(WRONGTYPE/);
    const usage = await runCli(["report", "yearly"], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/value 'yearly' is invalid for argument 'kind'\. Allowed choices are weekly, monthly/);
  });
});
