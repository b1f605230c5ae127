// `tradeguard monitoring rules | dashboard | catalog`: a desk renders its own rules (its runbook_url and monitoring:
// settings) into a file Prometheus loads; without a configured runbook_url the rendering is the checked-in one and
// says so.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it, vi } from "vitest";
import { parse as parseYaml } from "yaml";
import { run } from "../../src/cli/main.js";
import { METRICS } from "../../src/metrics-catalog.js";
import { DEFAULT_RUNBOOK_URL } from "../../src/monitoring/config.js";
import { GENERATED } from "../../src/monitoring/files.js";
import { runCli } from "../support/cli.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("tradeguard monitoring", () => {
  it("rules --out renders the desk's runbook_url and thresholds into the file, atomically", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-mon-"));
    const config = join(home, "tradeguard.yaml");
    writeFileSync(
      config,
      "runbook_url: https://wiki.desk.example/ops/RUNBOOK.md\nmonitoring: { job: tg-prod, halt_minutes: 10 }\n",
    );
    const out = join(home, "tradeguard.yml");
    const r = await runCli(["monitoring", "rules", "--out", out], { TRADEGUARD_HOME: home, TRADEGUARD_CONFIG: config });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`tradeguard: wrote ${out}\n`);
    const rules = (
      parseYaml(readFileSync(out, "utf8")) as {
        groups: { rules: { alert: string; expr: string; for?: string; annotations: Record<string, string> }[] }[];
      }
    ).groups.flatMap((g) => g.rules);
    const halt = rules.find((x) => x.alert === "TradeguardHaltProlonged")!;
    expect(halt).toMatchObject({ expr: 'tradeguard_mode{job="tg-prod",mode="halt"} == 1', for: "10m" });
    for (const rule of rules)
      expect(rule.annotations.runbook_url).toMatch(/^https:\/\/wiki\.desk\.example\/ops\/RUNBOOK\.md#sop-/);
  });

  it("dashboard without a configured runbook_url is the checked-in file, and warns that it uses the default", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-mon-"));
    const r = await runCli(["monitoring", "dashboard"], { TRADEGUARD_HOME: home });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(`${root}${GENERATED.dashboard}`, "utf8"));
    expect(r.stderr).toContain(`runbook_url is not configured: runbook links use the default ${DEFAULT_RUNBOOK_URL}`);
  });

  it("catalog --json lists every catalogued metric", async () => {
    let out = "";
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      out += String(chunk);
      return true;
    });
    try {
      expect(await run(["node", "tradeguard", "monitoring", "catalog", "--json"])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const listed = (JSON.parse(out) as { metrics: { name: string }[] }).metrics.map((m) => m.name);
    expect(listed).toEqual(METRICS.map((m) => m.name));
  });
});
