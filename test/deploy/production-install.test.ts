// The production install, as the Dockerfile's stages and deploy/README.md do it, outside Docker (no daemon here): the
// build stage compiles a fresh copy of the sources (`tsc -b`: the gate package, then the bot), then `npm ci
// --omit=dev` runs in a clean directory holding only what the image copies (the bot's dist/ and the gate workspace's
// package.json and dist/). No dev dependency is installed, `prepare` does not need TypeScript, npm links the gate
// workspace, and the installed CLI and bot run as an unprivileged user: status, the bot with its container health
// check, and scripts/emergency_stop.sh.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { freePort } from "../support/global-setup.js";

const REPO = join(import.meta.dirname, "../..");
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
let dir: string;
let build: string;
let home: string;
let env: Record<string, string>;

/** argv run as `nobody` when we are root (the service user's rights), else as ourselves. */
const unprivileged = (argv: string[]) => (asRoot ? ["runuser", "-u", "nobody", "--", ...argv] : argv);
function run(argv: string[], extra: Record<string, string> = {}, timeout = 60_000) {
  const [cmd, ...args] = unprivileged(argv);
  return spawnSync(cmd!, args, { cwd: dir, env: { ...env, ...extra }, encoding: "utf8", timeout });
}

/** The Dockerfile's build stage in `into`: a copy of the sources it copies, the repository's installed dependencies
 *  (linked, but the gate workspace linked to the copy's own packages/gate), then `tsc -b tsconfig.build.json`. */
function buildStage(into: string) {
  for (const f of ["package.json", "tsconfig.json", "tsconfig.build.json", "src"])
    cpSync(join(REPO, f), join(into, f), { recursive: true });
  for (const f of ["package.json", "tsconfig.json", "src"])
    cpSync(join(REPO, "packages/gate", f), join(into, "packages/gate", f), { recursive: true });
  mkdirSync(join(into, "node_modules/@tradeguard"), { recursive: true });
  for (const e of readdirSync(join(REPO, "node_modules")))
    if (e !== "@tradeguard" && e !== ".package-lock.json")
      symlinkSync(join(REPO, "node_modules", e), join(into, "node_modules", e));
  symlinkSync("../../packages/gate", join(into, "node_modules/@tradeguard/gate"));
  const tsc = join(REPO, "node_modules/typescript/bin/tsc");
  return spawnSync(process.execPath, [tsc, "-b", join(into, "tsconfig.build.json")], { encoding: "utf8" });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tg-prod-"));
  build = mkdtempSync(join(tmpdir(), "tg-build-"));
  chmodSync(dir, 0o755);
  const tsc = buildStage(build);
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  // Exactly what the Dockerfile's runtime stage copies before `npm ci --omit=dev`.
  for (const f of ["package.json", "package-lock.json", "bin", "RUNBOOK.md", "manifest.yml"])
    cpSync(join(REPO, f), join(dir, f), { recursive: true });
  cpSync(join(REPO, "packages/gate/package.json"), join(dir, "packages/gate/package.json"));
  cpSync(join(build, "dist"), join(dir, "dist"), { recursive: true });
  cpSync(join(build, "packages/gate/dist"), join(dir, "packages/gate/dist"), { recursive: true });
  for (const f of ["prepare.mjs", "healthcheck.mjs", "emergency_stop.sh"])
    cpSync(join(REPO, "scripts", f), join(dir, "scripts", f));
  const npm = spawnSync(
    "npm",
    ["ci", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"],
    {
      cwd: dir,
      encoding: "utf8",
      timeout: 600_000,
    },
  );
  expect(npm.status, npm.stdout + npm.stderr).toBe(0);
  expect(npm.stderr).toContain("production install; using the shipped dist/");
  home = mkdtempSync(join(tmpdir(), "tg-prod-home-"));
  if (asRoot) chownSync(home, NOBODY, NOBODY);
  env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    TRADEGUARD_HOME: home,
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
    LOG_LEVEL: "warn",
  };
}, 660_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(build, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

describe("production install (npm ci --omit=dev of a built dist/)", () => {
  it("installs no dev dependency and runs the CLI as an unprivileged user", () => {
    for (const dev of ["typescript", "vitest", "nock", "tsx", "@biomejs/biome", "fast-check"])
      expect(existsSync(join(dir, "node_modules", dev)), dev).toBe(false);
    expect(existsSync(join(dir, "node_modules", "ioredis"))).toBe(true);
    // The gate workspace is linked, not fetched: the bot runs the gate it was built with.
    expect(realpathSync(join(dir, "node_modules/@tradeguard/gate"))).toBe(realpathSync(join(dir, "packages/gate")));
    const du = spawnSync("du", ["-sm", join(dir, "node_modules")], { encoding: "utf8" }).stdout.split("\t")[0];
    console.info(`production node_modules: ${du} MB (running as ${asRoot ? "nobody" : "the test user"})`);
    const s = run([process.execPath, "bin/tradeguard.js", "status", "--json"]);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject({ mode: "active" });
  });

  it("starts the bot; the container health check passes while it runs and fails once it stopped", async () => {
    const port = String(await freePort());
    const [cmd, ...args] = unprivileged([process.execPath, "bin/tradeguard.js", "start"]);
    const bot: ChildProcess = spawn(cmd!, args, {
      cwd: dir,
      env: { ...env, HOST: "127.0.0.1", PORT: port },
      stdio: "ignore",
    });
    try {
      const check = () => run([process.execPath, "scripts/healthcheck.mjs"], { PORT: port }, 10_000);
      const until = Date.now() + 30_000;
      let last = check();
      while (last.status !== 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        last = check();
      }
      expect(last.status, last.stderr).toBe(0);
    } finally {
      bot.kill("SIGTERM");
      await new Promise((r) => bot.once("exit", r));
    }
    const after = run([process.execPath, "scripts/healthcheck.mjs"], { PORT: port }, 10_000);
    expect(after.status).toBe(1);
    expect(after.stderr).toMatch(/ECONNREFUSED/);
  });

  it("scripts/emergency_stop.sh finds the installed CLI and halts", () => {
    const r = run(["bash", join(dir, "scripts/emergency_stop.sh"), "drill from the production install"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/HALT-VERIFIED/);
    const none = run(["bash", join(dir, "scripts/emergency_stop.sh"), "x"], { TRADEGUARD_BIN: "/nonexistent" });
    expect(none.status).toBe(2);
  });
});
