// gate: what the pre-trade gate costs a trading process, and how fast a halt reaches many of them.
// 1. P6: `gate.check()` calls per second in-process (a loaded gate with strategy caps, locates, a PDT account and an
//    event lock in force, so the full decision path runs), against a baseline of an empty function called the same
//    way in the same loop. Target ≥ 1,000,000 calls/s.
// 2. gate-fanout (report only, run when named): a halt set with ModeStore.set (the Lua script: SET mode + meta + PUBLISH) → 50 gate clients (50 separate
//    subscriber connections, createGate each) refuse orders: per client, from the set() call to the moment that
//    client's check() refuses; p50/p99 over 50 changes (alternating halt/active). Baseline: a bare SET + PUBLISH
//    pipeline → 50 bare subscribers, measured the same way and interleaved change by change.
// Each starts its own redis-server (test/support/global-setup.ts).
import { Redis } from "ioredis";
import { createGate, type Gate, type OrderCheck } from "../packages/gate/src/gate/index.js";
import { createKeys, type Mode } from "../packages/gate/src/state/keys.js";
import { ModeStore } from "../src/state/mode.js";
import { startRedisServer } from "../test/support/global-setup.js";
import { type Benchmark, dist, fmtDist, fmtInt, fmtMs, fmtRate, type Row, ratioOf, say, targetRow } from "./lib.js";

const CALLS = 2_000_000;
const CLIENTS = 50;
const CHANGES = 50;
const WARMUP = 5;
const TARGET_CHECKS_PER_S = 1_000_000;
/** A fixed instant in a regular session (Wednesday 2026-11-25, 11:00 New York), so market hours never refuse. */
const NOW = Date.parse("2026-11-25T11:00:00-05:00");
const ORDER: OrderCheck = {
  broker: "alpaca",
  account: "A1",
  strategy: "mm",
  symbol: "AAPL",
  side: "buy",
  qty: 100,
  price: 190.25,
};

async function seed(redis: Redis, prefix: string): Promise<void> {
  const k = createKeys(prefix);
  const until = new Date(NOW + 3600_000).toISOString();
  await redis
    .multi()
    .set(k.raw("heartbeat:bot"), String(NOW))
    .hset(k.raw("strategy:caps"), "mm", JSON.stringify({ max_qty: 10_000, max_notional: "2000000" }))
    .set(k.raw("risk:event_lock"), JSON.stringify({ event: "FOMC", until, cap: 0.5, exempt: ["basis"] }))
    .hset(
      k.raw("pdt"),
      "A1",
      JSON.stringify({
        equity: "100000",
        activity: { "2026-11-25": { day_trades: 1, trades: 40 } },
        updated_at: new Date(NOW).toISOString(),
      }),
    )
    .hset(k.raw("locates"), "L1", JSON.stringify({ symbol: "GME", qty: 500, expires_at: until }))
    .zadd(k.raw("etb"), String(NOW - 3600_000), "AAPL")
    .exec();
}

/** Times `fn` over CALLS iterations; returns calls per second. */
function rate(fn: (o: OrderCheck) => unknown): number {
  let sink = 0;
  const orders = [ORDER, { ...ORDER, qty: 101 }, { ...ORDER, side: "sell" as const, reduceOnly: true }];
  for (let i = 0; i < 100_000; i++) sink += fn(orders[i % 3]!) ? 1 : 0; // warm-up (JIT)
  const t0 = performance.now();
  for (let i = 0; i < CALLS; i++) sink += fn(orders[i % 3]!) ? 1 : 0;
  const ms = performance.now() - t0;
  if (sink < 0) say(String(sink)); // keeps the loop observable
  return (CALLS / ms) * 1000;
}

/** P6: check() calls per second against an empty function in the same loop. */
async function measureChecks(): Promise<Row[]> {
  const srv = await startRedisServer();
  const redis = new Redis(srv.url, { maxRetriesPerRequest: 1 });
  let g: Gate | null = null;
  try {
    const prefix = "bench:gate:";
    await seed(redis, prefix);
    g = await createGate({ url: srv.url, prefix, now: () => NOW, pollMs: 3_600_000, refreshMs: 3_600_000 });
    const gate = g;
    const sample = gate.check(ORDER);
    if (!sample.allow) throw new Error(`bench order refused: ${sample.reasons.join("; ")}`);
    const noop = (o: OrderCheck) => o;
    const gateRate = rate((o) => gate.check(o).allow);
    const baseRate = rate(noop);
    say(
      `gate.check(): ${fmtRate(gateRate, "calls")} (${fmtInt(1e9 / gateRate)} ns/call); sample answer ${JSON.stringify(sample)}`,
    );
    say(
      `baseline empty function in the same loop: ${fmtRate(baseRate, "calls")} (${(1e9 / baseRate).toFixed(1)} ns/call)`,
    );
    return [
      targetRow({
        id: "P6",
        bench: "gate",
        metric: "check() calls/s in-process",
        measured: fmtRate(gateRate, "calls"),
        baseline: `empty fn ${fmtRate(baseRate, "calls")}`,
        ratio: ratioOf(gateRate, baseRate),
        target: `≥ ${fmtInt(TARGET_CHECKS_PER_S)}/s`,
        pass: gateRate >= TARGET_CHECKS_PER_S,
      }),
    ];
  } finally {
    await g?.close();
    redis.disconnect();
    await srv.stop();
  }
}

/** halt → CLIENTS gates refuse, against SET+PUBLISH → as many bare subscribers (report only). */
async function measureFanout(): Promise<Row[]> {
  const srv = await startRedisServer();
  const redis = new Redis(srv.url, { maxRetriesPerRequest: 1 });
  const gates: Gate[] = [];
  const bare: Redis[] = [];
  try {
    const prefix = "bench:gate:";
    await seed(redis, prefix);
    const clients: { gate: Gate; seen: (ms: number) => void }[] = [];
    let expectAllow = true;
    let t0 = 0;
    let pending = new Set<number>();
    let lat: number[] = [];
    let resolveAll: (() => void) | null = null;
    for (let i = 0; i < CLIENTS; i++) {
      const client = {
        gate: null as unknown as Gate,
        seen: (at: number) => {
          if (!pending.has(i)) return;
          pending.delete(i);
          lat.push(at - t0);
          if (pending.size === 0) resolveAll?.();
        },
      };
      client.gate = await createGate({
        url: srv.url,
        prefix,
        now: () => NOW,
        pollMs: 3_600_000,
        refreshMs: 3_600_000,
        onChange: () => {
          const at = performance.now();
          if (client.gate && client.gate.check(ORDER).allow === expectAllow) client.seen(at);
        },
      });
      gates.push(client.gate);
      clients.push(client);
    }
    const store = new ModeStore(redis, createKeys(prefix));
    const bareChannel = "bench:gate:bare";
    for (let i = 0; i < CLIENTS; i++) {
      const s = new Redis(srv.url, { maxRetriesPerRequest: 1 });
      await s.subscribe(bareChannel);
      bare.push(s);
    }
    let bareT0 = 0;
    let barePending = new Set<number>();
    let bareLat: number[] = [];
    let bareResolve: (() => void) | null = null;
    for (const [i, s] of bare.entries()) {
      s.on("message", () => {
        const at = performance.now();
        if (!barePending.has(i)) return;
        barePending.delete(i);
        bareLat.push(at - bareT0);
        if (barePending.size === 0) bareResolve?.();
      });
    }

    const gateAll: number[] = [];
    const gateMax: number[] = [];
    const bareAll: number[] = [];
    const bareMax: number[] = [];
    for (let c = 0; c < WARMUP + CHANGES; c++) {
      const mode: Mode = c % 2 === 0 ? "halt" : "active";
      expectAllow = mode === "active";
      pending = new Set(clients.map((_, i) => i));
      lat = [];
      const all = new Promise<void>((r) => {
        resolveAll = r;
      });
      t0 = performance.now();
      await store.set(mode, { reason: `bench ${c}`, actor: "bench" });
      await all;
      // Every client must really refuse (or allow) now, not just have been notified.
      for (const cl of clients) {
        if (cl.gate.check(ORDER).allow !== expectAllow) throw new Error(`a gate did not follow the change to ${mode}`);
      }
      barePending = new Set(bare.map((_, i) => i));
      bareLat = [];
      const bareAllSeen = new Promise<void>((r) => {
        bareResolve = r;
      });
      bareT0 = performance.now();
      await redis.pipeline().set("bench:gate:bare-key", mode).publish(bareChannel, `${mode}:${c}`).exec();
      await bareAllSeen;
      if (c >= WARMUP) {
        gateAll.push(...lat);
        gateMax.push(Math.max(...lat));
        bareAll.push(...bareLat);
        bareMax.push(Math.max(...bareLat));
      }
    }
    const ga = dist(gateAll);
    const gm = dist(gateMax);
    const ba = dist(bareAll);
    const bm = dist(bareMax);
    say(`halt/resume → each of ${CLIENTS} gates refuses/allows: ${fmtDist(ga)}`);
    say(`   … until the last of the ${CLIENTS} does: ${fmtDist(gm)}`);
    say(`baseline SET+PUBLISH → each of ${CLIENTS} bare subscribers: ${fmtDist(ba)}`);
    say(`   … until the last of the ${CLIENTS}: ${fmtDist(bm)}`);
    say(
      `(${CHANGES} changes, ${WARMUP} warm-up changes excluded; ${CLIENTS * 2} gate connections + ${CLIENTS} bare subscribers)`,
    );

    const row = (metric: string, m: number, b: number): Row => ({
      id: "",
      bench: "gate-fanout",
      metric,
      measured: fmtMs(m),
      baseline: `SET+PUBLISH ${fmtMs(b)}`,
      ratio: ratioOf(m, b),
      target: "- (report only)",
      verdict: "INFO",
    });
    return [
      row(`halt → ${CLIENTS} gates refuse, p50`, ga.p50, ba.p50),
      row(`halt → ${CLIENTS} gates refuse, p99`, ga.p99, ba.p99),
    ];
  } finally {
    await Promise.all(gates.map((g) => g.close()));
    for (const b of bare) b.disconnect();
    redis.disconnect();
    await srv.stop();
  }
}

export const gateBench: Benchmark = {
  id: "P6",
  name: "gate",
  description: "gate.check() calls/s in-process vs an empty function in the same loop",
  run: measureChecks,
};

export const gateFanout: Benchmark = {
  id: "",
  name: "gate-fanout",
  description: `halt → ${CLIENTS} gate clients refuse, p50/p99 over ${CHANGES} changes, vs SET+PUBLISH`,
  run: measureFanout,
};
