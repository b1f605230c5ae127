import { afterEach, describe, expect, it } from "vitest";
import { MARKET_KEYS } from "../../src/state/keys.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

describe("status", () => {
  it("shows the active flags trading processes obey: event lock, LULD pauses, SSR list size", async () => {
    const t = await testRuntime();
    opened.push(t);
    expect((await t.rt.ops.status()).flags).toEqual({ eventLock: null, luldPaused: 0, ssrActive: 0 });
    const lock = JSON.stringify({
      event: "CPI",
      until: "2026-12-10T14:00:00.000Z",
      cap: 0.25,
      exempt: ["basis", "market-making"],
    });
    await t.rt.redis.set(t.rt.keys.eventLock, lock);
    await t.rt.redis.hset(t.rt.keys.raw(MARKET_KEYS.luldPaused), "GME", "{}", "AMC", "{}");
    await t.rt.redis.hset(t.rt.keys.raw(MARKET_KEYS.ssrActive), "TSLA", "{}");
    const s = await t.rt.ops.status();
    expect(s.flags).toEqual({ eventLock: lock, luldPaused: 2, ssrActive: 1 });
    expect(s).toMatchObject({ mode: "active", lastPanic: null, clearRequest: null, guards: [], alerts: [] });
  });
});
