// Every view builder against Slack's documented Block Kit limits (test/support/block-kit-limits.ts), with the inputs
// of a bad morning and with random large ones; and the checker itself, so a limit it stopped seeing fails here.
import type { KnownBlock } from "@slack/types";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { alertView } from "../../../src/bot/views/alert.js";
import { clearRequestView } from "../../../src/bot/views/clear.js";
import { cutoverView } from "../../../src/bot/views/cutover.js";
import { homeView } from "../../../src/bot/views/home.js";
import { fitBlocks } from "../../../src/bot/views/limits.js";
import { panicConfirmView, panicReportView } from "../../../src/bot/views/panic.js";
import { reconView } from "../../../src/bot/views/recon.js";
import { rotateRequestView } from "../../../src/bot/views/rotate.js";
import { runbookListView, runbookSopView, runbookSuggestView } from "../../../src/bot/views/runbook.js";
import { statusView } from "../../../src/bot/views/status.js";
import { GATES } from "../../../src/ops/cutover-gates.js";
import { topMismatches } from "../../../src/recon/compare.js";
import { blockKitViolations, renderedTexts, type Surface } from "../../support/block-kit-limits.js";
import * as f from "./fixtures.js";

type Payload = { text?: string; blocks: KnownBlock[] };
/** Every builder, fed `input`: [name, payload, surface]. */
type Inputs = {
  text: string;
  alerts: number;
  brokers: number;
  luld: number;
  mismatches: number;
  approvals: number;
  url?: string;
};

function everyView(x: Inputs): [string, Payload, Surface][] {
  const t = x.text;
  const alerts = f.many(x.alerts, (i) => f.statusAlert(i, { title: `${i} ${t}`, ackedBy: i % 2 ? t : null }));
  const guards = f.many(Math.min(x.alerts, 80), (i) => ({
    name: `g${i}`,
    state: "critical" as const,
    detail: t,
    lastRun: null,
    durationMs: 1,
  }));
  const approvals = f.many(x.approvals, (i) => `U0APPROVE${i}`);
  const brokers = f.many(x.brokers, (i) =>
    f.radiusBroker({
      broker: `${t.slice(0, 40)}${i}`,
      grossNotional: `${i}${"9".repeat(i % 12)}.${String(i % 100).padStart(2, "0")}`,
      error: i % 7 ? null : t,
      notCancellable: f.many(i % 13, (j) => ({ id: `o-${j}`, symbol: t.slice(0, 10), status: "pending_cancel" })),
    }),
  );
  const panic = f.report({
    reason: t,
    brokers: f.many(Math.max(1, x.brokers), (i) => ({
      ...f.report().brokers[0]!,
      broker: `b${i}`,
      errors: [t],
      remaining: { orders: [], positions: f.many(x.mismatches, (j) => ({ symbol: `S${j}`, qty: "1" })) },
    })),
    redisErrors: [t],
  });
  const status = f.status({
    reason: t,
    invalid: x.text.length % 2 ? t : undefined,
    alerts,
    guards,
    flags: { eventLock: t, luldPaused: x.luld, ssrActive: x.luld },
    lastPanic: panic,
    clearRequest: { id: "c1", requester: t, reason: t, approvals, expiresAt: t },
    unreadable: f.many(Math.min(x.alerts, 40), (i) => ({ key: `k${i}`, problem: t })),
    brokers: f.many(x.brokers, (i) => ({ name: `b${i}`, kind: "alpaca" })),
  });
  const alert = f.openAlert({ title: t, detail: `LULD paused: ${f.LULD_5000.slice(0, x.luld * 9)} ${t}`, value: t });
  const recon = [
    { broker: "alpaca", state: "done" as const, result: f.reconResult(x.mismatches) },
    { broker: t, state: "failed" as const, error: t },
    { broker: "paper", state: "running" as const },
  ];
  const sops = f.many(Math.max(1, x.alerts), (i) => f.sop({ anchor: `sop-${i}`, title: t.slice(0, 500), body: t }));
  return [
    ["status", statusView(status), "message"],
    ["home", homeView(status, f.NOW, x.url), "home"],
    ["alert opened", alertView({ type: "opened", at: "x", alert }, x.url), "message"],
    ["alert resolved", alertView({ type: "resolved", at: "x", alert }, x.url), "message"],
    ["clear", clearRequestView(f.clearRequest({ reason: t, approvals }), panic, f.NOW, x.url), "message"],
    ["panic confirm", panicConfirmView(f.radius(brokers), t, f.TOKEN), "message"],
    ["panic report", panicReportView(panic, x.url), "message"],
    ["recon", reconView("2026-11-24", recon, (r) => topMismatches(r, 5), x.url), "message"],
    ["rotate", rotateRequestView(f.rotateRequest({ reason: t, approvals }), x.url), "message"],
    ["rotate failed", rotateRequestView(f.rotateRequest({ state: "failed", detail: t }), x.url), "message"],
    [
      "cutover",
      cutoverView(
        f.cutover({
          gates: f.many(x.alerts, (i) => ({ gate: GATES[i % GATES.length]!, verdict: "fail", evidence: t })),
        }),
        x.url,
      ),
      "message",
    ],
    ["runbook list", runbookListView(sops, x.url), "message"],
    ["runbook suggest", runbookSuggestView(t, sops, x.url), "message"],
    ["runbook SOP", runbookSopView(f.sop({ title: t, body: `${t}\n\`\`\`\n${t}\n\`\`\`` }), x.url), "message"],
  ];
}

describe("Slack's limits, checked", () => {
  const button = (over: Record<string, unknown> = {}) => ({
    type: "button",
    action_id: "a",
    text: { type: "plain_text", text: "ok" },
    ...over,
  });
  const section = (text: string) => ({ type: "section", text: { type: "mrkdwn", text } });
  it("the checker sees every limit it claims to check", () => {
    const cases: [string, unknown, Surface?][] = [
      ["blocks: 51 > 50", { blocks: f.many(51, () => ({ type: "divider" })) }],
      ["blocks: 101 > 100", { type: "home", blocks: f.many(101, () => ({ type: "divider" })) }, "home"],
      ["text: 3001 > 3000", { blocks: [section("x".repeat(3001))] }],
      ["text: 0 < 1", { blocks: [section("")] }],
      ["neither text nor fields", { blocks: [{ type: "section" }] }],
      ["fields: 11 > 10", { blocks: [{ type: "section", fields: f.many(11, () => ({ type: "mrkdwn", text: "f" })) }] }],
      ["text: 151 > 150", { blocks: [{ type: "header", text: { type: "plain_text", text: "h".repeat(151) } }] }],
      ["type mrkdwn", { blocks: [{ type: "header", text: { type: "mrkdwn", text: "h" } }] }],
      [
        "elements: 11 > 10",
        { blocks: [{ type: "context", elements: f.many(11, () => ({ type: "mrkdwn", text: "c" })) }] },
      ],
      [
        "elements: 26 > 25",
        { blocks: [{ type: "actions", elements: f.many(26, (i) => button({ action_id: `a${i}` })) }] },
      ],
      [
        "text: 76 > 75",
        { blocks: [{ type: "actions", elements: [button({ text: { type: "plain_text", text: "b".repeat(76) } })] }] },
      ],
      ["value: 2001 > 2000", { blocks: [{ type: "actions", elements: [button({ value: "v".repeat(2001) })] }] }],
      ["action_id: 256 > 255", { blocks: [{ type: "actions", elements: [button({ action_id: "a".repeat(256) })] }] }],
      ["duplicate action_id a", { blocks: [{ type: "actions", elements: [button(), button()] }] }],
      [
        "duplicate block_id b",
        {
          blocks: [
            { type: "divider", block_id: "b" },
            { type: "divider", block_id: "b" },
          ],
        },
      ],
      ["unknown block type", { blocks: [{ type: "sectoin" }] }],
      ["text: 40001 > 40000", { text: "t".repeat(40_001), blocks: [] }],
      ["view type undefined, expected home", { blocks: [] }, "home"],
    ];
    for (const [want, payload, surface] of cases)
      expect(blockKitViolations(payload, surface).join("; "), want).toContain(want);
    expect(
      blockKitViolations({ text: "ok", blocks: [section("ok"), { type: "actions", elements: [button()] }] }),
    ).toEqual([]);
  });

  it("fitBlocks turns every breach into what Slack takes, saying what it left out", () => {
    const blocks: KnownBlock[] = [
      { type: "section", text: { type: "mrkdwn", text: "x".repeat(10_000) } },
      { type: "section", fields: f.many(14, (i) => ({ type: "mrkdwn", text: `f${i}` })) },
      { type: "header", text: { type: "plain_text", text: "h".repeat(500) } },
      { type: "context", elements: f.many(30, () => ({ type: "mrkdwn", text: "c" })) },
      {
        type: "actions",
        elements: f.many(40, (i) => ({
          type: "button",
          action_id: `a${i}`,
          text: { type: "plain_text", text: "b".repeat(100) },
          value: "v".repeat(5000),
        })),
      },
      ...f.many(80, () => ({ type: "divider" }) as const),
    ];
    const fitted = fitBlocks(blocks);
    expect(blockKitViolations({ blocks: fitted })).toEqual([]);
    const all = renderedTexts({ blocks: fitted }).join("\n");
    expect(all).toContain("… and 5 more"); // 14 fields → 9 + the note
    expect(all).toContain("… and 21 more"); // 30 context elements → 9 + the note
    expect(all).toContain("… 15 more buttons not shown");
    expect(all).toMatch(/more blocks not shown/);
    expect(all).toMatch(/… \([\d,]+ more characters\)/);
  });
});

describe("every view builder within Slack's limits", () => {
  const bad: Inputs = { text: f.MB, alerts: 300, brokers: 250, luld: 5000, mismatches: 500, approvals: 500 };
  for (const url of [undefined, f.URL])
    it(`a bad morning (${url ? "with" : "without"} runbook_url): 300 alerts, 5,000 LULD pauses, 1 MB texts, 250 brokers`, () => {
      for (const [name, v, surface] of everyView({ ...bad, url })) {
        expect(blockKitViolations(v, surface), name).toEqual([]);
        for (const s of renderedTexts(v)) expect(s.split("```").length % 2, `${name}: a code fence left open`).toBe(1);
      }
    });

  it("says what it left out: 'and N more' wherever a list was cut", () => {
    const views = new Map(everyView({ ...bad, text: "t" }).map(([n, v]) => [n, renderedTexts(v).join("\n")]));
    expect(views.get("status")).toContain("… and 292 more (`tradeguard status --json`)");
    expect(views.get("status")).toContain("LULD pauses: 5000 symbol(s)");
    expect(views.get("home")).toContain("… and 292 more");
    expect(views.get("panic confirm")).toContain("… and 231 more");
    expect(views.get("recon")).toContain("… and 495 more");
    expect(views.get("runbook list")).toMatch(/more characters/);
  });

  const input = fc.record({
    text: fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .tuple(fc.constantFrom("x", "<!channel> & ", "```", "`", "😀", "*_~"), fc.integer({ min: 1, max: 200_000 }))
        .map(([s, n]) => s.repeat(Math.ceil(n / s.length))),
    ),
    alerts: fc.integer({ min: 0, max: 300 }),
    brokers: fc.integer({ min: 0, max: 300 }),
    luld: fc.integer({ min: 0, max: 5000 }),
    mismatches: fc.integer({ min: 0, max: 600 }),
    approvals: fc.integer({ min: 0, max: 600 }),
    url: fc.option(fc.constant(f.URL), { nil: undefined }),
  });
  it("property: random large inputs never make a payload Slack would reject", () => {
    fc.assert(
      fc.property(input, (x) => {
        for (const [name, v, surface] of everyView(x)) expect(blockKitViolations(v, surface), name).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
