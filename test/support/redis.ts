// Per-test Redis access: the run's real redis-server, a fresh random key prefix, and cleanup of what the test wrote.
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { inject } from "vitest";
import { createKeys } from "../../src/state/keys.js";

/** A client on the run's redis-server plus a unique prefix; `cleanup` deletes the prefix's keys and disconnects. */
export function testRedis() {
  const url = inject("redisUrl");
  const prefix = `t${randomBytes(6).toString("hex")}:`;
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  const opened: Redis[] = [redis];
  return {
    url,
    prefix,
    redis,
    keys: createKeys(prefix),
    /** Another connection (e.g. a second replica or a subscriber). */
    connect() {
      const c = new Redis(url, { maxRetriesPerRequest: 1 });
      opened.push(c);
      return c;
    },
    async cleanup() {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
      for (const c of opened) c.disconnect();
    },
  };
}
