// Every outgoing HTTP call of the bot has a timeout (issue 10: a response_url that never answered left 83 sockets
// open). Each test points a call at a local server that accepts and never answers, then counts its open connections.
import type { App } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createSlackApp } from "../../src/bot/app.js";
import { handlers } from "../../src/handlers/index.js";
import { createNotifier } from "../../src/notify-factory.js";
import { freePort } from "../support/global-setup.js";
import { captureLog, silentLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";
import { commandBody, postSigned, startFakeSlack, startHangingServer } from "../support/slack.js";

const SECRET = "test-signing-secret";
const TIMEOUT_MS = 300;

/** Resolves once `pred` holds (polled), or fails after `ms`. */
async function eventually(pred: () => boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A bot over the real receiver, its outgoing calls timing out after TIMEOUT_MS; `apiUrl` is its Slack Web API. */
async function bot(apiUrl: string, log = silentLog) {
  const port = await freePort();
  const t = await testRuntime({
    log,
    env: {
      SLACK_BOT_TOKEN: "xoxb-fake",
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_API_URL: apiUrl,
      HOST: "127.0.0.1",
      PORT: String(port),
    },
  });
  const { app } = createSlackApp(t.rt, handlers, { httpTimeoutMs: TIMEOUT_MS });
  await app.start({ port, host: "127.0.0.1" });
  return {
    t,
    app: app as App,
    events: `http://127.0.0.1:${port}/slack/events`,
    healthz: `http://127.0.0.1:${port}/healthz`,
    async stop() {
      await app.stop();
      await t.cleanup();
    },
  };
}

describe("outgoing HTTP calls time out", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let hanging: Awaited<ReturnType<typeof startHangingServer>>;
  let b: Awaited<ReturnType<typeof bot>>;

  beforeAll(async () => {
    slack = await startFakeSlack();
    b = await bot(slack.apiUrl);
  });
  afterEach(async () => {
    await hanging?.close();
  });
  afterAll(async () => {
    await b?.stop();
    await slack?.close();
  });

  /** The bot still answers: /healthz, and a /status whose reply arrives. */
  async function stillServing(events: string, healthz: string) {
    expect((await fetch(healthz)).status).toBe(200);
    const url = slack.responseUrl();
    expect((await postSigned(events, SECRET, commandBody("/status", "", "UALICE", url))).status).toBe(200);
    await slack.waitFor((c) => c.path === new URL(url).pathname, 5_000);
  }

  it("respond() to a response_url that never answers: the socket is closed after the timeout", async () => {
    hanging = await startHangingServer();
    const res = await postSigned(b.events, SECRET, commandBody("/status", "", "UALICE", `${hanging.url}/response/1`));
    expect(res.status).toBe(200);
    await eventually(() => hanging.requests.length === 1, 2_000, "the reply reached the hanging server");
    await eventually(() => hanging.open() === 0, TIMEOUT_MS + 1_500, "the hanging connection was closed");
    await stillServing(b.events, b.healthz);
    await eventually(() => hanging.connections() === 0, 6_000, "no connection at all is left (idle ones close too)");
  });

  it("the error reply to a response_url that never answers: the socket is closed after the timeout", async () => {
    hanging = await startHangingServer();
    await postSigned(b.events, SECRET, commandBody("/runbook", "bananas", "UALICE", `${hanging.url}/response/2`));
    await eventually(() => hanging.requests.length === 1, 2_000, "the error reply reached the hanging server");
    await eventually(() => hanging.open() === 0, TIMEOUT_MS + 1_500, "the hanging connection was closed");
    await stillServing(b.events, b.healthz);
  });

  it("a Slack Web API that never answers: each call is cut off, retries are bounded, and the bot keeps answering", async () => {
    hanging = await startHangingServer();
    const logs = captureLog("warn");
    const other = await bot(`${hanging.url}/api/`, logs.log);
    try {
      // auth.test (Bolt's authorization) goes to the hanging API too: it must not hold up the request.
      await stillServing(other.events, other.healthz);
      const home = JSON.stringify({
        type: "event_callback",
        team_id: "T0001",
        event_id: `Ev${Date.now()}`,
        event: { type: "app_home_opened", user: "UALICE", channel: "D0HOME", tab: "home" },
      });
      expect((await postSigned(other.events, SECRET, home, { contentType: "application/json" })).status).toBe(200);
      // The handler's views.publish fails once its attempts are used up: the error path logs it.
      await eventually(() => logs.lines.some((l) => l.includes("unexpected error")), 10_000, "views.publish gave up");
      // Every call is cut off (one may still be inside its timeout when the error is logged: auth.test runs again).
      await eventually(() => hanging.open() === 0, TIMEOUT_MS + 1_500, "every hanging call was cut off");
      const attempts = hanging.requests.filter((p) => p.includes("views.publish")).length;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(3);
      await stillServing(other.events, other.healthz);
    } finally {
      await other.stop();
    }
  });

  it("the alert-channel notifier: a post to a Web API that never answers falls back to the console", async () => {
    hanging = await startHangingServer();
    const t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_ALERT_CHANNEL: "C0ALERTS",
        SLACK_API_URL: `${hanging.url}/api/`,
      },
    });
    try {
      const printed: string[] = [];
      const notifier = createNotifier(t.rt.config, silentLog, (l) => printed.push(l), { timeoutMs: TIMEOUT_MS });
      const posted = await notifier.announce({ text: "HALT-VERIFIED test", severity: "critical" });
      expect(posted).toBeNull();
      expect(printed.join("\n")).toContain("HALT-VERIFIED test");
      await eventually(() => hanging.open() === 0, 1_000, "the hanging connection was closed");
    } finally {
      await t.cleanup();
    }
  }, 30_000);
});
