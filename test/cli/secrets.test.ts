// `tradeguard secrets …` and `tradeguard rotate` as an operator runs them, each a separate process against one Redis
// and one local secret store: the secret goes in on standard input only and never comes out (stdout, stderr, the
// store file, the audit log); `secrets test` exits 0 accepted / 1 refused; `rotate --json` prints the contract object;
// the CLI approves a rotation with the same `tradeguard approve <id>` as a clear request.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { AlpacaServer } from "../support/alpaca-server.js";
import { runCli } from "../support/cli.js";

const OLD = { keyId: "PKCLIOLD000000000001", secret: "cli-old-secret-value-DO-NOT-LEAK-1" };
const NEW = { keyId: "PKCLINEW000000000002", secret: "cli-new-secret-value-DO-NOT-LEAK-2" };

let env: Record<string, string>;
let home: string;
let server: AlpacaServer;
let redis: Redis;
const outputs: string[] = [];

async function cli(args: string[], extra: Record<string, string> = {}, input?: string) {
  const r = await runCli(args, { ...env, ...extra }, input);
  outputs.push(r.stdout, r.stderr);
  return r;
}

beforeAll(async () => {
  server = await AlpacaServer.start({ positions: [] });
  server.credentials = [{ keyId: OLD.keyId, secretKey: OLD.secret }];
  home = mkdtempSync(join(tmpdir(), "tg-secrets-cli-"));
  const config = join(home, "tradeguard.yaml");
  writeFileSync(
    config,
    `roles: { rotate: ["cli:ops"], approve: ["cli:ops", "cli:alice"] }\n` +
      `brokers:\n  - { name: alpaca-live, kind: alpaca, base_url: "${server.url}", secret: alpaca-live }\n`,
  );
  env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: config,
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
  };
  redis = new Redis(inject("redisUrl"));
});
afterAll(async () => {
  redis.disconnect();
  await server.close();
});

describe("tradeguard secrets and rotate", () => {
  it("refuses a secret given anywhere but standard input", async () => {
    const r = await cli(["secrets", "stage", "alpaca-live", "--key-id", OLD.keyId]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no secret on standard input/);
    const unknown = await cli(["secrets", "stage", "alpaca-live", "--key-id", OLD.keyId, "--secret", "x"], {}, "y\n");
    expect(unknown.code).toBe(2);
  });

  it("provisions, lists, tests, rotates with someone else's approval, retires — never printing a secret", async () => {
    const first = await cli(["secrets", "stage", "alpaca-live", "--key-id", OLD.keyId], {}, `${OLD.secret}\n`);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/provisioned \(CURRENT\)/);
    expect((await cli(["secrets", "test", "alpaca-live"])).code).toBe(0);

    // No PENDING yet: refused with the command that stages one.
    const early = await cli(["rotate", "alpaca-live"]);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toContain("tradeguard secrets stage alpaca-live");

    expect((await cli(["secrets", "stage", "alpaca-live", "--key-id", NEW.keyId], {}, `${NEW.secret}\n`)).code).toBe(0);
    // The venue does not know the new key yet: the test says so with exit 1, and a rotation now would fail.
    const refused = await cli(["secrets", "test", "alpaca-live", "--pending", "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, keyId: NEW.keyId });
    server.credentials = [
      { keyId: OLD.keyId, secretKey: OLD.secret },
      { keyId: NEW.keyId, secretKey: NEW.secret },
    ];
    expect((await cli(["secrets", "test", "alpaca-live", "--pending"])).code).toBe(0);

    const list = JSON.parse((await cli(["secrets", "list", "--json"])).stdout);
    expect(list).toEqual([
      {
        broker: "alpaca-live",
        current_key_id: OLD.keyId,
        current_age_days: 0,
        pending_key_id: NEW.keyId,
        previous_key_id: null,
      },
    ]);

    const rot = await cli(["rotate", "alpaca-live", "--reason", "weekly", "--json"]);
    expect(rot.code).toBe(0);
    const req = JSON.parse(rot.stdout);
    expect(req).toEqual({
      id: expect.stringMatching(/^r/),
      broker: "alpaca-live",
      state: "pending_approval",
      pending_key_id: NEW.keyId,
    });

    const self = await cli(["approve", req.id]);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/someone else/);
    const ok = await cli(["approve", req.id, "--json"], { SUDO_USER: "alice" });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: "rotated" });

    const after = JSON.parse((await cli(["secrets", "list", "--json"])).stdout)[0];
    expect(after).toMatchObject({ current_key_id: NEW.keyId, pending_key_id: null, previous_key_id: OLD.keyId });
    const status = JSON.parse((await cli(["status", "--json"])).stdout);
    expect(status.keys).toEqual([expect.objectContaining({ broker: "alpaca-live", keyId: NEW.keyId })]);
    expect((await cli(["secrets", "retire", "alpaca-live", OLD.keyId])).code).toBe(0);
    expect(JSON.parse((await cli(["secrets", "list", "--json"])).stdout)[0].previous_key_id).toBeNull();

    // Nothing that left a process, and nothing on disk or in the audit log, holds a secret value.
    const audit = (await redis.xrange(`${env.REDIS_PREFIX}audit:log`, "-", "+")).map((r) => r[1].join(" "));
    const files = readdirSync(home, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => readFileSync(join(d.parentPath, d.name), "latin1"));
    const everything = [...outputs, ...audit, ...files].join("\n");
    for (const s of [OLD.secret, NEW.secret]) expect(everything).not.toContain(s);
    expect(audit.join("\n")).toMatch(/rotate\.promoted/);
  }, 90_000); // a dozen CLI processes in a row

  it("reject <r-id> closes a rotation request without touching the keys", async () => {
    const third = { keyId: "PKCLITHIRD0000000003", secret: "cli-third-secret-DO-NOT-LEAK-3" };
    await cli(["secrets", "stage", "alpaca-live", "--key-id", third.keyId], {}, `${third.secret}\n`);
    const req = JSON.parse((await cli(["rotate", "alpaca-live", "--json"])).stdout);
    const r = await cli(["reject", req.id, "--json"], { SUDO_USER: "alice" });
    expect(r.code).toBe(0);
    const list = JSON.parse((await cli(["secrets", "list", "--json"])).stdout)[0];
    expect(list).toMatchObject({ current_key_id: NEW.keyId, pending_key_id: third.keyId });
    expect((await cli(["approve", req.id], { SUDO_USER: "alice" })).code).not.toBe(0);
  });
});
