import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCli, runCliOnTty, spawnCli } from "../support/cli.js";
import { freePort } from "../support/global-setup.js";

let env: Record<string, string>;
let redis: Redis;
let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "tg-cli-"));
  env = { TRADEGUARD_HOME: home, REDIS_URL: inject("redisUrl"), REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:` };
  redis = new Redis(inject("redisUrl"));
});
afterAll(() => redis.disconnect());

describe("tradeguard CLI", () => {
  it("status --json works from day one", async () => {
    const r = await runCli(["status", "--json"], env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ mode: "active", reason: null, since: null, lastPanic: null });
  });

  it("panic --yes --json halts, flattens the paper broker and reports HALT-VERIFIED; status shows it", async () => {
    expect(
      (await runCli(["paper", "position", "--symbol", "AAPL", "--qty", "10", "--price", "190.25"], env)).code,
    ).toBe(0);
    expect(
      (await runCli(["paper", "order", "--symbol", "MSFT", "--side", "buy", "--qty", "1", "--limit", "400"], env)).code,
    ).toBe(0);
    const r = await runCli(["panic", "--reason", "cli drill", "--yes", "--json"], env);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({
      status: "HALT-VERIFIED",
      actor: "cli:ops",
      reason: "cli drill",
      haltFlag: "set",
      joined: false,
    });
    expect(report.brokers[0]).toMatchObject({ broker: "paper", verified: true });
    const s = JSON.parse((await runCli(["status", "--json"], env)).stdout);
    expect(s).toMatchObject({ mode: "halt", reason: "cli drill", actor: "cli:ops" });
    expect(s.lastPanic.id).toBe(report.id);
  });

  it("panic on a terminal shows the blast radius and halts only when the operator types HALT", async () => {
    const e2 = { ...env, REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:` };
    await runCli(["paper", "position", "--symbol", "NVDA", "--qty", "3", "--price", "140"], e2);
    const no = await runCliOnTty(["panic", "--reason", "tty drill"], e2, /Type HALT/, "halt please");
    expect(no.output).toMatch(/paper \(paper\): 0 open orders, 1 positions, gross 420\.00/);
    expect(no.output).toMatch(/not confirmed; nothing was changed/);
    expect(no.code).toBe(1);
    expect(await redis.get(`${e2.REDIS_PREFIX}mode`)).toBeNull();
    const yes = await runCliOnTty(["panic", "--reason", "tty drill"], e2, /Type HALT/, "HALT");
    expect(yes.output).toMatch(/HALT-VERIFIED/);
    // The report is printed once (the console alert does not print it a second time).
    expect(yes.output.match(/HALT-VERIFIED — panic/g)).toHaveLength(1);
    expect(yes.code).toBe(0);
    expect(await redis.get(`${e2.REDIS_PREFIX}mode`)).toBe("halt");
  });

  it("panic whose snapshot cannot be written reports it and exits 1 (halted and flat, but incomplete)", async () => {
    const h = mkdtempSync(join(tmpdir(), "tg-cli-"));
    writeFileSync(join(h, "blocker"), "a file where the snapshot directory should be");
    writeFileSync(join(h, "c.yml"), `panic: { snapshot_dir: ${JSON.stringify(join(h, "blocker", "snaps"))} }\n`);
    const e2 = {
      ...env,
      TRADEGUARD_HOME: h,
      TRADEGUARD_CONFIG: join(h, "c.yml"),
      REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
    };
    const r = await runCli(["panic", "--reason", "no snapshot", "--yes"], e2);
    expect(r.stdout).toMatch(/HALT-VERIFIED/);
    expect(r.stdout).toMatch(/SNAPSHOT FAILED/);
    expect(r.stderr).toMatch(/incomplete: snapshot: /);
    expect(r.code).toBe(1);
  });

  it("a bad option value is a usage error (exit 2)", async () => {
    const r = await runCli(["paper", "order", "--symbol", "AAPL", "--side", "sideways", "--qty", "1"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/argument .sideways. is invalid\. Allowed choices are buy, sell/);
  });

  it("panic without --yes off a terminal refuses and changes nothing", async () => {
    const e2 = { ...env, REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:` };
    const r = await runCli(["panic", "--reason", "x"], e2);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pass --yes/);
    expect(await redis.get(`${e2.REDIS_PREFIX}mode`)).toBeNull();
  });

  it("clear + approve by someone else resumes to reduce_only; self-approval exits non-zero", async () => {
    const c = await runCli(["clear", "--reason", "flat", "--json"], env);
    expect(c.code).toBe(0);
    const id = JSON.parse(c.stdout).id as string;
    const self = await runCli(["approve", id], env);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/someone else has to approve/);
    const ok = await runCli(["approve", id, "--json"], { ...env, SUDO_USER: "alice" });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      outcome: "approved",
      request: { requester: "cli:ops", approvals: ["cli:alice"] },
    });
    expect(await redis.get(`${env.REDIS_PREFIX}mode`)).toBe("reduce_only");
  });

  it("audit verify --json is ok, then detects a tampered file and exits 1", async () => {
    const ok = await runCli(["audit", "verify", "--json"], env);
    expect(ok.code).toBe(0);
    const res = JSON.parse(ok.stdout);
    expect(res).toMatchObject({ ok: true, firstBad: null, reason: null });
    expect(res.entries).toBeGreaterThan(5);

    const pub = await runCli(["audit", "pubkey"], env);
    expect(pub.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const pubFile = join(home, "pub.pem");
    writeFileSync(pubFile, pub.stdout);
    const file = join(home, "audit.jsonl");
    const fileOk = await runCli(["audit", "verify", "--file", file, "--pubkey", pubFile, "--full", "--json"], env);
    expect(JSON.parse(fileOk.stdout)).toMatchObject({ ok: true, entries: res.entries });

    const lines = readFileSync(file, "utf8").trim().split("\n");
    lines[2] = lines[2]!.replace('"actor":"cli:ops"', '"actor":"cli:eve"');
    const tampered = join(home, "tampered.jsonl");
    writeFileSync(tampered, `${lines.join("\n")}\n`);
    const bad = await runCli(["audit", "verify", "--file", tampered, "--pubkey", pubFile, "--json"], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, firstBad: 3 });
  });

  it("audit tail -n prints the last entries", async () => {
    const r = await runCli(["audit", "tail", "-n", "2"], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(2);
    expect(r.stdout).toMatch(/clear\.approved|mode\.set/);
  });

  it("exits 2 naming the key on a bad config value", async () => {
    const r = await runCli(["status"], { ...env, PORT: "http" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/env PORT/);
  });

  it("panic with Redis unreachable exits 3 and says loudly that the halt flag is not set", async () => {
    const r = await runCli(["panic", "--reason", "redis gone", "--yes"], {
      ...env,
      REDIS_URL: "redis://127.0.0.1:1",
      TRADEGUARD_HOME: mkdtempSync(join(tmpdir(), "tg-cli-")),
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/HALT FLAG IS NOT SET/);
    expect(r.stdout).toMatch(/HALT-PARTIAL/);
  });

  it("start runs the bot in local mode: /healthz answers, and SIGTERM stops it cleanly", async () => {
    const port = await freePort();
    const bot = spawnCli(["start"], { ...env, HOST: "127.0.0.1", PORT: String(port), LOG_LEVEL: "info" });
    try {
      let health: Response | null = null;
      for (let i = 0; i < 100 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.status).toBe(200);
      expect(await health!.json()).toMatchObject({ ok: true, redis: "up", slack: "local" });
      const beat = Number(await redis.get(`${env.REDIS_PREFIX}heartbeat:bot`));
      expect(Date.now() - beat).toBeLessThan(10_000);
    } finally {
      expect(await bot.stop()).toBe(0);
    }
    expect(bot.output()).toMatch(/local mode/);
  });
});
