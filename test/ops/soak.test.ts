// The soak operation against two local Alpaca endpoints, one slow and one failing: every tick reads each endpoint
// once, the report's figures come from the reads that succeeded, errors are counted and shown, the active endpoint
// is the flag's, bad input is a usage error, and an abort ends the soak with what was measured.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "../brokers/alpaca-endpoints.js";
import { caught } from "../support/caught.js";
import { testRuntime } from "../support/runtime.js";

let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;
let t: Awaited<ReturnType<typeof testRuntime>>;

beforeAll(async () => {
  const account = new AlpacaAccount();
  [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
  t = await testRuntime({
    yaml: `brokers:\n  - { name: alp, kind: alpaca, endpoints: ["${primary.url}", "${backup.url}"], key_id_env: K, secret_key_env: S }\n  - { name: paper, kind: paper }\n`,
    env: { K: "PKTEST", S: "secret" },
  });
});
afterAll(async () => {
  await t.cleanup();
  await Promise.all([primary.close(), backup.close()]);
});

describe("soak", () => {
  it("soaks each endpoint: latency of the successful reads, every error counted with an example", async () => {
    primary.behaviour = { mode: "slow", ms: 60 };
    backup.behaviour = { mode: "fail", status: 503 };
    const progress: number[] = [];
    try {
      const r = await t.rt.ops.soak({
        broker: "alp",
        durationMs: 1_000,
        intervalMs: 100,
        each: true,
        onProgress: (p) => progress.push(p.done),
      });
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(r).toMatchObject({
        broker: "alp",
        kind: "alpaca",
        interval_ms: 100,
        interrupted: false,
        active: primary.url,
      });
      const [p, b] = r.endpoints;
      expect(p).toMatchObject({ url: primary.url, active: true, calls: 10, ok: 10, errors: 0, error_examples: [] });
      expect(p!.latency_ms!.p50).toBeGreaterThanOrEqual(60); // the server waits 60 ms before answering
      expect(p!.latency_ms!.p50).toBeLessThanOrEqual(p!.latency_ms!.p90);
      expect(p!.latency_ms!.p90).toBeLessThanOrEqual(p!.latency_ms!.p99);
      expect(p!.latency_ms!.p99).toBeLessThanOrEqual(p!.latency_ms!.max);
      expect(b).toMatchObject({ url: backup.url, active: false, calls: 10, ok: 0, errors: 10, latency_ms: null });
      expect(b!.error_examples).toEqual([
        {
          error: expect.stringMatching(/GET \/v2\/account → HTTP 503: unavailable/),
          count: 10,
          first_at: expect.any(String),
        },
      ]);
      expect(primary.server.requestsTo("/v2/account")).toHaveLength(10);
    } finally {
      primary.behaviour = { mode: "ok" };
      backup.behaviour = { mode: "ok" };
    }
  });

  it("without --each soaks only the active endpoint (the flag's)", async () => {
    await t.rt.redis.hset(t.rt.keys.endpointActive("alp"), { url: backup.url });
    const before = primary.server.requestsTo("/v2/account").length;
    const r = await t.rt.ops.soak({ broker: "alp", durationMs: 1_000, intervalMs: 500 });
    expect(r).toMatchObject({ active: backup.url, active_source: "flag", active_note: null });
    expect(r.endpoints).toEqual([expect.objectContaining({ url: backup.url, active: true, calls: 2, errors: 0 })]);
    expect(primary.server.requestsTo("/v2/account").length).toBe(before);
  });

  it("stops when aborted and reports what it measured", async () => {
    const ctrl = new AbortController();
    const r = await t.rt.ops.soak({
      broker: "alp",
      durationMs: 60_000,
      intervalMs: 50,
      signal: ctrl.signal,
      onProgress: (p) => p.done === 3 && ctrl.abort(),
    });
    expect(r.interrupted).toBe(true);
    expect(r.endpoints[0]!.calls).toBe(3);
  });

  it("refuses an unknown broker, one without a cheap read, and durations out of range", async () => {
    const usage = async (p: Promise<unknown>) => expect(await caught(p)).toBeInstanceOf(UsageError);
    await usage(t.rt.ops.soak({ broker: "nope", durationMs: 1_000 }));
    await usage(t.rt.ops.soak({ broker: "paper", durationMs: 1_000 }));
    await usage(t.rt.ops.soak({ broker: "alp", durationMs: 999 }));
    await usage(t.rt.ops.soak({ broker: "alp", durationMs: 25 * 60 * 60_000 }));
    await usage(t.rt.ops.soak({ broker: "alp", durationMs: 1_000, intervalMs: 10 }));
  });
});
