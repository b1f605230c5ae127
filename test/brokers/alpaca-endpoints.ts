// Local Alpaca endpoints in front of one account (test/support/alpaca-server.ts underneath): the same orders and
// positions whichever endpoint a call reaches, as a primary and a backup route to one Alpaca account would show them.
// Each endpoint can be made slow, failing (an HTTP status) or hung (no answer at all) on every route.

import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { order, position } from "../support/alpaca.js";
import { AlpacaServer, type Handler } from "../support/alpaca-server.js";

/** How an endpoint answers every route: normally, late, with an HTTP error (`times` requests, then normally), or never. */
export type Behaviour =
  | { mode: "ok" }
  | { mode: "slow"; ms: number }
  | { mode: "fail"; status: number; times?: number; retryAfter?: string }
  | { mode: "hang" };

/** The account both endpoints serve. */
export class AlpacaAccount {
  orders: Record<string, unknown>[] = [];
  positions: Record<string, unknown>[] = [];

  /** One open AAPL order and one AAPL position (what a flatten must clear). */
  static withExposure(): AlpacaAccount {
    const a = new AlpacaAccount();
    a.orders = [order({ id: "61e69015-8549-4bfd-b9c3-01e75843f47d", status: "new" })];
    a.positions = [position({ symbol: "AAPL", qty: "2" })];
    return a;
  }
}

export interface AlpacaEndpoint {
  server: AlpacaServer;
  url: string;
  behaviour: Behaviour;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts one endpoint of `account`. */
export async function alpacaEndpoint(account: AlpacaAccount): Promise<AlpacaEndpoint> {
  const server = await AlpacaServer.start();
  const ep: AlpacaEndpoint = {
    server,
    url: server.url,
    behaviour: { mode: "ok" },
    close: () => server.close(),
  };
  const gated =
    (h: Handler): Handler =>
    async (req, s) => {
      const b = ep.behaviour;
      if (b.mode === "hang") return new Promise(() => {}); // never answers; close() drops the connection
      if (b.mode === "fail") {
        if (b.times !== undefined && --b.times <= 0) ep.behaviour = { mode: "ok" };
        return {
          status: b.status,
          body: { code: b.status * 100_000, message: b.status === 429 ? "rate limit exceeded" : "unavailable" },
          headers: b.retryAfter ? { "retry-after": b.retryAfter } : undefined,
        };
      }
      if (b.mode === "slow") await sleep(b.ms);
      return h(req, s);
    };
  server
    .route(
      "GET",
      "/v2/account",
      gated((_r, s) => ({ status: 200, body: s.account })),
    )
    .route(
      "GET",
      "/v2/orders",
      gated(() => ({ status: 200, body: account.orders })),
    )
    .route(
      "GET",
      "/v2/positions",
      gated(() => ({ status: 200, body: account.positions })),
    )
    .route(
      "DELETE",
      "/v2/orders",
      gated(() => {
        const body = account.orders.map((o) => ({ id: o.id, status: 200, body: { ...o, status: "pending_cancel" } }));
        account.orders = [];
        return { status: 207, body };
      }),
    )
    .route(
      "DELETE",
      "/v2/positions",
      gated(() => {
        const body = account.positions.map((p, i) => ({
          symbol: p.symbol,
          status: 200,
          body: order({ id: `close-${i}`, symbol: p.symbol, side: "sell", type: "market", status: "accepted" }),
        }));
        account.positions = []; // market orders fill at once here
        account.orders = [];
        return { status: 207, body };
      }),
    );
  return ep;
}

/**
 * A CLI set-up with one Alpaca broker `alp` on two local endpoints sharing one account (primary, backup): its own
 * home, YAML and key prefix, on the test Redis.
 */
export async function twoEndpointCli(
  tag: string,
  redisUrl: string,
): Promise<{ primary: AlpacaEndpoint; backup: AlpacaEndpoint; env: Record<string, string>; close(): Promise<void> }> {
  const account = new AlpacaAccount();
  const [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
  const home = mkdtempSync(join(tmpdir(), `tg-${tag}-cli-`));
  const config = join(home, "tradeguard.yaml");
  writeFileSync(
    config,
    `brokers:\n  - { name: alp, kind: alpaca, endpoints: ["${primary.url}", "${backup.url}"], key_id_env: K, secret_key_env: S }\n`,
  );
  const env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: config,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
    K: "PKTEST",
    S: "secret",
  };
  return { primary, backup, env, close: async () => void (await Promise.all([primary.close(), backup.close()])) };
}
