// Redis connections. Created only by the composition root (never on import).
import { Redis, type RedisOptions } from "ioredis";

export type { Redis };

/**
 * Opens a Redis client. `interactive` (CLI) gives up fast so a CLI run with Redis down can still flatten through
 * the brokers; the bot keeps reconnecting forever but fails each command quickly while Redis is away.
 */
export function createRedis(url: string, opts: { interactive?: boolean; name?: string } = {}): Redis {
  const common: RedisOptions = {
    connectionName: opts.name ?? "tradeguard",
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
    lazyConnect: false,
  };
  const options: RedisOptions = opts.interactive
    ? { ...common, retryStrategy: (times) => (times > 2 ? null : 100 * times) }
    : { ...common, retryStrategy: (times) => Math.min(50 * times, 2_000) };
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
