// The built-in paper broker: a simulator whose orders and positions live in Redis (so the bot, the CLI and tests see
// the same book). Market orders fill at once at the position's mark price. It is the default broker in local mode.
import { randomUUID } from "node:crypto";
import { Decimal } from "decimal.js";
import type { Redis } from "ioredis";
import { z } from "zod";
import { BrokerError, UserInputError } from "../errors.js";
import type { Keys } from "../state/keys.js";
import { connectionLost } from "../state/redis.js";
import {
  type Broker,
  type BulkResult,
  type CallContext,
  closeClientOrderId,
  type OpenOrder,
  type Position,
  type Side,
} from "./broker.js";

const decimalString = z.string().regex(/^-?\d+(\.\d+)?$/, "a decimal string");

const orderSchema = z.object({
  id: z.string(),
  clientOrderId: z.string().nullable(),
  symbol: z.string(),
  side: z.enum(["buy", "sell"]),
  qty: decimalString,
  type: z.enum(["limit", "market"]),
  limitPrice: decimalString.nullable(),
  createdAt: z.string(),
});
type PaperOrder = z.infer<typeof orderSchema>;

const positionSchema = z.object({ qty: decimalString, avgEntryPrice: decimalString, markPrice: decimalString });
type PaperPosition = z.infer<typeof positionSchema>;

// KEYS[1] = positions hash. ARGV: symbol, expected raw value ("" = absent), new raw value ("" = delete).
const POSITION_CAS = `
if (redis.call('HGET', KEYS[1], ARGV[1]) or '') ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`;

/** The paper simulator. `latencyMs` delays every call (drills, benchmarks). */
export class PaperBroker implements Broker {
  readonly kind = "paper" as const;

  constructor(
    readonly name: string,
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly latencyMs = 0,
  ) {
    redis.defineCommand("tgPaperCas", { numberOfKeys: 1, lua: POSITION_CAS });
  }

  private async latency(signal?: AbortSignal) {
    if (signal?.aborted) throw new BrokerError(this.name, "deadline reached");
    // The book lives in Redis: while the connection is lost (or the CLI's client gave up), say so at once instead
    // of retrying until the panic's deadline.
    if (connectionLost(this.redis))
      throw new BrokerError(this.name, "the paper book lives in Redis, and Redis is unreachable");
    if (this.latencyMs <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, this.latencyMs);
      signal?.addEventListener("abort", () => {
        clearTimeout(t);
        resolve();
      });
    });
    if (signal?.aborted) throw new BrokerError(this.name, "deadline reached");
  }

  private parseOrders(raw: Record<string, string>): PaperOrder[] {
    const out: PaperOrder[] = [];
    for (const [id, json] of Object.entries(raw)) {
      const r = orderSchema.safeParse(safeJson(json));
      if (!r.success)
        throw new BrokerError(this.name, `order ${id} in Redis is malformed: ${r.error.issues[0]?.message}`);
      out.push(r.data);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  private parsePositions(raw: Record<string, string>): Map<string, PaperPosition> {
    const out = new Map<string, PaperPosition>();
    for (const [symbol, json] of Object.entries(raw)) {
      const r = positionSchema.safeParse(safeJson(json));
      if (!r.success)
        throw new BrokerError(this.name, `position ${symbol} in Redis is malformed: ${r.error.issues[0]?.message}`);
      out.set(symbol, r.data);
    }
    return out;
  }

  /** Lists working orders. */
  async listOpenOrders(ctx: { signal?: AbortSignal } = {}): Promise<OpenOrder[]> {
    await this.latency(ctx.signal);
    const orders = this.parseOrders(await this.redis.hgetall(this.keys.paperOrders(this.name)));
    return orders.map((o) => ({
      id: o.id,
      clientOrderId: o.clientOrderId,
      symbol: o.symbol,
      side: o.side,
      qty: o.qty,
      filledQty: "0",
      type: o.type,
      status: "new",
      limitPrice: o.limitPrice,
      notional: null,
    }));
  }

  /** Lists non-zero positions. */
  async listPositions(ctx: { signal?: AbortSignal } = {}): Promise<Position[]> {
    await this.latency(ctx.signal);
    return this.readPositions();
  }

  private async readPositions(): Promise<Position[]> {
    const positions = this.parsePositions(await this.redis.hgetall(this.keys.paperPositions(this.name)));
    return [...positions.entries()]
      .filter(([, p]) => !new Decimal(p.qty).isZero())
      .map(([symbol, p]) => ({
        symbol,
        qty: p.qty,
        side: new Decimal(p.qty).isNegative() ? "short" : "long",
        marketValue: new Decimal(p.qty).mul(p.markPrice).toFixed(),
        avgEntryPrice: p.avgEntryPrice,
      }));
  }

  /** Cancels every working order in one atomic step. */
  async cancelAll(ctx: CallContext): Promise<BulkResult> {
    await this.latency(ctx.signal);
    const key = this.keys.paperOrders(this.name);
    const res = await this.redis.multi().hgetall(key).del(key).exec();
    const raw = (res?.[0]?.[1] ?? {}) as Record<string, string>;
    return { items: Object.keys(raw).map((id) => ({ ref: id, ok: true, status: 200 })) };
  }

  /** Closes every position with a market order at the mark; the same panic never closes the same symbol twice. */
  async closeAll(ctx: CallContext): Promise<BulkResult> {
    await this.latency(ctx.signal);
    const positions = await this.readPositions();
    const items: BulkResult["items"] = [];
    for (const p of positions) {
      const clientOrderId = closeClientOrderId(ctx.panicId, p.symbol);
      const side: Side = p.side === "long" ? "sell" : "buy";
      const fill = await this.fill(p.symbol, side, new Decimal(p.qty).abs().toFixed(), clientOrderId);
      items.push({ ref: p.symbol, ok: true, status: fill.duplicate ? "duplicate" : "filled", brokerId: fill.orderId });
    }
    return { items };
  }

  /** Places a simulated order: market orders fill now; limit orders rest until cancelled. */
  async placeOrder(input: {
    symbol: string;
    side: Side;
    qty: string;
    type: "market" | "limit";
    limitPrice?: string;
    clientOrderId?: string;
  }): Promise<string> {
    if (!/^\d+(\.\d+)?$/.test(input.qty) || new Decimal(input.qty).lte(0))
      throw new UserInputError(`qty must be a positive decimal, got ${input.qty}`);
    if (input.type === "market")
      return (await this.fill(input.symbol, input.side, input.qty, input.clientOrderId ?? randomUUID())).orderId;
    if (!input.limitPrice || !/^\d+(\.\d+)?$/.test(input.limitPrice) || new Decimal(input.limitPrice).lte(0))
      throw new UserInputError("a limit order needs a positive decimal limit price");
    const order: PaperOrder = {
      id: randomUUID(),
      clientOrderId: input.clientOrderId ?? null,
      symbol: input.symbol,
      side: input.side,
      qty: input.qty,
      type: "limit",
      limitPrice: input.limitPrice,
      createdAt: new Date().toISOString(),
    };
    await this.redis.hset(this.keys.paperOrders(this.name), order.id, JSON.stringify(order));
    return order.id;
  }

  /** Sets a position directly (drills and tests). */
  async setPosition(symbol: string, qty: string, price: string): Promise<void> {
    if (!/^-?\d+(\.\d+)?$/.test(qty) || !/^\d+(\.\d+)?$/.test(price))
      throw new UserInputError("qty and price must be decimals");
    const p: PaperPosition = { qty: new Decimal(qty).toFixed(), avgEntryPrice: price, markPrice: price };
    await this.redis.hset(this.keys.paperPositions(this.name), symbol, JSON.stringify(p));
  }

  private async fill(
    symbol: string,
    side: Side,
    qty: string,
    clientOrderId: string,
  ): Promise<{ orderId: string; duplicate: boolean }> {
    const fillsKey = this.keys.paperFills(this.name);
    const orderId = randomUUID();
    // Idempotent client order id: a second submission with the same id is reported, not filled again.
    const fresh = await this.redis.hsetnx(fillsKey, clientOrderId, orderId);
    if (!fresh) return { orderId: (await this.redis.hget(fillsKey, clientOrderId)) ?? orderId, duplicate: true };
    const posKey = this.keys.paperPositions(this.name);
    // Read-modify-write with compare-and-set: concurrent fills on one symbol (bot, CLI, drills) are never lost.
    for (;;) {
      const raw = await this.redis.hget(posKey, symbol);
      const cur = raw === null ? undefined : this.parsePositions({ [symbol]: raw }).get(symbol);
      const delta = side === "buy" ? new Decimal(qty) : new Decimal(qty).neg();
      const next = new Decimal(cur?.qty ?? "0").add(delta);
      const mark = cur?.markPrice ?? "0";
      const value = next.isZero()
        ? ""
        : JSON.stringify({ qty: next.toFixed(), avgEntryPrice: cur?.avgEntryPrice ?? mark, markPrice: mark });
      const swapped = await (this.redis as Redis & { tgPaperCas(...a: string[]): Promise<number> }).tgPaperCas(
        posKey,
        symbol,
        raw ?? "",
        value,
      );
      if (swapped === 1) break;
    }
    return { orderId, duplicate: false };
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
