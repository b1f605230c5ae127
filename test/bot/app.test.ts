import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ids } from "../../src/bot/ids.js";
import type { PaperBroker } from "../../src/brokers/paper.js";
import { defineGuard } from "../../src/jobs/guard.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { blockActionBody, commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";

/** Fires while `demo:level` is above 10. */
const demoGuard = defineGuard({
  name: "demo",
  schedule: "0 0 1 1 *",
  config: z.object({}),
  reads: () => ({ level: { key: "demo:level", type: "string" as const, schema: z.coerce.number().nullable() } }),
  evaluate: (s) =>
    (s.values.level as number | null) !== null && (s.values.level as number) > 10
      ? [
          {
            guard: "demo",
            key: "high",
            severity: "critical" as const,
            title: "demo level high",
            detail: "level above 10",
            sop: "sop-panic",
            value: String(s.values.level),
            threshold: "10",
          },
        ]
      : [],
});

describe("Slack app through the real Bolt HTTP receiver", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let base: string;

  beforeAll(async () => {
    slack = await startFakeSlack();
    const port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_ALERT_CHANNEL: "C0ALERTS",
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      yaml: "roles: { panic: ['*'], clear: [UCLEAR], approve: [UAPPROVE, UCLEAR] }\nresume: { soak_minutes: 5 }\nrunbook_url: https://git.example.com/tradeguard/RUNBOOK.md\n",
      realNotifier: true,
      guards: [demoGuard],
    });
    bot = await startBot(t.rt);
    base = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await slack?.close();
  });

  const events = () => `${base}/slack/events`;

  it("answers a correctly signed /status via response_url", async () => {
    const url = slack.responseUrl();
    const res = await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", url));
    expect(res.status).toBe(200);
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toMatch(/^Mode: active/);
    expect(reply.body.response_type).toBe("ephemeral");
  });

  it("rejects a request with a bad signature (401) and runs nothing", async () => {
    const url = slack.responseUrl();
    const res = await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", url), {
      signature: "v0=deadbeef",
    });
    expect(res.status).toBe(401);
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.calls.some((c) => c.path === new URL(url).pathname)).toBe(false);
  });

  it("rejects a request signed with another secret (401)", async () => {
    const res = await postSigned(events(), "wrong-secret", commandBody("/status", "", "UALICE", slack.responseUrl()));
    expect(res.status).toBe(401);
  });

  it("rejects a stale timestamp (replay older than 5 minutes) with 401", async () => {
    const res = await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", slack.responseUrl()), {
      ts: Math.floor(Date.now() / 1000) - 6 * 60,
    });
    expect(res.status).toBe(401);
  });

  it("serves /healthz as JSON and /metrics in Prometheus format", async () => {
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, redis: "up", mode: "active", slack: "slack-http" });
    const m = await fetch(`${base}/metrics`);
    const text = await m.text();
    expect(text).toMatch(/tradeguard_mode\{mode="active"\} 1/);
    expect(text).toMatch(/tradeguard_process_cpu_user_seconds_total/);
  });

  it("/panic shows the live blast radius with exactly one danger button; confirm halts and reports", async () => {
    const paper = t.rt.ops.deps.brokers[0] as PaperBroker;
    await paper.setPosition("AAPL", "10", "190.25");
    await paper.placeOrder({ symbol: "MSFT", side: "buy", qty: "2", type: "limit", limitPrice: "400.10" });
    const url = slack.responseUrl();
    const res = await postSigned(events(), SECRET, commandBody("/panic", "runaway algo", "UTRADER", url));
    expect(res.status).toBe(200);
    expect(res.text).toContain("Reading the blast radius");
    const confirm = await slack.waitFor((c) => c.path === new URL(url).pathname && Array.isArray(c.body.blocks));
    const blocks = confirm.body.blocks as {
      type: string;
      text?: { text: string };
      elements?: { style?: string; action_id: string; value?: string }[];
    }[];
    const text = JSON.stringify(blocks);
    // The blast-radius table: broker, kind, orders, positions, gross notional (10 × 190.25 + 2 × 400.10, exact).
    expect(text).toMatch(/paper +paper +1 +1 +2,702\.70/);
    const buttons = blocks.flatMap((b) => b.elements ?? []).filter((e) => e.action_id);
    expect(buttons.filter((b) => b.style === "danger")).toHaveLength(1);
    expect(buttons.find((b) => b.style === "danger")!.action_id).toBe(ids.panicConfirm);
    expect(buttons.map((b) => b.action_id)).toContain(ids.panicCancel);
    expect((await t.rt.mode.get()).mode).toBe("active"); // nothing happens before the confirm click

    const url2 = slack.responseUrl();
    const value = buttons.find((b) => b.style === "danger")!.value!;
    const click = await postSigned(events(), SECRET, blockActionBody(ids.panicConfirm, value, "UTRADER", url2));
    expect(click.status).toBe(200);
    const final = await slack.waitFor(
      (c) => c.path === new URL(url2).pathname && String(c.body.text).startsWith("HALT-VERIFIED"),
    );
    expect(JSON.stringify(final.body.blocks)).toContain("RUNBOOK.md#sop-panic");
    expect(await t.rt.mode.get()).toMatchObject({ mode: "halt", reason: "runaway algo", actor: "UTRADER" });
    expect(await paper.listPositions()).toEqual([]);
    expect(await paper.listOpenOrders()).toEqual([]);
    const alert = await slack.waitFor(
      (c) => c.path === "/api/chat.postMessage" && String(c.body.text).includes("HALT-VERIFIED"),
    );
    expect(alert.body.channel).toBe("C0ALERTS");
    expect(JSON.stringify(alert.body.blocks)).toContain("https://git.example.com/tradeguard/RUNBOOK.md#sop-panic");
  });

  it("halts even when Slack's response_url fails", async () => {
    await t.rt.redis.set(t.rt.keys.mode, "active");
    const { confirmation } = await t.rt.ops.panicRequest.prepare("UTRADER", "slack broken");
    const click = await postSigned(
      events(),
      SECRET,
      blockActionBody(ids.panicConfirm, confirmation, "UTRADER", `${slack.url}/fail/500`),
    );
    expect(click.status).toBe(200);
    await slack.waitFor(
      (c) => c.path.startsWith("/api/chat.postMessage") && String(c.body.text).includes("slack broken"),
    );
    expect(await t.rt.mode.get()).toMatchObject({ mode: "halt", reason: "slack broken" });
  });

  it("a double click runs one panic, the second click gets its report; another user's click on it is refused", async () => {
    await t.rt.redis.set(t.rt.keys.mode, "active");
    await (t.rt.ops.deps.brokers[0] as PaperBroker).setPosition("TSLA", "-5", "250");
    const { confirmation } = await t.rt.ops.panicRequest.prepare("UTRADER", "double");
    const before = Number((await t.rt.redis.xlen(t.rt.keys.auditLog)) ?? 0);
    const [u1, u2] = [slack.responseUrl(), slack.responseUrl()];
    const [a, b] = await Promise.all([
      postSigned(events(), SECRET, blockActionBody(ids.panicConfirm, confirmation, "UTRADER", u1)),
      postSigned(events(), SECRET, blockActionBody(ids.panicConfirm, confirmation, "UTRADER", u2)),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await slack.waitFor((c) => c.path.startsWith("/api/chat.postMessage") && String(c.body.text).includes("double"));
    for (const u of [u1, u2])
      await slack.waitFor((c) => c.path === new URL(u).pathname && String(c.body.text).startsWith("HALT-VERIFIED"));
    const other = slack.responseUrl();
    await postSigned(events(), SECRET, blockActionBody(ids.panicConfirm, confirmation, "UTRADER2", other));
    const refusal = await slack.waitFor((c) => c.path === new URL(other).pathname);
    expect(String(refusal.body.text)).toMatch(/shown to someone else/);
    await new Promise((r) => setTimeout(r, 300));
    const rows = await t.rt.redis.xrange(t.rt.keys.auditLog, `${before + 1}-0`, "+");
    const actions = rows.map((r) => JSON.parse(r[1][1]!).action);
    expect(actions.filter((x) => x === "panic.confirmed")).toHaveLength(1);
    expect(actions.filter((x) => x === "panic.broker_result")).toHaveLength(1);
    expect(actions.filter((x) => x === "panic.confirm_refused")).toHaveLength(1);
  });

  it("drops a duplicate delivery of the same interaction", async () => {
    const body = blockActionBody(ids.panicCancel, "cancel", "UTRADER", slack.responseUrl("dup"), {
      triggerId: "111.222",
      actionTs: "1700000000.1",
    });
    await postSigned(events(), SECRET, body);
    await postSigned(events(), SECRET, body);
    await new Promise((r) => setTimeout(r, 300));
    expect(slack.calls.filter((c) => c.path === "/response/dup")).toHaveLength(1);
  });

  it("refuses /clear to a user outside the clear role, clearly, and audits the attempt", async () => {
    const url = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/clear", "looks fine", "UMALLORY", url));
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toMatch(/not in the `clear` role/);
    const last = await t.rt.redis.xrevrange(t.rt.keys.auditLog, "+", "-", "COUNT", 1);
    expect(JSON.parse(last[0]![1][1]!)).toMatchObject({
      actor: "UMALLORY",
      action: "auth.denied",
      details: { role: "clear", attempted: "/clear" },
    });
  });

  it("/clear posts an approval request; self-approval is refused; another approver moves halt → reduce_only", async () => {
    expect((await t.rt.mode.get()).mode).toBe("halt");
    const url = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/clear", "flat and reconciled", "UCLEAR", url));
    const req = await slack.waitFor(
      (c) => c.path === "/api/chat.postMessage" && String(c.body.text).startsWith("Resume requested"),
    );
    expect(req.body.channel).toBe("C0ALERTS");
    const els = (req.body.blocks as { elements?: { action_id: string; style?: string; value: string }[] }[]).flatMap(
      (b) => b.elements ?? [],
    );
    const approve = els.find((e) => e.action_id === ids.clearApprove)!;
    expect(approve.style).toBe("primary");
    expect(els.some((e) => e.action_id === ids.clearReject)).toBe(true);
    expect(JSON.stringify(req.body.blocks)).toContain("Last panic");

    const selfUrl = slack.responseUrl();
    await postSigned(events(), SECRET, blockActionBody(ids.clearApprove, approve.value, "UCLEAR", selfUrl));
    const refusal = await slack.waitFor((c) => c.path === new URL(selfUrl).pathname);
    expect(String(refusal.body.text)).toMatch(/someone else has to approve/);
    expect((await t.rt.mode.get()).mode).toBe("halt");

    const okUrl = slack.responseUrl();
    await postSigned(events(), SECRET, blockActionBody(ids.clearApprove, approve.value, "UAPPROVE", okUrl));
    const updated = await slack.waitFor((c) => c.path === new URL(okUrl).pathname);
    expect(JSON.stringify(updated.body.blocks)).toContain("APPROVED");
    expect(await t.rt.mode.get()).toMatchObject({ mode: "reduce_only", actor: "UAPPROVE" });
  });

  it("publishes the App Home dashboard when the tab is opened", async () => {
    const body = JSON.stringify({
      token: "deprecated",
      team_id: "T0001",
      api_app_id: "A0TG",
      type: "event_callback",
      event_id: `Ev${Date.now()}`,
      event_time: Math.floor(Date.now() / 1000),
      event: {
        type: "app_home_opened",
        user: "UALICE",
        channel: "D0HOME",
        tab: "home",
        event_ts: `${Date.now() / 1000}`,
      },
    });
    const res = await postSigned(events(), SECRET, body, { contentType: "application/json" });
    expect(res.status).toBe(200);
    const publish = await slack.waitFor((c) => c.path === "/api/views.publish");
    expect(publish.body.user_id).toBe("UALICE");
    const view = typeof publish.body.view === "string" ? JSON.parse(publish.body.view) : publish.body.view;
    expect(view.type).toBe("home");
    expect(JSON.stringify(view.blocks)).toMatch(/Mode \*(active|halt|reduce_only)\*/);
  });

  it("/runbook lists the SOPs and shows one from RUNBOOK.md", async () => {
    const url1 = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/runbook", "", "UALICE", url1));
    const list = await slack.waitFor((c) => c.path === new URL(url1).pathname);
    expect(JSON.stringify(list.body.blocks)).toContain("/runbook panic");
    const url2 = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/runbook", "halt partial", "UALICE", url2));
    const one = await slack.waitFor((c) => c.path === new URL(url2).pathname);
    expect(one.body.text).toBe("SOP: HALT-PARTIAL");
    const url3 = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/runbook", "bananas", "UALICE", url3));
    expect(String((await slack.waitFor((c) => c.path === new URL(url3).pathname)).body.text)).toMatch(
      /No SOP matches "bananas"/,
    );
  });

  it("a guard alert reaches the alert channel with SOP and Acknowledge; acking is audited; /status shows it", async () => {
    await t.rt.redis.set(t.rt.keys.raw("demo:level"), "42");
    await t.rt.guards.runOnce();
    const alert = await slack.waitFor(
      (c) => c.path === "/api/chat.postMessage" && String(c.body.text).includes("demo level high"),
    );
    expect(alert.body.channel).toBe("C0ALERTS");
    const els = (alert.body.blocks as { elements?: { action_id: string; value?: string; url?: string }[] }[]).flatMap(
      (b) => b.elements ?? [],
    );
    expect(els.find((e) => e.action_id === ids.openSop)?.url).toBe(
      "https://git.example.com/tradeguard/RUNBOOK.md#sop-panic",
    );
    const ackBtn = els.find((e) => e.action_id === ids.alertAck)!;
    const url = slack.responseUrl();
    await postSigned(events(), SECRET, blockActionBody(ids.alertAck, ackBtn.value!, "UOPS", url));
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toContain("acknowledged: demo level high");
    const last = await t.rt.redis.xrevrange(t.rt.keys.auditLog, "+", "-", "COUNT", 1);
    expect(JSON.parse(last[0]![1][1]!)).toMatchObject({
      actor: "UOPS",
      action: "alert.acknowledged",
      details: { alert: "demo/high" },
    });

    const surl = slack.responseUrl();
    await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", surl));
    const st = JSON.stringify((await slack.waitFor((c) => c.path === new URL(surl).pathname)).body.blocks);
    expect(st).toContain(":rotating_light: demo");
    expect(st).toContain("*Open alerts* (1)");
    expect(st).toContain("acked by UOPS");
    await t.rt.redis.del(t.rt.keys.raw("demo:level"));
  });

  it("turns an unexpected failure into a reply with a correlation id", async () => {
    const status = t.rt.ops.status;
    t.rt.ops.status = () => Promise.reject(new Error("a bug nobody expected"));
    try {
      const url = slack.responseUrl();
      await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", url));
      const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
      expect(String(reply.body.text)).toMatch(/correlation id [0-9a-f]{8}/);
    } finally {
      t.rt.ops.status = status;
    }
  });

  it("names unreadable keys in /status instead of failing", async () => {
    await t.rt.redis.del(t.rt.keys.clearActive);
    await t.rt.redis.hset(t.rt.keys.clearActive, "wrong", "type");
    try {
      const url = slack.responseUrl();
      await postSigned(events(), SECRET, commandBody("/status", "", "UALICE", url));
      const reply = JSON.stringify((await slack.waitFor((c) => c.path === new URL(url).pathname)).body.blocks);
      expect(reply).toContain("Unreadable in Redis");
      expect(reply).toContain("`clear:active`: wrong type (hash)");
      expect(reply).toContain("Brokers:");
    } finally {
      await t.rt.redis.del(t.rt.keys.clearActive);
    }
  });
});

describe("healthz without Redis", () => {
  it("answers 503 when Redis is unreachable", async () => {
    const port = await freePort();
    const t = await testRuntime({ env: { REDIS_URL: "redis://127.0.0.1:1", HOST: "127.0.0.1", PORT: String(port) } });
    const bot = await startBot(t.rt);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ ok: false, redis: "down" });
    } finally {
      await bot.stop();
      await t.rt.close();
    }
  });
});
