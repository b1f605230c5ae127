// Publishing a report end to end on a real runtime: gathered from the test Redis, charts drawn, Markdown + JSON + PNGs
// saved in the snapshot store (the local snapshot dir), posted to a local Slack through the external upload flow with
// the summary as the message, audited as `report.published`; and when the upload fails, the text still goes out.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createFileUploader } from "../../src/bot/files.js";
import { lastPeriod } from "../../src/reports/period.js";
import { type PublishDeps, produceReport, publishReport } from "../../src/reports/publish.js";
import type { Runtime } from "../../src/runtime.js";
import { pngSize } from "../support/png.js";
import { writeAlerts, writeAudit } from "../support/report-fixtures.js";
import { testRuntime } from "../support/runtime.js";
import { startFakeSlack } from "../support/slack.js";

const NOW = new Date("2026-12-07T12:00:00.000Z");
let slack: Awaited<ReturnType<typeof startFakeSlack>>;
let t: Awaited<ReturnType<typeof testRuntime>>;

beforeAll(async () => {
  slack = await startFakeSlack();
});
afterAll(() => slack.close());
afterEach(() => t.cleanup());

async function setup() {
  t = await testRuntime({
    env: {
      SLACK_BOT_TOKEN: "xoxb-test",
      SLACK_SIGNING_SECRET: "s3cret",
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNEL: "C0ALERTS",
    },
    realNotifier: true,
    now: () => NOW,
  });
  const { rt } = t;
  await writeAlerts(rt.redis, rt.keys, [
    {
      type: "opened",
      at: "2026-12-01T14:00:00.000Z",
      stream: "policy",
      guard: "policy_watchdog",
      key: "policy_watchdog:stale",
      severity: "critical",
      title: "RL policy: stale",
    },
  ]);
  await writeAudit(rt.redis, rt.keys, [
    {
      ts: "2026-12-01T14:03:00.000Z",
      actor: "U1",
      action: "alert.acknowledged",
      details: { alert: "policy/policy_watchdog:stale" },
    },
  ]);
  return rt;
}

const deps = (rt: Runtime): PublishDeps => ({
  redis: rt.redis,
  keys: rt.keys,
  config: rt.config,
  now: rt.now,
  keyAges: () => rt.ops.secrets.list(),
  budgets: rt.budgets,
  audit: rt.audit,
  metrics: rt.metrics,
  notifier: rt.notifier,
  log: rt.log,
  uploader: createFileUploader(rt.config, rt.log),
});

async function lastAudit(rt: Runtime) {
  await rt.audit.drained();
  const rows = (await rt.redis.xrevrange(rt.keys.auditLog, "+", "-", "COUNT", 1)) as [string, string[]][];
  return JSON.parse(rows[0]![1][1]!) as { action: string; actor: string; details: Record<string, unknown> };
}

describe("publishing a report", () => {
  it("saves Markdown, JSON and every chart, uploads the charts with the summary, and audits it", async () => {
    const rt = await setup();
    const before = slack.calls.length;
    const produced = await produceReport(deps(rt), "weekly", lastPeriod("weekly", NOW));
    const out = await publishReport(deps(rt), produced, "tradeguard");

    // Saved: <id>.md, <id>.json and the drawn charts, in one folder of the snapshot dir.
    const dir = join(rt.config.panic.snapshotDir, "reports");
    const [folder] = readdirSync(dir);
    expect(folder).toMatch(/^weekly-2026-11-30-2026-12-07T12-00-00-000Z$/);
    const files = readdirSync(join(dir, folder!)).sort();
    expect(files).toEqual(
      ["weekly-2026-11-30.json", "weekly-2026-11-30.md", ...produced.render.charts.map((c) => c.filename)].sort(),
    );
    expect(produced.render.charts.map((c) => c.id)).toEqual(["alerts-by-guard", "time-to-acknowledge"]);
    expect(out.saved).toHaveLength(files.length);
    const md = readFileSync(join(dir, folder!, "weekly-2026-11-30.md"), "utf8");
    expect(md).toContain("![Alerts raised, by guard and severity](weekly-2026-11-30-alerts-by-guard.png)");
    expect(md).toContain("p50 **3 min**, p90 **3 min**");
    expect(md).toContain('_Chart "Halts and resumes": no data — trading was not halted in the period._');
    const json = JSON.parse(readFileSync(join(dir, folder!, "weekly-2026-11-30.json"), "utf8"));
    expect(json.sections.alerts.data.tta.p50Ms).toBe(180_000);
    expect(json.charts.drawn.map((c: { id: string }) => c.id)).toEqual(["alerts-by-guard", "time-to-acknowledge"]);
    const savedPng = readFileSync(join(dir, folder!, produced.render.charts[0]!.filename));
    expect(pngSize(savedPng)).toEqual({ width: 1800, height: 840 });

    // Posted: one reserve + upload per chart, then one completion in the alert channel with the summary.
    const calls = slack.calls.slice(before);
    const complete = calls.find((c) => c.path === "/api/files.completeUploadExternal")!;
    expect(calls.filter((c) => c.path === "/api/files.getUploadURLExternal")).toHaveLength(2);
    expect(complete.body.channel_id).toBe("C0ALERTS");
    expect(complete.body.files).toEqual(
      out.posted!.fileIds.map((id, i) => ({ id, title: produced.render.charts[i]!.title })),
    );
    const comment = String(complete.body.initial_comment);
    expect(comment).toContain("*Weekly health report, week of 2026-11-30 (2026-W49)*");
    expect(comment).toContain("• Alerts: 1 opened, 1 acknowledged (p50 3 min, p90 3 min)");
    expect(comment).toContain("• Halts: no data (trading was not halted in the period)");
    expect(comment).toContain(`Markdown, JSON and charts: ${join(dir, folder!)}/`);
    expect(slack.uploads.get(out.posted!.fileIds[0]!)!.bytes!.equals(savedPng)).toBe(true);
    expect(calls.some((c) => c.path === "/api/chat.postMessage")).toBe(false);

    const a = await lastAudit(rt);
    expect(a).toMatchObject({
      action: "report.published",
      actor: "tradeguard",
      details: {
        kind: "weekly",
        period: { id: "weekly-2026-11-30", from: "2026-11-30T05:00:00.000Z", to: "2026-12-07T05:00:00.000Z" },
        posted: { channel: "C0ALERTS", fileIds: out.posted!.fileIds },
        post_error: null,
        charts: ["alerts-by-guard", "time-to-acknowledge"],
      },
    });
    expect((a.details.omitted as string[]).sort()).toEqual(["error-budget", "halts", "key-ages", "recon"]);
  });

  it("when the upload fails, the text still reaches the channel (with the SOP) and the failure is audited", async () => {
    const rt = await setup();
    slack.uploadStatus = 503;
    const before = slack.calls.length;
    try {
      const produced = await produceReport(deps(rt), "weekly", lastPeriod("weekly", NOW));
      const out = await publishReport(deps(rt), produced, "cli:ops");
      expect(out.posted).toBeNull();
      expect(out.postError).toMatch(/HTTP 503 from the upload URL/);
    } finally {
      slack.uploadStatus = 200;
    }
    const post = await slack.waitFor((c) => c.path === "/api/chat.postMessage" && slack.calls.indexOf(c) >= before);
    expect(String(post.body.text)).toMatch(
      /The charts could not be uploaded: upload of weekly-2026-11-30-alerts-by-guard\.png: HTTP 503/,
    );
    expect(JSON.stringify(post.body.blocks)).toContain("RUNBOOK.md#sop-report");
    expect(await lastAudit(rt)).toMatchObject({
      action: "report.published",
      actor: "cli:ops",
      details: { posted: null },
    });
  });
});
