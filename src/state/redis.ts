// Redis connections. Created only by the composition root (never on import). One server (`redis://`, `rediss://`) or a
// primary found through Redis Sentinel (ioredis's own Sentinel support: `sentinels` + `name`); after a failover every
// client reconnects to whatever primary the sentinels name, and a client left on a demoted primary (READONLY) moves.
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { parseSentinelUrl, sentinelDisplayUrl } from "@tradeguard/gate/redis-url";
import { Redis, type RedisOptions } from "ioredis";
import type { RedisTarget, TlsSettings } from "../config-redis.js";
import { ConfigError } from "../errors.js";

export type { Redis };

/** TLS options for node:tls from the settings; the files are read now (a missing file is a ConfigError naming it). */
export function tlsOptions(t: TlsSettings, key = "redis.tls"): ConnectionOptions {
  const read = (what: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`${key}.${what}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  return {
    ...(t.caFile ? { ca: read("ca_file", t.caFile) } : {}),
    ...(t.certFile ? { cert: read("cert_file", t.certFile) } : {}),
    ...(t.keyFile ? { key: read("key_file", t.keyFile) } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
    rejectUnauthorized: t.rejectUnauthorized,
  };
}

/** A target from a URL string: one server, or the `redis+sentinel://` form. */
export function targetOfUrl(url: string): RedisTarget {
  if (!/^rediss?\+sentinel:/.test(url))
    return {
      url,
      sentinel: null,
      tls: url.startsWith("rediss:") ? { rejectUnauthorized: true } : null,
      sentinelTls: null,
    };
  let s: ReturnType<typeof parseSentinelUrl>;
  try {
    s = parseSentinelUrl(url);
  } catch (err) {
    throw new ConfigError(`Redis URL: ${(err as Error).message}`);
  }
  const tls = s.tls ? { rejectUnauthorized: true } : null;
  const t: RedisTarget = {
    url: sentinelDisplayUrl(s, s.tls),
    sentinel: { sentinels: s.sentinels, name: s.name, db: s.db, failoverDetector: false },
    ...(s.username ? { username: s.username } : {}),
    tls,
    sentinelTls: tls,
  };
  if (s.password !== undefined) Object.defineProperty(t, "password", { value: s.password, enumerable: false });
  return t;
}

/**
 * The ioredis options that say where and how to connect (no retry policy): for one server the URL is parsed by
 * ioredis itself (`url`), with TLS options added; for Sentinel, `sentinels`/`name`/`role: "master"`, the passwords,
 * TLS to the data nodes (`enableTLSForSentinelMode` + `tls`) and to the sentinels (`sentinelTLS`).
 */
export function connectionOptions(target: string | RedisTarget): { url?: string; options: RedisOptions } {
  const t = typeof target === "string" ? targetOfUrl(target) : target;
  if (!t.sentinel) {
    const options: RedisOptions = {};
    if (t.tls) options.tls = tlsOptions(t.tls);
    if (t.password !== undefined) options.password = t.password;
    return { url: t.url, options };
  }
  const s = t.sentinel;
  return {
    options: {
      sentinels: s.sentinels.map(({ host, port }) => ({ host, port })),
      name: s.name,
      role: "master",
      db: s.db,
      ...(t.username ? { username: t.username } : {}),
      ...(t.password !== undefined ? { password: t.password } : {}),
      ...(t.sentinelUsername ? { sentinelUsername: t.sentinelUsername } : {}),
      ...(t.sentinelPassword !== undefined ? { sentinelPassword: t.sentinelPassword } : {}),
      ...(t.tls ? { enableTLSForSentinelMode: true, tls: tlsOptions(t.tls) } : {}),
      ...(t.sentinelTls ? { sentinelTLS: tlsOptions(t.sentinelTls, "redis.sentinel_tls") } : {}),
      failoverDetector: s.failoverDetector,
      sentinelCommandTimeout: 1_000,
    },
  };
}

/** A write refused because this connection is on a replica (a demoted primary): reconnect, and resend it. */
export function reconnectOnReadonly(err: Error): 2 | false {
  return /^READONLY\b/.test(err.message) ? 2 : false;
}

/**
 * Opens a Redis client. `interactive` (CLI) gives up fast so a CLI run with Redis down can still flatten through
 * the brokers (with Sentinel: once no sentinel answers; a primary being replaced is waited for, ~20 s at most); the bot keeps reconnecting forever (every ≤ 500 ms, so it notices a returning Redis — or a promoted
 * replica — at once) but fails each command quickly while Redis is away. No command waits more than 5 s, even on a
 * Redis that hangs. `target` is a URL or the parsed `config.redis` (Sentinel, TLS, credentials).
 */
export function createRedis(target: string | RedisTarget, opts: { interactive?: boolean; name?: string } = {}): Redis {
  const { url, options: where } = connectionOptions(target);
  const giveUp = (times: number) => (times > 2 ? null : 100 * times);
  // With Sentinel, a CLI rides through a failover (a promotion takes seconds) instead of giving up on the dead primary:
  // its commands still fail at once meanwhile (connectionLost), so the flatten never waits on Redis; with every
  // sentinel unreachable it gives up as fast as on one server.
  const rideThrough = (times: number) => (times > 40 ? null : Math.min(100 * times, 500));
  const common: RedisOptions = {
    connectionName: opts.name ?? "tradeguard",
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    lazyConnect: false,
    commandTimeout: 5_000,
    reconnectOnError: reconnectOnReadonly,
  };
  const sentinel = typeof target !== "string" ? target.sentinel !== null : /^rediss?\+sentinel:/.test(target);
  const retry: RedisOptions = opts.interactive
    ? { retryStrategy: sentinel ? rideThrough : giveUp, sentinelRetryStrategy: giveUp }
    : {
        retryStrategy: (times) => Math.min(50 * times, 500),
        sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
      };
  const options = { ...where, ...common, ...retry };
  const client = url === undefined ? new Redis(options) : new Redis(url, options);
  trackConnection(client);
  if (!opts.interactive) reviveOnEnd(client);
  // Errors surface on the commands that fail; the connection-level event only needs to not crash the process.
  client.on("error", () => {});
  return client;
}

/**
 * Reconnects a client that ended although nobody closed it: a client that must keep reconnecting forever (the bot's)
 * stays one. ioredis 6 ends a Sentinel client when its failover detector fires while it is reconnecting.
 */
function reviveOnEnd(client: Redis): void {
  let closing = false;
  const disconnect = client.disconnect.bind(client);
  client.disconnect = ((reconnect = false) => {
    if (!reconnect) closing = true;
    disconnect(reconnect);
  }) as Redis["disconnect"];
  const quit = client.quit.bind(client);
  client.quit = ((...a: Parameters<Redis["quit"]>) => {
    closing = true;
    return quit(...a);
  }) as Redis["quit"];
  client.on("end", () => {
    if (closing) return;
    setTimeout(() => {
      if (!closing && client.status === "end") client.connect().catch(() => {});
    }, 500).unref();
  });
}

const generations = new WeakMap<Redis, { closes: number }>();

/**
 * Counts the connection's closes from now on (idempotent). A reply read after a close is about another connection —
 * possibly another primary after a failover (ioredis resends unanswered commands on reconnect) — so a WAIT's answer
 * is only trusted when no close happened between the write and the answer (see connectionGeneration).
 */
export function trackConnection(redis: Redis): void {
  if (generations.has(redis)) return;
  const g = { closes: 0 };
  generations.set(redis, g);
  redis.on("close", () => {
    g.closes++;
  });
}

/** How many times the client's connection closed since it was tracked (it is tracked from the first call on). */
export function connectionGeneration(redis: Redis): number {
  trackConnection(redis);
  return generations.get(redis)!.closes;
}

/** True when Redis answers PING within `timeoutMs`. */
export async function redisReachable(redis: Redis, timeoutMs = 1_000): Promise<boolean> {
  if (redis.status === "end") return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await Promise.race([
      redis.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("timeout")), timeoutMs);
      }),
    ]);
    return result === "PONG";
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True when the client has lost its connection and is retrying (or gave up): a command now would only wait for the
 * next reconnect attempt to fail. Live, from the client's own state; a client still making its first connection is
 * not "lost" (its commands wait for that connection).
 */
export function connectionLost(redis: Redis): boolean {
  return redis.status === "reconnecting" || redis.status === "end" || redis.status === "close";
}

/** True for errors that mean Redis is not reachable (as opposed to a script or data error). */
export function isConnectionError(err: unknown): boolean {
  const msg = String((err as Error)?.message ?? err);
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|connect ETIMEDOUT|MaxRetriesPerRequest|max retries per request|Command timed out|Stream isn't writeable|enableOfflineQueue|All sentinels are unreachable|READONLY/i.test(
    msg,
  );
}

/**
 * The replicas Sentinel knows for the target's master group that could be promoted (not down or disconnected, priority
 * above 0), asked of the first sentinel that answers within `timeoutMs`; null when none answered (or not Sentinel).
 */
export async function promotableReplicas(target: RedisTarget, timeoutMs = 1_000): Promise<number | null> {
  const s = target.sentinel;
  if (!s) return null;
  const tls = target.sentinelTls ? tlsOptions(target.sentinelTls, "redis.sentinel_tls") : undefined;
  for (const addr of s.sentinels) {
    const c = new Redis({
      host: addr.host,
      port: addr.port,
      ...(target.sentinelUsername ? { username: target.sentinelUsername } : {}),
      ...(target.sentinelPassword !== undefined ? { password: target.sentinelPassword } : {}),
      ...(tls ? { tls } : {}),
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
      lazyConnect: true,
    });
    c.on("error", () => {});
    try {
      await c.connect();
      const rows = (await c.call("SENTINEL", "REPLICAS", s.name)) as unknown;
      if (!Array.isArray(rows)) continue;
      return rows.filter((row) => {
        const f = fieldsOf(row);
        return !/s_down|o_down|disconnected/.test(f.flags ?? "") && f["slave-priority"] !== "0";
      }).length;
    } catch {
      // this sentinel is away: ask the next one
    } finally {
      c.disconnect();
    }
  }
  return null;
}

/** A flat [k, v, k, v…] reply (or a RESP3 map) as an object of strings. */
function fieldsOf(row: unknown): Record<string, string> {
  if (row instanceof Map) return Object.fromEntries([...row].map(([k, v]) => [String(k), String(v)]));
  const out: Record<string, string> = {};
  if (Array.isArray(row)) for (let i = 0; i + 1 < row.length; i += 2) out[String(row[i])] = String(row[i + 1]);
  return out;
}
