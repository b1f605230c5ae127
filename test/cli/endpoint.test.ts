// `tradeguard endpoint` as an operator runs it (separate processes, one Redis, two local Alpaca endpoints): `use`
// switches and `list --json` shows it, exit 2 for an endpoint that is not the broker's, exit 3 when Redis is
// unreachable (src/cli/context.ts).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AlpacaEndpoint, twoEndpointCli } from "../brokers/alpaca-endpoints.js";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/global-setup.js";

let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;
let env: Record<string, string>;

let close: () => Promise<void>;

beforeAll(async () => {
  ({ primary, backup, env, close } = await twoEndpointCli("endpoint", inject("redisUrl")));
});
afterAll(() => close());

describe("tradeguard endpoint", () => {
  it("use switches (exit 0, the outcome as JSON) and list shows the active endpoint", async () => {
    const use = await runCli(["endpoint", "use", "alp", backup.url, "--reason", "drill", "--json"], env);
    expect(use.code, use.stderr).toBe(0);
    expect(JSON.parse(use.stdout)).toEqual({
      broker: "alp",
      from: primary.url,
      to: backup.url,
      changed: true,
      check: { ok: true, ms: expect.any(Number) },
    });
    const list = await runCli(["endpoint", "list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    const [alp] = JSON.parse(list.stdout);
    expect(alp).toMatchObject({
      broker: "alp",
      active: backup.url,
      flag: { url: backup.url, by: "cli:ops", reason: "drill" },
    });
  });

  it("exit 2 for an endpoint that is not the broker's; exit 3 when Redis is unreachable", async () => {
    const bad = await runCli(["endpoint", "use", "alp", "https://evil.example"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`its endpoints are: ${primary.url}, ${backup.url}`);
    const down = await runCli(["endpoint", "use", "alp", primary.url], {
      ...env,
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/endpoint use needs Redis/);
  });
});
