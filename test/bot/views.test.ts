import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { alertView } from "../../src/bot/views/alert.js";
import { clearRequestView } from "../../src/bot/views/clear.js";
import { who } from "../../src/bot/views/common.js";
import { homeView } from "../../src/bot/views/home.js";
import type { Block } from "../../src/bot/views/limits.js";
import { panicConfirmView, panicReportView } from "../../src/bot/views/panic.js";
import { runbookListView, runbookSopView } from "../../src/bot/views/runbook.js";
import { statusView } from "../../src/bot/views/status.js";
import type { OpenAlert } from "../../src/jobs/alerts.js";
import type { BlastRadius } from "../../src/ops/blast-radius.js";
import type { ClearRequest } from "../../src/ops/clear-store.js";
import type { PanicReport } from "../../src/ops/panic-report.js";
import type { StatusView } from "../../src/ops/status.js";
import { blockKitViolations, renderedTexts } from "../support/block-kit-limits.js";
import { report as reportFixture } from "./views/fixtures.js";

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
// The shared fixture (test/bot/views/fixtures.ts), with a reason that must be escaped.
const report: PanicReport = reportFixture({ reason: "runaway <algo> & co" });
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
  keys: [
    { broker: "alpaca", keyId: "PKCURRENT", ageDays: 9, pendingKeyId: "PKNEW", rotation: "r20261125T150000Z-abcdef" },
  ],
  recon: [
    { date: "2026-11-24", broker: "alpaca", ok: false, mismatches: 2, errors: 0, at: "2026-11-24T22:30:00.000Z" },
  ],
  unreadable: [],
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
const alert: OpenAlert = {
  ...status.alerts[0]!,
  stream: "policy",
  detail: "last update 412 s ago",
  value: "412 s",
  threshold: "300 s",
  lastSeen: "x",
  severity: "critical",
  notifiedSeverity: "critical",
  ackedBy: undefined,
};

type Msg = { text: string; blocks: Block[] };

/** Every Slack limit a message breaks (empty: Slack takes it): the shared checker, test/support/block-kit-limits.ts. */
const violations = (m: Msg) => blockKitViolations(m);
/** Every string of a message that Slack renders. */
const rendered = (m: Msg) => renderedTexts(m);

const URL = "https://git.example.com/RUNBOOK.md";
/** The control sequences the views mean to send: who() mentions of the fixtures' users and runbook links. */
const OURS = /<@U0(?:TRADER|CLEAR|APPROVE)>|<https:\/\/git\.example\.com\/RUNBOOK\.md#[^<>|]*\|[^<>]*>/g;
/** Raw `<` left once our own mentions and links are taken out: each one is a control sequence someone injected. */
const stray = (m: Msg) => rendered(m).flatMap((s) => s.replace(OURS, "").match(/<.{0,12}/gs) ?? []);
const HOSTILE = ["<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>", "<#C0EVIL>", "<https://evil.example|click>"];
const EVIL = HOSTILE.join(" & ");
const MB = "x".repeat(1 << 20);
const NOW = new Date("2026-11-25T15:05:00.000Z");
/** A confirmation token as the bot issues them (its contents do not matter to the view). */
const TOKEN = `v1.${"A".repeat(200)}.${"B".repeat(43)}`;

describe("Block Kit builders", () => {
  it("panic confirmation", () => {
    const v = panicConfirmView(radius, "fat finger", TOKEN);
    expect(violations(v)).toEqual([]);
    expect(v).toMatchSnapshot();
  });
  it("/status and App Home say which guards are off until configured and which keys are unreadable", () => {
    const v = statusView({
      ...status,
      guards: [
        ...status.guards,
        {
          name: "time_sync",
          state: "not_configured",
          detail: "not configured — set guards.time_sync.servers to the desk's NTP servers (host:port)",
          lastRun: null,
          durationMs: 0,
        },
      ],
      unreadable: [
        { key: "alerts:open", problem: "wrong type (string)" },
        { key: "resume:soak", problem: 'not JSON ("<!channel>")' },
      ],
    });
    expect(violations(v)).toEqual([]);
    const text = JSON.stringify(v.blocks);
    expect(text).toContain("*time_sync* off: not configured — set guards.time_sync.servers");
    expect(text).toContain("Unreadable in Redis* (2)");
    expect(text).toContain("`alerts:open`: wrong type (string)");
    expect(text).not.toContain("<!channel>");
  });

  it("a panic report names a failed snapshot and the Redis steps that were missed", () => {
    const v = panicReportView(
      {
        ...report,
        status: "HALT-VERIFIED",
        snapshot: null,
        snapshotError: "ENOSPC: no space left on device",
        redisErrors: ["record the finished panic: Redis unreachable (connection reconnecting)"],
      },
      undefined,
    );
    expect(violations(v)).toEqual([]);
    const text = JSON.stringify(v.blocks);
    expect(text).toContain("Snapshot failed");
    expect(text).toContain("ENOSPC");
    expect(text).toContain("Redis failed during the panic");
    expect(text).toContain("record the finished panic");
  });

  it("panic report escapes user text and links the HALT-PARTIAL SOP", () => {
    const v = panicReportView(report, "https://git.example.com/RUNBOOK.md");
    expect(violations(v)).toEqual([]);
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
    expect(violations(v)).toEqual([]);
    expect(JSON.stringify(v.blocks)).toContain("and 490 more");
  });
  it("clear request", () => {
    const v = clearRequestView(request, report, new Date("2026-11-25T15:05:00.000Z"));
    expect(violations(v)).toEqual([]);
    expect(JSON.stringify(v.blocks)).toContain("Halted for *34m*"); // 34 min 59.999 s, floored
    expect(v).toMatchSnapshot();
  });
  it("status", () => {
    const v = statusView(status);
    expect(violations(v)).toEqual([]);
    expect(v).toMatchSnapshot();
  });
  it("alert (opened, with SOP and Acknowledge) and resolved", () => {
    const opened = alertView(
      { type: "opened", at: "2026-11-25T14:20:00.000Z", alert },
      "https://git.example.com/RUNBOOK.md",
    );
    expect(violations(opened)).toEqual([]);
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

describe("hostile and huge input (issue 10: size, mentions and sockets)", () => {
  /** Every view, fed EVIL wherever text comes from a user or from Redis. */
  const hostileViews = (): [string, Msg][] => {
    const order = { id: EVIL, side: EVIL, qty: EVIL, symbol: EVIL, status: EVIL } as never;
    const remaining = { orders: [order], positions: [] };
    const broker = { ...report.brokers[0]!, broker: EVIL, errors: [EVIL], remaining };
    const evilReport = { ...report, id: EVIL, reason: EVIL, actor: EVIL, brokers: [broker], redisErrors: [EVIL] };
    const evilAlert: OpenAlert = { ...alert, guard: EVIL, title: EVIL, detail: EVIL, value: EVIL, threshold: EVIL };
    const evilRequest = { ...request, requester: EVIL, reason: EVIL, approvals: [EVIL, "U0APPROVE"], expiresAt: EVIL };
    const decided = { ...evilRequest, state: "rejected" as const, decidedBy: EVIL, decidedAt: EVIL };
    const evilRadius = { ...radius, brokers: [{ ...radius.brokers[0]!, broker: EVIL, error: EVIL }] };
    const sop = { anchor: "sop-x", title: EVIL, body: `${EVIL}\n\`\`\`\n${EVIL}\n\`\`\`` };
    const evilStatus: StatusView = {
      ...status,
      ...Object.fromEntries(["reason", "since", "invalid", "panicRunning", "soakUntil"].map((k) => [k, EVIL])),
      actor: `cli:${EVIL}`,
      clearRequest: { id: EVIL, requester: EVIL, reason: EVIL, approvals: [EVIL], expiresAt: EVIL },
      guards: [{ ...status.guards[1]!, name: EVIL, detail: EVIL }],
      alerts: [{ ...status.alerts[0]!, title: EVIL, since: EVIL, ackedBy: EVIL }],
      flags: { eventLock: EVIL, luldPaused: 1, ssrActive: 1 },
      lastPanic: evilReport,
      brokers: [{ name: EVIL, kind: EVIL }],
    };
    return [
      ["status", statusView(evilStatus)],
      ["home", { text: "", ...homeView(evilStatus, NOW) }],
      ["alert", alertView({ type: "opened", at: "x", alert: { ...evilAlert, ackedBy: EVIL, sop: EVIL } })],
      ["alert with SOP link", alertView({ type: "escalated", at: "x", alert: evilAlert }, URL)],
      ["clear request", clearRequestView(evilRequest, evilReport, NOW)],
      ["clear decided", clearRequestView(decided, null, NOW)],
      ["panic confirm", panicConfirmView(evilRadius, EVIL, TOKEN)],
      ["panic report", panicReportView(evilReport, URL)],
      ["runbook list", runbookListView([sop], URL)],
      ["runbook SOP", runbookSopView(sop, URL)],
    ];
  };
  it("who() mentions only a well-formed Slack user id and escapes anything else", () => {
    for (const id of ["U0TRADER", "W0ENTERPRISE"]) expect(who(id)).toBe(`<@${id}>`);
    expect(who("cli:alice")).toBe("`cli:alice`");
    for (const bad of ["<!channel>", "U0X><!here", "u0lower", "U", `U${"1".repeat(40)}`, "cli:`<!here>`"])
      expect(who(bad)).not.toMatch(/<[!@#]/);
  });
  it("every view escapes user and Redis text, in the blocks and in the fallback text", () => {
    for (const [name, v] of hostileViews()) {
      expect(stray(v), name).toEqual([]);
      for (const h of HOSTILE) expect(rendered(v).join("\n"), name).not.toContain(h);
      const countsOnly = ["panic confirm", "runbook list", "home"].includes(name); // fallback texts without user text
      if (!countsOnly) expect(v.text, name).toContain("&lt;!channel&gt;");
    }
  });
  it("1 MB reasons, values and event locks and 300 open alerts never make a message Slack would reject", () => {
    const many = <T>(n: number, f: (i: number) => T) => Array.from({ length: n }, (_, i) => f(i));
    const approvals = many(500, () => "U0APPROVE");
    const bigStatus: StatusView = {
      ...status,
      reason: `mode:meta ${MB}`,
      invalid: MB,
      clearRequest: { id: "c1", requester: MB, reason: MB, approvals, expiresAt: MB },
      guards: many(60, (i) => ({ ...status.guards[1]!, name: `g${i}`, detail: MB })),
      alerts: many(300, (i) => ({ ...status.alerts[0]!, key: `k${i}`, title: `${i} ${MB}` })),
      flags: { eventLock: MB, luldPaused: 5000, ssrActive: 5000 },
      lastPanic: { ...report, reason: MB },
    };
    const bigAlert = { ...alert, title: MB, detail: MB, value: `policy:entropy ${MB}` };
    const bigReport = { ...report, reason: MB, brokers: many(80, () => ({ ...report.brokers[0]!, errors: [MB] })) };
    const bigRadius = { ...radius, brokers: many(200, () => ({ ...radius.brokers[1]!, error: MB })) };
    const sops = many(500, (i) => ({ anchor: `sop-${i}`, title: MB.slice(0, 5000), body: "" }));
    const sop = { anchor: "sop-x", title: MB, body: `\`\`\`\n${MB}\n\`\`\`\n${"step\n".repeat(1e5)}` };
    const views: [string, Msg][] = [
      ["status", statusView(bigStatus)],
      ["alert", alertView({ type: "opened", at: "x", alert: bigAlert }, URL)],
      ["clear", clearRequestView({ ...request, reason: MB, approvals }, report, NOW)],
      ["panic confirm", panicConfirmView(bigRadius, MB, TOKEN)],
      ["panic report", panicReportView(bigReport, URL)],
      ["runbook list", runbookListView(sops, URL)],
      ["runbook SOP", runbookSopView(sop)],
    ];
    for (const [name, v] of views) {
      expect(violations(v), name).toEqual([]);
      for (const s of rendered(v)) expect(s.split("```").length % 2, `${name}: a code fence left open`).toBe(1);
      expect(rendered(v).join("\n"), name).toMatch(/… \([\d,]+ more characters\)/);
    }
    expect(rendered(views[0]![1]).join("\n")).toContain("LULD pauses: 5000 symbol(s)");
  });
  const fragment = fc.oneof(
    fc.constantFrom(...HOSTILE, "<!", "<@", "<#", "<", ">", "&", "&lt;", "`", "```", "|", "\n", "*", "_", "😀"),
    fc.string({ maxLength: 20 }),
  );
  const text = fc.oneof(
    fc.array(fragment, { maxLength: 40 }).map((a) => a.join("")),
    fc
      .tuple(fc.constantFrom(...HOSTILE, "x", "```"), fc.integer({ min: 2_000, max: 120_000 }))
      .map(([h, n]) => h.repeat(Math.ceil(n / h.length))),
  );
  it("property: arbitrary reason / title / detail text keeps every view within limits and escaped", () => {
    fc.assert(
      fc.property(text, text, text, (reason, title, detail) => {
        const msgs: Msg[] = [
          statusView({
            ...status,
            reason,
            invalid: detail,
            alerts: [{ ...status.alerts[0]!, title }],
            guards: [{ ...status.guards[1]!, detail }],
            lastPanic: { ...report, reason: detail },
            flags: { ...status.flags, eventLock: title },
          }),
          alertView(
            { type: "opened", at: "x", alert: { ...alert, title, detail, value: reason, threshold: title } },
            URL,
          ),
          alertView({ type: "resolved", at: "x", alert: { ...alert, title, detail } }),
          clearRequestView({ ...request, reason }, { ...report, reason: detail }, NOW),
          panicConfirmView({ ...radius, brokers: [{ ...radius.brokers[1]!, error: detail }] }, reason, TOKEN),
          panicReportView({ ...report, reason, brokers: [{ ...report.brokers[0]!, errors: [detail] }] }, URL),
          runbookListView([{ anchor: "sop-x", title, body: detail }], URL),
          runbookSopView({ anchor: "sop-x", title, body: detail }, URL),
        ];
        for (const m of msgs) {
          expect(violations(m)).toEqual([]);
          expect(stray(m)).toEqual([]);
        }
      }),
      { numRuns: 60 },
    );
  });
});
