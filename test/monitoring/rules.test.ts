// The generated Prometheus rules (monitoring/tradeguard-rules.yml) checked by promtool: valid, their unit tests
// (monitoring/tradeguard-rules.test.yml, written by hand: the thresholds are the contract) pass — and fail when a
// threshold moves — and every alert links an SOP that RUNBOOK.md has, by an absolute URL.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { apiQuota, SOP_QUOTA } from "../../src/jobs/api-quota.js";
import { economicEvents, SOP_EVENT } from "../../src/jobs/economic-events.js";
import { policyWatchdog, SOP_POLICY } from "../../src/jobs/policy-watchdog.js";
import { SOP_TIME, timeSync } from "../../src/jobs/time-sync.js";
import { CHECKED_IN, DEFAULT_RUNBOOK_URL } from "../../src/monitoring/config.js";
import { renderRules } from "../../src/monitoring/rules.js";
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
  labels: Record<string, string | undefined>;
  annotations: Record<string, string | undefined>;
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

  it("their unit tests pin the thresholds: a rendering with other watchman thresholds fails them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-rules-"));
    copyFileSync(`${root}monitoring/tradeguard-rules.test.yml`, join(dir, "tradeguard-rules.test.yml"));
    const settings = { ...CHECKED_IN.settings, heartbeat_max_age_seconds: 16, halt_minutes: 31 };
    writeFileSync(join(dir, "tradeguard-rules.yml"), renderRules({ ...CHECKED_IN, settings }));
    const r = await promtool(["test", "rules", join(dir, "tradeguard-rules.test.yml")]);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/alertname: TradeguardHeartbeatStale/);
    expect(r.out).toMatch(/alertname: TradeguardHaltProlonged/);
  });

  it("each have a severity, a valid for: duration (or none: fire at once) and an absolute runbook_url to an SOP", () => {
    const runbook = readFileSync(`${root}RUNBOOK.md`, "utf8");
    for (const r of rules) {
      expect(["warning", "critical"], r.alert).toContain(r.labels.severity);
      if (r.for !== undefined) expect(r.for, r.alert).toMatch(/^\d+[smh]$/);
      const url = r.annotations.runbook_url ?? "";
      expect(url.startsWith(`${DEFAULT_RUNBOOK_URL}#`), `${r.alert}: ${url}`).toBe(true);
      const anchor = /#(sop-[a-z0-9-]+)$/.exec(url)?.[1];
      expect(anchor, r.alert).toBeDefined();
      expect(runbook, r.alert).toContain(`<a id="${anchor}"></a>`);
    }
  });

  it("watch the monitoring guards' gauges, and the bot itself (the watchman group)", () => {
    const declared = new Set(
      [policyWatchdog, economicEvents, timeSync, apiQuota].flatMap((g) => (g.metrics ?? []).map((m) => m.name)),
    );
    const watched = [
      "tradeguard_policy_staleness_seconds",
      "tradeguard_policy_entropy",
      "tradeguard_clock_offset_seconds",
      "tradeguard_ntp_servers_answering",
      "tradeguard_quota_usage_ratio",
      "tradeguard_ws_reconnects_last_hour",
      "tradeguard_event_lock_active",
      "tradeguard_event_calendar_end_timestamp_seconds",
    ];
    for (const name of watched) {
      expect(declared, name).toContain(name);
      expect(
        rules.some((r) => r.expr.includes(name)),
        name,
      ).toBe(true);
    }
    const watchman = rules.filter((r) => !r.labels.guard).map((r) => r.alert);
    expect(watchman).toEqual(
      expect.arrayContaining([
        "TradeguardBotDown",
        "TradeguardBotMissing",
        "TradeguardHeartbeatStale",
        "TradeguardHaltProlonged",
        "TradeguardHaltPartial",
        "TradeguardRedisUnreachable",
      ]),
    );
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
