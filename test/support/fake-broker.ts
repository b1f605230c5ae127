// A scriptable in-memory broker for operation tests: records calls, tracks concurrency, and can be told to fail,
// leave things behind, or hang.
import { Decimal } from "decimal.js";
import type { Broker, BulkResult, CallContext, OpenOrder, Position } from "../../src/brokers/broker.js";

export class FakeBroker implements Broker {
  readonly kind = "paper" as const;
  orders: OpenOrder[] = [];
  positions: Position[] = [];
  readonly calls: { op: string; at: number; panicId?: string }[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** Symbols whose close is refused by the "venue". */
  refuseClose = new Set<string>();
  /** Delay of every call. */
  delayMs = 0;
  /** Runs before each call (e.g. to look at Redis at that moment). */
  beforeCall?: (op: string) => Promise<void> | void;
  /** Makes every call hang until the signal aborts. */
  hang = false;

  constructor(readonly name: string) {}

  private async enter<T>(op: string, fn: () => T, ctx?: { signal?: AbortSignal; panicId?: string }): Promise<T> {
    this.calls.push({ op, at: Date.now(), panicId: ctx?.panicId });
    await this.beforeCall?.(op);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hang) {
        await new Promise<void>((_, reject) => {
          if (ctx?.signal?.aborted) reject(new Error("aborted"));
          ctx?.signal?.addEventListener("abort", () => reject(new Error("deadline reached")));
        });
      }
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      return fn();
    } finally {
      this.inFlight--;
    }
  }

  listOpenOrders(ctx: { signal?: AbortSignal } = {}) {
    return this.enter("list_orders", () => [...this.orders], ctx);
  }
  listPositions(ctx: { signal?: AbortSignal } = {}) {
    return this.enter("list_positions", () => [...this.positions], ctx);
  }
  cancelAll(ctx: CallContext): Promise<BulkResult> {
    return this.enter(
      "cancel_all",
      () => {
        const items = this.orders.map((o) => ({ ref: o.id, ok: true, status: 200 }));
        this.orders = [];
        return { items };
      },
      ctx,
    );
  }
  closeAll(ctx: CallContext): Promise<BulkResult> {
    return this.enter(
      "close_all",
      () => {
        const items = this.positions.map((p) =>
          this.refuseClose.has(p.symbol)
            ? { ref: p.symbol, ok: false, status: 403, reason: "insufficient qty available for order" }
            : { ref: p.symbol, ok: true, status: 200, brokerId: `close-${p.symbol}` },
        );
        this.positions = this.positions.filter((p) => this.refuseClose.has(p.symbol));
        return { items };
      },
      ctx,
    );
  }

  /** Adds an open order and a position. */
  seed(symbol: string, qty: string, price = "100") {
    this.orders.push({
      id: `o-${symbol}-${this.orders.length}`,
      clientOrderId: null,
      symbol,
      side: "buy",
      qty: "1",
      filledQty: "0",
      type: "limit",
      status: "new",
      limitPrice: price,
      notional: null,
    });
    this.positions.push({
      symbol,
      qty,
      side: qty.startsWith("-") ? "short" : "long",
      marketValue: new Decimal(qty).mul(price).toFixed(),
      avgEntryPrice: price,
    });
    return this;
  }
}
