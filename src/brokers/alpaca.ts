// Alpaca Trading API adapter, built from the official OpenAPI spec (shared/specs/alpaca-trading-openapi.yaml):
// GET /v2/orders, DELETE /v2/orders, GET /v2/positions, DELETE /v2/positions. Every reply is validated with zod
// at the edge; quantities and prices stay decimal strings exactly as Alpaca sends them.
import { z } from "zod";
import type { BrokerConfig } from "../config-schema.js";
import { ConfigError } from "../errors.js";
import type { Broker, BrokerCredentials, BulkResult, CallContext, ItemResult, OpenOrder, Position } from "./broker.js";
import { type ActiveSource, alpacaBase, BrokerEndpoints, endpointsOf } from "./endpoints.js";
import { BrokerHttpError, requestJson } from "./http.js";
import { withRetry } from "./retry.js";

type AlpacaConfig = Extract<BrokerConfig, { kind: "alpaca" }>;

/** Alpaca sends decimals as strings ("100.0", "-24", "0.000123456"); anything else is a malformed reply. */
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/, "expected a decimal string");

/** Spec schema `Order` (only the fields the kill switch uses; the rest pass through unchecked). */
const orderSchema = z.object({
  id: z.string().min(1),
  client_order_id: z.string().nullish(),
  symbol: z.string().min(1),
  side: z.enum(["buy", "sell"]),
  qty: decimal.nullish(),
  notional: decimal.nullish(),
  filled_qty: decimal,
  type: z.string().min(1),
  status: z.string().min(1),
  limit_price: decimal.nullish(),
});

/** Spec schema `Position`. The spec does not document signs; live Alpaca sends shorts as qty "-24", market_value "-2011.44". */
const positionSchema = z.object({
  symbol: z.string().min(1),
  qty: decimal,
  side: z.enum(["long", "short"]),
  market_value: decimal.nullish(),
  avg_entry_price: decimal.nullish(),
});

/** Per-item HTTP status: `CanceledOrderResponse.status` is an integer, `PositionClosedReponse.status` is typed string. */
const itemStatus = z.union([z.number().int(), z.string().regex(/^\d{3}$/)]).transform((s) => Number(s));

/** Spec schema `CanceledOrderResponse` ({id, status}); live Alpaca also sends `body` (the order, or {code, message}). */
const canceledOrderSchema = z.object({ id: z.string().min(1), status: itemStatus, body: z.unknown().optional() });

/** Spec schema `PositionClosedReponse` (sic): {symbol, status, body: Order}; on failure body is {code, message}. */
const positionClosedSchema = z.object({ symbol: z.string().min(1), status: itemStatus, body: z.unknown().optional() });

const bodyWithId = z.object({ id: z.string().min(1) });
const bodyWithMessage = z.object({ message: z.string() });

const OPEN_ORDERS_LIMIT = 500; // the spec's maximum for GET /v2/orders `limit`
const MAX_ORDER_PAGES = 20;

/** GET /v2/account/activities `page_size`: Alpaca's maximum (it never returns more in one page). */
export const ACTIVITIES_PAGE_SIZE = 100;
/** A backstop against a server that keeps minting new ids: 2,000,000 activities. */
const MAX_ACTIVITY_PAGES = 20_000;
const ACTIVITIES = "GET /v2/account/activities";
/** What paging needs of an activity (`id`, the next page_token); the rest is validated entry by entry in src/recon. */
const activityIdSchema = z.object({ id: z.string().min(1) }).loose();

/** The filter of GET /v2/account/activities (`date` cannot be combined with `after`/`until`). */
export interface ActivitiesQuery {
  /** Only activities after this instant (ISO-8601). */
  after?: string;
  /** Only activities before this instant (ISO-8601). */
  until?: string;
  /** Only this date's activities (YYYY-MM-DD). */
  date?: string;
  /** Only these activity types (e.g. ["FILL", "FEE"]); all when absent. */
  activityTypes?: string[];
}

function describeIssues(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => {
    const path = i.path.length ? i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("") : "";
    return `${path ? `body${path}` : "body"}: ${i.message}`;
  });
  const more = error.issues.length > 3 ? ` (+${error.issues.length - 3} more)` : "";
  return shown.join("; ") + more;
}

function isZero(d: string): boolean {
  return /^-?0+(\.0+)?$/.test(d);
}

/** Returns `d` with a leading minus (for a short), unless it is zero or already negative. */
function negative(d: string): string {
  return d.startsWith("-") || isZero(d) ? d : `-${d}`;
}

function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

/** The Alpaca Trading API as a kill-switch broker: list/cancel orders, list/close positions. */
export class AlpacaBroker implements Broker {
  readonly kind = "alpaca" as const;
  readonly name: string;
  /** Where every call goes: the active endpoint (or the pinned one); a lone `baseUrl` is the only endpoint. */
  readonly endpoints: BrokerEndpoints;
  private headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(opts: {
    name: string;
    /** The single endpoint (when `endpoints` is not given). */
    baseUrl?: string;
    endpoints?: BrokerEndpoints;
    keyId: string;
    secretKey: string;
    timeoutMs: number;
  }) {
    this.name = opts.name;
    // Paths below include /v2; a base URL that already ends in /v2 (a common APCA_API_BASE_URL form) is tolerated.
    this.endpoints =
      opts.endpoints ??
      new BrokerEndpoints(opts.name, [alpacaBase(opts.baseUrl ?? "https://paper-api.alpaca.markets")]);
    this.headers = { "APCA-API-KEY-ID": opts.keyId, "APCA-API-SECRET-KEY": opts.secretKey };
    this.timeoutMs = opts.timeoutMs;
  }

  /** Uses new credentials from the next call on (key rotation). */
  setCredentials(c: BrokerCredentials): void {
    this.headers = { "APCA-API-KEY-ID": c.keyId, "APCA-API-SECRET-KEY": c.secret };
  }

  /** GET /v2/account with `c`: resolves when Alpaca accepts the credentials, throws BrokerHttpError when not. */
  async testCredentials(c: BrokerCredentials, ctx?: { signal?: AbortSignal }): Promise<void> {
    const { status, body } = await requestJson(this.name, `${this.endpoints.current()}/v2/account`, {
      method: "GET",
      headers: { "APCA-API-KEY-ID": c.keyId, "APCA-API-SECRET-KEY": c.secret },
      timeoutMs: this.timeoutMs,
      signal: ctx?.signal,
    });
    this.parse(z.object({ id: z.string() }).loose(), body, "GET /v2/account", status);
  }

  /** The cheap authenticated read (GET /v2/account with the broker's own key) the latency probe and the soak time. */
  async ping(ctx?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void> {
    const { status, body } = await requestJson(this.name, `${this.endpoints.current()}/v2/account`, {
      method: "GET",
      headers: this.headers,
      timeoutMs: ctx?.timeoutMs ?? this.timeoutMs,
      signal: ctx?.signal,
    });
    this.parse(z.object({ id: z.string() }).loose(), body, "GET /v2/account", status);
  }

  /** Lists every open order (GET /v2/orders?status=open&limit=500&nested=false, paging back by submission time). */
  async listOpenOrders(ctx?: { signal?: AbortSignal }): Promise<OpenOrder[]> {
    const seen = new Map<string, OpenOrder>();
    let until: string | undefined;
    for (let page = 0; page < MAX_ORDER_PAGES; page++) {
      const query = new URLSearchParams({ status: "open", limit: String(OPEN_ORDERS_LIMIT), nested: "false" });
      if (until) query.set("until", until);
      const { status, body } = await this.call("GET", `/v2/orders?${query}`, ctx?.signal);
      const rows = this.parse(z.array(orderSchema.loose()), body, "GET /v2/orders", status);
      for (const o of rows) {
        seen.set(o.id, {
          id: o.id,
          clientOrderId: o.client_order_id ?? null,
          symbol: o.symbol,
          side: o.side,
          qty: o.qty ?? null,
          filledQty: o.filled_qty,
          type: o.type,
          status: o.status,
          limitPrice: o.limit_price ?? null,
          notional: o.notional ?? null,
        });
      }
      if (rows.length < OPEN_ORDERS_LIMIT) break;
      // A full page: default direction is desc, so ask for the orders submitted before the oldest one seen.
      const last = rows[rows.length - 1] as Record<string, unknown>;
      const next =
        typeof last.submitted_at === "string"
          ? last.submitted_at
          : typeof last.created_at === "string"
            ? last.created_at
            : undefined;
      if (!next || next === until) break;
      until = next;
    }
    return [...seen.values()];
  }

  /** Lists every open position (GET /v2/positions); qty and marketValue are signed (negative for shorts). */
  async listPositions(ctx?: { signal?: AbortSignal }): Promise<Position[]> {
    const { status, body } = await this.call("GET", "/v2/positions", ctx?.signal);
    const rows = this.parse(z.array(positionSchema.loose()), body, "GET /v2/positions", status);
    return rows.map((p, i) => {
      if (p.side === "long" && p.qty.startsWith("-") && !isZero(p.qty)) {
        throw this.malformed("GET /v2/positions", status, body, `body[${i}]: qty ${p.qty} contradicts side "long"`);
      }
      return {
        symbol: p.symbol,
        side: p.side,
        qty: p.side === "short" ? negative(p.qty) : p.qty,
        marketValue: p.market_value == null ? null : p.side === "short" ? negative(p.market_value) : p.market_value,
        avgEntryPrice: p.avg_entry_price ?? null,
      };
    });
  }

  /** GET /v2/positions as Alpaca sends it: an array, entries unvalidated (a statement reports each bad one by index). */
  async positionsRaw(ctx?: { signal?: AbortSignal }): Promise<unknown[]> {
    const { status, body } = await this.call("GET", "/v2/positions", ctx?.signal);
    if (!Array.isArray(body)) {
      throw this.malformed("GET /v2/positions", status, body, `body: expected an array, got ${describeType(body)}`);
    }
    return body;
  }

  /** One page of GET /v2/account/activities, oldest first (direction=asc), entries raw as Alpaca sends them. */
  async activitiesPage(
    q: ActivitiesQuery,
    page: { pageSize?: number; pageToken?: string } = {},
    ctx?: { signal?: AbortSignal },
  ): Promise<unknown[]> {
    const query = new URLSearchParams({ direction: "asc", page_size: String(page.pageSize ?? ACTIVITIES_PAGE_SIZE) });
    if (q.date) query.set("date", q.date);
    if (q.after) query.set("after", q.after);
    if (q.until) query.set("until", q.until);
    if (q.activityTypes?.length) query.set("activity_types", q.activityTypes.join(","));
    if (page.pageToken) query.set("page_token", page.pageToken);
    const { status, body } = await this.call("GET", `/v2/account/activities?${query}`, ctx?.signal);
    if (!Array.isArray(body)) {
      throw this.malformed(
        ACTIVITIES,
        status,
        body,
        `body: expected an array of activities, got ${describeType(body)}`,
      );
    }
    return body;
  }

  /**
   * Every activity matching `q`, page by page (page_size 100, page_token = the last entry's id) until a page comes back
   * short. A page that repeats an id already seen (a server ignoring page_token) stops with an error instead of looping.
   * With a `deadline` (epoch ms), transient failures of a page are retried until then.
   */
  async *activities(
    q: ActivitiesQuery,
    ctx: { signal?: AbortSignal; deadline?: number } = {},
  ): AsyncGenerator<unknown[]> {
    const seen = new Set<string>();
    let token: string | undefined;
    for (let page = 1; page <= MAX_ACTIVITY_PAGES; page++) {
      const get = () => this.activitiesPage(q, { pageToken: token }, ctx);
      const rows = ctx.deadline ? await withRetry(get, { deadline: ctx.deadline, signal: ctx.signal }) : await get();
      for (const raw of rows) {
        const id = activityIdSchema.safeParse(raw);
        if (!id.success) continue; // an entry without an id is reported by the statement, by index
        if (seen.has(id.data.id)) {
          const detail = `page ${page} (page_token ${token ?? "none"}) repeats activity ${id.data.id}; stopped rather than loop`;
          throw this.malformed(ACTIVITIES, 200, null, detail);
        }
        seen.add(id.data.id);
      }
      yield rows;
      if (rows.length < ACTIVITIES_PAGE_SIZE) return;
      const last = activityIdSchema.safeParse(rows[rows.length - 1]);
      if (!last.success) {
        const detail = `page ${page} is full but its last entry has no id, so there is no page_token to go on from`;
        throw this.malformed(ACTIVITIES, 200, null, detail);
      }
      token = last.data.id;
    }
    throw this.malformed(ACTIVITIES, 200, null, `more than ${MAX_ACTIVITY_PAGES} pages; stopped`);
  }

  /** Cancels every open order (DELETE /v2/orders → 207 array of CanceledOrderResponse), one item per order. */
  async cancelAll(ctx: CallContext): Promise<BulkResult> {
    const { status, body } = await this.call("DELETE", "/v2/orders", ctx.signal, [200, 204, 207]);
    return { items: this.bulkItems(body, status, "DELETE /v2/orders", canceledOrderSchema, "id") };
  }

  /** Cancels orders then closes every position at market (DELETE /v2/positions?cancel_orders=true → 207 array). */
  async closeAll(ctx: CallContext): Promise<BulkResult> {
    const path = "/v2/positions?cancel_orders=true";
    const { status, body } = await this.call("DELETE", path, ctx.signal, [200, 204, 207]);
    return { items: this.bulkItems(body, status, "DELETE /v2/positions", positionClosedSchema, "symbol") };
  }

  private call(method: string, path: string, signal: AbortSignal | undefined, okStatuses?: number[]) {
    return requestJson(this.name, `${this.endpoints.current()}${path}`, {
      method,
      headers: this.headers,
      timeoutMs: this.timeoutMs,
      signal,
      okStatuses,
    });
  }

  private malformed(what: string, status: number, body: unknown, detail: string): BrokerHttpError {
    // Not transient: the broker answered, but not in the documented shape; retrying will not fix it.
    return new BrokerHttpError(
      this.name,
      `${what}: malformed reply (HTTP ${status}): ${detail}`,
      status,
      undefined,
      body,
      false,
    );
  }

  private parse<T>(schema: z.ZodType<T>, body: unknown, what: string, status: number): T {
    const r = schema.safeParse(body);
    if (!r.success) throw this.malformed(what, status, body, describeIssues(r.error));
    return r.data;
  }

  /** One ItemResult per 207 entry; a malformed entry becomes a failed item naming the problem (the others still count). */
  private bulkItems(
    body: unknown,
    status: number,
    what: string,
    schema: typeof canceledOrderSchema | typeof positionClosedSchema,
    refKey: "id" | "symbol",
  ): ItemResult[] {
    if (body === null) return []; // 204 No Content (or an empty 200 body)
    if (!Array.isArray(body)) {
      throw this.malformed(
        what,
        status,
        body,
        `body: expected an array of per-item results, got ${describeType(body)}`,
      );
    }
    return body.map((raw, i): ItemResult => {
      const r = schema.safeParse(raw);
      if (!r.success) {
        const ref =
          typeof raw === "object" && raw && refKey in raw ? String((raw as Record<string, unknown>)[refKey]) : `#${i}`;
        return { ref, ok: false, reason: `malformed item in ${what} reply: ${describeIssues(r.error)}` };
      }
      const item = r.data;
      const ref = "id" in item ? item.id : item.symbol;
      const ok = isOk(item.status);
      const result: ItemResult = { ref, ok, status: item.status };
      if (ok) {
        const order = bodyWithId.safeParse(item.body);
        if (order.success && refKey === "symbol") result.brokerId = order.data.id;
      } else {
        const msg = bodyWithMessage.safeParse(item.body);
        result.reason = msg.success ? msg.data.message : `HTTP ${item.status}`;
      }
      return result;
    });
  }
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/**
 * Builds the Alpaca adapter from its config entry: a managed broker (`secret:`) with the credentials handed in from the
 * secret store, else the key id and secret from the env vars it names. Its endpoints (`endpoints`, or `base_url`)
 * follow the active-endpoint flag through `active`.
 */
export function alpacaFromConfig(
  cfg: AlpacaConfig,
  env: Record<string, string | undefined>,
  timeoutMs: number,
  managed?: BrokerCredentials | null,
  active?: ActiveSource,
): AlpacaBroker {
  const endpoints = new BrokerEndpoints(cfg.name, endpointsOf(cfg), active);
  if (cfg.secret !== undefined)
    return new AlpacaBroker({
      name: cfg.name,
      endpoints,
      keyId: managed?.keyId ?? "",
      secretKey: managed?.secret ?? "",
      timeoutMs,
    });
  const keyId = env[cfg.key_id_env];
  const secretKey = env[cfg.secret_key_env];
  const missing = [!keyId && cfg.key_id_env, !secretKey && cfg.secret_key_env].filter(Boolean);
  if (missing.length > 0 || !keyId || !secretKey) {
    throw new ConfigError(`brokers.${cfg.name}: env ${missing.join(" and ")} must be set for the alpaca broker`);
  }
  return new AlpacaBroker({ name: cfg.name, endpoints, keyId, secretKey, timeoutMs });
}
