import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { apiQuota, SOP_QUOTA } from "../../src/jobs/api-quota.js";
import { economicEvents, SOP_EVENT } from "../../src/jobs/economic-events.js";
import { policyWatchdog, SOP_POLICY } from "../../src/jobs/policy-watchdog.js";
import { SOP_TIME, timeSync } from "../../src/jobs/time-sync.js";
import { parseRunbook } from "../../src/ops/runbook.js";
import { which } from "../support/chrony.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const rulesFile = "monitoring/tradeguard-rules.yml";

function promtool(args: string[]): Promise<{ code: number; out: string }> {
  const bin = which("promtool");
  if (!bin) throw new Error("promtool missing: apt-get install prometheus");
  return new Promise((resolve) => {
    execFile(bin, args, { cwd: root }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === "number"
          ? (err as { code: number }).code
          : -1
        : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

type Rule = {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};
const rules = (
  parseYaml(readFileSync(`${root}${rulesFile}`, "utf8")) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

describe("Prometheus rules (monitoring/tradeguard-rules.yml)", () => {
  it("pass promtool check rules", async () => {
    const r = await promtool(["check", "rules", rulesFile]);
    expect(r.out).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.code).toBe(0);
  });

  it("pass their promtool unit tests (thresholds at and around each limit)", async () => {
    const r = await promtool(["test", "rules", "monitoring/tradeguard-rules.test.yml"]);
    expect(r.out).toContain("SUCCESS");
    expect(r.code).toBe(0);
  });

  it("alert only on gauges the guards export", () => {
    const exported = new Set(
      [policyWatchdog, economicEvents, timeSync, apiQuota].flatMap((g) => (g.metrics ?? []).map((m) => m.name)),
    );
    const used = new Set(rules.flatMap((r) => r.expr.match(/tradeguard_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(0);
    for (const name of used) expect(exported, name).toContain(name);
  });

  it("each have a severity, a for: duration and a runbook_url whose SOP anchor exists", () => {
    const runbook = readFileSync(`${root}RUNBOOK.md`, "utf8");
    for (const r of rules) {
      expect(["warning", "critical"], r.alert).toContain(r.labels.severity);
      expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      const anchor = /^RUNBOOK\.md#(sop-[a-z-]+)$/.exec(r.annotations.runbook_url ?? "")?.[1];
      expect(anchor, r.alert).toBeDefined();
      expect(runbook, r.alert).toContain(`<a id="${anchor}"></a>`);
    }
  });
});

describe("SOPs of the monitoring guards (RUNBOOK.md)", () => {
  it("are RUNBOOK.md sections under the four anchors the guards' findings link to", () => {
    const sops = parseRunbook(readFileSync(`${root}RUNBOOK.md`, "utf8"));
    const mine = [SOP_POLICY, SOP_EVENT, SOP_TIME, SOP_QUOTA];
    expect(mine).toEqual(["sop-policy-watchdog", "sop-economic-event", "sop-time-sync", "sop-api-quota"]);
    for (const anchor of mine) {
      const sop = sops.find((s) => s.anchor === anchor);
      expect(sop, anchor).toBeDefined();
      expect(sop!.body.length, anchor).toBeGreaterThan(500);
    }
  });
});
