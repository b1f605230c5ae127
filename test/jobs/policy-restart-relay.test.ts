import { afterEach, describe, expect, it } from "vitest";
import { startPolicyRestartRelay } from "../../src/jobs/policy-restart-relay.js";
import { silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";

describe("policy restart relay lifecycle", () => {
  let t: ReturnType<typeof testRedis>;
  afterEach(() => t.cleanup());

  it("owns its subscriber connection: close() disconnects it (a bot stopping on SIGTERM is not held open)", async () => {
    t = testRedis();
    const subscriber = t.connect();
    const relay = await startPolicyRestartRelay({
      subscriber,
      redis: t.redis,
      keys: t.keys,
      log: silentLog,
      webhook: "http://127.0.0.1:9/restart",
      instanceId: "test",
    });
    expect(subscriber.status).toBe("ready");
    await relay.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(["end", "close"]).toContain(subscriber.status);
  });
});
