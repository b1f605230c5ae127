// App Home republished to the users who opened it, through the real mode channel, the real Redis and the fake Slack
// Web API: a burst of changes costs each user one or two views.publish calls, each view says "as of HH:MM:SS ET",
// an unchanged state costs none, two replicas do not double up, lapsed viewers are dropped, a failed publish is retried.
import { webApi } from "@slack/bolt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { HomePublisher, homeDeps, homeKeys, homeOpened, startHomePublisher } from "../../src/bot/home-publisher.js";
import type { HomeSettings } from "../../src/bot/home-settings.js";
import { blockKitViolations } from "../support/block-kit-limits.js";
import { testRuntime } from "../support/runtime.js";
import { type RecordedCall, startFakeSlack } from "../support/slack.js";

const SETTINGS: HomeSettings = { republish_interval_ms: 1_000, viewer_ttl_hours: 1, poll_ms: 600_000 };
type View = { type: string; blocks: unknown[] };

describe("App Home republishing", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let client: webApi.WebClient;
  let running: ReturnType<typeof startHomePublisher> = null;

  const publishes = (user: string, from = 0): RecordedCall[] =>
    slack.calls.slice(from).filter((c) => c.path === "/api/views.publish" && c.body.user_id === user);
  const viewOf = (c: RecordedCall) => c.body.view as View;
  const shows = (c: RecordedCall, s: string) => JSON.stringify(viewOf(c).blocks).includes(s);
  const deps = () => ({ ...homeDeps(t.rt, client), settings: SETTINGS });
  /** Ends every user's republish window now, as if republish_interval_ms had passed. */
  const closeWindows = async () => {
    const k = homeKeys(t.rt.keys);
    await t.rt.redis.del(...["UALICE", "UBOB", "UGONE"].map((u) => k.window(u)));
  };

  beforeAll(async () => {
    slack = await startFakeSlack();
    t = await testRuntime({
      env: { SLACK_BOT_TOKEN: "xoxb-fake", SLACK_SIGNING_SECRET: "s", SLACK_API_URL: slack.apiUrl },
    });
    client = new webApi.WebClient("xoxb-fake", { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  });
  afterEach(async () => {
    await running?.stop();
    running = null;
  });
  afterAll(async () => {
    await t?.cleanup();
    await slack?.close();
  });

  it("opening Home publishes it at once, remembers the user with a TTL, and dates the view", async () => {
    const from = slack.calls.length;
    await homeOpened(deps(), "UALICE");
    await homeOpened(deps(), "UBOB");
    const [alice] = publishes("UALICE", from);
    expect(alice).toBeDefined();
    expect(viewOf(alice!).type).toBe("home");
    expect(blockKitViolations(viewOf(alice!), "home")).toEqual([]);
    expect(JSON.stringify(viewOf(alice!).blocks)).toMatch(/as of \d\d:\d\d:\d\d ET/);
    const k = homeKeys(t.rt.keys);
    expect(await t.rt.redis.zrange(k.viewers, "0", "-1")).toEqual(["UALICE", "UBOB"]);
    const ttl = await t.rt.redis.pttl(k.viewers);
    expect(ttl).toBeGreaterThan(3_500_000);
    expect(ttl).toBeLessThanOrEqual(3_600_000);
    expect(await t.rt.redis.pttl(k.view("UALICE"))).toBeGreaterThan(0);
  });

  it("a burst of 20 mode changes: one or two publishes per user, the last showing the final state", async () => {
    running = startHomePublisher(t.rt, SETTINGS);
    expect(running).not.toBeNull();
    await running!.subscribed;
    const from = slack.calls.length;
    for (let i = 0; i < 20; i++)
      await t.rt.mode.set(i % 2 ? "active" : "reduce_only", { reason: `burst ${i}`, actor: "U0OPS" });
    for (const user of ["UALICE", "UBOB"])
      await slack.waitFor((c) => c.path === "/api/views.publish" && c.body.user_id === user && shows(c, "burst 19"));
    await running!.publisher.idle();
    for (const user of ["UALICE", "UBOB"]) {
      const got = publishes(user, from);
      expect(got.length, user).toBeGreaterThanOrEqual(1);
      expect(got.length, user).toBeLessThanOrEqual(2);
      expect(shows(got.at(-1)!, "burst 19")).toBe(true);
      expect(JSON.stringify(viewOf(got.at(-1)!).blocks)).toMatch(/as of \d\d:\d\d:\d\d ET/);
    }
  });

  it("an alert opened and resolved by the real alert pipeline reaches Home through the poll", async () => {
    await closeWindows();
    running = startHomePublisher(t.rt, { ...SETTINGS, republish_interval_ms: 100, poll_ms: 500 });
    const finding = {
      guard: "luld",
      key: "SYM1",
      severity: "critical" as const,
      title: "LULD pause on SYM1",
      detail: "paused",
      sop: "sop-luld",
    };
    await t.rt.alerts.process("luld", [finding], new Date());
    await slack.waitFor(
      (c) => c.path === "/api/views.publish" && c.body.user_id === "UBOB" && shows(c, "LULD pause on SYM1"),
    );
    const from = slack.calls.length;
    await t.rt.alerts.process("luld", [], new Date());
    for (const user of ["UALICE", "UBOB"])
      await slack.waitFor(
        (c) =>
          slack.calls.indexOf(c) >= from &&
          c.path === "/api/views.publish" &&
          c.body.user_id === user &&
          !shows(c, "LULD pause on SYM1"),
      );
    await running!.publisher.idle();
  });

  it("changes that change nothing Home shows cost no publish", async () => {
    const p = new HomePublisher(deps());
    const from = slack.calls.length;
    for (let i = 0; i < 5; i++) p.changed();
    await p.idle();
    expect(publishes("UALICE", from)).toEqual([]);
    expect(publishes("UBOB", from)).toEqual([]);
  });

  it("two replicas seeing the same change publish it once per user", async () => {
    const a = new HomePublisher(deps());
    const b = new HomePublisher(deps());
    await closeWindows();
    const from = slack.calls.length;
    await t.rt.mode.set("halt", { reason: "replicas", actor: "U0OPS" });
    a.changed();
    b.changed();
    await Promise.all([a.idle(), b.idle()]);
    expect(publishes("UALICE", from)).toHaveLength(1);
    expect(publishes("UBOB", from)).toHaveLength(1);
  });

  it("a user whose interest lapsed is dropped and not published to", async () => {
    const k = homeKeys(t.rt.keys);
    await t.rt.redis.zadd(k.viewers, Date.now() - 1, "UGONE");
    const p = new HomePublisher(deps());
    await closeWindows();
    const from = slack.calls.length;
    await t.rt.mode.set("reduce_only", { reason: "lapsed", actor: "U0OPS" });
    p.changed();
    await p.idle();
    expect(publishes("UGONE", from)).toEqual([]);
    expect(publishes("UALICE", from)).toHaveLength(1);
    expect(await t.rt.redis.zscore(k.viewers, "UGONE")).toBeNull();
  });

  it("a publish Slack refuses is tried again at the next change", async () => {
    const failing = new webApi.WebClient("xoxb-fake", {
      slackApiUrl: `${slack.url}/fail/500/`,
      retryConfig: { retries: 0 },
    });
    const broken = new HomePublisher({ ...deps(), client: failing });
    await closeWindows();
    await t.rt.mode.set("active", { reason: "refused", actor: "U0OPS" });
    broken.changed();
    await broken.idle();
    // Slack refused it: nothing is on the users' screens, so the digest was forgotten.
    expect(await t.rt.redis.get(homeKeys(t.rt.keys).view("UALICE"))).toBeNull();
    await closeWindows();
    const from = slack.calls.length;
    const p = new HomePublisher(deps());
    p.changed();
    await p.idle();
    expect(shows(publishes("UALICE", from)[0]!, "refused")).toBe(true);
  });

  it("each publish carries the hash of the view it replaces: an older view in flight is refused (hash_conflict)", async () => {
    const k = homeKeys(t.rt.keys);
    await closeWindows();
    await t.rt.mode.set("active", { reason: "hash one", actor: "U0OPS" });
    const from = slack.calls.length;
    const p = new HomePublisher(deps());
    p.changed();
    await p.idle();
    const first = publishes("UALICE", from)[0]!;
    const stored = await t.rt.redis.get(k.hash("UALICE"));
    expect(stored).toBeTruthy();
    // The next publish names the hash Slack returned; Slack's current hash moves on with it.
    await closeWindows();
    await t.rt.mode.set("active", { reason: "hash two", actor: "U0OPS" });
    p.changed();
    await p.idle();
    const second = publishes("UALICE", from).find((c) => shows(c, "hash two"))!;
    expect(second.body.hash).toBe(stored);
    expect(first.body.hash).not.toBe(stored);
    // A publish from an older state (a replica holding a stale hash) is refused by Slack, and forgotten here:
    // the digest and the hash go, so the next poll publishes the state read then, unconditionally.
    await t.rt.redis.set(k.hash("UALICE"), stored!); // stale: Slack has moved on
    await t.rt.redis.del(k.view("UALICE"));
    await closeWindows();
    await t.rt.mode.set("active", { reason: "hash three", actor: "U0OPS" });
    p.changed();
    await p.idle();
    expect(await t.rt.redis.get(k.view("UALICE"))).toBeNull();
    expect(await t.rt.redis.get(k.hash("UALICE"))).toBeNull();
    await closeWindows();
    const before = slack.calls.length;
    p.changed();
    await p.idle();
    const healed = publishes("UALICE", before).find((c) => shows(c, "hash three"))!;
    expect(healed.body.hash).toBeUndefined();
    expect(await t.rt.redis.get(k.hash("UALICE"))).toBeTruthy();
  });
});
