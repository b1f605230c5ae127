// App Home through the real Bolt receiver: opening the tab publishes the dashboard (dated "as of … ET") and puts the
// user on the republish list in Redis; Refresh publishes it again.
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { homeKeys } from "../../src/bot/home-publisher.js";
import { ids } from "../../src/bot/ids.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { blockKitViolations } from "../support/block-kit-limits.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { blockActionBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";

describe("App Home", () => {
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
    });
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await slack?.close();
  });

  it("app_home_opened publishes the dashboard and remembers the viewer", async () => {
    const body = JSON.stringify({
      type: "event_callback",
      team_id: "T0001",
      event_id: `EvHome${Date.now()}`,
      event_time: Math.floor(Date.now() / 1000),
      event: { type: "app_home_opened", user: "UCAROL", channel: "D0HOME", tab: "home", event_ts: "1.0" },
    });
    expect((await postSigned(events, SECRET, body, { contentType: "application/json" })).status).toBe(200);
    const publish = await slack.waitFor((c) => c.path === "/api/views.publish" && c.body.user_id === "UCAROL");
    const view = publish.body.view as { type: string; blocks: unknown[] };
    expect(blockKitViolations(view, "home")).toEqual([]);
    const text = JSON.stringify(view.blocks);
    expect(text).toMatch(/as of \d\d:\d\d:\d\d ET/);
    expect(text).toMatch(/Mode \*active\*/);
    expect(text).toContain("`/runbook panic` shows it here"); // no runbook_url: the anchor and the command
    const k = homeKeys(t.rt.keys);
    expect(Number(await t.rt.redis.zscore(k.viewers, "UCAROL"))).toBeGreaterThan(Date.now());
    expect(await t.rt.redis.get(k.view("UCAROL"))).toMatch(/^[0-9a-f]{32}$/);
  });

  it("Refresh publishes it again", async () => {
    const from = slack.calls.length;
    const res = await postSigned(
      events,
      SECRET,
      blockActionBody(ids.statusRefresh, "refresh", "UCAROL", slack.responseUrl()),
    );
    expect(res.status).toBe(200);
    await slack.waitFor(
      (c) => slack.calls.indexOf(c) >= from && c.path === "/api/views.publish" && c.body.user_id === "UCAROL",
    );
  });
});
