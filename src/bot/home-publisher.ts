// App Home kept current: the tab is re-published to everyone who opened it when what it shows changes (the mode, an
// alert opened or resolved, a panic's progress), not only when it is opened. Who opened Home is kept in Redis with a
// TTL, so every replica can republish and a restarted bot still knows; each republish is checked against the last
// view published to that user (any replica's) and against a per-user window, in one script, so a burst of changes
// costs each user one or two views.publish calls, never one per change. Triggers: the mode channel (at once) and a
// poll (alerts and panic progress are written by whichever replica ran the guard tick or the panic).
import { createHash } from "node:crypto";
import { webApi } from "@slack/bolt";
import type { KnownBlock } from "@slack/types";
import type { Redis } from "ioredis";
import type { Logger } from "../log.js";
import type { StatusView } from "../ops/status.js";
import type { Runtime } from "../runtime.js";
import type { Keys } from "../state/keys.js";
import { connectionLost } from "../state/redis.js";
import { slackClientOptions } from "./app.js";
import { type HomeSettings, homeOf } from "./home-settings.js";
import { AS_OF_PREFIX, type HomeTab, homeView } from "./views/home.js";

/** The keys of Home republishing (documented in docs/redis-keys.md), built from the one key builder. */
export function homeKeys(keys: Keys) {
  return {
    /** Sorted set: user id → expiry (epoch ms) of their interest; the key itself expires with the newest. */
    viewers: keys.raw("home:viewers"),
    /** The digest of the last view published to a user (without its "as of" line). */
    view: (user: string) => keys.raw(`home:view:${user}`),
    /** Present while a user's republish window is open (PX = republish_interval_ms). */
    window: (user: string) => keys.raw(`home:window:${user}`),
    /** Slack's hash of the view on the user's tab (views.publish returns it): the next publish must carry it. */
    hash: (user: string) => keys.raw(`home:hash:${user}`),
  };
}

// KEYS: home:view:<user>, home:window:<user>. ARGV: digest, window ms, view ttl ms, force ("1": the user opened it).
// Returns -1: publish now (both keys set); 0: that view is already on the user's screen; n > 0: window open, n ms.
const CLAIM_LUA = `
if ARGV[4] ~= '1' then
  if redis.call('GET', KEYS[1]) == ARGV[1] then return 0 end
  local left = redis.call('PTTL', KEYS[2])
  if left > 0 then return left end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return -1`;

/** What publishing Home needs: Redis, the state, the clock and a Slack client (Bolt's, or the publisher's own). */
export interface HomeDeps {
  redis: Redis;
  keys: Keys;
  log: Logger;
  status: () => Promise<StatusView>;
  now: () => Date;
  runbookUrl?: string;
  settings: HomeSettings;
  client: Pick<webApi.WebClient, "views">;
}

/** A view's identity without its "as of" line: two reads of an unchanged state give the same digest. */
export function homeDigest(view: HomeTab): string {
  const dated = (b: KnownBlock) =>
    b.type === "context" && b.elements[0]?.type === "mrkdwn" && b.elements[0].text.startsWith(AS_OF_PREFIX);
  const blocks = view.blocks.filter((b) => !dated(b));
  return createHash("sha256").update(JSON.stringify(blocks)).digest("hex").slice(0, 32);
}

/** Remembers that `user` opened Home (for viewer_ttl_hours) and publishes it to them now. */
export async function homeOpened(d: HomeDeps, user: string): Promise<void> {
  const k = homeKeys(d.keys);
  const ttlMs = Math.round(d.settings.viewer_ttl_hours * 3_600_000);
  const until = d.now().getTime() + ttlMs;
  await d.redis.multi().zadd(k.viewers, until, user).pexpire(k.viewers, ttlMs).exec();
  const view = homeView(await d.status(), d.now(), d.runbookUrl);
  await publishTo(d, user, view, homeDigest(view), true);
}

/** Publishes `view` to `user` unless it is on their screen already or their window is open (then: ms to wait). */
async function publishTo(d: HomeDeps, user: string, view: HomeTab, digest: string, force: boolean): Promise<number> {
  const k = homeKeys(d.keys);
  const ttlMs = Math.round(d.settings.viewer_ttl_hours * 3_600_000);
  const claim = Number(
    await d.redis.eval(
      CLAIM_LUA,
      2,
      k.view(user),
      k.window(user),
      digest,
      d.settings.republish_interval_ms,
      ttlMs,
      force ? "1" : "0",
    ),
  );
  if (claim >= 0) return claim;
  // Slack's optimistic lock: a publish carries the hash of the view it replaces, so an older view still in flight
  // (a slow or retried call, another replica, the Refresh button) can never land over a newer one: it is refused.
  const hash = await d.redis.get(k.hash(user)).catch(() => null);
  try {
    const res = await d.client.views.publish({ user_id: user, view, ...(hash ? { hash } : {}) });
    const next = res.view?.hash;
    if (next) await d.redis.set(k.hash(user), next, "PX", ttlMs).catch(() => {});
  } catch (err) {
    // Not on their screen after all: forget the digest so the next change (or poll) tries again — after a
    // hash_conflict without a hash (the tab changed under us: the next publish is of the state read then).
    await d.redis.del(k.view(user)).catch(() => {});
    if ((err as { data?: { error?: string } }).data?.error === "hash_conflict")
      await d.redis.del(k.hash(user)).catch(() => {});
    throw err;
  }
  return 0;
}

/** The users whose interest has not lapsed (the lapsed ones are dropped on the way). */
async function viewers(d: HomeDeps): Promise<string[]> {
  const k = homeKeys(d.keys);
  const now = d.now().getTime();
  await d.redis.zremrangebyscore(k.viewers, "-inf", now);
  return d.redis.zrangebyscore(k.viewers, now, "+inf");
}

/** Coalesces changes into republishes: at most one run at a time, runs at least republish_interval_ms apart. */
export class HomePublisher {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  private lastRun = Number.NEGATIVE_INFINITY;
  private stopped = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly d: HomeDeps) {}

  /** Something Home shows may have changed: republish soon (bursts are coalesced). */
  changed(): void {
    if (this.stopped) return;
    this.dirty = true;
    if (!this.timer && !this.running) this.schedule(0);
  }

  /** Resolves once no republish is pending or running (tests, shutdown). */
  idle(): Promise<void> {
    if (!this.timer && !this.running) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** No further runs (one in flight finishes); idle() waiters are released. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.running) this.settle();
  }

  private schedule(waitMs: number): void {
    // A short settle lets the rest of a burst arrive; the interval keeps runs apart.
    const settle = Math.min(200, this.d.settings.republish_interval_ms);
    const next = Math.max(settle, waitMs, this.lastRun + this.d.settings.republish_interval_ms - Date.now());
    this.timer = setTimeout(() => this.run(), next);
  }

  private run(): void {
    this.timer = null;
    this.dirty = false;
    this.lastRun = Date.now();
    let retryMs = 0;
    this.running = this.republish()
      .then((wait) => {
        retryMs = wait;
      })
      .catch((err) => this.d.log.warn({ err }, "App Home republish failed; retrying at the next change or poll"))
      .finally(() => {
        this.running = null;
        if (this.stopped) return this.settle();
        if (retryMs > 0) this.dirty = true;
        if (this.dirty) this.schedule(retryMs);
        else this.settle();
      });
  }

  private settle(): void {
    for (const r of this.idleWaiters.splice(0)) r();
  }

  /** One pass: read the state once, publish to each viewer whose screen shows something else; ms until a retry. */
  private async republish(): Promise<number> {
    if (connectionLost(this.d.redis)) return 0;
    const users = await viewers(this.d);
    if (!users.length) return 0;
    const view = homeView(await this.d.status(), this.d.now(), this.d.runbookUrl);
    const digest = homeDigest(view);
    let retry = 0;
    for (const user of users) {
      try {
        const wait = await publishTo(this.d, user, view, digest, false);
        if (wait > 0) retry = Math.max(retry, wait);
      } catch (err) {
        this.d.log.warn({ err, user }, "App Home: views.publish failed");
      }
    }
    return retry;
  }
}

/** The Home dependencies of a runtime, with `client` (Bolt's in a listener; the publisher's own otherwise). */
export function homeDeps(rt: Runtime, client: HomeDeps["client"]): HomeDeps {
  return {
    redis: rt.redis,
    keys: rt.keys,
    log: rt.log,
    status: () => rt.ops.status(),
    now: rt.now,
    runbookUrl: rt.config.runbookUrl,
    settings: homeOf(rt.config),
    client,
  };
}

/**
 * Starts republishing Home (Slack modes only): a subscriber on the mode channel and the poll. The composition root's
 * lifecycle (src/services.ts) calls it; it owns its subscriber connection and its Web API client.
 */
export function startHomePublisher(
  rt: Runtime,
  settings: HomeSettings = homeOf(rt.config),
): { publisher: HomePublisher; subscribed: Promise<void>; stop(): Promise<void> } | null {
  const c = rt.config;
  if (c.mode === "local" || !c.slack.botToken) return null;
  const client = new webApi.WebClient(c.slack.botToken, slackClientOptions(c.slack.apiUrl));
  const publisher = new HomePublisher({ ...homeDeps(rt, client), settings });
  const sub = rt.redis.duplicate();
  const onMessage = () => publisher.changed();
  sub.on("message", onMessage);
  sub.on("error", (err) => rt.log.debug({ err }, "App Home: mode subscriber error (it reconnects)"));
  // ioredis re-subscribes by itself after a reconnect; the poll covers what was published meanwhile.
  const subscribed = sub.subscribe(rt.keys.modeChannel).then(
    () => {},
    (err) => rt.log.warn({ err }, "App Home: could not subscribe to the mode channel; the poll still republishes"),
  );
  const poll = setInterval(() => publisher.changed(), settings.poll_ms);
  poll.unref();
  return {
    publisher,
    subscribed,
    async stop() {
      clearInterval(poll);
      publisher.stop();
      sub.off("message", onMessage);
      sub.disconnect();
    },
  };
}
