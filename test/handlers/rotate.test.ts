// /rotate through the real Bolt receiver: the request is posted to the alert channel with Approve / Reject; the
// requester's own click is refused, someone else's runs the rotation (tested against a local server speaking
// Alpaca's API that checks APCA-API-KEY-ID) and the message follows the request. No secret is ever in a Slack body.
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ids } from "../../src/bot/ids.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { AlpacaServer } from "../support/alpaca-server.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { blockActionBody, commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";
const OLD = { keyId: "PKSLACKOLD0000000001", secret: "slack-old-secret-DO-NOT-LEAK-1" };
const NEW = { keyId: "PKSLACKNEW0000000002", secret: "slack-new-secret-DO-NOT-LEAK-2" };

describe("/rotate", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let alpaca: AlpacaServer;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let events: string;
  const command = async (text: string, user: string) => {
    const url = slack.responseUrl();
    const res = await postSigned(events, SECRET, commandBody("/rotate", text, user, url));
    expect(res.status).toBe(200);
    return url;
  };
  const reply = async (url: string) => (await slack.waitFor((c) => c.path === new URL(url).pathname)).body;

  beforeAll(async () => {
    slack = await startFakeSlack();
    alpaca = await AlpacaServer.start({ positions: [] });
    alpaca.credentials = [
      { keyId: OLD.keyId, secretKey: OLD.secret },
      { keyId: NEW.keyId, secretKey: NEW.secret },
    ];
    const port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_ALERT_CHANNEL: "C0ALERTS",
        HOST: "127.0.0.1",
        PORT: String(port),
        // Outside local mode the store's key is never generated on the fly: the deployment provides it.
        TRADEGUARD_SECRETS_KEY: randomBytes(32).toString("base64"),
      },
      yaml:
        "roles: { rotate: [UOPS], approve: [UOPS, UAPPROVER] }\n" +
        `brokers:\n  - { name: alpaca-live, kind: alpaca, base_url: "${alpaca.url}", secret: alpaca-live }\n` +
        "runbook_url: https://git.example.com/RUNBOOK.md\n",
      realNotifier: true,
    });
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await alpaca?.close();
    await slack?.close();
  });

  it("answers plainly without a broker, without the role, and without a staged key", async () => {
    expect(String((await reply(await command("", "UOPS"))).text)).toContain("`/rotate &lt;broker&gt; [reason]`");
    expect(String((await reply(await command("alpaca-live", "UNOBODY"))).text)).toMatch(/rotate/i);
    expect(String((await reply(await command("alpaca-live weekly", "UOPS"))).text)).toContain(
      "tradeguard secrets stage alpaca-live",
    );
    expect(await t.rt.redis.keys(`${t.rt.keys.raw("rotate:request:")}*`)).toEqual([]);
  });

  it("posts the request to the alert channel; the requester cannot approve it, someone else's click rotates", async () => {
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    const url = await command("alpaca-live weekly rotation", "UOPS");
    expect(String((await reply(url)).text)).toMatch(/Rotation request `r[^`]+` posted in <#C0ALERTS>/);
    const posted = await slack.waitFor(
      (c) => c.path === "/api/chat.postMessage" && String(c.body.text).startsWith("Key rotation of alpaca-live"),
    );
    expect(posted.body.channel).toBe("C0ALERTS");
    const buttons = JSON.stringify(posted.body.blocks);
    const actions = (posted.body.blocks as { type: string; elements?: { action_id: string; value: string }[] }[]).find(
      (b) => b.type === "actions",
    );
    const id = actions?.elements?.find((e) => e.action_id === ids.rotateApprove)?.value;
    expect(id).toMatch(/^r/);
    expect(buttons).toContain(NEW.keyId);
    expect(buttons).toContain("RUNBOOK.md#sop-rotate");

    const selfUrl = slack.responseUrl();
    await postSigned(events, SECRET, blockActionBody(ids.rotateApprove, id!, "UOPS", selfUrl));
    expect(JSON.stringify(await reply(selfUrl))).toMatch(/someone else/);
    expect((await t.rt.ops.rotate.get(id!)).state).toBe("pending_approval");

    const okUrl = slack.responseUrl();
    await postSigned(events, SECRET, blockActionBody(ids.rotateApprove, id!, "UAPPROVER", okUrl));
    const done = await reply(okUrl);
    expect(done.replace_original).toBe(true);
    expect(JSON.stringify(done.blocks)).toMatch(/\*DONE\* by <@UAPPROVER>/);
    expect((await t.rt.secrets.get("alpaca-live"))?.keyId).toBe(NEW.keyId);
    expect(alpaca.requestsTo("/v2/account").map((r) => r.keyId)).toEqual([NEW.keyId]);

    const everything = JSON.stringify(slack.calls);
    for (const s of [OLD.secret, NEW.secret]) expect(everything).not.toContain(s);
  });
});
