// The gate is loaded by every trading process: it must not pull in Slack, ccxt, the bot or the config loader. It is
// its own package (packages/gate): what its entry points load is what its package.json declares, nothing more.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Every module the gate's entry point reaches (relative imports followed, packages collected). */
function graph(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    if (file.endsWith(".json")) return;
    const src = readFileSync(file, "utf8");
    // Type-only imports are erased at build time and load nothing.
    for (const m of src.matchAll(/^\s*(import|export)\s+(?!type\s)[^;]*?from\s+"([^"]+)"/gms)) {
      const spec = m[2]!;
      if (spec.startsWith(".")) visit(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      else packages.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
    for (const m of src.matchAll(/import\(\s*"([^"]+)"\s*\)/g)) packages.add(m[1]!);
  };
  visit(resolve(root, entry));
  return { files: [...files].map((f) => f.slice(root.length + 1)).sort(), packages: [...packages].sort() };
}

const gatePackage = JSON.parse(readFileSync(resolve(root, "packages/gate/package.json"), "utf8")) as {
  dependencies: Record<string, string>;
};
const external = (g: { packages: string[] }) => g.packages.filter((p) => !p.startsWith("node:"));

describe("@tradeguard/gate import graph", () => {
  it("the gate loads only its declared dependencies (ioredis, zod, luxon, decimal.js) and the package's own files", () => {
    const g = graph("packages/gate/src/gate/index.ts");
    expect(external(g)).toEqual(["decimal.js", "ioredis", "luxon", "zod"]);
    expect(external(g)).toEqual(Object.keys(gatePackage.dependencies).sort());
    for (const f of g.files) expect(f).toMatch(/^packages\/gate\/src\//);
    expect(g.files).toContain("packages/gate/src/market/data/nyse-calendar.json");
    expect(g.files).toContain("packages/gate/src/state/keys.ts");
  });

  it("the rate limiter loads zod only (the caller passes it an ioredis client)", () => {
    const g = graph("packages/gate/src/ratelimit/index.ts");
    expect(external(g)).toEqual(["zod"]);
    for (const f of g.files) expect(f).toMatch(/^packages\/gate\/src\/(ratelimit\/|state\/keys\.ts$)/);
  });

  it("the bot's `tradeguard/gate` and `tradeguard/ratelimit` load the package and nothing of the bot", () => {
    expect(graph("src/gate/index.ts")).toEqual({ files: ["src/gate/index.ts"], packages: ["@tradeguard/gate"] });
    expect(graph("src/ratelimit/index.ts").packages).toEqual(["@tradeguard/gate"]);
  });
});
