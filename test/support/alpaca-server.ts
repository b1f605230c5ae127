// A local HTTP server speaking the Alpaca Trading API's wire format (shared/specs/alpaca-trading-openapi.yaml), for
// tests that go through the real adapter and fetch() instead of nock: node:http on 127.0.0.1, port 0. A small router
// (method + path → handler) over mutable fixtures, with a log of every request and the APCA-API-KEY-ID it carried.
//
// Built in: GET /v2/account/activities (real paging: direction asc|desc, page_size ≤ 100, page_token = the id the
// previous page ended on, after/until/date, activity_types), GET /v2/positions, GET /v2/account. `credentials`, when
// set, are the key pairs accepted (others get 403 as Alpaca answers a bad key): key rotation tests swap them.
// Tests add or override routes with `route()` (a misbehaving server, a DELETE, a 429…).
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the server saw it. */
export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The APCA-API-KEY-ID header (undefined when absent). */
  keyId: string | undefined;
  /** The JSON body (or its text when it is not JSON; null when empty). */
  body: unknown;
}

/** What a handler answers. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (req: RecordedRequest, server: AlpacaServer) => Reply | Promise<Reply>;

/** The spec's `Account` x-example. */
export const ACCOUNT_EXAMPLE: Record<string, unknown> = {
  account_blocked: false,
  account_number: "010203ABCD",
  buying_power: "262113.632",
  cash: "-23140.2",
  created_at: "2019-06-12T22:47:07.99658Z",
  currency: "USD",
  daytrade_count: 0,
  daytrading_buying_power: "262113.632",
  equity: "103820.56",
  id: "e6fe16f3-64a4-4921-8928-cadf02f92f98",
  initial_margin: "63480.38",
  last_equity: "103529.24",
  last_maintenance_margin: "38000.832",
  long_market_value: "126960.76",
  maintenance_margin: "38088.228",
  multiplier: "4",
  pattern_day_trader: false,
  portfolio_value: "103820.56",
  regt_buying_power: "80680.36",
  short_market_value: "0",
  shorting_enabled: true,
  sma: "0",
  status: "ACTIVE",
  trade_suspended_by_user: false,
  trading_blocked: false,
  transfers_blocked: false,
};

/** An activity id in Alpaca's form ("20220202135509981::2d7be4ff-…"): sortable by time, then by `n`. */
export function activityId(iso: string, n = 0): string {
  const stamp = new Date(iso).toISOString().replace(/[-:TZ.]/g, "");
  return `${stamp}::${n.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
}

/** A FILL in the wire format of the spec's `TradingActivities` x-example; `over` replaces fields (undefined deletes). */
export function fillActivity(over: Record<string, unknown> = {}): Record<string, unknown> {
  return clean({
    id: "20220202135509981::2d7be4ff-d1f3-43e9-856a-0f5cf5c5088e",
    activity_type: "FILL",
    transaction_time: "2022-02-02T18:55:09.981482Z",
    type: "fill",
    price: "174.78",
    qty: "2",
    side: "buy",
    symbol: "AAPL",
    leaves_qty: "0",
    order_id: "b5abe576-6a8a-49f3-a353-46b72c1ccae9",
    cum_qty: "2",
    order_status: "filled",
    ...over,
  });
}

/** A non-trade activity in the wire format of the spec's `NonTradeActivities` x-example (a DIV); `over` as above. */
export function nonTradeActivity(over: Record<string, unknown> = {}): Record<string, unknown> {
  return clean({
    activity_type: "DIV",
    id: "20190801011955195::5f596936-6f23-4cef-bdf1-3806aae57dbf",
    date: "2019-08-01",
    net_amount: "1.02",
    symbol: "T",
    qty: "2",
    per_share_amount: "0.51",
    ...over,
  });
}

function clean(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

const MAX_PAGE_SIZE = 100;

/** The instant an activity happened, for after/until/date: transaction_time (FILL) or date (non-trade). */
function activityMs(a: Record<string, unknown>): number {
  return Date.parse(String(a.transaction_time ?? a.date ?? ""));
}

/** GET /v2/account/activities over `server.activities`, with Alpaca's query semantics. */
const listActivities: Handler = (req, server) => {
  const q = req.query;
  const direction = q.get("direction") ?? "desc";
  if (direction !== "asc" && direction !== "desc") return unprocessable("invalid direction");
  if (q.has("date") && (q.has("after") || q.has("until"))) return unprocessable("date cannot be used with after/until");
  const size = q.has("page_size") ? Number(q.get("page_size")) : MAX_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1) return unprocessable("invalid page_size");
  const types = q.get("activity_types")?.split(",");
  const after = q.has("after") ? Date.parse(q.get("after")!) : null;
  const until = q.has("until") ? Date.parse(q.get("until")!) : null;
  const date = q.get("date");
  let rows = server.activities.filter((a) => {
    if (types && !types.includes(String(a.activity_type))) return false;
    const ms = activityMs(a);
    if (after !== null && !(ms > after)) return false;
    if (until !== null && !(ms < until)) return false;
    if (date && new Date(ms).toISOString().slice(0, 10) !== date.slice(0, 10)) return false;
    return true;
  });
  rows = rows.sort((a, b) => (String(a.id) < String(b.id) ? -1 : String(a.id) > String(b.id) ? 1 : 0));
  if (direction === "desc") rows.reverse();
  const token = q.get("page_token");
  if (token) rows = rows.filter((a) => (direction === "asc" ? String(a.id) > token : String(a.id) < token));
  return { status: 200, body: rows.slice(0, Math.min(size, MAX_PAGE_SIZE)) };
};

function unprocessable(message: string): Reply {
  return { status: 422, body: { code: 42210000, message } };
}

/** The server; start it with `AlpacaServer.start()`, stop it with `close()`. */
export class AlpacaServer {
  /** Fixtures the built-in routes serve; tests mutate them freely. */
  activities: Record<string, unknown>[] = [];
  positions: unknown[] = [];
  account: Record<string, unknown> = { ...ACCOUNT_EXAMPLE };
  /** Accepted key pairs; null accepts any request. */
  credentials: { keyId: string; secretKey: string }[] | null = null;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Handler>();
  private server: Server | null = null;
  url = "";

  private constructor() {
    this.route("GET", "/v2/account/activities", listActivities);
    this.route("GET", "/v2/positions", (_req, s) => ({ status: 200, body: s.positions }));
    this.route("GET", "/v2/account", (_req, s) => ({ status: 200, body: s.account }));
  }

  /** Starts a server on 127.0.0.1 (a free port); `fixtures` preset activities, positions, account. */
  static async start(fixtures: Partial<Pick<AlpacaServer, "activities" | "positions" | "account">> = {}) {
    const s = new AlpacaServer();
    Object.assign(s, fixtures);
    const server = createServer((req, res) => void s.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    s.server = server;
    s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return s;
  }

  /** Adds or replaces the handler of `method path` (path without the query). */
  route(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method.toUpperCase()} ${path}`, handler);
    return this;
  }

  /** The requests to `path` (without the query), in order. */
  requestsTo(path: string, method = "GET"): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path && r.method === method);
  }

  /** Stops the server (open keep-alive connections included). */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const keyId = req.headers["apca-api-key-id"];
    const rec: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      keyId: Array.isArray(keyId) ? keyId[0] : keyId,
      body,
    };
    this.requests.push(rec);
    let reply: Reply;
    const secret = req.headers["apca-api-secret-key"];
    if (this.credentials && !this.credentials.some((c) => c.keyId === rec.keyId && c.secretKey === secret)) {
      reply = { status: 403, body: { code: 40310000, message: "forbidden." } };
    } else {
      const handler = this.routes.get(`${rec.method} ${rec.path}`);
      try {
        reply = handler ? await handler(rec, this) : { status: 404, body: { code: 40410000, message: "Not Found" } };
      } catch (err) {
        reply = { status: 500, body: { code: 50010000, message: String((err as Error).message) } };
      }
    }
    const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      ...(payload ? { "content-type": "application/json" } : {}),
      ...reply.headers,
    });
    res.end(payload);
  }
}
