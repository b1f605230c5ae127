// A trading process installs the gate alone, not the bot: `npm pack` of packages/gate (its `prepack` compiles it),
// then `npm install <tarball>` in an empty project — the dependencies come from the npm registry, as on a trading
// host — and that project imports it, checks orders against the test Redis, and compiles TypeScript against its
// types. The size of what it installed is printed (compare the bot's in production-install.test.ts).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const REPO = join(import.meta.dirname, "../..");
const GATE = join(REPO, "packages/gate");
let tmp: string;
let app: string;
let packed: { filename: string; files: { path: string }[]; size: number; unpackedSize: number };

const npm = (args: string[], cwd: string) =>
  spawnSync("npm", [...args, "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd,
    encoding: "utf8",
    timeout: 600_000,
  });

/** Every package directory under node_modules (scoped ones as @scope/name). */
function installed(modules: string): string[] {
  if (!existsSync(modules)) return [];
  return readdirSync(modules)
    .filter((e) => !e.startsWith("."))
    .flatMap((e) => (e.startsWith("@") ? readdirSync(join(modules, e)).map((s) => `${e}/${s}`) : [e]))
    .sort();
}

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "tg-gate-pkg-"));
  const pack = npm(["pack", "--json", "--pack-destination", tmp], GATE);
  expect(pack.status, pack.stdout + pack.stderr).toBe(0);
  packed = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("[")))[0];
  app = join(tmp, "trading-process");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "trading-process", private: true, type: "module" }));
  const install = npm(["install", "--prefer-offline", join(tmp, packed.filename)], app);
  expect(install.status, install.stdout + install.stderr).toBe(0);
}, 660_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("@tradeguard/gate installed alone (npm pack, then npm install of the tarball)", () => {
  it("the tarball holds the package.json, its README and the compiled dist/ only", () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain("package.json");
    expect(paths).toContain("dist/gate/index.js");
    expect(paths).toContain("dist/gate/index.d.ts");
    expect(paths).toContain("dist/market/data/nyse-calendar.json");
    expect(paths.filter((p) => !["package.json", "README.md"].includes(p) && !p.startsWith("dist/"))).toEqual([]);
    expect(paths.filter((p) => p.endsWith(".ts") && !p.endsWith(".d.ts"))).toEqual([]);
    expect(paths.filter((p) => p.endsWith(".tsbuildinfo"))).toEqual([]);
  });

  it("installs the gate's dependencies and nothing of the bot", () => {
    const modules = join(app, "node_modules");
    const all = installed(modules);
    for (const dep of ["@tradeguard/gate", "ioredis", "zod", "decimal.js", "luxon"]) expect(all, dep).toContain(dep);
    const bot = all.filter((p) =>
      /^(ccxt|tradeguard|@slack\/|@aws-sdk\/|@smithy\/|@resvg\/|vega|pino|commander)/.test(p),
    );
    expect(bot).toEqual([]);
    for (const dev of ["typescript", "vitest", "tsx", "@types/node"]) expect(all, dev).not.toContain(dev);
    const mb = spawnSync("du", ["-sk", modules], { encoding: "utf8" }).stdout.split("\t")[0];
    console.info(
      `@tradeguard/gate alone: node_modules ${(Number(mb) / 1024).toFixed(1)} MB, ${all.length} packages ` +
        `(${all.join(", ")}); tarball ${(packed.size / 1024).toFixed(0)} kB, unpacked ${(packed.unpackedSize / 1024).toFixed(0)} kB`,
    );
  });

  it("a trading process imports it and its checks obey the mode tradeguard sets in Redis", () => {
    const prefix = `t${randomBytes(5).toString("hex")}:`;
    const script = `
      import { Redis } from "ioredis";
      import { createGate, KEY_SCHEMA_VERSION, MARKET_KEYS } from "@tradeguard/gate";
      import { createRateLimiter } from "@tradeguard/gate/ratelimit";
      import { createKeys } from "@tradeguard/gate/keys";
      const url = process.env.REDIS_URL, prefix = process.env.REDIS_PREFIX, k = createKeys(prefix);
      const redis = new Redis(url);
      await redis.set(k.raw(MARKET_KEYS.heartbeat), String(Date.now()));
      await redis.set(k.mode, "active");
      const gate = await createGate({ url, prefix, marketRulesBrokers: [] });
      const order = { broker: "paper", account: "A1", strategy: "s", symbol: "AAPL", side: "buy", qty: 1, price: 1 };
      const active = gate.check(order);
      await redis.set(k.mode, "halt");
      await gate.refresh();
      const halted = gate.check(order);
      const limiter = createRateLimiter(redis, { prefix, limits: { "x:orders": { rate: 1, per: 60000 } } });
      const first = await limiter.acquire("x:orders"), second = await limiter.acquire("x:orders");
      await gate.close();
      await redis.quit();
      console.log(JSON.stringify({ KEY_SCHEMA_VERSION, halted, active, first: first.allowed, second: second.allowed }));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: app,
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", REDIS_URL: inject("redisUrl"), REDIS_PREFIX: prefix },
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.KEY_SCHEMA_VERSION).toBe(1);
    expect(out.halted.allow).toBe(false);
    expect(out.halted.reasons.join(" ")).toMatch(/^mode_halt:/);
    expect(out.active).toMatchObject({ allow: true });
    expect([out.first, out.second]).toEqual([true, false]);
  });

  it("TypeScript compiles a trading process against the installed types", () => {
    writeFileSync(
      join(app, "uses-gate.ts"),
      [
        'import { createGate, type CheckResult, type Gate, KEY_SCHEMA_VERSION, type OrderCheck } from "@tradeguard/gate";',
        'import { createRateLimiter, type RateLimiter } from "@tradeguard/gate/ratelimit";',
        'import { createKeys, type Mode } from "@tradeguard/gate/keys";',
        "const order: OrderCheck = { broker: 'b', account: 'a', strategy: 's', symbol: 'X', side: 'sell', qty: 1, price: 2 };",
        "export async function run(): Promise<[CheckResult, Mode, number, RateLimiter | null]> {",
        "  const gate: Gate = await createGate({ prefix: createKeys('p:').prefix });",
        "  return [gate.check(order), gate.view().mode, KEY_SCHEMA_VERSION, typeof createRateLimiter === 'function' ? null : null];",
        "}",
        "// @ts-expect-error: a quantity is a number",
        "export const bad: OrderCheck = { ...order, qty: '1' };",
      ].join("\n"),
    );
    const tsc = spawnSync(
      process.execPath,
      [
        join(REPO, "node_modules/typescript/bin/tsc"),
        "--noEmit",
        "--strict",
        "--skipLibCheck",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        "--typeRoots",
        join(REPO, "node_modules/@types"),
        "--types",
        "node",
        "uses-gate.ts",
      ],
      { cwd: app, encoding: "utf8", timeout: 55_000 },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  }, 60_000);
});
