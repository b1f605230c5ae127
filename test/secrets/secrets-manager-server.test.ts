// The test server itself, over raw HTTP: the adapter's tests are only as good as its fidelity to Secrets Manager's
// documented wire format and staging-label rules (API_UpdateSecretVersionStage, API_PutSecretValue,
// API_ListSecretVersionIds), so those rules are pinned here.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type SecretsManagerServer, startSecretsManagerServer } from "../support/secrets-manager-server.js";

let srv: SecretsManagerServer;
beforeAll(async () => {
  srv = await startSecretsManagerServer();
});
afterAll(() => srv.stop());
beforeEach(() => srv.reset());

async function call(op: string, body: Record<string, unknown>, contentType = "application/x-amz-json-1.1") {
  const res = await fetch(srv.url, {
    method: "POST",
    headers: { "content-type": contentType, "x-amz-target": `secretsmanager.${op}` },
    body: JSON.stringify(body),
  });
  expect(res.headers.get("content-type")).toBe("application/x-amz-json-1.1");
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const S = "tradeguard/x";
const put = (token: string, stages?: string[]) =>
  call("PutSecretValue", {
    SecretId: S,
    ClientRequestToken: token,
    SecretString: `v-${token}`,
    ...(stages ? { VersionStages: stages } : {}),
  });

describe("Secrets Manager test server", () => {
  it("answers errors as HTTP 400 with {__type, message}", async () => {
    expect(await call("GetSecretValue", { SecretId: "nope" })).toEqual({
      status: 400,
      body: { __type: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret." },
    });
    expect((await call("GetSecretValue", { SecretId: S }, "application/json")).body.__type).toBe(
      "SerializationException",
    );
  });

  it("gives the first version AWSCURRENT; PutSecretValue without VersionStages moves it, AWSPREVIOUS following", async () => {
    expect((await call("CreateSecret", { Name: S, SecretString: "v1", ClientRequestToken: "v1" })).status).toBe(200);
    expect(srv.labels(S)).toEqual({ v1: ["AWSCURRENT"] });
    await put("v2");
    expect(srv.labels(S)).toEqual({ v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"] });
    await put("v3", ["AWSPENDING"]);
    await put("v4", ["AWSPENDING"]);
    expect(srv.labels(S)).toEqual({ v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: [], v4: ["AWSPENDING"] });
  });

  it("moves a label held elsewhere only with RemoveFromVersionId naming the holder; moving AWSCURRENT moves AWSPREVIOUS", async () => {
    await call("CreateSecret", { Name: S, SecretString: "v1", ClientRequestToken: "v1" });
    await put("v2");
    await put("v3", ["AWSPENDING"]);
    const refused = await call("UpdateSecretVersionStage", {
      SecretId: S,
      VersionStage: "AWSCURRENT",
      MoveToVersionId: "v3",
    });
    expect(refused.status).toBe(400);
    expect(refused.body.__type).toBe("InvalidParameterException");
    const wrong = { SecretId: S, VersionStage: "AWSCURRENT", MoveToVersionId: "v3", RemoveFromVersionId: "v1" };
    expect((await call("UpdateSecretVersionStage", wrong)).body.__type).toBe("InvalidParameterException");
    expect(srv.labels(S)).toEqual({ v1: ["AWSPREVIOUS"], v2: ["AWSCURRENT"], v3: ["AWSPENDING"] });
    const ok = { SecretId: S, VersionStage: "AWSCURRENT", MoveToVersionId: "v3", RemoveFromVersionId: "v2" };
    expect(await call("UpdateSecretVersionStage", ok)).toEqual({
      status: 200,
      body: expect.objectContaining({ Name: S }),
    });
    expect(srv.labels(S)).toEqual({ v1: [], v2: ["AWSPREVIOUS"], v3: ["AWSCURRENT", "AWSPENDING"] });
  });

  it("removes labels but never AWSCURRENT, and only from the version that holds them", async () => {
    await call("CreateSecret", { Name: S, SecretString: "v1", ClientRequestToken: "v1" });
    await put("v2", ["AWSPENDING"]);
    const current = await call("UpdateSecretVersionStage", {
      SecretId: S,
      VersionStage: "AWSCURRENT",
      RemoveFromVersionId: "v1",
    });
    expect(current.body.__type).toBe("InvalidParameterException");
    const notHeld = await call("UpdateSecretVersionStage", {
      SecretId: S,
      VersionStage: "AWSPENDING",
      RemoveFromVersionId: "v1",
    });
    expect(notHeld.body.__type).toBe("InvalidParameterException");
    await call("UpdateSecretVersionStage", { SecretId: S, VersionStage: "AWSPENDING", RemoveFromVersionId: "v2" });
    expect(srv.labels(S)).toEqual({ v1: ["AWSCURRENT"], v2: [] });
  });

  it("lists deprecated versions only with IncludeDeprecated, and still returns them by VersionId", async () => {
    await call("CreateSecret", { Name: S, SecretString: "v1", ClientRequestToken: "v1" });
    await put("v2", ["AWSPENDING"]);
    await put("v3", ["AWSPENDING"]);
    const ids = (b: Record<string, unknown>) => (b.Versions as { VersionId: string }[]).map((v) => v.VersionId);
    expect(ids((await call("ListSecretVersionIds", { SecretId: S })).body)).toEqual(["v1", "v3"]);
    expect(ids((await call("ListSecretVersionIds", { SecretId: S, IncludeDeprecated: true })).body)).toEqual([
      "v1",
      "v2",
      "v3",
    ]);
    expect((await call("GetSecretValue", { SecretId: S, VersionId: "v2" })).body).toMatchObject({
      SecretString: "v-v2",
      VersionStages: [],
    });
    expect((await call("GetSecretValue", { SecretId: S, VersionStage: "AWSPENDING" })).body.VersionId).toBe("v3");
  });

  it("treats a ClientRequestToken as the version id: same value is a no-op, another value is refused", async () => {
    await call("CreateSecret", { Name: S, SecretString: "v1", ClientRequestToken: "v1" });
    expect((await put("v2", ["AWSPENDING"])).status).toBe(200);
    expect((await put("v2", ["AWSPENDING"])).status).toBe(200);
    const clash = await call("PutSecretValue", { SecretId: S, ClientRequestToken: "v2", SecretString: "other" });
    expect(clash.body.__type).toBe("ResourceExistsException");
    expect((await call("CreateSecret", { Name: S, SecretString: "again" })).body.__type).toBe(
      "ResourceExistsException",
    );
    expect(Object.keys(srv.labels(S))).toEqual(["v1", "v2"]);
  });
});
