// Spawns the tradeguard CLI as a separate process, the way an operator runs it.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";

const entry = fileURLToPath(new URL("./cli-entry.ts", import.meta.url));
/** Node flags that run the CLI from source: tsx, and `@tradeguard/gate` resolved to packages/gate/src (not its dist/). */
export const FROM_SOURCE = ["--conditions=@tradeguard/source", "--import", "tsx"];

/**
 * Runs `tradeguard <args>` with `env` (added to a minimal environment); resolves with exit code and output. The CLI
 * names its user from the OS account; the tests run as root, where SUDO_USER names the person (as sudo sets it), so
 * `{ SUDO_USER: "alice" }` is another person.
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...FROM_SOURCE, entry, ...args], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        USER: "ops",
        SUDO_USER: "ops",
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

/** Starts `tradeguard <args>` in the background (e.g. `start`); the caller stops it. */
export function spawnCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [...FROM_SOURCE, entry, ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      USER: "ops",
      SUDO_USER: "ops",
      LOG_LEVEL: "warn",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return {
    child,
    output: () => output,
    stop: () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once("exit", (code) => resolve(code));
        child.kill("SIGTERM");
      }),
  };
}

/**
 * Runs `tradeguard <args>` on a pseudo-terminal (util-linux `script`), typing `answer` once `prompt` appears: how an
 * operator at a terminal meets an interactive confirmation.
 */
export function runCliOnTty(
  args: string[],
  env: Record<string, string>,
  prompt: RegExp,
  answer: string,
): Promise<{ code: number; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const cmd = [process.execPath, ...FROM_SOURCE, entry, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        USER: "ops",
        SUDO_USER: "ops",
        LOG_LEVEL: "warn",
        TERM: "dumb",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let answered = false;
    const onData = (d: Buffer) => {
      output += d.toString();
      if (!answered && prompt.test(output)) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/**
 * A desk for CLI tests: its own home with `yaml` as TRADEGUARD_CONFIG, a fresh key prefix on the test Redis, and a
 * client to seed and inspect it; `close()` removes the prefix's keys.
 */
export function cliDesk(tag: string, yaml: string, redisUrl: string) {
  const home = mkdtempSync(join(tmpdir(), `tg-${tag}-`));
  const prefix = `t${randomBytes(5).toString("hex")}:`;
  writeFileSync(join(home, "c.yml"), yaml);
  const env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "c.yml"),
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
  };
  const redis = new Redis(redisUrl);
  return {
    env,
    redis,
    prefix,
    async close() {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}
