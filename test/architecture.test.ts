// The shape of the house, checked: no source file over 400 lines, no import cycles, and no import that runs upward
// through the layers (docs/ARCHITECTURE.md). Type-only imports count: a type is a dependency too.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Lowest first: a module may import its own layer and the layers below it, never one above. */
const LAYERS: string[][] = [
  [
    "errors.ts",
    "log.ts",
    "metrics.ts",
    "metrics-catalog.ts",
    "monitoring",
    "config.ts",
    "config-schema.ts",
    "config-guards.ts",
    "config-secrets.ts",
    "config-redis.ts",
    "redis-url.ts",
    "notify.ts",
  ],
  ["state"],
  ["market", "ratelimit", "audit", "recon", "secrets", "cost"],
  ["gate", "brokers", "s3"],
  ["ops"],
  ["jobs", "reports"],
  ["runtime.ts"],
  ["bot"],
  ["handlers"],
  ["main.ts", "services.ts", "notify-factory.ts", "process-guard.ts", "doctor"],
  ["cli"],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const all = files(SRC);

/** The top-level unit of a source file: its directory under src/, or the file itself at the root. */
const unit = (file: string) => relative(SRC, file).split("/")[0]!;
const layerOf = (file: string) => LAYERS.findIndex((l) => l.includes(unit(file)));

/** Relative imports of a file (static, dynamic and `export … from`), resolved to .ts paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
    out.push(resolve(dirname(file), m[1]!).replace(/\.js$/, ".ts"));
  }
  return out.filter((p) => p.startsWith(SRC) && p.endsWith(".ts"));
}

const graph = new Map(all.map((f) => [f, importsOf(f)]));

describe("architecture", () => {
  it("every source file belongs to a layer", () => {
    expect(all.filter((f) => layerOf(f) < 0).map((f) => relative(SRC, f))).toEqual([]);
  });

  it("no import runs upward through the layers", () => {
    const upward: string[] = [];
    for (const [from, tos] of graph)
      for (const to of tos)
        if (layerOf(to) > layerOf(from)) upward.push(`${relative(SRC, from)} → ${relative(SRC, to)}`);
    expect(upward).toEqual([]);
  });

  it("has no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (f: string) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map((x) => relative(SRC, x)).join(" → "));
        return;
      }
      state.set(f, "open");
      stack.push(f);
      for (const to of graph.get(f) ?? []) visit(to);
      stack.pop();
      state.set(f, "done");
    };
    for (const f of all) visit(f);
    expect(cycles).toEqual([]);
  });

  it("no shims: a module re-exports another's names only where it is a package entry", () => {
    // The package entries (tradeguard/gate, tradeguard/ratelimit) publish names from their internals; log.ts and
    // state/redis.ts re-export the types of the libraries they wrap. Everything else imports from the owner.
    const allowed = new Set(["gate/index.ts", "ratelimit/index.ts", "log.ts", "state/redis.ts"]);
    const shims: string[] = [];
    for (const f of all) {
      const rel = relative(SRC, f);
      if (allowed.has(rel)) continue;
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/^export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s*(?:from\s+"[^"]+")?\s*;/gm))
        shims.push(`${rel}: ${m[0].replace(/\s+/g, " ")}`);
    }
    expect(shims).toEqual([]);
  });

  it("no source file is over 400 lines", () => {
    const long = all
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, "utf8").replace(/\n$/, "").split("\n").length }))
      .filter((x) => x.lines > 400);
    expect(long).toEqual([]);
  });

  it("the checks see real imports (a sanity check of the parser)", () => {
    const main = graph.get(join(SRC, "main.ts")) ?? [];
    expect(main.map((f) => relative(SRC, f))).toContain("ops/index.ts");
    expect(layerOf(join(SRC, "bot/app.ts"))).toBeGreaterThan(layerOf(join(SRC, "ops/panic.ts")));
  });
});
