// Redis connections. Created only by the composition root (never on import).
import { Redis, type RedisOptions } from "ioredis";

export type { Redis };

/**
 * Opens a Redis client. `interactive` (CLI) gives up fast so a CLI run with Redis down can still flatten through
 * the brokers; the bot keeps reconnecting forever (every ≤ 500 ms, so it notices a returning Redis at once) but fails
 * each command quickly while Redis is away. No command waits more than 5 s, even on a Redis that hangs.
 */
export function createRedis(url: string, opts: { interactive?: boolean; name?: string } = {}): Redis {
  const common: RedisOptions = {
    connectionName: opts.name ?? "tradeguard",
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    lazyConnect: false,
    commandTimeout: 5_000,
  };
  const options: RedisOptions = opts.interactive
    ? { ...common, retryStrategy: (times) => (times > 2 ? null : 100 * times) }
    : { ...common, retryStrategy: (times) => Math.min(50 * times, 500) };
  const client = new Redis(url, options);
  // Errors surface on the commands that fail; the connection-level event only needs to not crash the process.
  client.on("error", () => {});
  return client;
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
  return /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|connect ETIMEDOUT|MaxRetriesPerRequest|max retries per request|Command timed out|Stream isn't writeable|enableOfflineQueue/i.test(
    msg,
  );
}
