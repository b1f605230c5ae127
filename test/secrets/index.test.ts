// The `secrets:` settings and the factory that turns them into a store.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretsSchema } from "../../src/config-secrets.js";
import { ConfigError } from "../../src/errors.js";
import { AwsSecretStore } from "../../src/secrets/aws.js";
import { createSecretStore } from "../../src/secrets/index.js";
import { LocalSecretStore } from "../../src/secrets/local.js";
import { type SecretsManagerServer, startSecretsManagerServer } from "../support/secrets-manager-server.js";

const issues = (input: unknown) => {
  const r = secretsSchema.safeParse(input);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("secrets settings", () => {
  it("default to the local store with the tradeguard/ prefix", () => {
    expect(secretsSchema.parse(undefined)).toEqual({ store: "local", prefix: "tradeguard/" });
    expect(secretsSchema.parse({})).toEqual({ store: "local", prefix: "tradeguard/" });
    expect(secretsSchema.parse({ store: "aws", region: "eu-west-1" })).toEqual({
      store: "aws",
      region: "eu-west-1",
      prefix: "tradeguard/",
    });
  });

  it("are strict, and refuse a key the chosen store does not use", () => {
    expect(issues({ store: "vault" })[0]).toMatch(/^store: /);
    expect(issues({ store: "local", passphrase: "x" })[0]).toMatch(/passphrase/);
    expect(issues({ store: "local", region: "eu-west-1" })).toEqual(["region: not used by store local; remove it"]);
    expect(issues({ store: "aws", file: "/x/secrets.json" })).toEqual(["file: not used by store aws; remove it"]);
    expect(issues({ store: "aws", endpoint: "not a url" })[0]).toMatch(/^endpoint: /);
    expect(issues({ store: "aws", prefix: "bad prefix!" })[0]).toMatch(/^prefix: letters, digits/);
    expect(issues({ store: "aws", region: "EU WEST" })[0]).toMatch(/^region: an AWS region/);
  });
});

describe("createSecretStore", () => {
  let srv: SecretsManagerServer;
  beforeAll(async () => {
    srv = await startSecretsManagerServer();
  });
  afterAll(() => srv.stop());

  it("builds the local store under TRADEGUARD_HOME by default, or at the configured paths", () => {
    const home = mkdtempSync(join(tmpdir(), "tg-home-"));
    const s = createSecretStore(secretsSchema.parse({}), { home, env: {}, mode: "local" });
    expect(s).toBeInstanceOf(LocalSecretStore);
    expect(s.kind).toBe("local");
    expect(JSON.parse(JSON.stringify(s))).toEqual({
      kind: "local",
      file: join(home, "secrets.json"),
      keyFile: join(home, "secrets.key"),
    });
    const custom = createSecretStore(secretsSchema.parse({ file: "rel/s.json", key_file: "/k/s.key" }), {
      home,
      env: {},
      mode: "slack-socket",
    }) as LocalSecretStore;
    expect([custom.file, custom.keyFile]).toEqual([resolve("rel/s.json"), "/k/s.key"]);
  });

  it("generates a key file only in local mode", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-home-"));
    const slack = createSecretStore(secretsSchema.parse({}), { home, env: {}, mode: "slack-http" });
    await expect(slack.stage("alpaca-live", { keyId: "PK1", secret: "s-1" })).rejects.toThrow(ConfigError);
    const local = createSecretStore(secretsSchema.parse({}), { home, env: {}, mode: "local" });
    expect(await local.stage("alpaca-live", { keyId: "PK1", secret: "s-1" })).toEqual({ state: "CURRENT" });
    expect((await slack.get("alpaca-live"))?.secret).toBe("s-1");
  });

  it("stops on a malformed TRADEGUARD_SECRETS_KEY when the store is built, not at first use", () => {
    expect(() =>
      createSecretStore(secretsSchema.parse({}), {
        home: "/x",
        env: { TRADEGUARD_SECRETS_KEY: "short" },
        mode: "local",
      }),
    ).toThrow(/^TRADEGUARD_SECRETS_KEY: expected a 32-byte key/);
  });

  it("builds the AWS store with its region from settings or AWS_REGION, and refuses one without", async () => {
    const settings = secretsSchema.parse({ store: "aws", endpoint: srv.url, prefix: "desk/" });
    expect(() => createSecretStore(settings, { home: "/x", env: {}, mode: "local" })).toThrow(
      "secrets.region: required for store aws (or set AWS_REGION)",
    );
    const s = createSecretStore(settings, {
      home: "/x",
      env: { AWS_REGION: "ap-northeast-1" },
      mode: "slack-socket",
      awsCredentials: { accessKeyId: "AKIDCONFIG0000000000", secretAccessKey: "fake" },
    });
    expect(s).toBeInstanceOf(AwsSecretStore);
    expect(JSON.parse(JSON.stringify(s))).toEqual({
      kind: "aws",
      region: "ap-northeast-1",
      endpoint: srv.url,
      prefix: "desk/",
    });
    expect(await s.stage("alpaca-live", { keyId: "PK1", secret: "s-1" })).toEqual({ state: "CURRENT" });
    expect(srv.secrets.has("desk/alpaca-live")).toBe(true);
    expect(srv.requests[0]?.headers.authorization).toMatch(/\/ap-northeast-1\/secretsmanager\/aws4_request/);
  });
});
