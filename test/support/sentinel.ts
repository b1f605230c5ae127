// A real Redis Sentinel deployment on loopback for failover tests: a master, one replica and three sentinels
// (Debian's redis-server and redis-sentinel), each a process of its own on a free port, with short detection times.
// The replica replicates through a TCP proxy (test/support/tcp-proxy.ts), so a test can cut replication at will: a
// write the master acknowledges after the cut is deterministically lost when the master is then killed and
// Sentinel promotes the replica. Every wait is bounded; stop() kills every process and removes the temp directory.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort } from "./global-setup.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

export interface RedisProcess {
  port: number;
  proc: ChildProcess;
  /** SIGKILL: the process dies at once, without a last write or a goodbye to its replicas. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a frozen process keeps its connections open and answers nothing (a replica that never acks);
   * SIGKILL still ends it. */
  pause(): void;
  resume(): void;
}

export interface SentinelCluster {
  /** The master group name the sentinels monitor. */
  name: string;
  master: RedisProcess;
  replica: RedisProcess;
  /** The replica's link to the master: cut() stops replication (the master notices at once). */
  replication: TcpProxy;
  sentinels: RedisProcess[];
  /** `["127.0.0.1:<port>", …]`, as the `redis.sentinels` setting takes them. */
  sentinelAddrs: string[];
  /** The address the sentinels give for the master now ("127.0.0.1:<port>"). */
  masterAddr(): Promise<string>;
  /** Waits (bounded) until every sentinel reports `port` as the master. */
  waitForMaster(port: number, ms?: number): Promise<void>;
  /** Waits (bounded) until every sentinel knows the replica and the other sentinels (ready to fail over). */
  waitUntilReady(ms?: number): Promise<void>;
  /** A direct client on one of the processes, reconnecting every 50 ms (closed by stop()). */
  direct(port: number): Redis;
  stop(): Promise<void>;
}

/** Spawns a redis-server/redis-sentinel and resolves once it accepts connections (bounded). */
async function spawnRedis(bin: string, args: string[], port: number, what: string): Promise<RedisProcess> {
  const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), 10_000);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin} (${err.message}); scripts/ensure-deps.sh --test installs it`));
    });
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${out}`));
    });
    const check = setInterval(() => {
      if (/Ready to accept connections|Sentinel ID is/.test(out)) {
        clearInterval(check);
        clearTimeout(timer);
        proc.removeAllListeners("exit");
        resolve();
      }
    }, 20);
    timer.unref();
  });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill("SIGKILL");
    });
  return { port, proc, kill, pause: () => proc.kill("SIGSTOP"), resume: () => proc.kill("SIGCONT") };
}

/** Polls `check` every 50 ms until it is true, or throws after `ms`. */
export async function waitUntil(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet (a process still starting, a connection refused): try again
    }
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts master + replica (through a proxy) + three sentinels (quorum 2). `downAfterMs` is the sentinels'
 * down-after-milliseconds, `failoverTimeoutMs` their failover-timeout.
 */
export async function startSentinelCluster(
  opts: { downAfterMs?: number; failoverTimeoutMs?: number; name?: string; sentinels?: number } = {},
): Promise<SentinelCluster> {
  const name = opts.name ?? "mymaster";
  const dir = mkdtempSync(join(tmpdir(), "tg-sentinel-"));
  const started: RedisProcess[] = [];
  const clients: Redis[] = [];
  let proxy: TcpProxy | null = null;
  const server = (port: number, extra: string[]) =>
    spawnRedis(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extra],
      port,
      `redis-server :${port}`,
    );
  const stop = async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(started.map((p) => p.kill()));
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const masterPort = await freePort();
    const master = await server(masterPort, ["--repl-diskless-sync-delay", "0"]);
    started.push(master);
    proxy = await startTcpProxy(masterPort);
    const replicaPort = await freePort();
    const replica = await server(replicaPort, [
      "--replicaof",
      "127.0.0.1",
      String(proxy.port),
      "--repl-diskless-sync-delay",
      "0",
    ]);
    started.push(replica);
    const sentinels: RedisProcess[] = [];
    for (let i = 0; i < (opts.sentinels ?? 3); i++) {
      const port = await freePort();
      const file = join(dir, `sentinel-${i}.conf`);
      writeFileSync(
        file,
        [
          `port ${port}`,
          "bind 127.0.0.1",
          `dir ${dir}`,
          `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
          `sentinel down-after-milliseconds ${name} ${opts.downAfterMs ?? 400}`,
          `sentinel failover-timeout ${name} ${opts.failoverTimeoutMs ?? 2_000}`,
          `sentinel parallel-syncs ${name} 1`,
          "",
        ].join("\n"),
      );
      const s = await spawnRedis("redis-sentinel", [file], port, `redis-sentinel :${port}`);
      started.push(s);
      sentinels.push(s);
    }
    const direct = (port: number) => {
      // Reconnects: Sentinel drops every client of an instance it reconfigures (CLIENT KILL TYPE normal).
      const c = new Redis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1, retryStrategy: () => 50 });
      c.on("error", () => {});
      clients.push(c);
      return c;
    };
    const sentinelClients = sentinels.map((s) => direct(s.port));
    const replicaClient = direct(replicaPort);
    const addrOf = async (c: Redis) => {
      const r = (await c.call("SENTINEL", "get-master-addr-by-name", name)) as [string, string] | null;
      return r ? `${r[0]}:${r[1]}` : "";
    };
    const cluster: SentinelCluster = {
      name,
      master,
      replica,
      replication: proxy,
      sentinels,
      sentinelAddrs: sentinels.map((s) => `127.0.0.1:${s.port}`),
      masterAddr: () => addrOf(sentinelClients[0]!),
      async waitForMaster(port, ms = 20_000) {
        await waitUntil(
          async () => (await Promise.all(sentinelClients.map(addrOf))).every((a) => a === `127.0.0.1:${port}`),
          ms,
          `every sentinel to report 127.0.0.1:${port} as the master`,
        );
        // A promoted replica answers as a master only once Sentinel has sent it REPLICAOF NO ONE.
        const c = direct(port);
        try {
          await waitUntil(async () => ((await c.role()) as unknown[])[0] === "master", ms, `${port} to be a master`);
        } finally {
          c.disconnect();
        }
      },
      async waitUntilReady(ms = 20_000) {
        await waitUntil(
          async () => {
            const ok = await Promise.all(
              sentinelClients.map(async (c) => {
                const replicas = (await c.call("SENTINEL", "replicas", name)) as string[][];
                const others = (await c.call("SENTINEL", "sentinels", name)) as string[][];
                return (
                  replicas.some((r) => r.join(" ").includes(String(replicaPort))) &&
                  others.length >= sentinels.length - 1
                );
              }),
            );
            const link = await replicaClient.info("replication");
            return ok.every(Boolean) && /master_link_status:up/.test(link);
          },
          ms,
          "the sentinels to know the replica and each other",
        );
      },
      direct,
      stop,
    };
    return cluster;
  } catch (err) {
    await stop();
    throw err;
  }
}
