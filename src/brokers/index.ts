// Builds the configured broker adapters (paper by default).
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import type { Keys } from "../state/keys.js";
import { alpacaFromConfig } from "./alpaca.js";
import type { Broker, BrokerCredentials } from "./broker.js";
import { redisActiveSource } from "./endpoints.js";
import { PaperBroker } from "./paper.js";

/** The CURRENT credentials of a managed broker's secret, or null (none stored yet, or the store failed: logged). */
export type CredentialSource = (secret: string) => Promise<BrokerCredentials | null>;

/**
 * One adapter per configured broker. The paper broker keeps its book in Redis (while Redis is down its calls fail
 * like any broker's would, and the panic report says so). A managed broker (`secret:`) gets its CURRENT credentials
 * from the secret store. ccxt is loaded only when a ccxt broker is configured: it is large, and the emergency CLI
 * must start fast. Alpaca and ccxt adapters follow their active endpoint (`<prefix>endpoint:active:<broker>`): the
 * first read of it starts here, in the background, so a panic right after start-up already has it.
 */
export async function createBrokers(
  config: Config,
  redis: Redis,
  keys: Keys,
  credentials: CredentialSource = async () => null,
): Promise<Broker[]> {
  const out: Broker[] = [];
  const active = redisActiveSource(redis, keys);
  for (const b of config.brokers) {
    switch (b.kind) {
      case "paper":
        out.push(new PaperBroker(b.name, redis, keys, b.latency_ms));
        break;
      case "alpaca":
        out.push(
          alpacaFromConfig(
            b,
            config.env,
            config.panic.callTimeoutMs,
            b.secret ? await credentials(b.secret) : null,
            active,
          ),
        );
        break;
      case "ccxt": {
        const { ccxtFromConfig } = await import("./ccxt.js");
        out.push(
          ccxtFromConfig(
            b,
            config.env,
            config.panic.callTimeoutMs,
            {},
            b.secret ? await credentials(b.secret) : null,
            active,
          ),
        );
        break;
      }
    }
  }
  for (const b of out) void b.endpoints?.refresh();
  return out;
}
