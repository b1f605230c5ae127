// Flatten one broker: cancel every open order, then close every position, then re-query until it is verified flat
// or the deadline passes. Each call is retried on 429/5xx/timeouts (Retry-After honoured). Rounds repeat while
// something is left: positions are re-read each round and orders cancelled first, so a retry never closes the same
// exposure twice. A broker with several endpoints starts on the active one and, when a call fails there with a
// connection error, a timeout or a 5xx, moves to the next (for the rest of the flatten) and retries the call there,
// all within the same deadline. A 429 is the account's rate limit, not the endpoint's: it stays and waits.
import type { Broker, BrokerOutcome, ItemResult, OpenOrder, Position } from "./broker.js";
import { BrokerHttpError } from "./http.js";
import { abortableSleep, isTransient, withRetry } from "./retry.js";

export interface FlattenOptions {
  panicId: string;
  /** Distinguishes executions of the same panic (a takeover after a crash), so client order ids stay unique. */
  attempt: number;
  deadline: number;
  maxRounds?: number;
  /** Waits between re-queries while market orders fill. */
  settleDelaysMs?: number[];
  onStep?: (step: string, detail: Record<string, unknown>) => void;
  onCall?: (op: string, outcome: "ok" | "error" | "retry") => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

const errMsg = (e: unknown) => String((e as Error)?.message ?? e);

/** A failure another endpoint may not have: no answer, a timeout, a gateway or server error (not a 429 or a 4xx). */
export function isEndpointFailure(err: unknown): boolean {
  if (err instanceof BrokerHttpError) return err.transient && err.httpStatus !== 429;
  return isTransient(err);
}

/** The endpoint one flatten is on, and its moves; shared by the flatten's parallel calls. */
class Route {
  private at = 0;
  /** The endpoints used, in order (the first: the active one when the flatten began). */
  readonly history: string[];

  constructor(private readonly order: string[]) {
    this.history = [order[0]!];
  }

  get url(): string {
    return this.order[this.at % this.order.length]!;
  }

  /** Moves past `url` when it is still the current endpoint (a parallel call may have moved already); the new one. */
  failed(url: string): string | null {
    if (this.url !== url) return null;
    this.at++;
    this.history.push(this.url);
    return this.url;
  }
}

/** Runs the cancel → close → verify sequence on one broker and reports exactly what is left. */
export async function flattenBroker(broker: Broker, opts: FlattenOptions): Promise<BrokerOutcome> {
  const started = Date.now();
  const maxRounds = opts.maxRounds ?? 3;
  const settle = opts.settleDelaysMs ?? [0, 250, 500, 1000];
  const sleep = opts.sleep ?? abortableSleep;
  const signal = AbortSignal.timeout(Math.max(1, opts.deadline - Date.now()));
  const cancelled: ItemResult[] = [];
  const closed: ItemResult[] = [];
  const errors: string[] = [];
  let remaining: BrokerOutcome["remaining"] = null;
  let rounds = 0;
  const endpoints = broker.endpoints && broker.endpoints.urls.length > 1 ? broker.endpoints : undefined;
  const route = endpoints ? new Route(endpoints.failoverOrder()) : undefined;

  const call = async <T>(op: string, fn: () => Promise<T>, retryUntil = opts.deadline): Promise<T> => {
    let at: string | undefined;
    const attempt = (): Promise<T> => {
      if (!route || !endpoints) return fn();
      at = route.url;
      return endpoints.using(at, fn);
    };
    try {
      const v = await withRetry(attempt, {
        deadline: retryUntil,
        signal,
        onRetry: ({ attempt, waitMs, error }) => {
          opts.onCall?.(op, "retry");
          const to = route && at && isEndpointFailure(error) ? route.failed(at) : null;
          if (to) opts.onStep?.("failover", { broker: broker.name, op, from: at, to, error: errMsg(error) });
          opts.onStep?.("retry", { broker: broker.name, op, attempt, waitMs, error: errMsg(error) });
        },
      });
      opts.onCall?.(op, "ok");
      return v;
    } catch (err) {
      opts.onCall?.(op, "error");
      throw err;
    }
  };

  const requery = async (): Promise<{ orders: OpenOrder[]; positions: Position[] } | null> => {
    try {
      const [orders, positions] = await Promise.all([
        call("list_orders", () => broker.listOpenOrders({ signal })),
        call("list_positions", () => broker.listPositions({ signal })),
      ]);
      return { orders, positions };
    } catch (err) {
      errors.push(`re-query failed: ${errMsg(err)}`);
      return null;
    }
  };

  while (rounds < maxRounds && Date.now() < opts.deadline) {
    rounds++;
    const ctx = {
      panicId: rounds === 1 && opts.attempt === 1 ? opts.panicId : `${opts.panicId}-a${opts.attempt}r${rounds}`,
      signal,
    };
    try {
      // Retries of a failing cancel stop at half the remaining time, so the close is always attempted.
      const r = await call("cancel_all", () => broker.cancelAll(ctx), Date.now() + (opts.deadline - Date.now()) / 2);
      cancelled.push(...r.items);
      opts.onStep?.("cancelled", {
        broker: broker.name,
        round: rounds,
        ok: r.items.filter((i) => i.ok).length,
        failed: r.items.filter((i) => !i.ok).length,
      });
    } catch (err) {
      errors.push(`cancel all (round ${rounds}): ${errMsg(err)}`);
    }
    try {
      const r = await call("close_all", () => broker.closeAll(ctx));
      closed.push(...r.items);
      opts.onStep?.("closed", {
        broker: broker.name,
        round: rounds,
        ok: r.items.filter((i) => i.ok).length,
        failed: r.items.filter((i) => !i.ok).length,
      });
    } catch (err) {
      errors.push(`close all (round ${rounds}): ${errMsg(err)}`);
    }
    // Re-query until flat; market orders may take a moment to fill.
    let state: Awaited<ReturnType<typeof requery>> = null;
    for (const delay of settle) {
      if (delay > 0) {
        if (Date.now() + delay >= opts.deadline) break;
        await sleep(delay, signal);
      }
      state = await requery();
      if (!state || (state.orders.length === 0 && state.positions.length === 0)) break;
    }
    remaining = state
      ? {
          orders: state.orders.map((o) => ({ id: o.id, symbol: o.symbol, side: o.side, qty: o.qty, status: o.status })),
          positions: state.positions.map((p) => ({ symbol: p.symbol, qty: p.qty })),
        }
      : null;
    opts.onStep?.("verified", { broker: broker.name, round: rounds, flat: isFlat(remaining), remaining });
    if (isFlat(remaining)) break;
  }
  const verified = isFlat(remaining);
  if (!verified && Date.now() >= opts.deadline) errors.push("deadline reached before the broker was verified flat");
  for (const i of [...cancelled, ...closed]) if (!i.ok && i.reason) errors.push(`${i.ref}: ${i.reason}`);
  return {
    broker: broker.name,
    kind: broker.kind,
    verified,
    cancelled,
    closed,
    remaining,
    errors: [...new Set(errors)],
    rounds,
    durationMs: Date.now() - started,
    ...(route ? { endpoints: route.history } : {}),
  };
}

function isFlat(r: BrokerOutcome["remaining"]): boolean {
  return r !== null && r.orders.length === 0 && r.positions.length === 0;
}
