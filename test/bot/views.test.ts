import { describe, expect, it } from "vitest";
import { alertView } from "../../src/bot/views/alert.js";
import { clearRequestView } from "../../src/bot/views/clear.js";
import type { Block } from "../../src/bot/views/common.js";
import { panicConfirmView, panicReportView } from "../../src/bot/views/panic.js";
import { runbookListView, runbookSopView } from "../../src/bot/views/runbook.js";
import { statusView } from "../../src/bot/views/status.js";
import type { BlastRadius } from "../../src/ops/blast-radius.js";
import type { ClearRequest } from "../../src/ops/clear-store.js";
import type { PanicReport } from "../../src/ops/panic-report.js";
import type { StatusView } from "../../src/ops/status.js";

const radius: BlastRadius = {
  readAt: "2026-11-25T14:30:00.000Z",
  brokers: [
    {
      broker: "alpaca",
      kind: "alpaca",
      openOrders: 3,
      positions: 2,
      grossNotional: "12500.40",
      notCancellable: [{ id: "o-9", symbol: "AAPL", status: "pending_cancel" }],
      error: null,
    },
    {
      broker: "binance",
      kind: "ccxt",
      openOrders: 0,
      positions: 0,
      grossNotional: "0.00",
      notCancellable: [],
      error: "timeout after 2500 ms",
    },
  ],
  totals: { openOrders: 3, positions: 2, grossNotional: "12500.40" },
};
const report: PanicReport = {
  id: "p20261125T143000Z-abc123",
  status: "HALT-PARTIAL",
  reason: "runaway <algo> & co",
  actor: "U0TRADER",
  requestedAt: "2026-11-25T14:30:00.000Z",
  haltedAt: "2026-11-25T14:30:00.001Z",
  finishedAt: "2026-11-25T14:30:03.000Z",
  durationMs: 3000,
  haltFlag: "set",
  brokers: [
    {
      broker: "alpaca",
      kind: "alpaca",
      verified: false,
      cancelled: [{ ref: "o-1", ok: true, status: 200 }],
      closed: [{ ref: "GME", ok: false, status: 403, reason: "insufficient qty available" }],
      remaining: { orders: [], positions: [{ symbol: "GME", qty: "-7" }] },
      errors: ["GME: insufficient qty available"],
      rounds: 3,
      durationMs: 2900,
    },
  ],
  snapshot: "/var/lib/tradeguard/snapshots/x.json",
  snapshotError: null,
  redisErrors: [],
  attempts: 1,
};
const status: StatusView = {
  mode: "halt",
  reason: "drill",
  actor: "U0TRADER",
  since: "2026-11-25T14:30:00.001Z",
  panicId: report.id,
  panicRunning: null,
  lastPanic: report,
  clearRequest: null,
  soakUntil: null,
  brokers: [{ name: "alpaca", kind: "alpaca" }],
  guards: [
    { name: "time_sync", state: "ok", detail: "ok", lastRun: "2026-11-25T14:29:00.000Z", durationMs: 3 },
    {
      name: "policy_watchdog",
      state: "critical",
      detail: "policy stale",
      lastRun: "2026-11-25T14:29:00.000Z",
      durationMs: 1,
    },
  ],
  alerts: [
    {
      guard: "policy_watchdog",
      key: "stale",
      severity: "critical",
      title: "policy stale",
      since: "2026-11-25T14:20:00.000Z",
      count: 9,
      sop: "sop-policy-watchdog",
      ackedBy: null,
    },
  ],
  flags: { eventLock: '{"event":"CPI","until":"2026-11-25T14:00:00.000Z","cap":0.25}', luldPaused: 2, ssrActive: 14 },
};
const request: ClearRequest = {
  id: "c20261125T150000Z-def456",
  requester: "U0CLEAR",
  reason: "flat and reconciled",
  createdAt: "2026-11-25T15:00:00.000Z",
  expiresAt: "2026-11-25T15:15:00.000Z",
  needed: 2,
  approvals: ["U0APPROVE"],
  state: "pending",
  panicId: report.id,
  haltSince: "2026-11-25T14:30:00.001Z",
  decidedBy: null,
  decidedAt: null,
};

/** Slack's documented limits: ≤ 50 blocks, section text ≤ 3000, button text ≤ 75, value ≤ 2000, action_id ≤ 255. */
function withinSlackLimits(blocks: Block[]) {
  expect(blocks.length).toBeLessThanOrEqual(50);
  for (const b of blocks) {
    const text = (b.text as { text?: string } | undefined)?.text;
    if (text) expect(text.length).toBeLessThanOrEqual(3000);
    for (const e of (b.elements as Record<string, unknown>[] | undefined) ?? []) {
      if (e.type === "button") {
        expect((e.text as { text: string }).text.length).toBeLessThanOrEqual(75);
        if (e.value !== undefined) expect((e.value as string).length).toBeLessThanOrEqual(2000);
        expect((e.action_id as string).length).toBeLessThanOrEqual(255);
      }
    }
  }
}

describe("Block Kit builders", () => {
  it("panic confirmation", () => {
    const v = panicConfirmView(radius, "fat finger");
    withinSlackLimits(v.blocks);
    expect(v).toMatchSnapshot();
  });
  it("panic report escapes user text and links the HALT-PARTIAL SOP", () => {
    const v = panicReportView(report, "https://git.example.com/RUNBOOK.md");
    withinSlackLimits(v.blocks);
    expect(JSON.stringify(v.blocks)).toContain("runaway &lt;algo&gt; &amp; co");
    expect(JSON.stringify(v.blocks)).toContain("https://git.example.com/RUNBOOK.md#sop-halt-partial");
    expect(v).toMatchSnapshot();
  });
  it("a huge report stays within Slack's limits", () => {
    const many = {
      ...report,
      brokers: [
        {
          ...report.brokers[0]!,
          remaining: { orders: [], positions: Array.from({ length: 500 }, (_, i) => ({ symbol: `S${i}`, qty: "1" })) },
        },
      ],
    };
    const v = panicReportView(many);
    withinSlackLimits(v.blocks);
    expect(JSON.stringify(v.blocks)).toContain("and 490 more");
  });
  it("clear request", () => {
    const v = clearRequestView(request, report, new Date("2026-11-25T15:05:00.000Z"));
    withinSlackLimits(v.blocks);
    expect(JSON.stringify(v.blocks)).toContain("Halted for *34m*"); // 34 min 59.999 s, floored
    expect(v).toMatchSnapshot();
  });
  it("status", () => {
    const v = statusView(status);
    withinSlackLimits(v.blocks);
    expect(v).toMatchSnapshot();
  });
  it("alert (opened, with SOP and Acknowledge) and resolved", () => {
    const alert = {
      ...status.alerts[0]!,
      stream: "policy",
      detail: "last update 412 s ago",
      value: "412 s",
      threshold: "300 s",
      lastSeen: "x",
      severity: "critical" as const,
      notifiedSeverity: "critical" as const,
      ackedBy: undefined,
    };
    const opened = alertView(
      { type: "opened", at: "2026-11-25T14:20:00.000Z", alert },
      "https://git.example.com/RUNBOOK.md",
    );
    withinSlackLimits(opened.blocks);
    expect(opened).toMatchSnapshot();
    const resolved = alertView({ type: "resolved", at: "2026-11-25T14:40:00.000Z", alert });
    expect(JSON.stringify(resolved.blocks)).not.toContain("alert_ack");
    expect(resolved.severity).toBe("info");
  });
  it("runbook list and one SOP", () => {
    const sops = [
      {
        anchor: "sop-panic",
        title: "Panic (halt trading)",
        body: "**When**: now.\n\n```sh\nnpx tradeguard panic\n```\nSee [docs](docs/audit.md).",
      },
    ];
    expect(runbookListView(sops)).toMatchSnapshot();
    const one = runbookSopView(sops[0]!, "https://git.example.com/RUNBOOK.md");
    expect(JSON.stringify(one.blocks)).toContain("*When*: now.");
    expect(one).toMatchSnapshot();
  });
});
