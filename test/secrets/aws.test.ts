// The Secrets Manager store at the HTTP layer: the requests it sends (targets, bodies, signing) and the staging labels
// they leave, against a local server speaking Secrets Manager's JSON protocol with AWS's label rules.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { UserInputError } from "../../src/errors.js";
import { AwsSecretStore, type AwsStoreOptions } from "../../src/secrets/aws.js";
import { SecretStoreError } from "../../src/secrets/store.js";
import { caught } from "../support/caught.js";
import { captureLog } from "../support/log.js";
import { type SecretsManagerServer, startSecretsManagerServer } from "../support/secrets-manager-server.js";

let srv: SecretsManagerServer;
const stdoutWrites: string[] = [];
const warnings: string[] = [];
const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
const CREDS = { accessKeyId: "AKIDTESTFAKE00000000", secretAccessKey: "fake-aws-secret-access-key-0000000000" };

function store(over: Partial<AwsStoreOptions> = {}): AwsSecretStore {
  return new AwsSecretStore({
    region: "eu-west-1",
    endpoint: srv.url,
    prefix: "tradeguard/",
    credentials: CREDS,
    timeoutMs: 1_000,
    ...over,
  });
}

beforeAll(async () => {
  srv = await startSecretsManagerServer();
  process.on("warning", onWarning);
  // The SDK's Node-20 support warning goes through process.emitWarning (stderr); nothing may reach stdout.
  const write = process.stdout.write.bind(process.stdout) as (...args: unknown[]) => boolean;
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stdoutWrites.push(String(chunk));
    return write(chunk, ...rest);
  }) as typeof process.stdout.write);
});
afterAll(async () => {
  process.off("warning", onWarning);
  vi.restoreAllMocks();
  await srv.stop();
});
beforeEach(() => srv.reset());
afterEach(() => {
  expect(stdoutWrites.filter((w) => w.includes("NodeVersionSupportWarning"))).toEqual([]);
});

const ID = "tradeguard/alpaca-live";
const A = { keyId: "PKAAAAAAAAAAAAAAAAAA", secret: "secret-a-0123456789abcdef" };
const B = { keyId: "PKBBBBBBBBBBBBBBBBBB", secret: "secret-b-0123456789abcdef" };
const C = { keyId: "PKCCCCCCCCCCCCCCCCCC", secret: "secret-c-0123456789abcdef", password: "pass-c" };

const bodies = (op: string) => srv.requests.filter((r) => r.op === op).map((r) => r.body);
/** The version id holding `keyId`. */
const versionOf = (keyId: string) =>
  [...(srv.secrets.get(ID)?.versions ?? [])].find((v) => JSON.parse(v.value).key_id === keyId)!.id;

describe("AWS Secrets Manager store", () => {
  it("keeps the SDK's Node-20 support warning a process warning (stderr), never stdout output", async () => {
    expect(await store().versions("alpaca-live")).toEqual([]);
    await new Promise((r) => setImmediate(r));
    if (Number(process.versions.node.split(".")[0]) < 22) {
      expect(warnings.some((w) => w.includes("NodeVersionSupportWarning"))).toBe(true);
    }
    expect(stdoutWrites.join("")).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
  });

  it("speaks the JSON 1.1 protocol, signed with SigV4 for secretsmanager in the configured region", async () => {
    await store().stage("alpaca-live", A);
    expect(srv.requests.length).toBeGreaterThan(0);
    for (const r of srv.requests) {
      expect(r.headers["content-type"]).toBe("application/x-amz-json-1.1");
      expect(r.target).toBe(`secretsmanager.${r.op}`);
      expect(r.headers.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDTESTFAKE00000000\/\d{8}\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=.*x-amz-target/,
      );
    }
  });

  it("provisions the first credential with CreateSecret (AWSCURRENT), the JSON value and a request token", async () => {
    expect(await store({ now: () => new Date("2026-11-01T10:00:00Z") }).stage("alpaca-live", C)).toEqual({
      state: "CURRENT",
    });
    expect(srv.ops()).toEqual(["ListSecretVersionIds", "CreateSecret"]);
    const [create] = bodies("CreateSecret");
    expect(create).toMatchObject({ Name: ID, ClientRequestToken: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(JSON.parse(String(create!.SecretString))).toEqual({
      key_id: C.keyId,
      secret: C.secret,
      password: C.password,
      created_at: "2026-11-01T10:00:00.000Z",
    });
    expect(srv.labels(ID)).toEqual({ [String(create!.ClientRequestToken)]: ["AWSCURRENT"] });
  });

  it("stages with PutSecretValue VersionStages [AWSPENDING]; a newer PENDING takes the label and deprecates the older", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    expect(await s.stage("alpaca-live", B)).toEqual({ state: "PENDING" });
    const [put] = bodies("PutSecretValue");
    expect(put).toMatchObject({ SecretId: ID, VersionStages: ["AWSPENDING"] });
    expect(put!.ClientRequestToken).toBe(versionOf(B.keyId));
    await s.stage("alpaca-live", C);
    expect(srv.labels(ID)).toEqual({
      [versionOf(A.keyId)]: ["AWSCURRENT"],
      [versionOf(B.keyId)]: [],
      [versionOf(C.keyId)]: ["AWSPENDING"],
    });
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", A.keyId],
      ["PENDING", C.keyId],
    ]);
  });

  it("reads versions with ListSecretVersionIds (following NextToken) and GetSecretValue by VersionId", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    srv.pageSize = 1;
    srv.requests.length = 0;
    expect((await s.versions("alpaca-live")).map((v) => v.keyId)).toEqual([A.keyId, B.keyId]);
    expect(srv.ops()).toEqual(["ListSecretVersionIds", "ListSecretVersionIds", "GetSecretValue", "GetSecretValue"]);
    expect(bodies("ListSecretVersionIds")[1]).toMatchObject({ SecretId: ID, NextToken: "1" });
    expect(bodies("GetSecretValue")).toEqual([
      { SecretId: ID, VersionId: versionOf(A.keyId) },
      { SecretId: ID, VersionId: versionOf(B.keyId) },
    ]);
  });

  it("gets a credential by staging label, and null for an unknown secret or an absent label", async () => {
    const s = store();
    expect(await s.versions("alpaca-live")).toEqual([]);
    expect(await s.get("alpaca-live")).toBeNull();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", C);
    srv.requests.length = 0;
    const pending = await s.get("alpaca-live", "PENDING");
    expect([pending?.keyId, pending?.secret, pending?.password, pending?.state]).toEqual([
      C.keyId,
      C.secret,
      C.password,
      "PENDING",
    ]);
    expect(bodies("GetSecretValue")).toEqual([{ SecretId: ID, VersionStage: "AWSPENDING" }]);
    expect((await s.get("alpaca-live"))?.secret).toBe(A.secret);
    expect(await s.get("alpaca-live", "PREVIOUS")).toBeNull();
  });

  it("promotes as finishSecret does: AWSCURRENT moved (AWS moves AWSPREVIOUS), then AWSPENDING removed", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    srv.requests.length = 0;
    expect(await s.promote("alpaca-live")).toEqual({ current: B.keyId, previous: A.keyId, dropped: null });
    expect(bodies("UpdateSecretVersionStage")).toEqual([
      {
        SecretId: ID,
        VersionStage: "AWSCURRENT",
        MoveToVersionId: versionOf(B.keyId),
        RemoveFromVersionId: versionOf(A.keyId),
      },
      { SecretId: ID, VersionStage: "AWSPENDING", RemoveFromVersionId: versionOf(B.keyId) },
    ]);
    expect(srv.labels(ID)).toEqual({ [versionOf(A.keyId)]: ["AWSPREVIOUS"], [versionOf(B.keyId)]: ["AWSCURRENT"] });
    expect((await s.get("alpaca-live", "PREVIOUS"))?.secret).toBe(A.secret);
  });

  it("drops an unretired PREVIOUS on the next promotion: its version is deprecated and its key id reported", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.promote("alpaca-live");
    await s.stage("alpaca-live", C);
    expect(await s.promote("alpaca-live")).toEqual({ current: C.keyId, previous: B.keyId, dropped: A.keyId });
    expect(srv.labels(ID)[versionOf(A.keyId)]).toEqual([]);
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", C.keyId],
      ["PREVIOUS", B.keyId],
    ]);
  });

  it("refuses to promote without AWSPENDING, sending no label change", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    const err = await caught(s.promote("alpaca-live"));
    expect(err).toBeInstanceOf(UserInputError);
    expect(srv.ops()).not.toContain("UpdateSecretVersionStage");
    expect(await caught(s.promote("never-created"))).toBeInstanceOf(UserInputError);
  });

  it("discards PENDING by removing AWSPENDING, and sends nothing when there is none", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.discardPending("alpaca-live");
    expect(bodies("UpdateSecretVersionStage")).toEqual([
      { SecretId: ID, VersionStage: "AWSPENDING", RemoveFromVersionId: versionOf(B.keyId) },
    ]);
    expect(srv.labels(ID)).toEqual({ [versionOf(A.keyId)]: ["AWSCURRENT"], [versionOf(B.keyId)]: [] });
    await s.discardPending("alpaca-live");
    await s.discardPending("never-created");
    expect(bodies("UpdateSecretVersionStage").length).toBe(1);
  });

  it("retires a PREVIOUS by removing AWSPREVIOUS from its version; anything else is refused", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.promote("alpaca-live");
    srv.requests.length = 0;
    expect(await caught(s.retire("alpaca-live", B.keyId))).toBeInstanceOf(UserInputError);
    expect(await caught(s.retire("alpaca-live", "PKUNKNOWN"))).toBeInstanceOf(UserInputError);
    expect(srv.ops()).not.toContain("UpdateSecretVersionStage");
    await s.retire("alpaca-live", A.keyId);
    expect(bodies("UpdateSecretVersionStage")).toEqual([
      { SecretId: ID, VersionStage: "AWSPREVIOUS", RemoveFromVersionId: versionOf(A.keyId) },
    ]);
    expect(srv.labels(ID)[versionOf(A.keyId)]).toEqual([]);
    expect((await s.versions("alpaca-live")).map((v) => v.keyId)).toEqual([B.keyId]);
  });

  it("counts a promotion whose AWSPENDING removal failed as done (AWSPENDING on AWSCURRENT is a finished rotation)", async () => {
    const { log, lines } = captureLog();
    const s = store({ log, maxAttempts: 1 });
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    srv.fail("UpdateSecretVersionStage", { after: 1, type: "InternalServiceError" });
    expect(await s.promote("alpaca-live")).toEqual({ current: B.keyId, previous: A.keyId, dropped: null });
    expect(srv.labels(ID)).toEqual({
      [versionOf(A.keyId)]: ["AWSPREVIOUS"],
      [versionOf(B.keyId)]: ["AWSCURRENT", "AWSPENDING"],
    });
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", B.keyId],
      ["PREVIOUS", A.keyId],
    ]);
    expect(await s.get("alpaca-live", "PENDING")).toBeNull();
    expect(await caught(s.promote("alpaca-live"))).toBeInstanceOf(UserInputError);
    expect(lines.join("")).toMatch(/AWSPENDING could not be removed/);
    // The next stage takes the stale label off the current version (PutSecretValue moves it).
    await s.stage("alpaca-live", C);
    expect(srv.labels(ID)[versionOf(B.keyId)]).toEqual(["AWSCURRENT"]);
    expect(srv.labels(ID)[versionOf(C.keyId)]).toEqual(["AWSPENDING"]);
  });

  it("finishes a promotion whose AWSCURRENT move was applied but its reply lost; reports one that was not applied", async () => {
    const s = store({ maxAttempts: 1 });
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    srv.fail("UpdateSecretVersionStage", { afterApply: true });
    expect(await s.promote("alpaca-live")).toEqual({ current: B.keyId, previous: A.keyId, dropped: null });
    expect(srv.labels(ID)).toEqual({ [versionOf(A.keyId)]: ["AWSPREVIOUS"], [versionOf(B.keyId)]: ["AWSCURRENT"] });

    await s.stage("alpaca-live", C);
    srv.fail("UpdateSecretVersionStage", { type: "InternalServiceError", message: "try later" });
    const err = await caught(s.promote("alpaca-live"));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect((err as Error).message).toBe(
      `AWS Secrets Manager UpdateSecretVersionStage ${ID}: InternalServiceError (HTTP 500): try later`,
    );
    expect((await s.get("alpaca-live"))?.keyId).toBe(B.keyId);
    expect((await s.get("alpaca-live", "PENDING"))?.keyId).toBe(C.keyId);
  });

  it("bounds retries: a failing call is attempted maxAttempts times, then a SecretStoreError naming the call", async () => {
    const s = store({ maxAttempts: 2 });
    srv.fail("ListSecretVersionIds", { times: Number.POSITIVE_INFINITY, status: 500, type: "InternalServiceError" });
    const err = await caught(s.versions("alpaca-live"));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect((err as Error).message).toBe(
      `AWS Secrets Manager ListSecretVersionIds ${ID}: InternalServiceError (HTTP 500): injected`,
    );
    expect(srv.ops()).toEqual(["ListSecretVersionIds", "ListSecretVersionIds"]);
  });

  it("times out a call that does not answer, within its per-attempt timeout times its attempts", async () => {
    const s = store({ timeoutMs: 150, maxAttempts: 2 });
    srv.fail("ListSecretVersionIds", { times: 2, delayMs: 1_000 });
    const t0 = Date.now();
    const err = await caught(s.versions("alpaca-live"));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect((err as Error).message).toMatch(
      /^AWS Secrets Manager ListSecretVersionIds tradeguard\/alpaca-live: TimeoutError/,
    );
    expect(Date.now() - t0).toBeLessThan(900);
    expect(srv.ops()).toEqual(["ListSecretVersionIds", "ListSecretVersionIds"]);
  });

  it("reports a version whose SecretString is not tradeguard's JSON, without quoting it", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    srv.secrets.get(ID)!.versions[0]!.value = `not json ${A.secret}`;
    const err = await caught(s.get("alpaca-live"));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect((err as Error).message).toMatch(/the SecretString is not the JSON tradeguard stores/);
    expect((err as Error).message).not.toContain(A.secret);
  });

  it("stages as PENDING when another writer created the secret meanwhile (ResourceExistsException)", async () => {
    const s = store();
    srv.before("CreateSecret", () =>
      srv.call("CreateSecret", {
        Name: ID,
        SecretString: JSON.stringify({ key_id: A.keyId, secret: A.secret, created_at: "x" }),
      }),
    );
    expect(await s.stage("alpaca-live", B)).toEqual({ state: "PENDING" });
    expect(srv.ops()).toEqual([
      "ListSecretVersionIds",
      "CreateSecret",
      "ListSecretVersionIds",
      "GetSecretValue",
      "PutSecretValue",
    ]);
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", A.keyId],
      ["PENDING", B.keyId],
    ]);
  });

  it("recognises its own CreateSecret in a retry's ResourceExistsException (the first reply was lost)", async () => {
    const s = store({ maxAttempts: 2 });
    srv.fail("CreateSecret", { afterApply: true });
    expect(await s.stage("alpaca-live", A)).toEqual({ state: "CURRENT" });
    const creates = bodies("CreateSecret");
    expect(creates.length).toBe(2);
    expect(creates[1]!.ClientRequestToken).toBe(creates[0]!.ClientRequestToken);
    expect(srv.ops()).not.toContain("PutSecretValue");
    expect(Object.keys(srv.labels(ID)).length).toBe(1);
  });

  it("demote undoes a promote (a rotation rolled back): CURRENT back to the old key, the new one PENDING again", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.promote("alpaca-live");
    await s.demote("alpaca-live");
    expect((await s.get("alpaca-live"))?.keyId).toBe(A.keyId);
    expect((await s.get("alpaca-live", "PENDING"))?.keyId).toBe(B.keyId);
    expect(await s.get("alpaca-live", "PREVIOUS")).toBeNull();
    // Nothing to roll back now: a PENDING is in the way, and there is no PREVIOUS.
    await expect(s.demote("alpaca-live")).rejects.toThrow(/nothing to roll back/);
  });
});
