// Siblings of issue 10's samples, hunted with fast-check: arbitrary garbage (any Redis type, any bytes) in the keys
// the bot, the CLI and the gate read. Every reader must answer — naming what it could not read — and nothing may
// fail open: garbage in `mode` is halt for /status and for the gate.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGate, type Gate } from "../../src/gate/index.js";
import { allGuards } from "../../src/jobs/registry.js";
import { MARKET_KEYS } from "../../src/state/keys.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
let t: T;
let gate: Gate;

const KEYS = [
  "mode",
  "mode:meta",
  "panic:active",
  "panic:last",
  "clear:active",
  "resume:soak",
  "guards:state",
  "alerts:open",
  "risk:event_lock",
  "heartbeat:bot",
  MARKET_KEYS.luldPaused,
  MARKET_KEYS.ssrActive,
];
const text = fc.oneof(
  fc.string(),
  fc.constantFrom("null", "{}", "[]", "NaN", '{"until":"NaN"}', "p20261201T000000Z-abcdef", "halt", "active"),
  fc.json(),
);
const garbage = fc.record({
  key: fc.constantFrom(...KEYS),
  type: fc.constantFrom("string", "hash", "list", "set", "zset"),
  values: fc.array(text, { minLength: 1, maxLength: 3 }),
});

beforeAll(async () => {
  t = await testRuntime({ guards: allGuards });
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, new FakeBroker("a"));
  gate = await createGate({ url: t.env.REDIS_URL, prefix: t.env.REDIS_PREFIX, pollMs: 50, readyTimeoutMs: 2_000 });
});
afterAll(async () => {
  await gate.close();
  await t.cleanup();
});

async function write(g: { key: string; type: string; values: string[] }) {
  const k = t.rt.keys.raw(g.key);
  await t.rt.redis.del(k);
  const r = t.rt.redis;
  if (g.type === "string") await r.set(k, g.values[0]!);
  else if (g.type === "hash") await r.hset(k, ...g.values.flatMap((v, i) => [`f${i}`, v]));
  else if (g.type === "list") await r.rpush(k, ...g.values);
  else if (g.type === "set") await r.sadd(k, ...g.values);
  else await r.zadd(k, ...g.values.flatMap((v, i) => [i, v]));
}

describe("garbage in the keys everything reads (property)", () => {
  it("status always answers, names the garbage, and reads a garbage mode as halt; the gate refuses then", async () => {
    await fc.assert(
      fc.asyncProperty(garbage, async (g) => {
        await t.rt.redis.del(...KEYS.map((k) => t.rt.keys.raw(k)));
        await write(g);
        const s = await t.rt.ops.status();
        const modeIsValid =
          g.key !== "mode" || (g.type === "string" && ["active", "reduce_only", "halt"].includes(g.values[0]!));
        if (!modeIsValid) {
          expect(s.mode).toBe("halt");
          expect(s.unreadable.map((u) => u.key)).toContain("mode");
          await gate.refresh();
          const r = gate.check({
            broker: "a",
            account: "A1",
            strategy: "s",
            symbol: "AAPL",
            side: "buy",
            qty: 1,
            price: 1,
          });
          expect(r.allow).toBe(false);
        }
        // Whatever the garbage, one tick of every guard runs to the end (findings, not exceptions).
        const tick = await t.rt.guards.runOnce();
        expect(tick.guards.map((x) => x.name)).toContain("state_integrity");
        expect(tick.guards.filter((x) => x.state === "error" && /guard failed/.test(x.detail))).toEqual([]);
      }),
      { numRuns: 150, seed: 20261201 },
    );
  }, 60_000);
});
