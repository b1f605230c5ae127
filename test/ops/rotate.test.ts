// Key rotation end to end: the local encrypted secret store, a managed Alpaca broker served by a local server that
// checks APCA-API-KEY-ID, two-person approval, the rotation's steps and its faults (each leaves a working CURRENT),
// a running bot picking up the new key, the weekly due check, and no secret value in any output.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { NotAuthorizedError, UserInputError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { RotationFailedError } from "../../src/ops/rotate.js";
import { startServices } from "../../src/services.js";
import { AlpacaServer } from "../support/alpaca-server.js";
import { testRuntime } from "../support/runtime.js";
import { startSecretsManagerServer } from "../support/secrets-manager-server.js";

const OLD = { keyId: "PKOLDKEY0000000000001", secret: "s3cret-old-0123456789-DO-NOT-LEAK" };
const NEW = { keyId: "PKNEWKEY0000000000002", secret: "s3cret-new-0123456789-DO-NOT-LEAK" };
const SECRETS = [OLD.secret, NEW.secret];
const ROLES = "roles: { rotate: [UOPS], approve: [UOPS, UAPPROVER] }\n";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!();
});

function logSink() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger({ level: "debug", destination: stream }), lines };
}

async function setup(opts: { home?: string; env?: Record<string, string>; yaml?: string } = {}) {
  const server = await AlpacaServer.start({ positions: [] });
  opened.push(() => server.close());
  server.credentials = [
    { keyId: OLD.keyId, secretKey: OLD.secret },
    { keyId: NEW.keyId, secretKey: NEW.secret },
  ];
  const { log, lines } = logSink();
  const t = await testRuntime({
    yaml: `${ROLES}${opts.yaml ?? ""}brokers:\n  - { name: alpaca-live, kind: alpaca, base_url: "${server.url}", secret: alpaca-live }\n`,
    env: { ...(opts.home ? { TRADEGUARD_HOME: opts.home } : {}), ...opts.env },
    log,
  });
  opened.push(() => t.cleanup());
  return { t, server, lines };
}
const broker = (t: T) => t.rt.ops.deps.brokers.find((b) => b.name === "alpaca-live")!;
const lastKeyId = (s: AlpacaServer) => s.requests.at(-1)?.keyId;
async function audits(t: T) {
  return (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map((r) => r[1][1]!);
}

describe("key rotation", () => {
  it("provisions, stages, rotates with someone else's approval, and the old key waits to be revoked and retired", async () => {
    const { t, server, lines } = await setup();
    expect(await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD)).toMatchObject({ state: "CURRENT" });
    await broker(t).listPositions();
    expect(lastKeyId(server)).toBe(OLD.keyId);
    await expect(t.rt.ops.rotate.request("UOPS", "alpaca-live", "weekly")).rejects.toThrow(
      /tradeguard secrets stage alpaca-live/,
    );
    expect(await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW)).toMatchObject({ state: "PENDING" });
    await expect(t.rt.ops.rotate.request("UNOBODY", "alpaca-live", "x")).rejects.toBeInstanceOf(NotAuthorizedError);
    const req = await t.rt.ops.rotate.request("UOPS", "alpaca-live", "weekly");
    expect(req).toMatchObject({ state: "pending_approval", pendingKeyId: NEW.keyId, currentKeyId: OLD.keyId });
    await expect(t.rt.ops.rotate.approve("UOPS", req.id)).rejects.toThrow(/someone else/);
    await expect(t.rt.ops.rotate.approve("UNOBODY", req.id)).rejects.toBeInstanceOf(NotAuthorizedError);
    const r = await t.rt.ops.rotate.approve("UAPPROVER", req.id);
    expect(r.outcome).toBe("rotated");
    expect(r.request.state).toBe("done");
    // Tested with the new key before it was used, then used.
    expect(server.requestsTo("/v2/account").map((x) => x.keyId)).toEqual([NEW.keyId]);
    await broker(t).listPositions();
    expect(lastKeyId(server)).toBe(NEW.keyId);
    expect(await t.rt.ops.secrets.list()).toEqual([
      expect.objectContaining({
        broker: "alpaca-live",
        current: expect.objectContaining({ keyId: NEW.keyId }),
        pending: null,
        previous: OLD.keyId,
      }),
    ]);
    const open = await t.rt.alerts.open();
    expect(open.map((a) => a.title)).toContain(`Revoke key ${OLD.keyId} at alpaca-live`);
    await t.rt.ops.secrets.retire("UOPS", "alpaca-live", OLD.keyId);
    expect((await t.rt.alerts.open()).map((a) => a.title)).not.toContain(`Revoke key ${OLD.keyId} at alpaca-live`);
    const actions = (await audits(t)).map((e) => JSON.parse(e).action);
    for (const a of [
      "secrets.provisioned",
      "secrets.staged",
      "rotate.requested",
      "rotate.denied",
      "rotate.approved",
      "rotate.tested",
      "rotate.promoted",
      "rotate.retired",
    ])
      expect(actions).toContain(a);
    // No secret value anywhere: logs, audit, announcements.
    const everything = [...lines, ...(await audits(t)), ...t.notifier.messages.map((m) => JSON.stringify(m))].join(
      "\n",
    );
    for (const s of SECRETS) expect(everything).not.toContain(s);
  });

  it.each([
    ["a refused test", "test the new key"],
    ["a failed promote", "promote the new key"],
    ["a failed publish", "tell every bot to use it"],
  ])("%s leaves the old key CURRENT and in use, pages, and marks the request failed", async (_what, step) => {
    const { t, server } = await setup();
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    if (step === "test the new key") server.credentials = [{ keyId: OLD.keyId, secretKey: OLD.secret }];
    if (step === "promote the new key")
      t.rt.secrets.promote = async () => {
        throw new Error("store unavailable");
      };
    if (step === "tell every bot to use it")
      (t.rt.redis as { publish: unknown }).publish = async () => {
        throw new Error("publish refused");
      };
    const req = await t.rt.ops.rotate.request("UOPS", "alpaca-live", "x");
    const err = await t.rt.ops.rotate.approve("UAPPROVER", req.id).catch((e) => e);
    expect(err).toBeInstanceOf(RotationFailedError);
    expect(err.message).toContain(`${step} failed`);
    expect((await t.rt.secrets.get("alpaca-live"))?.keyId).toBe(OLD.keyId);
    await broker(t).listPositions();
    expect(lastKeyId(server)).toBe(OLD.keyId);
    expect((await t.rt.ops.rotate.get(req.id)).state).toBe("failed");
    expect((await t.rt.alerts.open()).find((a) => a.severity === "critical")?.title).toBe(
      `Key rotation of alpaca-live failed (${step})`,
    );
  });

  it("a failure after the new key is in use (the revoke alert) keeps the rotation: the new key stays CURRENT", async () => {
    const { t } = await setup();
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    t.rt.alerts.raise = async () => {
      throw new Error("alert pipeline down");
    };
    const req = await t.rt.ops.rotate.request("UOPS", "alpaca-live", "x");
    expect((await t.rt.ops.rotate.approve("UAPPROVER", req.id)).outcome).toBe("rotated");
    expect((await t.rt.secrets.get("alpaca-live"))?.keyId).toBe(NEW.keyId);
  });

  it("a running bot uses the new key for its next call once the rotation is published", async () => {
    const { t: bot, server } = await setup();
    await bot.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    const services = startServices(bot.rt);
    opened.push(() => services.stop());
    // The CLI is another process: same Redis, same secret store (same home).
    const cli = await testRuntime({
      yaml: `${ROLES}brokers:\n  - { name: alpaca-live, kind: alpaca, base_url: "${server.url}", secret: alpaca-live }\n`,
      env: { TRADEGUARD_HOME: bot.home, REDIS_PREFIX: bot.env.REDIS_PREFIX! },
    });
    opened.push(() => cli.rt.close());
    await cli.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    const req = await cli.rt.ops.rotate.request("UOPS", "alpaca-live", "x");
    await cli.rt.ops.rotate.approve("UAPPROVER", req.id);
    const until = Date.now() + 5_000;
    for (;;) {
      await broker(bot).listPositions();
      if (lastKeyId(server) === NEW.keyId || Date.now() > until) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lastKeyId(server)).toBe(NEW.keyId);
  });

  it("the weekly check pages about an old key and opens a request when a new one is staged; never rotates", async () => {
    let now = new Date("2026-12-01T07:00:00Z");
    const { t } = await setup();
    (t.rt.ops.deps as { now: () => Date }).now = () => now;
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    expect((await t.rt.ops.rotate.dueCheck())[0]).toMatchObject({ broker: "alpaca-live", requested: null });
    expect(await t.rt.alerts.open()).toEqual([]);
    now = new Date("2026-12-20T07:00:00Z");
    const due = await t.rt.ops.rotate.dueCheck();
    expect(due[0]).toMatchObject({ requested: null });
    expect((await t.rt.alerts.open())[0]?.title).toBe("Key of alpaca-live is due for rotation");
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    const again = await t.rt.ops.rotate.dueCheck();
    expect(again[0]!.requested).toMatch(/^r/);
    expect((await t.rt.secrets.get("alpaca-live"))?.keyId).toBe(OLD.keyId);
    await expect(t.rt.ops.rotate.request("UOPS", "alpaca-live", "x")).rejects.toBeInstanceOf(UserInputError); // one open
  });

  it("with AWS Secrets Manager as the store, a rotation moves the staging labels as AWS's rotation does", async () => {
    const sm = await startSecretsManagerServer();
    opened.push(() => sm.stop());
    const { t, server } = await setup({
      yaml: `secrets: { store: aws, region: us-east-1, endpoint: "${sm.url}" }\n`,
      env: { AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "test-aws-secret" },
    });
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", OLD);
    await t.rt.ops.secrets.stage("UOPS", "alpaca-live", NEW);
    const req = await t.rt.ops.rotate.request("UOPS", "alpaca-live", "weekly");
    expect((await t.rt.ops.rotate.approve("UAPPROVER", req.id)).outcome).toBe("rotated");
    const labels = Object.fromEntries(
      [...sm.secrets.get("tradeguard/alpaca-live")!.versions].map((v) => [JSON.parse(v.value).key_id, [...v.stages]]),
    );
    expect(labels).toEqual({ [OLD.keyId]: ["AWSPREVIOUS"], [NEW.keyId]: ["AWSCURRENT"] });
    expect(sm.requests.map((r) => r.op)).toContain("UpdateSecretVersionStage");
    await broker(t).listPositions();
    expect(lastKeyId(server)).toBe(NEW.keyId);
  });
});
