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

export type CcxtBrokerConfig = Extract<BrokerConfig, { kind: "ccxt" }>;

/**
 * Builds the ccxt exchange for a `kind: ccxt` broker config and wraps it in a CcxtBroker: a managed broker (`secret:`)
 * with the credentials handed in from the secret store, else the secrets from the env vars it names.
 */
export function ccxtFromConfig(
  cfg: CcxtBrokerConfig,
  env: Record<string, string | undefined>,
  timeoutMs: number,
  /** Extra ccxt constructor properties, applied last (tests: enableRateLimit, fetchImplementation). */
  overrides: Record<string, unknown> = {},
  managed?: BrokerCredentials | null,
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
  const withCredentials = (c: BrokerCredentials): Exchange => {
    const other = new (ctor as new (p: object) => Exchange)({
      ...params,
      apiKey: c.keyId,
      secret: c.secret,
      ...(c.password !== undefined ? { password: c.password } : {}),
    });
    if (cfg.sandbox) other.setSandboxMode(true);
    return other;
  };
  return new CcxtBroker({ name: cfg.name, exchange, symbols: cfg.symbols, withCredentials });
}
