// The gate against a real redis-server: what trading processes see when tradeguard changes a flag.
import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGate, type Gate, MARKET_KEYS, type OrderCheck } from "../../packages/gate/src/gate/index.js";
import { ModeStore } from "../../src/state/mode.js";
import { startRedisServer } from "../support/global-setup.js";
import { testRedis } from "../support/redis.js";

/** Wednesday 2026-11-25, 11:00 New York: a regular session. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const buy: OrderCheck = {
  broker: "alpaca",
  account: "A1",
  strategy: "mm",
  symbol: "AAPL",
  side: "buy",
  qty: 10,
  price: 190.25,
};
const codes = (r: { reasons: string[] }) => r.reasons.map((s) => s.slice(0, s.indexOf(":")));

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A pdt record for the test account A1 (without one a market-rules account may not add exposure). */
const A1_PDT = JSON.stringify({ equity: "50000", updated_at: new Date(NOW - 60_000).toISOString() });

async function setup(
  opts: Parameters<typeof createGate>[0] = {},
  seed?: (raw: (n: string) => string, r: Redis) => Promise<unknown>,
) {
  const t = testRedis();
  const raw = (n: string) => t.keys.raw(n);
  await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW));
  await t.redis.hset(raw(MARKET_KEYS.pdt), "A1", A1_PDT);
  await seed?.(raw, t.redis);
  const gate = await createGate({
    url: t.url,
    prefix: t.prefix,
    now: () => NOW,
    pollMs: 50,
    refreshMs: 60_000,
    ...opts,
  });
  cleanups.push(async () => {
    await gate.close();
    await t.cleanup();
  });
  return { t, raw, gate };
}

const until = (gate: Gate, pred: (r: ReturnType<Gate["check"]>) => boolean, order: OrderCheck = buy) =>
  vi.waitFor(
    () => {
      const r = gate.check(order);
      if (!pred(r)) throw new Error(`not yet: ${JSON.stringify(r)}`);
      return r;
    },
    { timeout: 5_000, interval: 2 },
  );

describe("createGate against Redis", () => {
  it("with nothing set (mode absent = active) and a fresh heartbeat, allows orders in the session", async () => {
    const { gate } = await setup();
    expect(gate.check(buy)).toEqual({ allow: true, reasons: [] });
    expect(gate.view()).toMatchObject({
      loaded: true,
      down: null,
      mode: "active",
      effectiveMode: "active",
      deadMansSwitch: false,
    });
  });

  it("a halt set by ModeStore (SET + PUBLISH in one script) reaches the gate; a resume does too", async () => {
    const { t, gate } = await setup({ pollMs: 60_000 });
    const store = new ModeStore(t.redis, t.keys);
    await store.set("halt", { reason: "drill", actor: "U1" });
    const r = await until(gate, (x) => !x.allow);
    expect(r.reasons).toEqual(["mode_halt: trading is halted (drill — U1)"]);
    await store.set("reduce_only", { reason: "soak", actor: "U2" });
    await until(gate, (x) => codes(x).includes("mode_reduce_only"));
    expect(gate.check({ ...buy, side: "sell", reduceOnly: true }).allow).toBe(true);
    await store.set("active", { reason: "soak over", actor: "tradeguard" });
    await until(gate, (x) => x.allow);
  });

  it("answers from memory: no Redis command per check()", async () => {
    const t = testRedis();
    cleanups.push(() => t.cleanup());
    await t.redis.set(t.keys.raw(MARKET_KEYS.heartbeat), String(NOW));
    const reader = t.connect();
    const gate = await createGate({
      redis: reader,
      prefix: t.prefix,
      now: () => NOW,
      pollMs: 3_600_000,
      refreshMs: 3_600_000,
    });
    cleanups.push(() => gate.close());
    let commands = 0;
    const send = reader.sendCommand.bind(reader);
    reader.sendCommand = ((...a: Parameters<typeof send>) => {
      commands++;
      return send(...a);
    }) as typeof reader.sendCommand;
    for (let i = 0; i < 10_000; i++) gate.check({ ...buy, qty: 1 + (i % 7) });
    expect(commands).toBe(0);
  });

  it("a flag written with a PUBLISH on `flags` is seen at once (LULD pause, Rule 201 with the NBB from md:quote)", async () => {
    const { t, raw, gate } = await setup({ pollMs: 60_000 });
    await t.redis.hset(
      raw(MARKET_KEYS.luldPaused),
      "AAPL",
      JSON.stringify({ since: "x", until: new Date(NOW + 300_000).toISOString(), side: "down" }),
    );
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const r = await until(gate, (x) => !x.allow);
    expect(codes(r)).toEqual(["luld_pause"]);

    await t.redis.zadd(raw(MARKET_KEYS.etb), String(NOW - 60_000), "GME");
    await t.redis.hset(
      raw(MARKET_KEYS.ssrActive),
      "GME",
      JSON.stringify({ triggered_at: "x", until: new Date(NOW + 3600_000).toISOString(), source: "trade" }),
    );
    await t.redis.hset(raw(MARKET_KEYS.quote("GME")), { bid: "20.00", ask: "20.02", ts: String(NOW - 100) });
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const short: OrderCheck = { ...buy, symbol: "GME", side: "sell_short", price: 20.0 };
    const s = await until(gate, (x) => codes(x).includes("ssr_price_test"), short);
    expect(codes(s)).toEqual(["ssr_price_test"]);
    expect(gate.check({ ...short, price: 20.01 }).allow).toBe(true);
    // The trading process's own, newer NBB wins over md:quote.
    gate.updateQuote("GME", { bid: 20.05, ts: NOW });
    expect(codes(gate.check({ ...short, price: 20.01 }))).toEqual(["ssr_price_test"]);
  });

  it("an invalid mode value is halt; a stale heartbeat is the dead-man's switch (reduce-only)", async () => {
    const { t, raw, gate } = await setup();
    await t.redis.set(raw(MARKET_KEYS.mode), "paused");
    await until(gate, (x) => codes(x).includes("mode_invalid"));
    await t.redis.del(raw(MARKET_KEYS.mode));
    await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW - 60_000));
    const r = await until(gate, (x) => codes(x).includes("dead_mans_switch"));
    expect(r.reasons).toEqual([
      "dead_mans_switch: heartbeat:bot is 60 s old (limit 15 s); failing safe to reduce-only",
    ]);
    expect(gate.check({ ...buy, side: "sell", reduceOnly: true }).allow).toBe(true);
    expect(gate.view()).toMatchObject({ deadMansSwitch: true, effectiveMode: "reduce_only" });
  });

  it("Redis going away turns into redis_unreachable (halt), and the gate recovers when it is back", async () => {
    const srv = await startRedisServer();
    cleanups.push(() => srv.stop());
    const seed = new Redis(srv.url);
    await seed.set("heartbeat:bot", String(NOW));
    seed.disconnect();
    // Not about PDT: after the restart the (empty) server has no pdt record either.
    const gate = await createGate({ url: srv.url, now: () => NOW, pollMs: 50, pdtRequired: false });
    cleanups.push(() => gate.close());
    expect(gate.check(buy).allow).toBe(true);
    await srv.stop();
    const r = await until(gate, (x) => !x.allow);
    expect(codes(r)).toEqual(["redis_unreachable"]);
    expect(gate.view().effectiveMode).toBe("halt");
    // The same port again, empty: the gate reconnects, re-subscribes, re-reads — and the heartbeat is gone now.
    const again = spawn(
      "redis-server",
      ["--port", String(srv.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: "ignore" },
    );
    cleanups.push(async () => {
      again.kill("SIGTERM");
    });
    const back = await until(gate, (x) => !codes(x).includes("redis_unreachable"));
    expect(codes(back)).toEqual(["dead_mans_switch"]);
  });

  it("created while Redis is unreachable: returns after readyTimeoutMs and refuses (not_ready)", async () => {
    const gate = await createGate({ url: "redis://127.0.0.1:1", now: () => NOW, readyTimeoutMs: 200 });
    cleanups.push(() => gate.close());
    expect(codes(gate.check(buy))).toEqual(["not_ready"]);
  });

  it("review #1: the full re-read failing while the poll succeeds → flags_stale (halt), not allow on frozen flags", async () => {
    let clock = NOW;
    const { t, raw, gate } = await setup({ now: () => clock, refreshMs: 1_000, maxStalenessMs: 5_000 });
    expect(gate.check(buy).allow).toBe(true);
    // A key the full re-read cannot apply strictly (closures): WRONGTYPE fails the whole read, the poll goes on.
    await t.redis.set(raw(MARKET_KEYS.closures), "oops");
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    // Past 2 × refreshMs + maxStalenessMs = 7 s, with the heartbeat and every poll still fresh.
    clock = NOW + 8_000;
    await t.redis.set(raw(MARKET_KEYS.heartbeat), String(clock));
    // (Right after the jump the poll's last read may look 8 s old too — redis_unreachable — until the next poll.)
    const r = await until(gate, (x) => codes(x).includes("flags_stale"));
    expect(r.reasons).toHaveLength(1);
    expect(r.reasons[0]).toMatch(
      /^flags_stale: last successful full re-read of the flags \d+ s ago \(limit 7 s\); it fails with: market:closures: WRONGTYPE/,
    );
    expect(gate.view()).toMatchObject({ downCode: "flags_stale", effectiveMode: "halt", heartbeatAgeMs: 0 });
    expect(gate.view().lastReadAt).toBe(clock);
    // Fixed by the desk: the next re-read succeeds and the gate trusts its flags again.
    await t.redis.del(raw(MARKET_KEYS.closures));
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    await until(gate, (x) => x.allow);
    expect(gate.view()).toMatchObject({ down: null, downCode: null, lastFullReadAt: clock });
  });

  it("review #1: one key of the wrong type (SET strategy:caps oops) is applied strictly; other flags stay fresh", async () => {
    const { t, raw, gate } = await setup({ pollMs: 60_000 });
    await t.redis.set(raw(MARKET_KEYS.strategyCaps), "oops");
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const r = await until(gate, (x) => codes(x).includes("strategy_caps_invalid"));
    expect(codes(r)).toEqual(["strategy_caps_invalid"]);
    expect(gate.check({ ...buy, side: "sell", reduceOnly: true }).allow).toBe(true);
    expect(Object.keys(gate.view().unreadable)).toEqual(["strategy:caps"]);
    // A LULD pause written after it is still seen.
    await t.redis.hset(
      raw(MARKET_KEYS.luldPaused),
      "AAPL",
      JSON.stringify({ since: "x", until: new Date(NOW + 300_000).toISOString(), side: "down" }),
    );
    await t.redis.publish(raw(MARKET_KEYS.flagsChannel), "{}");
    const p = await until(gate, (x) => codes(x).includes("luld_pause"));
    expect(codes(p)).toEqual(["luld_pause", "strategy_caps_invalid"]);
    expect(gate.view().down).toBeNull();
  });

  it("review #2: a halt that arrives while a full re-read is in flight is never undone by it", async () => {
    const t = testRedis();
    cleanups.push(() => t.cleanup());
    const raw = (n: string) => t.keys.raw(n);
    await t.redis.set(raw(MARKET_KEYS.heartbeat), String(NOW));
    await t.redis.hset(raw(MARKET_KEYS.pdt), "A1", A1_PDT);
    // A symbol under Rule 201, so the full re-read takes a second round trip (its md:quote).
    await t.redis.hset(
      raw(MARKET_KEYS.ssrActive),
      "GME",
      JSON.stringify({ triggered_at: "x", until: new Date(NOW + 3600_000).toISOString(), source: "trade" }),
    );
    const reader = t.connect();
    const gate = await createGate({
      redis: reader,
      prefix: t.prefix,
      now: () => NOW,
      pollMs: 60_000,
      refreshMs: 60_000,
    });
    cleanups.push(() => gate.close());
    expect(gate.check(buy).allow).toBe(true);
    // Latency injected into the gate's second round trip (readAll's pipeline; the poll uses MULTI).
    let secondTrip!: () => void;
    const inSecondTrip = new Promise<void>((r) => {
      secondTrip = r;
    });
    const pipeline = reader.pipeline.bind(reader);
    reader.pipeline = ((...a: Parameters<typeof pipeline>) => {
      const p = pipeline(...a);
      const exec = p.exec.bind(p);
      p.exec = (async (...e: Parameters<typeof exec>) => {
        secondTrip();
        await new Promise((r) => setTimeout(r, 400));
        return exec(...e);
      }) as typeof p.exec;
      return p;
    }) as typeof reader.pipeline;
    const refreshing = gate.refresh();
    await inSecondTrip; // the re-read has read mode = active and is waiting for the quotes
    await new ModeStore(t.redis, t.keys).set("halt", { reason: "drill", actor: "U1" });
    await until(gate, (x) => codes(x).includes("mode_halt"));
    let allowed = 0;
    const watch = setInterval(() => {
      if (gate.check(buy).allow) allowed++;
    }, 1);
    await refreshing;
    await new Promise((r) => setTimeout(r, 100));
    clearInterval(watch);
    expect(allowed).toBe(0);
    expect(gate.check(buy).reasons).toEqual(["mode_halt: trading is halted (drill — U1)"]);
    expect(gate.view()).toMatchObject({ mode: "halt", effectiveMode: "halt" });
  });

  it("review #4: md:quote of restricted symbols is re-read by the poll (Rule 201 refusals do not flicker)", async () => {
    let clock = NOW;
    const { t, raw, gate } = await setup({ now: () => clock, pollMs: 50, refreshMs: 60_000 }, async (raw, r) => {
      await r.zadd(raw(MARKET_KEYS.etb), String(NOW - 60_000), "GME");
      await r.hset(
        raw(MARKET_KEYS.ssrActive),
        "GME",
        JSON.stringify({ triggered_at: "x", until: new Date(NOW + 3600_000).toISOString(), source: "trade" }),
      );
      await r.hset(raw(MARKET_KEYS.quote("GME")), { bid: "20.00", ask: "20.02", ts: String(NOW - 100) });
    });
    const short: OrderCheck = { ...buy, symbol: "GME", side: "sell_short", price: 20.01 };
    expect(gate.check(short).allow).toBe(true);
    clock = NOW + 3_000; // the bid read at start is now older than quoteMaxAgeMs (2 s)
    await t.redis.hset(raw(MARKET_KEYS.quote("GME")), { bid: "20.00", ts: String(clock - 100) });
    await until(gate, (x) => x.allow, short);
    // A new bid reaches the price test within a poll, without a `flags` message or a full re-read.
    await t.redis.hset(raw(MARKET_KEYS.quote("GME")), { bid: "20.05", ts: String(clock - 50) });
    const r = await until(gate, (x) => codes(x).includes("ssr_price_test"), short);
    expect(codes(r)).toEqual(["ssr_price_test"]);
    expect(gate.view().lastFullReadAt).toBe(NOW);
  });
});
