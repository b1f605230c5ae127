// flattenBroker across endpoints: two local Alpaca endpoints in front of one account. The flatten starts on the active
// endpoint and, when a call there gets no answer, a timeout or a 5xx, moves to the next and finishes there within its
// deadline; a 429 (the account's limit, not the endpoint's) is waited out where it happened.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AlpacaBroker } from "../../src/brokers/alpaca.js";
import { brokerOutcomeSchema } from "../../src/brokers/broker.js";
import { BrokerEndpoints, redisActiveSource } from "../../src/brokers/endpoints.js";
import { flattenBroker, isEndpointFailure } from "../../src/brokers/flatten.js";
import { BrokerHttpError } from "../../src/brokers/http.js";
import { testRedis } from "../support/redis.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "./alpaca-endpoints.js";

const t = testRedis();
let account: AlpacaAccount;
let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;

beforeAll(async () => {
  account = new AlpacaAccount();
  [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
});
afterEach(() => {
  for (const ep of [primary, backup]) {
    ep.behaviour = { mode: "ok" };
    ep.server.requests.length = 0;
  }
});
afterAll(async () => {
  await Promise.all([primary.close(), backup.close(), t.cleanup()]);
});

/** An adapter over both endpoints (per-call timeout 300 ms), following the flag of broker `name`. */
function broker(name: string): AlpacaBroker {
  const endpoints = new BrokerEndpoints(name, [primary.url, backup.url], redisActiveSource(t.redis, t.keys));
  return new AlpacaBroker({ name, endpoints, keyId: "PKTEST", secretKey: "secret", timeoutMs: 300 });
}

function exposure(): void {
  const fresh = AlpacaAccount.withExposure();
  account.orders = fresh.orders;
  account.positions = fresh.positions;
}

const paths = (ep: AlpacaEndpoint) => ep.server.requests.map((r) => `${r.method} ${r.path}`);

describe("flatten over two endpoints", () => {
  it("the primary hangs: fails over and is verified flat on the backup within the deadline", async () => {
    exposure();
    primary.behaviour = { mode: "hang" };
    const steps: { step: string; detail: Record<string, unknown> }[] = [];
    const deadline = Date.now() + 8_000;

    const outcome = await flattenBroker(broker("hang"), {
      panicId: "p20261201T150000Z-aaaaaa",
      attempt: 1,
      deadline,
      settleDelaysMs: [0],
      onStep: (step, detail) => steps.push({ step, detail }),
    });

    expect(brokerOutcomeSchema.parse(outcome)).toEqual(outcome);
    expect(outcome).toMatchObject({ verified: true, errors: [], endpoints: [primary.url, backup.url] });
    expect(outcome.closed).toEqual([expect.objectContaining({ ref: "AAPL", ok: true, brokerId: "close-0" })]);
    expect(account.positions).toEqual([]);
    // The cancel went out on the primary, got no answer and was repeated on the backup; the rest stayed there.
    expect(paths(primary)).toEqual(["DELETE /v2/orders"]);
    expect(paths(backup)).toEqual(
      expect.arrayContaining(["DELETE /v2/orders", "DELETE /v2/positions", "GET /v2/orders", "GET /v2/positions"]),
    );
    const failover = steps.filter((s) => s.step === "failover");
    expect(failover).toEqual([
      {
        step: "failover",
        detail: expect.objectContaining({
          op: "cancel_all",
          from: primary.url,
          to: backup.url,
          error: expect.stringMatching(/timed out after 300 ms/),
        }),
      },
    ]);
  });

  it("a 503 on the primary fails over too", async () => {
    exposure();
    primary.behaviour = { mode: "fail", status: 503 };
    const outcome = await flattenBroker(broker("s503"), {
      panicId: "p2",
      attempt: 1,
      deadline: Date.now() + 8_000,
      settleDelaysMs: [0],
    });
    expect(outcome).toMatchObject({ verified: true, endpoints: [primary.url, backup.url] });
  });

  it("a 429 is the account's limit: it waits (Retry-After) and stays on the endpoint", async () => {
    exposure();
    primary.behaviour = { mode: "fail", status: 429, times: 1, retryAfter: "0" };
    const outcome = await flattenBroker(broker("r429"), {
      panicId: "p3",
      attempt: 1,
      deadline: Date.now() + 8_000,
      settleDelaysMs: [0],
    });
    expect(outcome).toMatchObject({ verified: true, endpoints: [primary.url] });
    expect(backup.server.requests).toEqual([]);
    expect(paths(primary).filter((p) => p === "DELETE /v2/orders")).toHaveLength(2);
  });

  it("starts on the endpoint the flag names", async () => {
    exposure();
    await t.redis.hset(t.keys.endpointActive("onbackup"), { url: backup.url });
    const b = broker("onbackup");
    await b.endpoints.refresh();
    const outcome = await flattenBroker(b, {
      panicId: "p4",
      attempt: 1,
      deadline: Date.now() + 8_000,
      settleDelaysMs: [0],
    });
    expect(outcome).toMatchObject({ verified: true, endpoints: [backup.url] });
    expect(primary.server.requests).toEqual([]);
  });

  it("both endpoints down: reports what is left and the last error, within the deadline", async () => {
    exposure();
    primary.behaviour = { mode: "fail", status: 502 };
    backup.behaviour = { mode: "fail", status: 503 };
    const outcome = await flattenBroker(broker("down"), {
      panicId: "p5",
      attempt: 1,
      deadline: Date.now() + 1_500,
      maxRounds: 1,
      settleDelaysMs: [0],
    });
    expect(outcome.verified).toBe(false);
    expect(outcome.remaining).toBeNull();
    expect(outcome.endpoints!.length).toBeGreaterThan(2); // went round: primary, backup, primary…
    expect(outcome.errors.join("\n")).toMatch(/HTTP 50[23]/);
    expect(account.positions).toHaveLength(1);
  });
});

describe("isEndpointFailure", () => {
  it("is a timeout, a network error or a 5xx; never a 429 or a 4xx", () => {
    const e = (status: number | undefined, transient: boolean) =>
      new BrokerHttpError("x", "m", status, undefined, undefined, transient);
    expect(isEndpointFailure(e(undefined, true))).toBe(true);
    expect(isEndpointFailure(e(503, true))).toBe(true);
    expect(isEndpointFailure(e(429, true))).toBe(false);
    expect(isEndpointFailure(e(403, false))).toBe(false);
    expect(isEndpointFailure(new TypeError("fetch failed"))).toBe(true);
  });
});
