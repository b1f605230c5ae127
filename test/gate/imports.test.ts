// The gate is loaded by every trading process: it must not pull in Slack, ccxt, the bot or the config loader.
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

describe("tradeguard/gate import graph", () => {
  it("loads only ioredis, zod, luxon, decimal.js (and node built-ins), tradeguard's market modules, state/keys and the Redis address parser", () => {
    const g = graph("src/gate/index.ts");
    expect(g.packages.filter((p) => !p.startsWith("node:"))).toEqual(["decimal.js", "ioredis", "luxon", "zod"]);
    for (const f of g.files) expect(f).toMatch(/^src\/(gate\/|market\/|state\/keys\.ts$|redis-url\.ts$)/);
    expect(g.files).toContain("src/market/data/nyse-calendar.json");
  });
});
