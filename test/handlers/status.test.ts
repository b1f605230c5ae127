// /status cutover through the real Bolt receiver: the checklist with each gate's verdict and evidence, NO-GO while a
// gate is unknown, and plain /status still the one-screen summary.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";

describe("/status cutover", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let events: string;

  beforeAll(async () => {
    slack = await startFakeSlack();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(await freePort()),
      },
      yaml: "cutover: { gates: { recon: false, time_sync: false, quotas: false, error_budgets: false, key_rotation: false } }\n",
    });
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await slack?.close();
  });

  it("shows every gate with its evidence and NO-GO while the DR rehearsal is unknown", async () => {
    const url = slack.responseUrl();
    expect((await postSigned(events, SECRET, commandBody("/status", "cutover", "UALICE", url))).status).toBe(200);
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(reply.body.text).toBe("Cutover checklist: NO-GO");
    const blocks = JSON.stringify(reply.body.blocks);
    expect(blocks).toContain(":grey_question: *dr_rehearsal* unknown — no DR rehearsal recorded");
    expect(blocks).toContain(":white_check_mark: *alerts* pass — 0 open alert(s), none critical");
    expect(blocks).toContain(":white_circle: *recon* off");
    expect(blocks).toContain("equities: :red_circle: not enabled");
  });

  it("plain /status is still the summary", async () => {
    const url = slack.responseUrl();
    await postSigned(events, SECRET, commandBody("/status", "", "UALICE", url));
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toMatch(/^Mode: active/);
  });
});
