// `tradeguard doctor` as an operator runs it: a table with a header on a terminal-less stdout (no colour codes),
// the contract JSON with --json, exit 0 when nothing failed and 1 when a check failed.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runCli } from "../support/cli.js";

const env = () => ({
  TRADEGUARD_HOME: mkdtempSync(join(tmpdir(), "tg-doctor-")),
  REDIS_URL: inject("redisUrl"),
  REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
});

describe("tradeguard doctor", () => {
  it("prints a table and exits 0 on the embedded defaults; --json is the report", async () => {
    const e = env();
    const [table, json] = await Promise.all([runCli(["doctor"], e), runCli(["doctor", "--json"], e)]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^check\s+status\s+ms\s+detail$/);
    expect(table.stdout).toMatch(/^redis\s+✓ ok\s+\d+\s+writable primary/m);
    expect(table.stdout).not.toContain("\u001b["); // not a terminal: no colour
    expect(table.stdout).toMatch(/All checks passed\.$/m);
    const report = JSON.parse(json.stdout);
    expect(Object.keys(report)).toEqual(["ok", "checks"]);
    for (const c of report.checks) expect(Object.keys(c).sort()).toEqual(["detail", "ms", "name", "status"]);
  });

  it("exits 1 and names the failed check when a broker cannot be reached", async () => {
    const e = env();
    writeFileSync(
      join(e.TRADEGUARD_HOME, "c.yml"),
      'brokers:\n  - { name: alpaca, kind: alpaca, base_url: "http://127.0.0.1:1", key_id_env: AK, secret_key_env: AS }\n',
    );
    const r = await runCli(["doctor"], { ...e, TRADEGUARD_CONFIG: join(e.TRADEGUARD_HOME, "c.yml"), AK: "k", AS: "s" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^broker alpaca\s+✗ FAIL/m);
    expect(r.stdout).toMatch(/1 check\(s\) failed\./);
  });
});
