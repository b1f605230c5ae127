// The kill switch with a broker on two endpoints (two local Alpaca endpoints in front of one account): the primary
// hangs, and the panic still ends HALT-VERIFIED — flattened on the backup within its deadline (panic.deadline_ms,
// each call bounded by panic.call_timeout_ms) — with the endpoints it used in the report and the audit chain.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AlpacaAccount, type AlpacaEndpoint, alpacaEndpoint } from "../brokers/alpaca-endpoints.js";
import { testRuntime } from "../support/runtime.js";

let account: AlpacaAccount;
let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;
let t: Awaited<ReturnType<typeof testRuntime>>;

beforeAll(async () => {
  account = AlpacaAccount.withExposure();
  [primary, backup] = await Promise.all([alpacaEndpoint(account), alpacaEndpoint(account)]);
  t = await testRuntime({
    yaml:
      `brokers:\n  - { name: alp, kind: alpaca, endpoints: ["${primary.url}", "${backup.url}"], key_id_env: K, secret_key_env: S }\n` +
      "panic: { deadline_ms: 6000, call_timeout_ms: 400 }\n",
    env: { K: "PKTEST", S: "secret" },
  });
});
afterAll(async () => {
  await t.cleanup();
  await Promise.all([primary.close(), backup.close()]);
});

describe("panic with the primary endpoint hung", () => {
  it("fails over and verifies the broker flat on the backup within the deadline", async () => {
    primary.behaviour = { mode: "hang" };
    const { report } = await t.rt.ops.panic.halt({ actor: "cli:ops", reason: "drill: primary hung", announce: false });

    expect(report.status).toBe("HALT-VERIFIED");
    expect(report.brokers).toEqual([
      expect.objectContaining({
        broker: "alp",
        verified: true,
        errors: [],
        endpoints: [primary.url, backup.url],
        remaining: { orders: [], positions: [] },
      }),
    ]);
    expect(account.positions).toEqual([]);
    expect(backup.server.requestsTo("/v2/positions", "DELETE")).toHaveLength(1);
    expect(primary.server.requestsTo("/v2/positions", "DELETE")).toHaveLength(0);

    const audited = (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(([, f]) => JSON.parse(f[1]!));
    expect(audited).toContainEqual(
      expect.objectContaining({
        action: "panic.broker_result",
        details: expect.objectContaining({ broker: "alp", verified: true, endpoints: [primary.url, backup.url] }),
      }),
    );
    // The record in Redis keeps the same outcome (validated when read back).
    const stored = await t.rt.panicStore.report(report.id);
    expect(stored?.brokers[0]?.endpoints).toEqual([primary.url, backup.url]);
  });
});
