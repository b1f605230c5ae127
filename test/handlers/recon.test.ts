// /recon through the real Bolt receiver: acks at once, reconciles every broker whose statement can be fetched live
// (an Alpaca broker served by a local server speaking Alpaca's API), updates the message, posts the summary with
// the SOP to the alert channel.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningBot, startBot } from "../../src/services.js";
import { AlpacaServer, activityId, fillActivity } from "../support/alpaca-server.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";
const DATE = "2026-11-30";
const NOW = new Date("2026-12-01T12:00:00Z");
/** Requests are signed at the bot's (injected) clock: it refuses timestamps more than 5 minutes off. */
const ts = Math.floor(NOW.getTime() / 1000);

describe("/recon", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let alpaca: AlpacaServer;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let events: string;

  beforeAll(async () => {
    slack = await startFakeSlack();
    alpaca = await AlpacaServer.start({
      activities: [
        fillActivity({
          id: activityId("2026-11-30T15:00:00Z"),
          transaction_time: "2026-11-30T15:00:00Z",
          order_id: "O1",
          symbol: "AAPL",
          qty: "3",
          cum_qty: "3",
          price: "100",
        }),
      ],
      positions: [{ symbol: "AAPL", qty: "3", side: "long", asset_class: "us_equity" }],
    });
    const port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        SLACK_ALERT_CHANNEL: "C0ALERTS",
        HOST: "127.0.0.1",
        PORT: String(port),
        AK: "PKTEST",
        AS: "secret",
      },
      yaml: `brokers:\n  - { name: alpaca, kind: alpaca, base_url: "${alpaca.url}", key_id_env: AK, secret_key_env: AS }\nrunbook_url: https://git.example.com/RUNBOOK.md\n`,
      realNotifier: true,
      now: () => NOW,
    });
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await alpaca?.close();
    await slack?.close();
  });

  it("defaults to the last closed trading day and reports a mismatch with the top differences and the SOP", async () => {
    // Our ledger recorded 2 shares of O1; the broker filled 3.
    await t.rt.redis.xadd(
      t.rt.keys.raw("ledger:fills"),
      "*",
      ...["fill_id", "F1", "order_id", "O1", "broker", "alpaca", "symbol", "AAPL", "side", "buy"],
      ...["qty", "2", "price", "100", "fee", "0", "ts", "2026-11-30T15:00:00Z"],
    );
    const url = slack.responseUrl();
    const res = await postSigned(events, SECRET, commandBody("/recon", "", "UOPS", url), { ts });
    expect(res.status).toBe(200);
    expect(res.text).toContain(`Recon ${DATE}`); // acked at once with the running state
    const done = await slack.waitFor(
      (c) => c.path === new URL(url).pathname && String(c.body.text).includes("mismatch"),
    );
    const text = JSON.stringify(done.body.blocks);
    expect(text).toContain("qty AAPL");
    expect(text).toContain("ours 2, theirs 3");
    const posted = await slack.waitFor(
      (c) => c.path === "/api/chat.postMessage" && String(c.body.text).startsWith(`Recon ${DATE}`),
    );
    expect(JSON.stringify(posted.body.blocks)).toContain("RUNBOOK.md#sop-recon");
    expect(JSON.parse((await t.rt.redis.get(t.rt.keys.reconStatements(DATE)))!)).toMatchObject({ ok: false });
  });

  it("refuses a date that is not YYYY-MM-DD, plainly", async () => {
    const url = slack.responseUrl();
    await postSigned(events, SECRET, commandBody("/recon", "yesterday", "UOPS", url), { ts });
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(String(reply.body.text)).toMatch(/Usage: `\/recon \[YYYY-MM-DD\]`/);
  });
});
