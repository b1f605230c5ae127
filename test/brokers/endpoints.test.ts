// Broker endpoints: the config's `endpoints` (next to base_url, which keeps working), the active-endpoint flag read
// through a cache that never makes a call wait, per-scope pins, failover order — on the run's real redis-server, and
// the Alpaca adapter following the flag between two local Alpaca endpoints.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { alpacaFromConfig } from "../../src/brokers/alpaca.js";
import {
  type ActiveSource,
  BrokerEndpoints,
  endpointsOf,
  normaliseFor,
  redisActiveSource,
} from "../../src/brokers/endpoints.js";
import { brokerConfigSchema } from "../../src/config-schema.js";
import { testRedis } from "../support/redis.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "./alpaca-endpoints.js";

const A = "https://api.alpaca.markets";
const B = "https://alpaca-backup.example.net:8443/proxy";

describe("config: endpoints next to base_url", () => {
  const parse = (raw: object) => brokerConfigSchema.safeParse({ name: "alpaca-live", kind: "alpaca", ...raw });

  it("base_url alone is the one endpoint; endpoints give the failover order and the primary", () => {
    const single = parse({ base_url: `${A}/v2/` });
    expect(single.success && endpointsOf(single.data)).toEqual([A]);
    const both = parse({ endpoints: [A, `${B}/`] });
    expect(both.success && both.data).toMatchObject({ base_url: A });
    expect(both.success && endpointsOf(both.data)).toEqual([A, B]);
    const dflt = parse({});
    expect(dflt.success && endpointsOf(dflt.data)).toEqual(["https://paper-api.alpaca.markets"]);
  });

  it("refuses a base_url that is not the primary, duplicates, and (ccxt) endpoints with a path", () => {
    expect(parse({ base_url: B, endpoints: [A, B] }).error?.issues[0]?.message).toMatch(/base_url and endpoints\[0\]/);
    expect(parse({ endpoints: [A, `${A}/`] }).error?.issues[0]?.message).toMatch(/each endpoint once/);
    expect(parse({ endpoints: [] }).success).toBe(false);
    expect(parse({ endpoints: ["ftp://x.example"] }).success).toBe(false);
    const ccxt = (endpoints: string[]) =>
      brokerConfigSchema.safeParse({ name: "bn", kind: "ccxt", exchange: "binanceusdm", endpoints });
    expect(ccxt(["https://fapi.binance.com/fapi/v1"]).error?.issues[0]?.message).toMatch(/an origin/);
    const ok = ccxt(["https://FAPI.binance.com:443", "http://127.0.0.1:9999"]);
    expect(ok.success && endpointsOf(ok.data)).toEqual(["https://fapi.binance.com", "http://127.0.0.1:9999"]);
  });

  it("normalises a URL the way each kind names its endpoints", () => {
    expect(normaliseFor("alpaca", `${A}/v2/`)).toBe(A);
    expect(normaliseFor("ccxt", "https://FAPI.binance.com:443/")).toBe("https://fapi.binance.com");
  });
});

describe("BrokerEndpoints and the flag in Redis", () => {
  const t = testRedis();
  afterAll(() => t.cleanup());
  const flag = (broker: string) => t.keys.endpointActive(broker);

  it("uses the primary until a flag says otherwise, and reads the flag at most once per TTL", async () => {
    let clock = 1_000_000;
    let reads = 0;
    const redisSource = redisActiveSource(t.redis, t.keys);
    const counting: ActiveSource = {
      read: (b) => {
        reads++;
        return redisSource.read(b);
      },
    };
    const eps = new BrokerEndpoints("b1", [A, B], counting, { ttlMs: 1_000, clock: () => clock });
    expect(eps.current()).toBe(A); // starts a read; answers at once
    await eps.refresh();
    expect(eps.view()).toMatchObject({ active: A, activeSource: "default", invalid: null });

    await t.redis.hset(flag("b1"), { url: B, since: new Date(clock).toISOString(), by: "test", reason: "", from: A });
    for (let i = 0; i < 50; i++) expect(eps.current()).toBe(A); // within the TTL: the cached value, no read
    expect(reads).toBe(1);
    clock += 1_000;
    expect(eps.current()).toBe(A); // stale: this call still gets the value in force and starts a re-read
    await eps.refresh(); // joins that read
    expect(reads).toBe(2);
    expect(eps.current()).toBe(B);
    expect(eps.view().activeSource).toBe("flag");
  });

  it("never makes a call wait on a read that hangs; the read is given up after its timeout", async () => {
    let clock = 0;
    const hanging: ActiveSource = { read: () => new Promise(() => {}) };
    const eps = new BrokerEndpoints("b2", [A, B], hanging, { ttlMs: 10, readTimeoutMs: 50, clock: () => clock });
    expect(eps.current()).toBe(A);
    clock += 100;
    expect(eps.current()).toBe(A);
    await eps.refresh();
    expect(eps.view().readError).toBe("no answer within 50 ms");
  });

  it("ignores a flag that is not one of the endpoints (the primary is used) and survives a wrong type", async () => {
    const eps = new BrokerEndpoints("b3", [A, B], redisActiveSource(t.redis, t.keys), { ttlMs: 0 });
    await t.redis.hset(flag("b3"), { url: "https://evil.example" });
    await eps.refresh();
    expect(eps.view()).toMatchObject({ active: A, invalid: "https://evil.example" });
    await t.redis.hset(flag("b3"), { url: `${B}/` }); // normalised on read
    await eps.refresh();
    expect(eps.current()).toBe(B);
    await t.redis.del(flag("b3"));
    await t.redis.set(flag("b3"), "not a hash");
    await eps.refresh();
    expect(eps.view().readError).toMatch(/WRONGTYPE/);
    expect(eps.current()).toBe(B); // the last good value stays in force
  });

  it("pins every call in one async scope to an endpoint, independently of concurrent scopes", async () => {
    const eps = new BrokerEndpoints("b4", [A, B]);
    const seen: string[] = [];
    const scope = (url: string) =>
      eps.using(url, async () => {
        await new Promise((r) => setTimeout(r, 5));
        seen.push(`${url}=${eps.current()}`);
        await Promise.resolve();
        seen.push(`${url}=${eps.current()}`);
      });
    await Promise.all([scope(A), scope(B)]);
    expect(seen.sort()).toEqual([`${A}=${A}`, `${A}=${A}`, `${B}=${B}`, `${B}=${B}`].sort());
    expect(eps.current()).toBe(A);
    await expect(eps.using("https://other.example", async () => 1)).rejects.toThrow(/not one of its endpoints/);
  });

  it("orders a failover from the active endpoint: the ones after it, then the ones before", () => {
    const C = "https://c.example";
    const eps = new BrokerEndpoints("b5", [A, B, C]);
    expect(eps.failoverOrder()).toEqual([A, B, C]);
    expect(eps.failoverOrder(B)).toEqual([B, C, A]);
    expect(eps.failoverOrder(C)).toEqual([C, A, B]);
  });

  it("a single endpoint never reads the flag", async () => {
    let reads = 0;
    const source: ActiveSource = {
      read: async () => {
        reads++;
        return B;
      },
    };
    const eps = new BrokerEndpoints("b6", [A], source, { ttlMs: 0 });
    eps.current();
    await eps.refresh();
    expect(reads).toBe(0);
    expect(eps.current()).toBe(A);
  });
});

describe("the Alpaca adapter follows the active endpoint", () => {
  const t = testRedis();
  const account = new AlpacaAccount();
  let primary: AlpacaEndpoint;
  let backup: AlpacaEndpoint;
  beforeAll(async () => {
    [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
  });
  afterEach(() => {
    primary.server.requests.length = 0;
    backup.server.requests.length = 0;
  });
  afterAll(async () => {
    await Promise.all([primary.close(), backup.close(), t.cleanup()]);
  });

  it("goes to the primary, then to the endpoint the flag names, then to a pinned one", async () => {
    const broker = alpacaFromConfig(
      {
        name: "alp",
        kind: "alpaca",
        base_url: primary.url,
        endpoints: [primary.url, backup.url],
        key_id_env: "K",
        secret_key_env: "S",
      },
      { K: "PKTEST", S: "secret" },
      2_000,
      null,
      redisActiveSource(t.redis, t.keys),
    );
    await broker.ping();
    expect(primary.server.requestsTo("/v2/account")).toHaveLength(1);

    await t.redis.hset(t.keys.endpointActive("alp"), { url: backup.url });
    await broker.endpoints.refresh();
    await broker.listPositions();
    await broker.ping();
    expect(backup.server.requestsTo("/v2/positions")).toHaveLength(1);
    expect(backup.server.requestsTo("/v2/account")[0]?.keyId).toBe("PKTEST");
    expect(primary.server.requestsTo("/v2/positions")).toHaveLength(0);

    await broker.endpoints.using(primary.url, () => broker.ping());
    expect(primary.server.requestsTo("/v2/account")).toHaveLength(2);
  });
});
