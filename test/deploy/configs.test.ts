// The example deployment files work as shipped: deploy/redis/*.conf start a real primary, replica and Sentinel
// (only ports, paths and hostnames swapped for loopback ones); the compose file and the Dockerfile refer only to
// files that exist, and the image's health check and start command are the ones the production-install test runs.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { freePort } from "../support/global-setup.js";

const REPO = join(import.meta.dirname, "../..");
const DEPLOY = join(REPO, "deploy");
const procs: ChildProcess[] = [];
const clients: Redis[] = [];
afterAll(() => {
  for (const c of clients) c.disconnect();
  for (const p of procs) p.kill("SIGKILL");
});

function start(bin: string, args: string[], ready: RegExp): Promise<void> {
  const p = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  procs.push(p);
  return new Promise((resolve, reject) => {
    let out = "";
    const t = setTimeout(() => reject(new Error(`${bin} did not start:\n${out}`)), 10_000);
    const on = (d: Buffer) => {
      out += d;
      if (ready.test(out)) {
        clearTimeout(t);
        resolve();
      }
    };
    p.stdout?.on("data", on);
    p.stderr?.on("data", on);
    p.once("exit", (code) => reject(new Error(`${bin} exited ${code}:\n${out}`)));
  });
}
async function eventually(f: () => Promise<boolean>, what: string) {
  const until = Date.now() + 10_000;
  while (!(await f())) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("deploy/redis example configs", () => {
  it("a primary, a replica and a Sentinel start from them and find each other", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-deploy-redis-"));
    const [p, r, s] = [await freePort(), await freePort(), await freePort()];
    const loopback = ["--bind", "127.0.0.1", "--daemonize", "no", "--save", ""];
    await start(
      "redis-server",
      [
        join(DEPLOY, "redis/redis-primary.conf"),
        "--port",
        String(p),
        "--dir",
        dir,
        ...loopback,
        "--appendfilename",
        "p.aof",
        "--appenddirname",
        "p",
      ],
      /Ready to accept connections/,
    );
    await start(
      "redis-server",
      [
        join(DEPLOY, "redis/redis-replica.conf"),
        "--port",
        String(r),
        "--dir",
        dir,
        ...loopback,
        "--appenddirname",
        "r",
        "--replicaof",
        "127.0.0.1",
        String(p),
      ],
      /Ready to accept connections/,
    );
    const primary = new Redis(p, "127.0.0.1");
    clients.push(primary);
    await eventually(async () => /connected_slaves:1/.test(await primary.info("replication")), "replica attached");
    expect(await primary.config("GET", "maxmemory-policy")).toEqual(["maxmemory-policy", "noeviction"]);
    expect(await primary.config("GET", "appendonly")).toEqual(["appendonly", "yes"]);
    // No min-replicas-to-write: a primary whose replica died must still take the halt flag.
    expect(await primary.config("GET", "min-replicas-to-write")).toEqual(["min-replicas-to-write", "0"]);

    // Sentinel rewrites its file: a copy, with the compose hostname swapped for loopback.
    const conf = join(dir, "sentinel.conf");
    writeFileSync(
      conf,
      readFileSync(join(DEPLOY, "redis/sentinel.conf"), "utf8").replace("redis-primary 6379", `127.0.0.1 ${p}`),
    );
    await start("redis-sentinel", [conf, "--port", String(s), "--bind", "127.0.0.1"], /monitor master mymaster/);
    const sentinel = new Redis(s, "127.0.0.1");
    clients.push(sentinel);
    expect(await sentinel.call("SENTINEL", "get-master-addr-by-name", "mymaster")).toEqual(["127.0.0.1", String(p)]);
    await eventually(
      async () => ((await sentinel.call("SENTINEL", "replicas", "mymaster")) as unknown[]).length === 1,
      "sentinel discovered the replica",
    );
    expect(readFileSync(conf, "utf8")).toMatch(/sentinel myid/); // it could rewrite its copy
  });
});

describe("deploy/compose.yaml and the Dockerfile", () => {
  it("mount and copy only files that exist", () => {
    const compose = parse(readFileSync(join(DEPLOY, "compose.yaml"), "utf8"), { merge: true }) as {
      services: Record<string, { volumes?: string[]; build?: string }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(
      [
        "audit-key",
        "redis-primary",
        "redis-replica",
        "sentinel-1",
        "sentinel-2",
        "sentinel-3",
        "tradeguard-a",
        "tradeguard-b",
      ].sort(),
    );
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(":")[0]!;
        if (src.startsWith(".")) expect(existsSync(join(DEPLOY, src)), `${name}: ${src}`).toBe(true);
      }
      if (svc.build) expect(existsSync(join(DEPLOY, svc.build, "Dockerfile")), name).toBe(true);
    }
    const docker = readFileSync(join(REPO, "Dockerfile"), "utf8");
    for (const m of docker.matchAll(/^COPY (?!--from)(.+) \S+$/gm))
      for (const src of m[1]!.split(/\s+/)) expect(existsSync(join(REPO, src)), `COPY ${src}`).toBe(true);
    expect(docker).toMatch(/^RUN npm ci --omit=dev/m);
    expect(docker).toMatch(/^USER tradeguard$/m);
    expect(docker).toMatch(/^HEALTHCHECK .*"scripts\/healthcheck\.mjs"\]$/m);
    expect(docker).toMatch(/^CMD \["node", "bin\/tradeguard\.js", "start"\]$/m);
  });

  it("the audit-key one-shot writes an Ed25519 key the bot can load, and never overwrites one", async () => {
    const compose = parse(readFileSync(join(DEPLOY, "compose.yaml"), "utf8"), { merge: true }) as {
      services: Record<string, { entrypoint: string[] }>;
    };
    const [, flag, script] = compose.services["audit-key"]!.entrypoint;
    expect(flag).toBe("-e");
    const dir = mkdtempSync(join(tmpdir(), "tg-keys-"));
    const program = script!.replaceAll("/keys/", `${dir}/`);
    const ids = { UID_TG: String(process.getuid?.() ?? 0), GID_TG: String(process.getgid?.() ?? 0) };
    const runIt = () =>
      new Promise<number>((resolve) =>
        spawn(process.execPath, ["-e", program], { env: { ...process.env, ...ids }, stdio: "inherit" }).once(
          "exit",
          (c) => resolve(c ?? -1),
        ),
      );
    expect(await runIt()).toBe(0);
    const first = readFileSync(join(dir, "audit-key.pem"), "utf8");
    expect(await runIt()).toBe(0);
    expect(readFileSync(join(dir, "audit-key.pem"), "utf8")).toBe(first);
    const { loadAuditKey } = await import("../../src/audit/keyfile.js");
    expect(() => loadAuditKey(join(dir, "audit-key.pem"), { create: false })).not.toThrow();
  });
});
