// The ccxt adapter follows the active endpoint too. ccxt's bundled HTTP client (undici) bypasses nock, so this test
// runs two local HTTP servers speaking Binance USD-M's REST wire format (the fixtures of ccxt.test.ts:
// GET /fapi/v1/exchangeInfo, GET /fapi/v1/openOrders; GET /fapi/v3/account for fetchBalance, the probe's read) and
// points ccxt's binanceusdm at the first one, as a desk points it at its primary. Requests to any configured origin
// go to the active endpoint (the flag in Redis) or the one pinned; paths and signed queries are left as ccxt made them.
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type CcxtBrokerConfig, ccxtFromConfig } from "../../src/brokers/ccxt.js";
import { redisActiveSource } from "../../src/brokers/endpoints.js";
import { timeRead } from "../../src/brokers/latency.js";
import { ConfigError } from "../../src/errors.js";
import { testRedis } from "../support/redis.js";

// The example key pair from Binance's API docs ("SIGNED Endpoint Examples").
const KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const fixture = (name: string) => readFileSync(new URL(`./fixtures/binanceusdm/${name}`, import.meta.url), "utf8");

/** GET /fapi/v3/account as Binance documents it (one USDT asset; the fields ccxt's parseBalance reads). */
const ACCOUNT_V3 = JSON.stringify({
  totalWalletBalance: "103.12345678",
  availableBalance: "103.12345678",
  assets: [
    {
      asset: "USDT",
      walletBalance: "103.12345678",
      unrealizedProfit: "0.00000000",
      marginBalance: "103.12345678",
      crossWalletBalance: "103.12345678",
      availableBalance: "103.12345678",
      maxWithdrawAmount: "103.12345678",
      updateTime: 1732521000000,
    },
  ],
  positions: [],
});

interface Venue {
  url: string;
  seen: string[];
  /** Signed requests whose HMAC did not match (must stay empty: a moved request is still correctly signed). */
  badSignatures: string[];
  server: Server;
}

async function venue(): Promise<Venue> {
  const v: Venue = { url: "", seen: [], badSignatures: [], server: createServer() };
  v.server.on("request", (req, res) => {
    const u = new URL(req.url ?? "/", "http://x");
    v.seen.push(`${req.method} ${u.pathname}`);
    const q = u.search.slice(1);
    const at = q.lastIndexOf("&signature=");
    if (at > 0 && createHmac("sha256", SECRET).update(q.slice(0, at)).digest("hex") !== q.slice(at + 11))
      v.badSignatures.push(u.pathname);
    const body =
      u.pathname === "/fapi/v1/exchangeInfo"
        ? fixture("exchangeInfo.json")
        : u.pathname === "/fapi/v1/openOrders"
          ? fixture("openOrders.json")
          : u.pathname === "/fapi/v3/account"
            ? ACCOUNT_V3
            : null;
    res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
    res.end(body ?? JSON.stringify({ code: -5000, msg: "Path not found" }));
  });
  await new Promise<void>((r) => v.server.listen(0, "127.0.0.1", r));
  v.url = `http://127.0.0.1:${(v.server.address() as AddressInfo).port}`;
  return v;
}

const t = testRedis();
let primary: Venue;
let backup: Venue;
beforeAll(async () => {
  [primary, backup] = await Promise.all([venue(), venue()]);
});
afterEach(() => {
  for (const v of [primary, backup]) {
    v.seen.length = 0;
    v.badSignatures.length = 0;
  }
});
afterAll(async () => {
  for (const v of [primary, backup]) {
    v.server.closeAllConnections();
    await new Promise((r) => v.server.close(r));
  }
  await t.cleanup();
});

function config(name: string, endpoints: string[]): CcxtBrokerConfig {
  return {
    name,
    kind: "ccxt",
    exchange: "binanceusdm",
    api_key_env: "BN_KEY",
    secret_env: "BN_SECRET",
    sandbox: false,
    options: { fetchCurrencies: false },
    symbols: [],
    endpoints,
  };
}

/** ccxt's binanceusdm pointed at `at` for every fapi API, as a desk points it at its primary; bundled HTTP client. */
function atOrigin(at: string): Record<string, unknown> {
  const api = Object.fromEntries(
    ["fapiPublic", "fapiPrivate"].flatMap((k) => [
      [k, `${at}/fapi/v1`],
      [`${k}V2`, `${at}/fapi/v2`],
      [`${k}V3`, `${at}/fapi/v3`],
    ]),
  );
  return { enableRateLimit: false, urls: { api: { ...api, fapiData: `${at}/futures/data` } } };
}

describe("the ccxt adapter and the active endpoint", () => {
  it("sends every request to the primary, then to the flagged endpoint, then to a pinned one", async () => {
    const env = { BN_KEY: KEY, BN_SECRET: SECRET };
    const b = ccxtFromConfig(
      config("bn", [primary.url, backup.url]),
      env,
      2_000,
      atOrigin(primary.url),
      null,
      redisActiveSource(t.redis, t.keys),
    );
    try {
      expect(await b.listOpenOrders()).toHaveLength(2);
      expect(primary.seen).toEqual(["GET /fapi/v1/exchangeInfo", "GET /fapi/v1/openOrders"]);

      await t.redis.hset(t.keys.endpointActive("bn"), { url: backup.url });
      await b.endpoints!.refresh();
      expect(await b.listOpenOrders()).toHaveLength(2);
      await b.ping();
      expect(backup.seen).toEqual(["GET /fapi/v1/openOrders", "GET /fapi/v3/account"]);
      expect(primary.seen).toHaveLength(2); // nothing more went to the primary

      const sample = await timeRead(b)(primary.url, Date.now(), 2_000);
      expect(sample).toMatchObject({ ok: true });
      expect(primary.seen.at(-1)).toBe("GET /fapi/v3/account");
      expect([...primary.badSignatures, ...backup.badSignatures]).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it("refuses a primary the exchange never calls (a typo would make the failover do nothing)", () => {
    let err: unknown;
    try {
      ccxtFromConfig(
        config("bn2", ["https://fapi.binance.example", backup.url]),
        { BN_KEY: KEY, BN_SECRET: SECRET },
        2_000,
      );
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).userMessage).toMatch(
      /brokers\.bn2\.endpoints\[0\]: binanceusdm does not call https:\/\/fapi\.binance\.example; .*https:\/\/fapi\.binance\.com/,
    );
  });
});
