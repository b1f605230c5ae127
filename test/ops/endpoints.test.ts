// The endpoint operation on a full runtime (real redis-server, two local Alpaca endpoints): `use` checks the role
// itself, takes only a configured endpoint, refuses one that fails the check read unless forced, writes and audits
// the flag and announces the switch; `list` shows the active endpoint, a garbage flag, and each endpoint's window.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeSample } from "../../src/brokers/latency.js";
import { NotAuthorizedError, UsageError, UserInputError } from "../../src/errors.js";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "../brokers/alpaca-endpoints.js";
import { caught } from "../support/caught.js";
import { testRuntime } from "../support/runtime.js";

let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;
let t: Awaited<ReturnType<typeof testRuntime>>;
const NOW = Date.parse("2026-12-01T15:00:00.000Z");

beforeAll(async () => {
  const account = new AlpacaAccount();
  [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
  t = await testRuntime({
    yaml:
      'roles: { rotate: ["cli:ops"] }\n' +
      `brokers:\n  - { name: alp, kind: alpaca, endpoints: ["${primary.url}", "${backup.url}"], key_id_env: K, secret_key_env: S }\n` +
      "  - { name: paper, kind: paper }\n",
    env: { K: "PKTEST", S: "secret" },
    now: () => new Date(NOW),
  });
});
afterAll(async () => {
  await t.cleanup();
  await Promise.all([primary.close(), backup.close()]);
});

const audits = async () =>
  (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(([, f]) => JSON.parse(f[1]!) as Record<string, unknown>);
const flag = () => t.rt.redis.hgetall(t.rt.keys.endpointActive("alp"));

describe("endpoint use", () => {
  it("refuses an actor without the rotate role, and audits the attempt", async () => {
    const err = await caught(t.rt.ops.endpoints.use("cli:eve", "alp", backup.url));
    expect(err).toBeInstanceOf(NotAuthorizedError);
    expect(await flag()).toEqual({});
    expect(await audits()).toContainEqual(
      expect.objectContaining({
        actor: "cli:eve",
        action: "auth.denied",
        details: { role: "rotate", attempted: "endpoint.use" },
      }),
    );
  });

  it("takes only a configured endpoint of a broker that has endpoints", async () => {
    const notOurs = await caught(t.rt.ops.endpoints.use("cli:ops", "alp", "https://evil.example"));
    expect(notOurs).toBeInstanceOf(UsageError);
    expect((notOurs as UsageError).userMessage).toContain(`its endpoints are: ${primary.url}, ${backup.url}`);
    expect(await caught(t.rt.ops.endpoints.use("cli:ops", "nope", backup.url))).toBeInstanceOf(UsageError);
    expect(await caught(t.rt.ops.endpoints.use("cli:ops", "paper", backup.url))).toBeInstanceOf(UsageError);
  });

  it("refuses an endpoint that fails the check read, unless forced", async () => {
    backup.behaviour = { mode: "fail", status: 503 };
    try {
      const err = await caught(t.rt.ops.endpoints.use("cli:ops", "alp", backup.url));
      expect(err).toBeInstanceOf(UserInputError);
      expect((err as UserInputError).userMessage).toMatch(/did not answer the check read .*HTTP 503.*stays on/);
      expect(await flag()).toEqual({});

      const forced = await t.rt.ops.endpoints.use("cli:ops", "alp", backup.url, { force: true, reason: "drill" });
      expect(forced).toEqual({ broker: "alp", from: primary.url, to: backup.url, changed: true, check: null });
      expect(await flag()).toEqual({
        url: backup.url,
        since: new Date(NOW).toISOString(),
        by: "cli:ops",
        reason: "drill",
        from: primary.url,
      });
      expect(await audits()).toContainEqual(
        expect.objectContaining({
          actor: "cli:ops",
          action: "endpoint.switched",
          details: { broker: "alp", from: primary.url, to: backup.url, reason: "drill", forced: true, check: null },
        }),
      );
      expect(t.notifier.messages.at(-1)).toMatchObject({
        text: `cli:ops switched alp from ${primary.url} to ${backup.url}: drill`,
        sop: "sop-endpoint-failover",
      });
    } finally {
      backup.behaviour = { mode: "ok" };
    }
  });

  it("is a no-op for the endpoint already active", async () => {
    const before = (await audits()).length;
    const r = await t.rt.ops.endpoints.use("cli:ops", "alp", backup.url);
    expect(r).toMatchObject({ changed: false, from: backup.url, to: backup.url });
    expect((await audits()).length).toBe(before);
  });
});

describe("endpoint list", () => {
  it("shows the active endpoint, its flag, each endpoint's window; a garbage flag is named and ignored", async () => {
    const key = (url: string) => t.rt.keys.endpointLatency("alp", url);
    await t.rt.redis.lpush(key(primary.url), encodeSample({ ts: NOW - 20_000, ms: 12, ok: true }));
    await t.rt.redis.lpush(
      key(primary.url),
      encodeSample({ ts: NOW - 10_000, ms: 3000, ok: false, error: "HTTP 503" }),
    );
    await t.rt.redis.lpush(key(primary.url), "garbage");
    await t.rt.redis.lpush(key(backup.url), encodeSample({ ts: NOW - 5_000, ms: 8.5, ok: true }));

    const [alp, ...rest] = await t.rt.ops.endpoints.list();
    expect(rest).toEqual([]); // paper has no endpoints
    expect(alp).toMatchObject({ broker: "alp", kind: "alpaca", active: backup.url, flag_problem: null });
    expect(alp!.endpoints).toEqual([
      {
        url: primary.url,
        role: "primary",
        active: false,
        window: { calls: 2, ok: 1, errors: 1, latency_ms: { p50: 12, p90: 12, p99: 12, max: 12, min: 12, mean: 12 } },
        consecutive_failures: 1,
        healthy: false,
        last_read_at: new Date(NOW - 10_000).toISOString(),
        last_error: "HTTP 503",
        unreadable_samples: 1,
      },
      expect.objectContaining({
        url: backup.url,
        role: "backup",
        active: true,
        healthy: true,
        consecutive_failures: 0,
      }),
    ]);

    await t.rt.redis.hset(t.rt.keys.endpointActive("alp"), { url: "https://evil.example" });
    const [again] = await t.rt.ops.endpoints.list();
    expect(again).toMatchObject({
      active: primary.url,
      flag_problem: expect.stringContaining("not a configured endpoint"),
    });
  });
});
