// /runbook through the real Bolt receiver: a typo shows the SOP, a topic that fits several lists the closest with the
// command for each (not "not found"), and a topic that fits nothing says so.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";

describe("/runbook", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let events: string;

  beforeAll(async () => {
    slack = await startFakeSlack();
    const port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
    });
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await slack?.close();
  });

  const ask = async (text: string) => {
    const url = slack.responseUrl();
    await postSigned(events, SECRET, commandBody("/runbook", text, "UALICE", url));
    return slack.waitFor((c) => c.path === new URL(url).pathname);
  };

  it("shows the SOP a typo meant", async () => {
    expect((await ask("halt partail")).body.text).toBe("SOP: HALT-PARTIAL");
  });

  it("lists the close matches when several fit, each with its command", async () => {
    const reply = await ask("rot");
    expect(reply.body.text).toBe('No SOP is called "rot". Did you mean:');
    const blocks = JSON.stringify(reply.body.blocks);
    expect(blocks).toContain("`/runbook rotate`");
    expect(blocks).toContain("`/runbook rotate-revoke`");
  });

  it("says plainly when nothing fits", async () => {
    expect(String((await ask("bananas")).body.text)).toMatch(/No SOP matches "bananas"/);
  });
});
