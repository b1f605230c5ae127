// P3 flatten: what a panic does to the brokers — flattenBroker (src/brokers/flatten.ts: cancel all, close all,
// re-query until verified flat) on 3 brokers at once with Promise.all — against the slowest of the same brokers
// flattened alone; median of 5 runs, fresh books every run. Each broker is a simulated venue of 500 open orders and
// 100 positions without bulk endpoints, like the ccxt adapter on most exchanges: one call per order cancelled and per
// position closed, all issued at once, each taking 20 ms and each first waiting for the venue's rate limit (a
// token bucket of its own per broker, as ccxt's enableRateLimit throttles: 500 calls/s, bursts of 20).
// Target ≤ 1.2× the slowest alone.

import type { Broker, BulkResult, CallContext, ItemResult, OpenOrder, Position } from "../src/brokers/broker.js";
import { flattenBroker } from "../src/brokers/flatten.js";
import { type Benchmark, fmtMs, fmtRatio, median, type Row, ratioOf, say, sleep, targetRow } from "./lib.js";

const BROKERS = 3;
const ORDERS = 500;
const POSITIONS = 100;
const LATENCY_MS = 20;
const RATE_PER_S = 500;
const BURST = 20;
const RUNS = 5;
const TARGET_RATIO = 1.2;

/** A token bucket (GCRA): `rate` calls per second, up to `burst` at once. */
class RateLimit {
  private tat = 0;
  waited = 0;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  async take(): Promise<void> {
    const interval = 1000 / this.rate;
    const now = performance.now();
    this.tat = Math.max(this.tat, now) + interval;
    const wait = this.tat - this.burst * interval - now;
    if (wait > 0) {
      this.waited++;
      await sleep(wait);
    }
  }
}

/** A venue without bulk endpoints: per-item cancels and closes, each call rate-limited and 20 ms long. */
class VenueBroker implements Broker {
  readonly kind = "ccxt" as const;
  private orders = new Map<string, OpenOrder>();
  private positions = new Map<string, Position>();
  private limit = new RateLimit(RATE_PER_S, BURST);
  calls = 0;

  constructor(readonly name: string) {}

  /** A fresh book: ORDERS resting limit orders and POSITIONS positions (a third short). */
  seed(): void {
    this.orders.clear();
    this.positions.clear();
    this.limit = new RateLimit(RATE_PER_S, BURST);
    this.calls = 0;
    for (let i = 0; i < ORDERS; i++) {
      const id = `${this.name}-o${i}`;
      const symbol = `SYM${String(i % POSITIONS).padStart(3, "0")}`;
      this.orders.set(id, {
        id,
        clientOrderId: null,
        symbol,
        side: i % 2 ? "sell" : "buy",
        qty: String(1 + (i % 7)),
        filledQty: "0",
        type: "limit",
        status: "new",
        limitPrice: String(100 + (i % 13)),
        notional: null,
      });
    }
    for (let i = 0; i < POSITIONS; i++) {
      const symbol = `SYM${String(i).padStart(3, "0")}`;
      const short = i % 3 === 0;
      this.positions.set(symbol, {
        symbol,
        qty: short ? `-${10 + i}` : String(10 + i),
        side: short ? "short" : "long",
        marketValue: null,
        avgEntryPrice: "50",
      });
    }
  }

  private async call<T>(fn: () => T): Promise<T> {
    this.calls++;
    await this.limit.take();
    await sleep(LATENCY_MS);
    return fn();
  }

  listOpenOrders(): Promise<OpenOrder[]> {
    return this.call(() => [...this.orders.values()]);
  }

  listPositions(): Promise<Position[]> {
    return this.call(() => [...this.positions.values()]);
  }

  async cancelAll(_ctx: CallContext): Promise<BulkResult> {
    const known = await this.listOpenOrders();
    const items = await Promise.all(
      known.map((o) => this.call((): ItemResult => ({ ref: o.id, ok: this.orders.delete(o.id), status: "canceled" }))),
    );
    return { items };
  }

  async closeAll(ctx: CallContext): Promise<BulkResult> {
    const held = await this.listPositions();
    const items = await Promise.all(
      held.map((p) =>
        this.call((): ItemResult => {
          this.positions.delete(p.symbol);
          return { ref: p.symbol, ok: true, status: "filled", brokerId: `${ctx.panicId}-${p.symbol}` };
        }),
      ),
    );
    return { items };
  }
}

let panicSeq = 0;

/** Flattens `brokers` concurrently (fresh books); the wall time, after checking every one ends verified flat. */
async function flattenTimed(brokers: VenueBroker[]): Promise<number> {
  for (const b of brokers) b.seed();
  const panicId = `bench${++panicSeq}`;
  const t0 = performance.now();
  const outcomes = await Promise.all(
    brokers.map((b) => flattenBroker(b, { panicId, attempt: 1, deadline: Date.now() + 60_000 })),
  );
  const ms = performance.now() - t0;
  for (const o of outcomes) {
    if (!o.verified || o.cancelled.length !== ORDERS || o.closed.length !== POSITIONS)
      throw new Error(
        `${o.broker}: not flattened as expected (verified=${o.verified}, cancelled ${o.cancelled.length}, closed ${o.closed.length}, errors ${o.errors.join("; ")})`,
      );
  }
  return ms;
}

export const flatten: Benchmark = {
  id: "P3",
  name: "flatten",
  description: `parallel flatten of ${BROKERS} brokers × ${ORDERS} orders × ${POSITIONS} positions, ${LATENCY_MS} ms per call, rate-limited, vs the slowest alone`,
  async run(): Promise<Row[]> {
    const brokers = Array.from({ length: BROKERS }, (_, i) => new VenueBroker(`venue${i + 1}`));
    await flattenTimed(brokers); // warm-up (JIT)
    const parallel: number[] = [];
    const alone: number[][] = brokers.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      parallel.push(await flattenTimed(brokers));
      for (const [i, b] of brokers.entries()) alone[i]!.push(await flattenTimed([b]));
    }
    const par = median(parallel);
    const singles = alone.map((xs) => median(xs));
    const slowest = Math.max(...singles);
    const calls = brokers[0]!.calls;
    say(
      `measured: Promise.all(flattenBroker × ${BROKERS}): median ${fmtMs(par)} (runs ${parallel.map(fmtMs).join(", ")})`,
    );
    for (const [i, b] of brokers.entries())
      say(`baseline: ${b.name} alone: median ${fmtMs(singles[i]!)} (runs ${alone[i]!.map(fmtMs).join(", ")})`);
    say(
      `${calls} calls per broker per flatten; at ${RATE_PER_S} calls/s the rate limit alone takes ${fmtMs((calls / RATE_PER_S) * 1000)} ` +
        `(+ ${LATENCY_MS} ms per sequential step); ratio parallel/slowest ${fmtRatio(par / slowest)} (1× = perfectly parallel, ${BROKERS}× = serial)`,
    );
    return [
      targetRow({
        id: "P3",
        bench: "flatten",
        metric: `parallel flatten ×${BROKERS} (median of ${RUNS})`,
        measured: fmtMs(par),
        baseline: `slowest alone ${fmtMs(slowest)}`,
        ratio: ratioOf(par, slowest),
        target: `≤ ${TARGET_RATIO}×`,
        pass: par <= TARGET_RATIO * slowest,
      }),
    ];
  },
};
