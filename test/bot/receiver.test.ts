// Broken and hostile input at the Slack HTTP edge (issue 10): every request below is signed exactly as Slack signs
// it (unless the test is about the signature) and goes through the real Bolt receiver. None may crash the bot,
// answer 5xx, run anything, or leave Slack waiting past its 3 s.
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ids } from "../../src/bot/ids.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { captureLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";
import {
  blockActionBody,
  commandBody,
  interactionBody,
  postSigned,
  slackSignature,
  startFakeSlack,
} from "../support/slack.js";

const SECRET = "test-signing-secret";
const JSON_TYPE = "application/json";
const nowS = () => Math.floor(Date.now() / 1000);

/** A well-formed block_actions payload (the fields a test then breaks). */
function interaction(responseUrl: string): Record<string, unknown> {
  return JSON.parse(
    new URLSearchParams(blockActionBody(ids.panicCancel, "cancel", "UALICE", responseUrl)).get("payload")!,
  );
}

/** Sends raw bytes to the server and resolves with the status line's code. */
function rawRequest(port: number, text: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = connect(port, "127.0.0.1", () => s.write(text));
    let out = "";
    s.on("data", (d) => {
      out += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(out);
      if (m) {
        s.destroy();
        resolve(Number(m[1]));
      }
    });
    s.on("error", reject);
    s.setTimeout(5_000, () => reject(new Error(`no answer; got ${JSON.stringify(out)}`)));
  });
}

describe("the Slack HTTP edge", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let base: string;
  let port: number;
  const logs = captureLog("info");

  beforeAll(async () => {
    slack = await startFakeSlack();
    port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      yaml: "roles: { panic: ['*'] }\n",
      log: logs.log,
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
  const post = (body: string, opts: Parameters<typeof postSigned>[3] = {}) => postSigned(events(), SECRET, body, opts);
  const healthy = async () => expect((await fetch(`${base}/healthz`)).status).toBe(200);

  it.each([
    ["JSON null", "null", JSON_TYPE],
    ["JSON array", "[]", JSON_TYPE],
    ["JSON number", "42", JSON_TYPE],
    ["JSON string", '"event_callback"', JSON_TYPE],
    ["JSON that does not parse", '{"type":', JSON_TYPE],
    ["JSON without a known type", '{"type":"nonsense"}', JSON_TYPE],
    ["form payload=null", "payload=null", undefined],
    ["form payload=[]", "payload=%5B%5D", undefined],
    ["form payload that does not parse", "payload=%7B", undefined],
    ["empty form", "", undefined],
  ])("a signed %s body is refused with 400 and the bot keeps serving", async (_name, body, contentType) => {
    const res = await post(body, { contentType });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.text)).toMatchObject({ error: expect.any(String) });
    await healthy();
  });

  it("refuses slash commands Bolt would misroute or crash on (an `event` field, team_id=constructor)", async () => {
    const url = slack.responseUrl();
    const withEvent = `${commandBody("/status", "", "UALICE", url)}&event=x`;
    expect((await post(withEvent)).status).toBe(400);
    for (const [field, value] of [
      ["team_id", "constructor"],
      ["team_id", "__proto__"],
      ["user_id", "toString"],
      ["command", ""],
    ] as const) {
      const p = new URLSearchParams(commandBody("/status", "", "UALICE", url));
      p.set(field, value);
      expect((await post(p.toString())).status, `${field}=${value}`).toBe(400);
    }
    const twice = `${commandBody("/status", "", "UALICE", url)}&command=%2Fpanic`; // a repeated key becomes an array
    expect((await post(twice)).status).toBe(400);
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.calls.some((c) => c.path === new URL(url).pathname)).toBe(false);
    await healthy();
  });

  it("refuses interactions without a user, or with fields Bolt dereferences in the wrong shape", async () => {
    const url = slack.responseUrl();
    const variants: [string, (p: Record<string, unknown>) => void][] = [
      ["no user", (p) => delete p.user],
      ["user null", (p) => (p.user = null)],
      ["user without id", (p) => (p.user = { name: "x" })],
      ["team constructor", (p) => (p.team = { id: "constructor" })],
      ["channel null", (p) => (p.channel = null)],
      ["actions not an array", (p) => (p.actions = 5)],
      ["actions empty", (p) => (p.actions = [])],
      ["unknown type", (p) => (p.type = "nonsense")],
      ["response_urls [null]", (p) => (p.response_urls = [null])],
    ];
    for (const [name, breakIt] of variants) {
      const p = interaction(url);
      breakIt(p);
      expect((await post(interactionBody(p))).status, name).toBe(400);
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.calls.some((c) => c.path === new URL(url).pathname)).toBe(false);
    await healthy();
  });

  it("refuses Events API bodies with an event Bolt cannot read", async () => {
    const ev = (event: unknown, extra: object = {}) =>
      JSON.stringify({ type: "event_callback", team_id: "T0001", event_id: `Ev${Math.random()}`, event, ...extra });
    for (const body of [
      ev("x"),
      ev(null),
      ev({ type: "app_home_opened", user: "UALICE", item: "x" }),
      ev({ type: "app_home_opened", user: null }),
      ev({ type: "app_home_opened", user: "UALICE", channel: 5 }),
      ev({ type: "app_home_opened", user: "UALICE" }, { authorizations: [null] }),
      ev({ type: "app_home_opened", user: "UALICE" }, { team_id: "constructor" }),
      ev({ type: "function_executed", inputs: {} }), // Bolt throws "No function_execution_id found"
      JSON.stringify({ type: "url_verification" }),
    ])
      expect((await post(body, { contentType: JSON_TYPE })).status, body).toBe(400);
    await healthy();
  });

  it("answers url_verification with the challenge and an unsigned ssl_check with 200, running nothing", async () => {
    const res = await post(JSON.stringify({ type: "url_verification", token: "x", challenge: "abc123" }), {
      contentType: JSON_TYPE,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge: "abc123" });
    const url = slack.responseUrl();
    const smuggled = `ssl_check=1&token=x&${commandBody("/status", "", "UALICE", url)}`;
    const ssl = await fetch(events(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: smuggled,
    });
    expect(ssl.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200));
    expect(slack.calls.some((c) => c.path === new URL(url).pathname)).toBe(false);
  });

  it("refuses a timestamp more than 5 minutes away in either direction (401), accepts one within", async () => {
    const body = () => commandBody("/status", "", "UALICE", slack.responseUrl());
    expect((await post(body(), { ts: nowS() + 6 * 60 })).status).toBe(401);
    expect((await post(body(), { ts: nowS() - 6 * 60 })).status).toBe(401);
    expect((await post(body(), { ts: nowS() + 4 * 60 })).status).toBe(200);
    expect((await post(body(), { ts: nowS() - 4 * 60 })).status).toBe(200);
  });

  it("refuses missing, malformed and unknown-version signature headers (401)", async () => {
    const body = commandBody("/status", "", "UALICE", slack.responseUrl());
    const ts = nowS();
    const good = slackSignature(SECRET, ts, body);
    const cases: Record<string, string>[] = [
      {},
      { "x-slack-request-timestamp": String(ts) },
      { "x-slack-signature": good },
      { "x-slack-request-timestamp": "soon", "x-slack-signature": good },
      { "x-slack-request-timestamp": `${ts}.5`, "x-slack-signature": good },
      { "x-slack-request-timestamp": String(ts), "x-slack-signature": good.replace("v0=", "v1=") },
      { "x-slack-request-timestamp": String(ts), "x-slack-signature": good.slice(0, -2) },
    ];
    for (const headers of cases) {
      const res = await fetch(events(), {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body,
      });
      expect(res.status, JSON.stringify(headers)).toBe(401);
    }
  });

  it("refuses a body over the limit with 413 without buffering it all", async () => {
    const res = await post(`text=${"x".repeat(5 * 1024 * 1024)}`);
    expect(res.status).toBe(413);
    await healthy();
  });

  it("acknowledges at once an interaction no listener handles (not Bolt's 404 after 3 s)", async () => {
    const p = interaction(slack.responseUrl());
    (p.actions as { action_id: string }[])[0]!.action_id = "no_such_action";
    const t0 = Date.now();
    const res = await post(interactionBody(p));
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it("answers a request with a path Bolt cannot parse with 4xx, not 500", async () => {
    expect(await rawRequest(port, "GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toBeLessThan(500);
    expect(await rawRequest(port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toBe(404);
    await healthy();
  });

  it("logs a refusal with a short, censored preview of the body, never the body", async () => {
    const marker = `MARKER${"y".repeat(200)}END`;
    await post(`token=SECRETVERIFICATIONTOKEN&command=nonsense&text=${marker}`);
    const line = logs.lines.find((l) => l.includes("Slack request refused") && l.includes("nonsense"));
    expect(line).toBeDefined();
    expect(line).not.toContain("SECRETVERIFICATIONTOKEN");
    expect(line).not.toContain("END");
  });

  it("escapes user text in the error reply (a mention cannot ping the channel)", async () => {
    const url = slack.responseUrl();
    await post(commandBody("/runbook", "<!channel> & more", "UALICE", url));
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toContain('No SOP matches "&lt;!channel&gt; &amp; more"');
    expect(String(reply.body.text)).not.toContain("<!channel>");
  });
});

describe("the receiver's clock is the runtime's", () => {
  it("a bot whose clock runs 10 minutes behind refuses a request stamped now and accepts one stamped on its clock", async () => {
    const slack = await startFakeSlack();
    const port = await freePort();
    const skew = 10 * 60_000;
    const t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      now: () => new Date(Date.now() - skew),
    });
    const bot = await startBot(t.rt);
    try {
      const url = `http://127.0.0.1:${port}/slack/events`;
      const body = () => commandBody("/status", "", "UALICE", slack.responseUrl());
      expect((await postSigned(url, SECRET, body())).status).toBe(401);
      expect((await postSigned(url, SECRET, body(), { ts: Math.floor((Date.now() - skew) / 1000) })).status).toBe(200);
    } finally {
      await bot.stop();
      await t.cleanup();
      await slack.close();
    }
  });
});
