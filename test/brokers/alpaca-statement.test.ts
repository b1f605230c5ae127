// The live Alpaca statement against a local HTTP server speaking Alpaca's wire format (test/support/alpaca-server.ts):
// real fetch, real paging (page_size / page_token), positions rolled back to the date, timeouts and a server that
// repeats a page.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { AlpacaBroker } from "../../src/brokers/alpaca.js";
import { activitiesWindow, fetchAlpacaStatement } from "../../src/brokers/alpaca-statement.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { UsageError } from "../../src/errors.js";
import { ONE } from "../../src/recon/fixed.js";
import { ALPACA_KEY_ID, ALPACA_SECRET, position, shortXlk } from "../support/alpaca.js";
import { AlpacaServer, activityId, fillActivity, nonTradeActivity } from "../support/alpaca-server.js";
import { caught } from "../support/caught.js";
import { sharedSpec } from "../support/shared-specs.js";

const DATE = "2026-12-01";
const NOW = Date.parse("2026-12-01T23:00:00Z"); // 18:00 in New York
let server: AlpacaServer | null = null;

afterEach(async () => {
  await server?.close();
  server = null;
});

async function start(fixtures: Parameters<typeof AlpacaServer.start>[0] = {}): Promise<AlpacaServer> {
  server = await AlpacaServer.start(fixtures);
  return server;
}

function broker(s: AlpacaServer, timeoutMs = 2_000): AlpacaBroker {
  return new AlpacaBroker({
    name: "alpaca",
    baseUrl: s.url,
    keyId: ALPACA_KEY_ID,
    secretKey: ALPACA_SECRET,
    timeoutMs,
  });
}

/** `n` FILLs on the date, one second apart from 14:30 UTC, ids in Alpaca's sortable form. */
function fills(n: number, over: (i: number) => Record<string, unknown> = () => ({})): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => {
    const t = new Date(Date.parse(`${DATE}T14:30:00Z`) + i * 1000).toISOString();
    return fillActivity({ id: activityId(t, i), transaction_time: t, order_id: `order-${i}`, qty: "1", ...over(i) });
  });
}

describe("fetchAlpacaStatement paging", () => {
  it("pages with page_size=100 and page_token = the last id: 250 activities take exactly 3 requests", async () => {
    const s = await start({ activities: fills(250), positions: [position({ qty: "250" })] });
    const progress: unknown[] = [];
    const st = await fetchAlpacaStatement(broker(s), DATE, { now: NOW, onPage: (p) => progress.push(p) });

    const pages = s.requestsTo("/v2/account/activities");
    expect(pages).toHaveLength(3);
    const ids = [...s.activities].map((a) => String(a.id)).sort();
    expect(pages.map((r) => Object.fromEntries(r.query))).toEqual([
      { direction: "asc", page_size: "100", after: "2026-11-30T05:00:00Z" },
      { direction: "asc", page_size: "100", after: "2026-11-30T05:00:00Z", page_token: ids[99] },
      { direction: "asc", page_size: "100", after: "2026-11-30T05:00:00Z", page_token: ids[199] },
    ]);
    expect(s.requestsTo("/v2/positions")).toHaveLength(1);
    expect(s.requests).toHaveLength(4);
    expect(s.requests.every((r) => r.keyId === ALPACA_KEY_ID)).toBe(true);
    expect(progress).toEqual([
      { pages: 1, activities: 100 },
      { pages: 2, activities: 200 },
      { pages: 3, activities: 250 },
    ]);

    expect(st.errors).toEqual([]);
    expect(st.rows).toBe(251);
    expect(st.fills).toHaveLength(250);
    expect(st.fills[0]!.where).toBe("GET /v2/account/activities[0]");
    expect(new Set(st.fills.map((f) => f.orderId)).size).toBe(250);
    expect(st.positions).toEqual([{ symbol: "AAPL", qty: 250n * ONE, where: "GET /v2/positions[0]" }]);
  });

  it("a last page that is exactly full needs one more (empty) page to know it is the last", async () => {
    const s = await start({ activities: fills(200) });
    const st = await fetchAlpacaStatement(broker(s), DATE, { now: NOW });
    expect(s.requestsTo("/v2/account/activities").map((r) => r.query.get("page_token"))).toEqual([
      null,
      String(s.activities[99]!.id),
      String(s.activities[199]!.id),
    ]);
    expect(st.fills).toHaveLength(200);
    expect(st.positions).toEqual([]); // an empty GET /v2/positions is a flat book
  });

  it("stops with an error when the server ignores page_token and repeats a page", async () => {
    const s = await start({ activities: fills(150) });
    s.route("GET", "/v2/account/activities", (_req, srv) => ({ status: 200, body: srv.activities.slice(0, 100) }));
    const err = await caught(fetchAlpacaStatement(broker(s), DATE, { now: NOW }));
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain(`page 2 (page_token ${s.activities[99]!.id}) repeats activity`);
    expect((err as BrokerHttpError).transient).toBe(false);
    expect(s.requestsTo("/v2/account/activities")).toHaveLength(2);
  });

  it("a full page whose last entry has no id cannot be continued: an error, not a silent stop", async () => {
    const s = await start({ activities: [...fills(99), { activity_type: "FILL" }] });
    s.route("GET", "/v2/account/activities", (_req, srv) => ({ status: 200, body: srv.activities }));
    const err = await caught(fetchAlpacaStatement(broker(s), DATE, { now: NOW }));
    expect((err as Error).message).toContain("page 1 is full but its last entry has no id");
  });

  it("a reply that is not an array is a malformed reply", async () => {
    const s = await start();
    s.route("GET", "/v2/account/activities", () => ({ status: 200, body: { activities: [] } }));
    const err = await caught(fetchAlpacaStatement(broker(s), DATE, { now: NOW }));
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain("expected an array of activities, got an object");
  });
});

describe("fetchAlpacaStatement contents", () => {
  it("reports malformed entries by their index in the fetched stream, and keeps the rest", async () => {
    const acts = fills(3);
    acts[1] = { ...acts[1], price: "17x" };
    const s = await start({ activities: acts, positions: [position(), { symbol: "IBM", side: "long" }] });
    const st = await fetchAlpacaStatement(broker(s), DATE, { now: NOW });
    expect(st.fills).toHaveLength(2);
    expect(st.errors).toEqual([
      { where: "GET /v2/account/activities[1]", reason: 'price: not a decimal ("17x")' },
      { where: "GET /v2/positions[1]", reason: "qty: missing" },
    ]);
  });

  it("rolls the positions of now back to the date's close, shorts signed once", async () => {
    const later = (t: string, over: Record<string, unknown>) =>
      fillActivity({ id: activityId(t), transaction_time: t, ...over });
    const s = await start({
      activities: [
        ...fills(2, () => ({ symbol: "XLK", side: "sell_short", qty: "12" })), // the date: short 24
        nonTradeActivity({
          activity_type: "FEE",
          id: activityId(`${DATE}T21:00:00Z`),
          date: DATE,
          net_amount: "-0.02",
          symbol: "XLK",
        }),
        later("2026-12-02T15:00:00Z", { symbol: "AAPL", side: "buy", qty: "2", order_id: "later-1" }),
        later("2026-12-02T15:01:00Z", { symbol: "MSFT", side: "sell", qty: "1", order_id: "later-2" }),
      ],
      positions: [shortXlk, position()], // now: XLK −24, AAPL 2 (bought after the date), MSFT flat (sold after)
    });
    const st = await fetchAlpacaStatement(broker(s), DATE, { now: Date.parse("2026-12-02T23:00:00Z") });
    expect(st.errors).toEqual([]);
    expect(st.fills.map((f) => [f.symbol, f.side, f.qty])).toEqual([
      ["XLK", "sell_short", 12n * ONE],
      ["XLK", "sell_short", 12n * ONE],
    ]);
    expect(st.fees).toEqual([
      { symbol: "XLK", amount: (2n * ONE) / 100n, tradeDate: DATE, where: "GET /v2/account/activities[2]" },
    ]);
    expect(st.positions!.map((p) => [p.symbol, p.qty])).toEqual([
      ["XLK", -24n * ONE],
      ["MSFT", ONE],
    ]);
    expect(st.outsideDate).toBe(2);
  });

  it("asks from the New York start of the day before, in winter and in summer", () => {
    expect(activitiesWindow("2026-12-01")).toEqual({ after: "2026-11-30T05:00:00Z" });
    expect(activitiesWindow("2026-07-01")).toEqual({ after: "2026-06-30T04:00:00Z" });
    expect(activitiesWindow("2026-03-09")).toEqual({ after: "2026-03-08T05:00:00Z" }); // DST began at 2:00 on the 8th
  });

  it("refuses a date that is not a calendar date or is after today in New York", async () => {
    const s = await start();
    expect(await caught(fetchAlpacaStatement(broker(s), "2026-02-30", { now: NOW }))).toBeInstanceOf(UsageError);
    const future = await caught(fetchAlpacaStatement(broker(s), "2026-12-02", { now: NOW }));
    expect((future as Error).message).toContain("after today (2026-12-01 in New York)");
    expect(s.requests).toHaveLength(0);
  });
});

describe("fetchAlpacaStatement failures", () => {
  it("retries a 429 (honouring Retry-After) and then goes on from the same page_token", async () => {
    const s = await start({ activities: fills(120) });
    let calls = 0;
    s.route("GET", "/v2/account/activities", (req, srv) => {
      calls++;
      if (calls === 2)
        return { status: 429, body: { message: "rate limit exceeded" }, headers: { "retry-after": "0" } };
      const token = req.query.get("page_token");
      const rows = srv.activities.filter((a) => !token || String(a.id) > token).slice(0, 100);
      return { status: 200, body: rows };
    });
    const st = await fetchAlpacaStatement(broker(s), DATE, { now: Date.now(), deadline: Date.now() + 10_000 });
    expect(st.fills).toHaveLength(120);
    const tokens = s.requestsTo("/v2/account/activities").map((r) => r.query.get("page_token"));
    expect(tokens).toEqual([null, String(s.activities[99]!.id), String(s.activities[99]!.id)]);
  });

  it("times out a call that does not answer (call_timeout_ms), and says so", async () => {
    const s = await start();
    s.route("GET", "/v2/account/activities", () => new Promise(() => {}));
    const started = Date.now();
    const err = await caught(fetchAlpacaStatement(broker(s, 150), DATE, { now: NOW, deadline: Date.now() }));
    expect(err).toBeInstanceOf(BrokerHttpError);
    expect((err as Error).message).toContain("timed out after 150 ms");
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a key the server does not accept is a 403, and the request log shows which key was sent", async () => {
    const s = await start();
    s.credentials = [{ keyId: "PKOTHERKEY", secretKey: "other" }];
    const err = await caught(fetchAlpacaStatement(broker(s), DATE, { now: NOW }));
    expect((err as BrokerHttpError).httpStatus).toBe(403);
    expect(s.requests.map((r) => r.keyId)).toEqual([ALPACA_KEY_ID]);
    s.credentials = [{ keyId: ALPACA_KEY_ID, secretKey: ALPACA_SECRET }];
    expect((await fetchAlpacaStatement(broker(s), DATE, { now: NOW })).errors).toEqual([]);
  });
});

describe("the local server", () => {
  it("serves GET /v2/account, filters activities and pages desc by default as Alpaca does", async () => {
    const s = await start({ activities: fills(5) });
    const account = await fetch(`${s.url}/v2/account`).then((r) => r.json());
    expect(account).toMatchObject({ status: "ACTIVE", currency: "USD" });
    const ids = s.activities.map((a) => a.id);
    const asc = (await broker(s).activitiesPage({}, { pageSize: 2 })) as { id: string }[];
    expect(asc.map((a) => a.id)).toEqual([ids[0], ids[1]]);
    const types = await broker(s).activitiesPage({ activityTypes: ["FEE"] });
    expect(types).toEqual([]);
    expect(s.requests.at(-1)!.query.get("activity_types")).toBe("FEE");
    // No direction: newest first, as Alpaca's default is desc.
    const page = await fetch(`${s.url}/v2/account/activities?page_size=2&page_token=${s.activities[3]!.id}`);
    expect(((await page.json()) as { id: string }[]).map((a) => a.id)).toEqual([ids[2], ids[1]]);
    const both = await fetch(`${s.url}/v2/account/activities?date=2026-12-01&after=2026-12-01T00:00:00Z`);
    expect(both.status).toBe(422); // the spec: date cannot be used with after/until
    expect((await fetch(`${s.url}/v2/nope`)).status).toBe(404);
  });
});

const openapi = sharedSpec(
  "alpaca-trading-openapi.yaml",
  "this test checks that the activities call the statement fetch makes is in Alpaca's OpenAPI spec",
);

describe.skipIf(openapi.skip)("Alpaca OpenAPI spec", () => {
  it("documents GET /v2/account/activities with every query parameter the fetch uses", () => {
    // biome-ignore lint/suspicious/noExplicitAny: walking an untyped OpenAPI document
    const spec = parse(readFileSync(openapi.require(), "utf8")) as any;
    const op = spec.paths["/v2/account/activities"]?.get;
    expect(op, "GET /v2/account/activities").toBeDefined();
    const names = (op.parameters as { in: string; name: string }[]).filter((p) => p.in === "query").map((p) => p.name);
    expect(names).toEqual(
      expect.arrayContaining(["after", "until", "date", "direction", "page_size", "page_token", "activity_types"]),
    );
    expect(spec.paths["/v2/positions"]?.get).toBeDefined();
    expect(spec.paths["/v2/account"]?.get).toBeDefined();
  });
});
