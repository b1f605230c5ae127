// Socket Mode end to end against a local Slack speaking its protocol (test/support/socket-mode.ts): two bot replicas
// connect through apps.connections.open (SLACK_API_URL honoured), take a slash command and a button click as
// envelopes and ack each by envelope_id; a delivery Slack repeats on the other replica's connection is handled once;
// after a `disconnect` the replica reconnects and keeps taking commands.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ids } from "../../src/bot/ids.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";
import { buttonPayload, type Connection, SocketModeSlack, slashPayload } from "../support/socket-mode.js";

describe("Socket Mode", () => {
  let slack: SocketModeSlack;
  const replicas: { t: Awaited<ReturnType<typeof testRuntime>>; bot: RunningBot }[] = [];

  beforeAll(async () => {
    slack = await SocketModeSlack.start();
    let prefix: string | undefined;
    for (let i = 0; i < 2; i++) {
      const t = await testRuntime({
        env: {
          SLACK_BOT_TOKEN: "xoxb-fake",
          SLACK_APP_TOKEN: "xapp-1-A0TG-1-fake",
          SLACK_API_URL: slack.apiUrl,
          HOST: "127.0.0.1",
          PORT: String(await freePort()),
          ...(prefix ? { REDIS_PREFIX: prefix } : {}),
        },
        yaml: "roles: { clear: [UCLEAR], approve: [UAPPROVE] }\n",
      });
      prefix = t.env.REDIS_PREFIX;
      replicas.push({ t, bot: await startBot(t.rt) });
    }
    await slack.until(() => slack.open().length === 2, "both replicas connected");
  });
  afterAll(async () => {
    for (const r of replicas) await r.bot.stop();
    for (const r of replicas) await r.t.cleanup();
    await slack?.close();
  });

  const acked = (conn: Connection, id: string) =>
    slack.until(() => conn.acks.find((a) => a.envelope_id === id), `ack of ${id}`);
  const posts = (url: string) => slack.calls.filter((c) => c.path === new URL(url).pathname);
  const duplicatesDropped = async (i: number) =>
    (await replicas[i]!.t.rt.metrics.registry.getSingleMetric("tradeguard_slack_requests_total")!.get()).values.find(
      (v) => v.labels.kind === "duplicate",
    )?.value ?? 0;

  it("connects with the app-level token through SLACK_API_URL and answers a slash command", async () => {
    const opens = slack.calls.filter((c) => c.path.startsWith("/api/apps.connections.open"));
    expect(opens).toHaveLength(2);
    expect(opens.every((c) => c.auth === "Bearer xapp-1-A0TG-1-fake")).toBe(true);
    const [first] = slack.open();
    const url = slack.responseUrl();
    const env = slack.send(first!, "slash_commands", slashPayload("/status", "", "UOPS", url));
    await acked(first!, env);
    const reply = await slack.until(() => posts(url)[0], "the /status reply");
    expect(String(reply.body.text)).toMatch(/mode/i);
  });

  it("handles a delivery Slack repeats on the other replica's connection once", async () => {
    const [a, b] = slack.open();
    const url = slack.responseUrl();
    const payload = slashPayload("/status", "", "UOPS", url);
    const before = (await duplicatesDropped(0)) + (await duplicatesDropped(1));
    await acked(a!, slack.send(a!, "slash_commands", payload));
    await slack.until(() => posts(url)[0], "the first reply");
    // Slack did not see the ack in time and redelivers the same command (same trigger_id) to the other connection.
    await acked(b!, slack.send(b!, "slash_commands", payload));
    expect((await duplicatesDropped(0)) + (await duplicatesDropped(1))).toBe(before + 1);
    expect(posts(url)).toHaveLength(1);
  });

  it("a button click arriving over Socket Mode runs the operation (an approval moves halt to reduce_only)", async () => {
    const { rt } = replicas[0]!.t;
    await rt.mode.set("halt", { reason: "drill", actor: "UOPS" });
    const req = await rt.ops.resume.request("UCLEAR", "drill over", { announce: false });
    const [, b] = slack.open();
    const url = slack.responseUrl();
    await acked(b!, slack.send(b!, "interactive", buttonPayload(ids.clearApprove, req.id, "UAPPROVE", url)));
    await slack.until(() => posts(url)[0], "the approval's message update");
    expect((await rt.mode.get()).mode).toBe("reduce_only");
  });

  it("reconnects after a disconnect (refresh_requested) and keeps taking commands", async () => {
    const [a] = slack.open();
    const opensBefore = slack.opens;
    slack.disconnect(a!);
    await slack.until(
      () => a!.closed && slack.open().length === 2 && slack.opens === opensBefore + 1,
      "a new connection",
    );
    const fresh = slack.open().at(-1)!;
    expect(fresh.id).toBeGreaterThan(a!.id);
    const url = slack.responseUrl();
    await acked(fresh, slack.send(fresh, "slash_commands", slashPayload("/status", "", "UOPS", url)));
    await slack.until(() => posts(url)[0], "a reply over the new connection");
  });
});
