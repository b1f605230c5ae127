// The gate package (packages/gate) is versioned with the key schema it reads: its major version is
// KEY_SCHEMA_VERSION, the bot depends on exactly the version in the tree and links the workspace, and the bot's
// `tradeguard/gate` and `tradeguard/ratelimit` are the package's API, unchanged.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as gate from "../../packages/gate/src/gate/index.js";
import * as limiter from "../../packages/gate/src/ratelimit/index.js";
import { KEY_SCHEMA_VERSION } from "../../packages/gate/src/state/keys.js";
import * as botGate from "../../src/gate/index.js";
import * as botLimiter from "../../src/ratelimit/index.js";

const REPO = join(import.meta.dirname, "../..");
const GATE = join(REPO, "packages/gate");
const json = (p: string) => JSON.parse(readFileSync(p, "utf8"));
const pkg = json(join(GATE, "package.json")) as {
  name: string;
  version: string;
  files: string[];
  exports: Record<string, string | Record<string, string>>;
  dependencies: Record<string, string>;
};
const root = json(join(REPO, "package.json")) as {
  workspaces: string[];
  dependencies: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
};

describe("@tradeguard/gate: versioned with the key schema", () => {
  it("its major version is KEY_SCHEMA_VERSION, which the gate exports", () => {
    expect(pkg.name).toBe("@tradeguard/gate");
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Number(pkg.version.split(".")[0])).toBe(KEY_SCHEMA_VERSION);
    expect(gate.KEY_SCHEMA_VERSION).toBe(KEY_SCHEMA_VERSION);
  });

  it("the bot depends on exactly this version, as a workspace the lockfile links", () => {
    expect(root.workspaces).toEqual(["packages/gate"]);
    expect(root.dependencies[pkg.name]).toBe(pkg.version);
    const lock = json(join(REPO, "package-lock.json")) as { packages: Record<string, Record<string, unknown>> };
    expect(lock.packages["node_modules/@tradeguard/gate"]).toMatchObject({ resolved: "packages/gate", link: true });
    expect(lock.packages["packages/gate"]).toMatchObject({ name: pkg.name, version: pkg.version });
    expect(lock.packages["packages/gate"]?.dependencies).toEqual(pkg.dependencies);
  });

  it("pins each dependency to the version the bot itself uses", () => {
    for (const [dep, version] of Object.entries(pkg.dependencies)) expect(root.dependencies[dep], dep).toBe(version);
  });

  it("every export names its source, and its built files beside it in dist/ (the only directory shipped)", () => {
    expect(pkg.files).toContain("dist");
    for (const [entry, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") continue; // ./package.json
      const src = target["@tradeguard/source"]!;
      expect(existsSync(join(GATE, src)), `${entry}: ${src}`).toBe(true);
      const base = src.replace(/^\.\/src\//, "./dist/").replace(/\.ts$/, "");
      expect(target, entry).toEqual({ "@tradeguard/source": src, types: `${base}.d.ts`, default: `${base}.js` });
      expect(Object.keys(target)[0], "the source condition must come before types").toBe("@tradeguard/source");
    }
  });

  it("tradeguard/gate and tradeguard/ratelimit are the package's API, the same functions", () => {
    expect(root.exports["./gate"]?.default).toBe("./dist/gate/index.js");
    expect(root.exports["./ratelimit"]?.default).toBe("./dist/ratelimit/index.js");
    expect(Object.keys(botGate).sort()).toEqual(Object.keys(gate).sort());
    expect(botGate.createGate).toBe(gate.createGate);
    expect(Object.keys(botLimiter).sort()).toEqual(Object.keys(limiter).sort());
    expect(botLimiter.createRateLimiter).toBe(limiter.createRateLimiter);
  });
});
