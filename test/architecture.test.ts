// The shape of the house, checked: no source file over 400 lines, no import cycles, and no import that runs upward
// through the layers (docs/ARCHITECTURE.md). Type-only imports count: a type is a dependency too. The same rules hold
// in the gate package (packages/gate/src, laid out like src/), which in addition never reaches outside itself: it
// imports only its own files, node built-ins and the dependencies its package.json declares.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));
const GATE = fileURLToPath(new URL("../packages/gate/", import.meta.url));
const GATE_SRC = join(GATE, "src/");

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

/** The bot's paths (under src/) of the modules that moved into the gate package, and the export each re-exports. */
const MOVED: Record<string, string> = {
  "gate/index.ts": "@tradeguard/gate",
  "ratelimit/index.ts": "@tradeguard/gate/ratelimit",
  "state/keys.ts": "@tradeguard/gate/keys",
  "market/calendar.ts": "@tradeguard/gate/calendar",
  "market/pdt.ts": "@tradeguard/gate/pdt",
  "market/locate.ts": "@tradeguard/gate/locate",
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return files(p);
    return p.endsWith(".ts") ? [p] : [];
  });
}

const all = [...files(SRC), ...files(GATE_SRC)];

/** Source files are named relative to the repository (src/…, packages/gate/src/…). */
const REPO = join(SRC, "..");
const name = (file: string) => relative(REPO, file);
const rootOf = (file: string) => (file.startsWith(GATE_SRC) ? GATE_SRC : SRC);
/** The top-level unit of a source file: its directory under its src/, or the file itself at the root. */
const unit = (file: string) => relative(rootOf(file), file).split("/")[0]!;
const layerOf = (file: string) => LAYERS.findIndex((l) => l.includes(unit(file)));

/** Import specifiers of a file (static, dynamic and `export … from`; not those in comments). */
const specifiersOf = (file: string) =>
  [
    ...readFileSync(file, "utf8")
      .replace(/^\s*\/\/.*$/gm, "")
      .matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g),
  ].map((m) => m[1]!);

/** Relative imports of a file, resolved to .ts paths under its own src/ (the package cannot reach the bot's). */
function importsOf(file: string): string[] {
  return specifiersOf(file)
    .filter((s) => s.startsWith("."))
    .map((s) => resolve(dirname(file), s).replace(/\.js$/, ".ts"))
    .filter((p) => p.startsWith(rootOf(file)) && p.endsWith(".ts"));
}

const graph = new Map(all.map((f) => [f, importsOf(f)]));

describe("architecture", () => {
  it("every source file belongs to a layer", () => {
    expect(all.filter((f) => layerOf(f) < 0).map(name)).toEqual([]);
  });

  it("no import runs upward through the layers", () => {
    const upward: string[] = [];
    for (const [from, tos] of graph)
      for (const to of tos) if (layerOf(to) > layerOf(from)) upward.push(`${name(from)} → ${name(to)}`);
    expect(upward).toEqual([]);
  });

  it("has no import cycles", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (f: string) => {
      if (state.get(f) === "done") return;
      if (state.get(f) === "open") {
        cycles.push([...stack.slice(stack.indexOf(f)), f].map(name).join(" → "));
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

  it("the gate package imports only itself, node built-ins and its declared dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(GATE, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const declared = new Set(Object.keys(pkg.dependencies));
    const outside: string[] = [];
    for (const f of all.filter((x) => x.startsWith(GATE_SRC)))
      for (const s of specifiersOf(f)) {
        const bare = s.startsWith("@") ? s.split("/").slice(0, 2).join("/") : s.split("/")[0]!;
        const ok = s.startsWith(".")
          ? resolve(dirname(f), s).startsWith(GATE_SRC)
          : s.startsWith("node:") || declared.has(bare);
        if (!ok) outside.push(`${name(f)} → ${s}`);
      }
    expect(outside).toEqual([]);
  });

  it("where a module moved into the gate package, the bot's old path is one re-export of the package", () => {
    // Kept so the bot's imports did not churn with the move; new code imports `@tradeguard/gate/…` directly.
    for (const [old, entry] of Object.entries(MOVED)) {
      const code = readFileSync(join(SRC, old), "utf8").replace(/^\/\/.*\n/gm, "");
      expect(code, old).toBe(`export * from "${entry}";\n`);
    }
  });

  it("no shims: a module re-exports another's names only where it is a package entry", () => {
    // The package entries (tradeguard/gate, tradeguard/ratelimit, the gate package's own) publish names from their
    // internals; log.ts and state/redis.ts re-export the types of the libraries they wrap; the bot's paths of the
    // modules that moved into the gate package are re-exports of it (MOVED). Everything else imports from the owner.
    const allowed = new Set([
      "src/log.ts",
      "src/state/redis.ts",
      ...Object.keys(MOVED).map((f) => `src/${f}`),
      "packages/gate/src/gate/index.ts",
      "packages/gate/src/ratelimit/index.ts",
    ]);
    const shims: string[] = [];
    for (const f of all) {
      const rel = name(f);
      if (allowed.has(rel)) continue;
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/^export\s+(?:type\s+)?(?:\*|\{[^}]*\})\s*(?:from\s+"[^"]+")?\s*;/gm))
        shims.push(`${rel}: ${m[0].replace(/\s+/g, " ")}`);
    }
    expect(shims).toEqual([]);
  });

  it("no source file is over 400 lines", () => {
    const long = all
      .map((f) => ({ file: name(f), lines: readFileSync(f, "utf8").replace(/\n$/, "").split("\n").length }))
      .filter((x) => x.lines > 400);
    expect(long).toEqual([]);
  });

  it("the checks see real imports (a sanity check of the parser)", () => {
    const main = graph.get(join(SRC, "main.ts")) ?? [];
    expect(main.map((f) => relative(SRC, f))).toContain("ops/index.ts");
    expect(layerOf(join(SRC, "bot/app.ts"))).toBeGreaterThan(layerOf(join(SRC, "ops/panic.ts")));
    const gate = graph.get(join(GATE_SRC, "gate/index.ts")) ?? [];
    expect(gate.map(name)).toContain("packages/gate/src/gate/gate-impl.ts");
    expect(layerOf(join(GATE_SRC, "gate/index.ts"))).toBeGreaterThan(layerOf(join(GATE_SRC, "state/keys.ts")));
  });
});
