// CcxtBroker: the Broker interface over one ccxt exchange. Lists/cancels open orders and flattens derivatives
// positions with reduce-only market orders. Every failure leaves as a BrokerHttpError (see ccxt-errors.ts);
// quantities and prices are decimal strings from the venue's raw fields when they agree with ccxt (ccxt-values.ts).
//
// Limitations (kept deliberately simple and honest):
// - Positions come from ccxt `fetchPositions` only. Venues without it (spot-only) report no positions and closeAll
//   does nothing there: spot balances are NOT sold off.
// - Position quantities are in ccxt "contracts" (base units on linear USDT-margined venues such as binanceusdm).
// - Conditional orders that a venue keeps in a separate book (e.g. Binance USD-M algo orders, OKX algo orders) are
//   neither listed nor cancelled: ccxt's plain fetchOpenOrders / cancelAllOrders do not reach them.
import { createHash } from "node:crypto";
import { ArgumentsRequired, type Position as CcxtPosition, type Exchange, type Order } from "ccxt";
import type { Broker, BrokerCredentials, BulkResult, CallContext, ItemResult, OpenOrder, Position } from "./broker.js";
import { closeClientOrderId } from "./broker.js";
import { abortable, DeadlineReached, type ResponseMeta, recordResponseMeta, toBrokerHttpError } from "./ccxt-errors.js";
import { type LivePosition, toOpenOrder, toPosition } from "./ccxt-values.js";
import type { BrokerEndpoints } from "./endpoints.js";
import { BrokerHttpError } from "./http.js";

export interface CcxtBrokerOptions {
  name: string;
  /** A constructed ccxt exchange (credentials, timeout and options already set). */
  exchange: Exchange;
  /** Unified ccxt symbols swept one by one when the venue cannot list/cancel across all symbols. */
  symbols?: string[];
  /**
   * Longest client order id the venue accepts (Binance and Bybit: 36). A longer kill-switch id is replaced by a
   * deterministic hash of it, so it stays idempotent.
   */
  clientOrderIdMaxLength?: number;
  /** Builds another exchange like `exchange` but with other credentials (to test a staged key before using it). */
  withCredentials?: (c: BrokerCredentials) => Exchange;
  /** The endpoints `exchange` follows (ccxt.ts `followEndpoints`), when the config lists them. */
  endpoints?: BrokerEndpoints;
}

/** A ccxt-driven broker (kind "ccxt"). */
export class CcxtBroker implements Broker {
  readonly kind = "ccxt" as const;
  readonly name: string;
  readonly exchange: Exchange;
  readonly endpoints?: BrokerEndpoints;
  private readonly symbols: string[];
  private readonly clientOrderIdMaxLength: number;
  /** HTTP status, Retry-After and body of the response behind each exception ccxt raised. */
  private readonly meta: WeakMap<object, ResponseMeta>;
  private marketsFailed = false;
  /** Set once the venue said (ArgumentsRequired) that the call needs a symbol. */
  private listNeedsSymbol = false;
  private cancelNeedsSymbol = false;

  constructor(opts: CcxtBrokerOptions) {
    this.name = opts.name;
    this.exchange = opts.exchange;
    this.symbols = [...new Set(opts.symbols ?? [])];
    this.clientOrderIdMaxLength = opts.clientOrderIdMaxLength ?? 36;
    this.meta = recordResponseMeta(this.exchange);
    this.withCredentials = opts.withCredentials;
    this.endpoints = opts.endpoints;
  }

  private readonly withCredentials?: (c: BrokerCredentials) => Exchange;

  /** Uses new credentials from the next call on (key rotation). */
  setCredentials(c: BrokerCredentials): void {
    this.exchange.apiKey = c.keyId;
    this.exchange.secret = c.secret;
    if (c.password !== undefined) this.exchange.password = c.password;
  }

  /** fetchBalance with `c` on a separate exchange instance: resolves when the venue accepts the credentials. */
  async testCredentials(c: BrokerCredentials, ctx?: { signal?: AbortSignal }): Promise<void> {
    if (!this.withCredentials)
      throw new BrokerHttpError(this.name, "cannot test other credentials", undefined, undefined, undefined, false);
    const other = new CcxtBroker({ name: this.name, exchange: this.withCredentials(c), symbols: this.symbols });
    await other.call("fetchBalance", () => other.exchange.fetchBalance(), ctx?.signal);
  }

  /** The cheap authenticated read (fetchBalance) the latency probe and the soak time. */
  async ping(ctx?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    const signal = ctx?.timeoutMs
      ? AbortSignal.any([AbortSignal.timeout(ctx.timeoutMs), ...(ctx.signal ? [ctx.signal] : [])])
      : ctx?.signal;
    await this.call("fetchBalance", () => this.exchange.fetchBalance(), signal);
  }

  /** Maps anything thrown by ccxt (or by us) to a BrokerHttpError the retry policy understands. */
  private toError(op: string, err: unknown): BrokerHttpError {
    return toBrokerHttpError(this.name, op, err, this.meta);
  }

  private unexpected(op: string, what: string): BrokerHttpError {
    return new BrokerHttpError(
      this.name,
      `${op}: unexpected response from ${this.exchange.id}: ${what}`,
      undefined,
      undefined,
      undefined,
      false,
    );
  }

  /** Runs one ccxt call: markets loaded first, abortable by the signal, every error mapped. */
  private async call<T>(op: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) {
      throw new BrokerHttpError(this.name, `${op}: deadline reached`, undefined, undefined, undefined, false);
    }
    const run = async () => {
      await this.ensureMarkets();
      return fn();
    };
    try {
      return await abortable(run(), signal);
    } catch (err) {
      if (err instanceof DeadlineReached) {
        throw new BrokerHttpError(this.name, `${op}: deadline reached`, undefined, undefined, undefined, false);
      }
      throw this.toError(op, err);
    }
  }

  /** ccxt caches a failed loadMarkets promise forever; force a reload after a failure so one 429 is not fatal. */
  private async ensureMarkets(): Promise<void> {
    if (this.exchange.markets && !this.marketsFailed) return;
    try {
      await this.exchange.loadMarkets(this.marketsFailed);
      this.marketsFailed = false;
    } catch (err) {
      this.marketsFailed = true;
      throw err;
    }
  }

  private ordersFrom(op: string, result: unknown): OpenOrder[] {
    if (!Array.isArray(result)) throw this.unexpected(op, `expected a list of orders, got ${typeof result}`);
    return result.map((o) => toOpenOrder(o as Order, (what) => this.unexpected(op, what)));
  }

  /** Lists every open order: one call across all symbols where the venue allows it, else per configured symbol. */
  async listOpenOrders(ctx?: { signal?: AbortSignal }): Promise<OpenOrder[]> {
    const op = "listOpenOrders";
    const signal = ctx?.signal;
    if (!this.exchange.has.fetchOpenOrders) {
      throw new BrokerHttpError(
        this.name,
        `${op}: ${this.exchange.id} cannot list open orders through ccxt`,
        undefined,
        undefined,
        undefined,
        false,
      );
    }
    if (!this.listNeedsSymbol) {
      try {
        return this.ordersFrom(op, await this.call(op, () => this.exchange.fetchOpenOrders(), signal));
      } catch (err) {
        if (!(err instanceof BrokerHttpError && err.cause instanceof ArgumentsRequired)) throw err;
        this.listNeedsSymbol = true;
      }
    }
    if (this.symbols.length === 0) {
      throw new BrokerHttpError(
        this.name,
        `${op}: ${this.exchange.id} lists open orders per symbol only; configure the broker's symbols`,
        undefined,
        undefined,
        undefined,
        false,
      );
    }
    const lists = await Promise.all(
      this.symbols.map(async (s) =>
        this.ordersFrom(op, await this.call(`${op} ${s}`, () => this.exchange.fetchOpenOrders(s), signal)),
      ),
    );
    return lists.flat();
  }

  /** Cancels every open order: one venue-wide call where supported, else per symbol (configured + those with orders). */
  async cancelAll(ctx: CallContext): Promise<BulkResult> {
    const op = "cancelAll";
    const { signal } = ctx;
    let known: OpenOrder[] = [];
    let listError: BrokerHttpError | undefined;
    try {
      known = await this.listOpenOrders({ signal });
    } catch (err) {
      listError = err instanceof BrokerHttpError ? err : this.toError(op, err);
    }

    if (!this.exchange.has.cancelAllOrders) {
      // No bulk cancel at the venue: cancel the orders we could see, one by one.
      if (listError) throw listError;
      return this.settle(
        known.map((o) => ({
          refs: [o.id],
          run: () => this.call(`${op} ${o.id}`, () => this.exchange.cancelOrder(o.id, o.symbol), signal),
        })),
      );
    }

    if (!this.cancelNeedsSymbol) {
      try {
        await this.call(op, () => this.exchange.cancelAllOrders(), signal);
        const items: ItemResult[] = known.map((o) => ({ ref: o.id, ok: true, status: "canceled" }));
        if (items.length === 0) items.push({ ref: "*", ok: true, status: "canceled" });
        return { items };
      } catch (err) {
        if (!(err instanceof BrokerHttpError && err.cause instanceof ArgumentsRequired)) throw err;
        this.cancelNeedsSymbol = true;
      }
    }

    const symbols = [...new Set([...this.symbols, ...known.map((o) => o.symbol)])];
    if (symbols.length === 0 && listError) throw listError;
    const result = await this.settle(
      symbols.map((s) => {
        const ids = known.filter((o) => o.symbol === s).map((o) => o.id);
        return {
          refs: ids.length ? ids : [s],
          run: () => this.call(`${op} ${s}`, () => this.exchange.cancelAllOrders(s), signal),
        };
      }),
      "canceled",
    );
    if (listError) {
      result.items.push({
        ref: "*",
        ok: false,
        status: listError.httpStatus,
        reason: `open orders could not be listed, only configured symbols were swept: ${listError.userMessage}`,
      });
    }
    return result;
  }

  /** Runs the tasks in parallel; one ItemResult per ref. Throws the first error when every task failed. */
  private async settle(
    tasks: { refs: string[]; run: () => Promise<unknown> }[],
    okStatus?: string,
  ): Promise<BulkResult> {
    const outcomes = await Promise.allSettled(tasks.map((t) => t.run()));
    const items: ItemResult[] = [];
    outcomes.forEach((outcome, i) => {
      const task = tasks[i]!;
      for (const ref of task.refs) {
        if (outcome.status === "fulfilled") {
          const order = outcome.value as Partial<Order> | undefined;
          items.push({ ref, ok: true, status: okStatus ?? order?.status ?? "canceled" });
        } else {
          const err = this.toError("cancelAll", outcome.reason);
          items.push({ ref, ok: false, status: err.httpStatus, reason: err.userMessage });
        }
      }
    });
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    if (tasks.length > 0 && failures.length === tasks.length) throw this.toError("cancelAll", failures[0]!.reason);
    return { items };
  }

  private async rawPositions(op: string, signal?: AbortSignal): Promise<LivePosition[]> {
    if (!this.exchange.has.fetchPositions) return [];
    const result: unknown = await this.call(op, () => this.exchange.fetchPositions(), signal);
    if (!Array.isArray(result)) throw this.unexpected(op, `expected a list of positions, got ${typeof result}`);
    return result.filter((p: CcxtPosition): p is LivePosition => {
      if (!p || typeof p !== "object" || typeof p.symbol !== "string")
        throw this.unexpected(op, "a position without symbol");
      return typeof p.contracts === "number" && p.contracts !== 0;
    });
  }

  /** Lists non-zero derivatives positions (qty in contracts, signed); [] on venues without fetchPositions. */
  async listPositions(ctx?: { signal?: AbortSignal }): Promise<Position[]> {
    const op = "listPositions";
    return (await this.rawPositions(op, ctx?.signal)).map((p) => toPosition(p, (what) => this.unexpected(op, what)));
  }

  /** The kill switch's client order id, shortened to a stable hash when the venue's limit is shorter. */
  clientOrderId(panicId: string, symbol: string): string {
    const id = closeClientOrderId(panicId, symbol);
    if (id.length <= this.clientOrderIdMaxLength) return id;
    const hash = createHash("sha256").update(id).digest("hex");
    return `tg-${hash}`.slice(0, this.clientOrderIdMaxLength);
  }

  /** Closes every position with a reduce-only market order on the opposite side; one ItemResult per position. */
  async closeAll(ctx: CallContext): Promise<BulkResult> {
    const op = "closeAll";
    const { signal } = ctx;
    const positions = await this.rawPositions(op, signal);
    const tasks = positions.map((p) => {
      const run = async (): Promise<ItemResult> => {
        const pos = toPosition(p, (what) => this.unexpected(op, what));
        const amount = pos.qty.replace(/^-/, "");
        const side = pos.side === "long" ? "sell" : "buy";
        const params: Record<string, unknown> = {
          reduceOnly: true,
          clientOrderId: this.clientOrderId(ctx.panicId, pos.symbol),
        };
        // Hedge-mode venues close a leg by naming it; ccxt turns `hedged` into e.g. Binance's positionSide.
        if (p.hedged === true) params.hedged = true;
        const order = await this.call(
          `${op} ${pos.symbol}`,
          () => this.exchange.createOrder(pos.symbol, "market", side, Number(amount), undefined, params),
          signal,
        );
        if (!order || typeof order !== "object" || order.id === undefined || order.id === null) {
          throw this.unexpected(`${op} ${pos.symbol}`, "the closing order has no id");
        }
        return { ref: pos.symbol, ok: true, status: order.status ?? "submitted", brokerId: String(order.id) };
      };
      return { symbol: p.symbol, run };
    });
    const outcomes = await Promise.allSettled(tasks.map((t) => t.run()));
    const items = outcomes.map((o, i): ItemResult => {
      if (o.status === "fulfilled") return o.value;
      const err = o.reason instanceof BrokerHttpError ? o.reason : this.toError(op, o.reason);
      return { ref: tasks[i]!.symbol, ok: false, status: err.httpStatus, reason: err.userMessage };
    });
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    if (tasks.length > 0 && failures.length === tasks.length) {
      const first = failures[0]!.reason;
      throw first instanceof BrokerHttpError ? first : this.toError(op, first);
    }
    return { items };
  }

  /** Releases ccxt's resources (websocket clients, cached data). */
  async close(): Promise<void> {
    await this.exchange.close();
  }
}
