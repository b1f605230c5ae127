// Starts one real redis-server for the whole run on a free loopback port; tests isolate themselves by key prefix.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/** Starts redis-server (on `port`, or a free one) and resolves once it accepts connections. */
export async function startRedisServer(opts: { port?: number } = {}): Promise<{
  url: string;
  port: number;
  proc: ChildProcess;
  stop: () => Promise<void>;
}> {
  const port = opts.port ?? (await freePort());
  const proc = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    proc.once("error", (err) => {
      clearTimeout(timer);
      reject(
        new Error(
          `cannot run redis-server (${err.message}). Install it: apt-get install -y redis-server (scripts/test-all.sh does this)`,
        ),
      );
    });
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once("exit", () => resolve());
      proc.kill("SIGTERM");
    });
  return { url: `redis://127.0.0.1:${port}`, port, proc, stop };
}

export default async function setup(project: TestProject) {
  const server = await startRedisServer();
  project.provide("redisUrl", server.url);
  return server.stop;
}
