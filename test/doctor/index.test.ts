// The doctor against real parts: the test redis-server (and a replica of it), the audit chain signed by one key or
// another, a local HTTP server speaking Slack's Web API, a local Alpaca server that refuses a bad key, chronyd on
// loopback and an NTP port nobody answers on. Each check says what it found; only failures make `ok` false.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { CheckResult } from "../../src/doctor/checks.js";
import { runDoctor, summarize } from "../../src/doctor/index.js";
import { AlpacaServer } from "../support/alpaca-server.js";
import { freeUdpPort, startChronyd } from "../support/chrony.js";
import { startRedisServer } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  while (closers.length) await closers.pop()!();
});
async function runtime(opts: Parameters<typeof testRuntime>[0] = {}) {
  const t = await testRuntime(opts);
  closers.push(() => t.cleanup());
  return t;
}
const byName = (checks: CheckResult[], name: string) => checks.find((c) => c.name === name);

/** A Slack Web API whose answers the test sets per method. */
async function slackApi(replies: Record<string, unknown>) {
  const calls: { path: string; auth: string | undefined; body: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    let body = "";
    for await (const c of req) body += c;
    calls.push({ path: req.url ?? "", auth: req.headers.authorization, body });
    const method = (req.url ?? "").split("/").pop()!;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(replies[method] ?? { ok: false, error: "unknown_method" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  closers.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/`, calls };
}

describe("tradeguard doctor", () => {
  it("on the embedded defaults: every check passes or is skipped with why", async () => {
    const t = await runtime();
    const r = await runDoctor(t.rt);
    expect(r.ok).toBe(true);
    expect(byName(r.checks, "config")?.detail).toMatch(/^valid \(mode local; 1 broker\(s\); \d+ guard\(s\) scheduled/);
    expect(byName(r.checks, "redis")).toMatchObject({ status: "ok", detail: "writable primary, 0 replicas connected" });
    expect(byName(r.checks, "audit key")).toMatchObject({ status: "ok", detail: expect.stringMatching(/empty/) });
    expect(byName(r.checks, "broker paper")).toMatchObject({ status: "ok" });
    for (const skipped of ["slack", "ntp", "s3"]) expect(byName(r.checks, skipped)?.status).toBe("skip");
    // The probe key is gone.
    expect(await t.rt.redis.keys(`${t.env.REDIS_PREFIX}doctor:*`)).toEqual([]);
    expect(summarize(r)).toMatch(/^doctor: \d+ ok, 0 warn, 0 fail, 3 skipped$/);
  });

  it("names a chain head signed by another replica's key", async () => {
    const a = await runtime();
    await a.rt.audit.append({ actor: "test", action: "test.entry", details: {} });
    await a.rt.audit.drained();
    expect(byName((await runDoctor(a.rt)).checks, "audit key")?.detail).toMatch(/signed the chain head \(seq 1\)/);
    // Same Redis and prefix, its own home: its own (different) audit key.
    const b = await runtime({ env: { REDIS_PREFIX: a.env.REDIS_PREFIX! } });
    const r = await runDoctor(b.rt);
    expect(r.ok).toBe(false);
    expect(byName(r.checks, "audit key")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/seq 1\) is not signed by this key .*share one AUDIT_KEY_FILE/),
    });
  });

  it("fails on a read-only replica and on a Redis that is not there, within its bound", async () => {
    const replica = await startRedisServer();
    closers.push(() => replica.stop());
    const primary = new URL(inject("redisUrl"));
    const t = await runtime({ env: { REDIS_URL: replica.url } });
    await t.rt.redis.replicaof(primary.hostname, primary.port);
    const r = await runDoctor(t.rt);
    expect(byName(r.checks, "redis")).toMatchObject({
      status: "fail",
      detail: expect.stringMatching(/connected to a read-only replica/),
    });
    await t.rt.redis.replicaof("NO", "ONE");

    const gone = await runtime({ env: { REDIS_URL: "redis://127.0.0.1:1" } });
    const d = await runDoctor(gone.rt);
    expect(d.ok).toBe(false);
    expect(byName(d.checks, "redis")?.status).toBe("fail");
    expect(byName(d.checks, "redis")!.ms).toBeLessThan(6_000);
  });

  it("checks the Slack token and the alert channel the bot must be in", async () => {
    const good = await slackApi({
      "auth.test": { ok: true, user: "tradeguard", team: "Desk" },
      "conversations.info": { ok: true, channel: { id: "C1", name: "trading-alerts", is_member: true } },
    });
    const env = (url: string) => ({
      SLACK_BOT_TOKEN: "xoxb-doctor",
      SLACK_SIGNING_SECRET: "s",
      SLACK_API_URL: url,
      SLACK_ALERT_CHANNEL: "C1",
    });
    const ok = await runDoctor((await runtime({ env: env(good.url) })).rt);
    expect(byName(ok.checks, "slack token")).toMatchObject({
      status: "ok",
      detail: "auth.test ok: tradeguard in Desk",
    });
    expect(byName(ok.checks, "slack alert channel")).toMatchObject({
      status: "ok",
      detail: "#trading-alerts reachable",
    });
    expect(good.calls.find((c) => c.path.endsWith("conversations.info"))).toMatchObject({
      auth: "Bearer xoxb-doctor",
      body: "channel=C1",
    });
    const bad = await slackApi({
      "auth.test": { ok: false, error: "invalid_auth" },
      "conversations.info": { ok: true, channel: { id: "C1", name: "trading-alerts", is_member: false } },
    });
    const r = await runDoctor((await runtime({ env: env(bad.url) })).rt);
    expect(byName(r.checks, "slack token")).toMatchObject({ status: "fail", detail: "auth.test: invalid_auth" });
    expect(byName(r.checks, "slack alert channel")?.detail).toMatch(/not in #trading-alerts: \/invite it/);
    expect(r.ok).toBe(false);
  });

  it("makes one authenticated read-only call per broker and names the one that refuses", async () => {
    const alpaca = await AlpacaServer.start({ positions: [] });
    closers.push(() => alpaca.close());
    alpaca.credentials = [{ keyId: "PKGOOD", secretKey: "good" }];
    const t = await runtime({
      env: { AK: "PKBAD", AS: "bad" },
      yaml: `brokers:\n  - { name: paper, kind: paper }\n  - { name: alpaca, kind: alpaca, base_url: "${alpaca.url}", key_id_env: AK, secret_key_env: AS }\n`,
    });
    const r = await runDoctor(t.rt);
    expect(byName(r.checks, "broker paper")?.status).toBe("ok");
    expect(byName(r.checks, "broker alpaca")).toMatchObject({ status: "fail", detail: expect.stringMatching(/403/) });
    expect(alpaca.requests.map((q) => `${q.method} ${q.path}`)).toEqual(["GET /v2/positions"]);
  });

  it("queries the time_sync guard's NTP servers", async () => {
    const chrony = await startChronyd();
    closers.push(() => chrony.stop());
    const dead = `127.0.0.1:${await freeUdpPort()}`;
    const t = await runtime({ yaml: `guards:\n  time_sync: { servers: ["${chrony.server}", "${dead}"] }\n` });
    const r = await runDoctor(t.rt);
    expect(byName(r.checks, `ntp ${chrony.server}`)).toMatchObject({
      status: "ok",
      detail: expect.stringMatching(/^stratum \d+, offset -?\d+ ms$/),
    });
    expect(byName(r.checks, `ntp ${dead}`)?.status).toBe("fail");
  });
});
