// The gate's two connections (reads, and the subscriber of the `mode` and `flags` channels): to one server (`url`,
// REDIS_URL) or to the primary of a Redis Sentinel deployment (`sentinels` + `name`, or a `redis+sentinel://` URL),
// through ioredis's own Sentinel support. After a failover both reconnect to the primary the sentinels name (a write
// refused with READONLY, on a demoted primary, reconnects too); the gate re-reads every flag when its subscriber is
// ready again and refuses orders until then, and reconnects a connection that ended on its own (gate-impl.ts).
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import { type HostPort, parseHostPort, parseSentinelUrl } from "../redis-url.js";
import type { GateOptions } from "./types.js";

/** A write refused because the connection is on a replica (a demoted primary): reconnect, and resend it. */
const reconnectOnReadonly = (err: Error): 2 | false => (/^READONLY\b/.test(err.message) ? 2 : false);

/** What createGate connects with, resolved from its options (throws a clear Error on a bad address). */
function whereTo(opts: GateOptions): { url?: string; options: RedisOptions } {
  const tls = (t: boolean | ConnectionOptions | undefined): ConnectionOptions | undefined =>
    t === undefined || t === false ? undefined : t === true ? {} : t;
  if (opts.sentinels?.length) {
    if (!opts.name)
      throw new Error("createGate: `sentinels` needs `name` (the master group name the sentinels monitor)");
    const sentinels: HostPort[] = opts.sentinels.map((s) => {
      const a = typeof s === "string" ? parseHostPort(s, 26379) : s;
      if (!a) throw new Error(`createGate: sentinel ${JSON.stringify(s)} is not host:port`);
      return { host: a.host, port: a.port };
    });
    const dataTls = tls(opts.tls);
    const sentinelTls = opts.sentinelTls === undefined ? dataTls : tls(opts.sentinelTls);
    return {
      options: {
        sentinels,
        name: opts.name,
        role: "master",
        db: opts.db ?? 0,
        ...(opts.username ? { username: opts.username } : {}),
        ...(opts.password !== undefined ? { password: opts.password } : {}),
        ...(opts.sentinelUsername ? { sentinelUsername: opts.sentinelUsername } : {}),
        ...(opts.sentinelPassword !== undefined ? { sentinelPassword: opts.sentinelPassword } : {}),
        ...(dataTls ? { enableTLSForSentinelMode: true, tls: dataTls } : {}),
        ...(sentinelTls ? { sentinelTLS: sentinelTls } : {}),
        failoverDetector: opts.failoverDetector ?? false,
        sentinelCommandTimeout: 1_000,
      },
    };
  }
  const url = opts.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  if (/^rediss?\+sentinel:/.test(url)) {
    let s: ReturnType<typeof parseSentinelUrl>;
    try {
      s = parseSentinelUrl(url);
    } catch (err) {
      throw new Error(`createGate: url: ${(err as Error).message}`);
    }
    return whereTo({
      ...opts,
      url: undefined,
      sentinels: s.sentinels,
      name: s.name,
      db: s.db,
      ...(s.username && opts.username === undefined ? { username: s.username } : {}),
      ...(s.password !== undefined && opts.password === undefined ? { password: s.password } : {}),
      ...(opts.tls === undefined && s.tls ? { tls: true } : {}),
    });
  }
  // One server: ioredis parses the URL (a rediss:// URL turns TLS on); options add to it.
  const options: RedisOptions = {
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.tls !== undefined && opts.tls !== false ? { tls: tls(opts.tls) } : {}),
  };
  return { url, options };
}

/** The gate's reader and subscriber; `ownsReader` false when the caller passed its own client (never closed). */
export function gateConnections(opts: GateOptions): { reader: Redis; sub: Redis; ownsReader: boolean } {
  const common: RedisOptions = {
    connectionName: "tradeguard-gate",
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
    sentinelRetryStrategy: (times) => Math.min(100 * times, 1_000),
    reconnectOnError: reconnectOnReadonly,
  };
  if (opts.redis) {
    return {
      reader: opts.redis,
      sub: opts.redis.duplicate({ connectionName: "tradeguard-gate-sub" }),
      ownsReader: false,
    };
  }
  const { url, options } = whereTo(opts);
  const make = (name: string) => {
    const o = { ...options, ...common, connectionName: name };
    return url === undefined ? new Redis(o) : new Redis(url, o);
  };
  return { reader: make("tradeguard-gate"), sub: make("tradeguard-gate-sub"), ownsReader: true };
}
