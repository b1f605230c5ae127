// Crypto venues through ccxt, the entry module (src/brokers/index.ts loads it lazily: ccxt is large). Builds the ccxt
// exchange for a `kind: ccxt` broker config and wraps it in a CcxtBroker. The pieces live next to it:
// - ccxt-broker.ts: CcxtBroker, the Broker interface over one ccxt exchange (and its limitations);
// - ccxt-values.ts: ccxt orders/positions → OpenOrder/Position with the venue's exact decimal strings;
// - ccxt-errors.ts: ccxt exceptions → transient / non-transient BrokerHttpError, and the per-call deadline.
import ccxt, { type Exchange } from "ccxt";
import type { BrokerConfig } from "../config-schema.js";
import { ConfigError } from "../errors.js";
import type { BrokerCredentials } from "./broker.js";
import { CcxtBroker } from "./ccxt-broker.js";
import { type ActiveSource, BrokerEndpoints, endpointsOf } from "./endpoints.js";

export type CcxtBrokerConfig = Extract<BrokerConfig, { kind: "ccxt" }>;

/** Every origin the exchange's REST API is called at (urls.api, `{hostname}` filled in), after sandbox and overrides. */
export function apiOrigins(ex: Exchange): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      try {
        out.add(new URL(ex.implodeHostname(v)).origin);
      } catch {
        // not a URL (some venues keep other strings there)
      }
    } else if (v && typeof v === "object") for (const x of Object.values(v)) walk(x);
  };
  walk((ex.urls as { api?: unknown }).api);
  return out;
}

/**
 * Makes `ex` send every request addressed to one of `endpoints`' origins to the endpoint in force for the call
 * (`endpoints.current()`: the pinned one, else the active one); paths, queries and signatures stay as ccxt made them
 * (venues sign the query and body, not the host).
 */
export function followEndpoints(ex: Exchange, endpoints: BrokerEndpoints): void {
  const fetch = ex.fetch.bind(ex);
  ex.fetch = (url: string, method?: string, headers?: unknown, body?: unknown) => {
    let target = url;
    try {
      const u = new URL(url);
      if (endpoints.has(u.origin)) target = `${endpoints.current()}${u.pathname}${u.search}`;
    } catch {
      // not an absolute URL: leave it to ccxt
    }
    return fetch(target, method, headers, body);
  };
}

/**
 * Builds the ccxt exchange for a `kind: ccxt` broker config and wraps it in a CcxtBroker: a managed broker (`secret:`)
 * with the credentials handed in from the secret store, else the secrets from the env vars it names. With `endpoints`,
 * the exchange follows the active endpoint (`active`: the flag in Redis); the primary must be an origin ccxt calls.
 */
export function ccxtFromConfig(
  cfg: CcxtBrokerConfig,
  env: Record<string, string | undefined>,
  timeoutMs: number,
  /** Extra ccxt constructor properties, applied last (tests: enableRateLimit, fetchImplementation). */
  overrides: Record<string, unknown> = {},
  managed?: BrokerCredentials | null,
  active?: ActiveSource,
): CcxtBroker {
  const where = `brokers.${cfg.name}`;
  const ctor = (ccxt as unknown as Record<string, unknown>)[cfg.exchange];
  if (!ccxt.exchanges.includes(cfg.exchange) || typeof ctor !== "function") {
    throw new ConfigError(`${where}.exchange: unknown ccxt exchange id "${cfg.exchange}"`);
  }
  const secret = (key: string, envName: string | undefined): string | undefined => {
    if (!envName) return undefined;
    const value = env[envName];
    if (!value) throw new ConfigError(`env ${envName}: required by ${where}.${key}`);
    return value;
  };
  const fromEnv = cfg.secret === undefined;
  const params: Record<string, unknown> = {
    apiKey: fromEnv ? secret("api_key_env", cfg.api_key_env) : managed?.keyId,
    secret: fromEnv ? secret("secret_env", cfg.secret_env) : managed?.secret,
    password: fromEnv ? secret("password_env", cfg.password_env) : managed?.password,
    timeout: timeoutMs,
    enableRateLimit: true,
    // The kill switch lists all symbols in one call on purpose (Binance asks to acknowledge the higher weight), and
    // does not load currencies: on some venues that is a call to another host the flatten must not depend on.
    options: { warnOnFetchOpenOrdersWithoutSymbol: false, fetchCurrencies: false, ...cfg.options },
    ...overrides,
  };
  for (const key of ["apiKey", "secret", "password"]) if (params[key] === undefined) delete params[key];
  let exchange: Exchange;
  try {
    exchange = new (ctor as new (p: object) => Exchange)(params);
    if (cfg.sandbox) exchange.setSandboxMode(true);
  } catch (err) {
    throw new ConfigError(`${where}: cannot set up ccxt exchange ${cfg.exchange}: ${(err as Error).message}`);
  }
  if (fromEnv && !exchange.checkRequiredCredentials(false)) {
    const needed = Object.entries(exchange.requiredCredentials)
      .filter(([, required]) => required)
      .map(([k]) => k);
    throw new ConfigError(
      `${where}: ${cfg.exchange} needs the credentials ${needed.join(", ")} (set api_key_env / secret_env / password_env)`,
    );
  }
  let endpoints: BrokerEndpoints | undefined;
  if (cfg.endpoints) {
    endpoints = new BrokerEndpoints(cfg.name, endpointsOf(cfg), active);
    const origins = apiOrigins(exchange);
    if (!origins.has(endpoints.primary)) {
      throw new ConfigError(
        `${where}.endpoints[0]: ${cfg.exchange} does not call ${endpoints.primary}; the primary must be one of its API origins (${[...origins].join(", ") || "none found"})`,
      );
    }
    followEndpoints(exchange, endpoints);
  }
  const withCredentials = (c: BrokerCredentials): Exchange => {
    const other = new (ctor as new (p: object) => Exchange)({
      ...params,
      apiKey: c.keyId,
      secret: c.secret,
      ...(c.password !== undefined ? { password: c.password } : {}),
    });
    if (cfg.sandbox) other.setSandboxMode(true);
    if (endpoints) followEndpoints(other, endpoints);
    return other;
  };
  return new CcxtBroker({ name: cfg.name, exchange, symbols: cfg.symbols, withCredentials, endpoints });
}
