// With Redis down, the kill switch still reaches its operations: the delivery de-dup (a Redis SET NX) is skipped, not
// fatal. A panic click that never reached the operation answered "Something went wrong" (issue 10).
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ids } from "../../src/bot/ids.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { blockActionBody, commandBody, postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";

describe("Slack requests with Redis down", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let events: string;

  beforeAll(async () => {
    slack = await startFakeSlack();
    const port = await freePort();
    t = await testRuntime({
      env: {
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`, // nothing listens there
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      yaml: "roles: { panic: ['*'] }\n",
    });
    bot = await startBot(t.rt);
    events = `http://127.0.0.1:${port}/slack/events`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.rt.close();
    await slack?.close();
  });

  it("a signed /status reaches its operation", async () => {
    const status = vi.spyOn(t.rt.ops, "status");
    const url = slack.responseUrl();
    const res = await postSigned(events, SECRET, commandBody("/status", "", "UALICE", url));
    expect(res.status).toBe(200);
    await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(status).toHaveBeenCalled();
  });

  it("a signed panic_confirm click reaches the operation (which judges its token), not 'Something went wrong'", async () => {
    const confirm = vi.spyOn(t.rt.ops.panicRequest, "confirm");
    const url = slack.responseUrl();
    const res = await postSigned(events, SECRET, blockActionBody(ids.panicConfirm, "v1.not.issued", "UTRADER", url));
    expect(res.status).toBe(200);
    const reply = await slack.waitFor((c) => c.path === new URL(url).pathname);
    expect(confirm).toHaveBeenCalledWith(expect.objectContaining({ actor: "UTRADER", token: "v1.not.issued" }));
    expect(String(reply.body.text)).not.toMatch(/Something went wrong/);
  });
});
