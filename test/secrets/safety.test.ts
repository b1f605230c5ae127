// No secret value in anything either store hands out or says: every returned object, store object, error and log
// line is printed every way a caller might print it (JSON.stringify, util.inspect with and without custom inspection
// and hidden properties, String(), template literals, the logger) and grepped for each secret.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSecretStore } from "../../src/secrets/aws.js";
import { LocalSecretStore } from "../../src/secrets/local.js";
import type { SecretStore } from "../../src/secrets/store.js";
import { caught } from "../support/caught.js";
import { captureLog } from "../support/log.js";
import { type SecretsManagerServer, startSecretsManagerServer } from "../support/secrets-manager-server.js";

const SECRET = "sk-LIVE-7hJ2kQ9xW4mN8pR3tV6yB1cF5gD0sA";
const PASSWORD = "okx-Passphrase-Qq81-zz";
const SECRET2 = "sk-LIVE-second-Lp0Oi9Uy8Tr7Ee6Ww5";
const MASTER_KEY = Buffer.alloc(32, 0x5a).toString("base64");
const AWS_SECRET_ACCESS_KEY = "aws-Secret-Access-Key-Zx9Cv8Bn7Mm6";
const SECRETS = [SECRET, PASSWORD, SECRET2, MASTER_KEY, AWS_SECRET_ACCESS_KEY];

/** Every way the object might end up printed. */
function renderings(x: unknown): string[] {
  const out = [
    JSON.stringify(x) ?? "",
    inspect(x),
    inspect(x, { showHidden: true, depth: Number.POSITIVE_INFINITY, getters: true }),
    // Without its custom inspection too (a getter shows as [Getter]). Only `getters: true` together with
    // `customInspect: false` would call the `secret` getter: that is asking for the value, not printing carelessly.
    inspect(x, { customInspect: false, showHidden: true, depth: Number.POSITIVE_INFINITY }),
    String(x),
    `${x}`,
  ];
  if (x instanceof Error) out.push(x.message, x.stack ?? "");
  if (x && typeof x === "object") out.push(JSON.stringify({ ...x }), JSON.stringify(structuredCloneSafe(x)));
  return out;
}

function structuredCloneSafe(x: object): unknown {
  try {
    return structuredClone(x);
  } catch {
    return null;
  }
}

function expectClean(what: string, x: unknown): void {
  for (const text of renderings(x)) {
    for (const s of SECRETS) expect(text, `${what} printed a secret`).not.toContain(s);
  }
}

let srv: SecretsManagerServer;
beforeAll(async () => {
  srv = await startSecretsManagerServer();
});
afterAll(() => srv.stop());

const stores: [string, (log: ReturnType<typeof captureLog>["log"]) => SecretStore][] = [
  [
    "local",
    (log) =>
      new LocalSecretStore({
        file: join(mkdtempSync(join(tmpdir(), "tg-secrets-")), "secrets.json"),
        keyFile: "/nonexistent/secrets.key",
        env: { TRADEGUARD_SECRETS_KEY: MASTER_KEY },
        createKey: false,
        log,
      }),
  ],
  [
    "aws",
    (log) => {
      srv.reset();
      return new AwsSecretStore({
        region: "us-east-1",
        endpoint: srv.url,
        prefix: "tg/",
        credentials: { accessKeyId: "AKIDSAFETY0000000000", secretAccessKey: AWS_SECRET_ACCESS_KEY },
        maxAttempts: 1,
        log,
      });
    },
  ],
];

describe.each(stores)("%s store: no secret value gets out", (kind, make) => {
  it("in what it returns, in the store object, and in its log lines", async () => {
    const { log, lines } = captureLog();
    const store = make(log);
    const returned: [string, unknown][] = [["store", store]];
    returned.push([
      "stage",
      await store.stage("okx-main", { keyId: "OKXKEY0001", secret: SECRET, password: PASSWORD }),
    ]);
    returned.push(["stage", await store.stage("okx-main", { keyId: "OKXKEY0002", secret: SECRET2 })]);
    returned.push(["versions", await store.versions("okx-main")]);
    const current = await store.get("okx-main");
    const pending = await store.get("okx-main", "PENDING");
    // The secrets are there for the caller who asks for them by name...
    expect([current?.secret, current?.password, pending?.secret]).toEqual([SECRET, PASSWORD, SECRET2]);
    expect(JSON.parse(JSON.stringify(current))).toEqual({
      keyId: "OKXKEY0001",
      createdAt: current?.createdAt,
      state: "CURRENT",
      secret: "[redacted]",
      password: "[redacted]",
    });
    expect(String(current)).toMatch(/^Credential OKXKEY0001 \(CURRENT, created /);
    // ...and nowhere else.
    returned.push(["get", current], ["get pending", pending], ["get as array", [current, pending]]);
    returned.push(["promote", await store.promote("okx-main")]);
    returned.push(["get previous", await store.get("okx-main", "PREVIOUS")]);
    returned.push(["discard", await store.discardPending("okx-main")]);
    returned.push(["retire", await store.retire("okx-main", "OKXKEY0001")]);
    returned.push(["versions after", await store.versions("okx-main")]);
    for (const [what, x] of returned) expectClean(`${kind} ${what}`, x);

    const text = lines.join("");
    expect(text).toContain("OKXKEY0002");
    for (const s of SECRETS) expect(text).not.toContain(s);
  });

  it("in the errors it throws, even for input or a backend answer that quotes a secret", async () => {
    const store = make(captureLog().log);
    await store.stage("okx-main", { keyId: "OKXKEY0001", secret: SECRET });
    const errors: unknown[] = [
      await caught(store.stage("okx-main", { keyId: `bad id ${SECRET}`, secret: SECRET })),
      await caught(store.stage("okx-main", { keyId: SECRET, secret: SECRET })),
      await caught(store.stage("okx-main", { keyId: "OKXKEY0001", secret: SECRET2 })),
      await caught(store.stage(`name ${SECRET}`, { keyId: "OKXKEY0003", secret: SECRET2 })),
      await caught(store.retire("okx-main", "OKXKEY0001")),
      await caught(store.promote("okx-main")),
    ];
    if (kind === "aws") {
      srv.fail("PutSecretValue", { status: 400, type: "InvalidParameterException", message: `bad ${SECRET2} here` });
      const err = await caught(store.stage("okx-main", { keyId: "OKXKEY0004", secret: SECRET2, password: PASSWORD }));
      expect((err as Error).message).toBe(
        "AWS Secrets Manager PutSecretValue tg/okx-main: InvalidParameterException (HTTP 400): bad [redacted] here",
      );
      errors.push(err);
    }
    expect(errors.every((e) => e instanceof Error)).toBe(true);
    for (const e of errors) expectClean(`${kind} error ${(e as Error).message}`, e);
  });
});
