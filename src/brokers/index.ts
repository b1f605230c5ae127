// Builds the configured broker adapters (paper by default).
import type { Redis } from "ioredis";
import type { Config } from "../config.js";
import type { Keys } from "../state/keys.js";
import { alpacaFromConfig } from "./alpaca.js";
import type { Broker } from "./broker.js";
import { PaperBroker } from "./paper.js";

/**
 * One adapter per configured broker. The paper broker keeps its book in Redis (while Redis is down its calls fail
 * like any broker's would, and the panic report says so). ccxt is loaded only when a ccxt broker is configured: it
 * is large, and the emergency CLI must start fast.
 */
export async function createBrokers(config: Config, redis: Redis, keys: Keys): Promise<Broker[]> {
  const out: Broker[] = [];
  for (const b of config.brokers) {
    switch (b.kind) {
      case "paper":
        out.push(new PaperBroker(b.name, redis, keys, b.latency_ms));
        break;
      case "alpaca":
        out.push(alpacaFromConfig(b, config.env, config.panic.callTimeoutMs));
        break;
      case "ccxt": {
        const { ccxtFromConfig } = await import("./ccxt.js");
        out.push(ccxtFromConfig(b, config.env, config.panic.callTimeoutMs));
        break;
      }
    }
  }
  return out;
}
