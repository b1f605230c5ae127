// Every finding any registered guard can raise names an SOP that exists in RUNBOOK.md (issue 15 §20).
//
// How the findings are enumerated, and why this way: the findings are read out of the guards' source with the
// TypeScript compiler — every object literal in a guard's file (and the src/jobs files it imports) shaped like a
// Finding (`key` and `severity`, with `title` or `detail`) is a finding site, and its `sop` is resolved symbolically
// through its own property, the `...base` it spreads, constants and imports. That enumeration is complete by
// construction: a finding added tomorrow, by anyone, is a new site and is checked without anyone writing fixtures for
// it, and a site whose SOP cannot be read (missing, or computed at run time) fails the test. A finding part built
// without its SOP (`Omit<Finding, "sop">`) takes the SOP of the file's assemblers (`{ ...base, ...part }`). Driving each guard's
// evaluate to each of its findings would prove only the findings someone thought of feeding (fifteen guards and
// ~120 findings, several changing while this is written), and could never show none was missed. The run-time side
// is still checked where it costs nothing: every guard without a probe is evaluated on absent and unreadable inputs
// built from its declared reads, and each SOP it returns must be one the enumeration found for it.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { type Finding, type KeyRead, ReadFailure } from "../../src/jobs/guard.js";
import { allGuards } from "../../src/jobs/registry.js";
import { loadRunbook } from "../../src/ops/runbook.js";

const JOBS = fileURLToPath(new URL("../../src/jobs/", import.meta.url));
const SRC = resolve(JOBS, "..");
const anchors = new Set(loadRunbook().map((s) => s.anchor));

const parsed = new Map<string, ts.SourceFile>();
function source(file: string): ts.SourceFile {
  let sf = parsed.get(file);
  if (!sf) {
    sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
    parsed.set(file, sf);
  }
  return sf;
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

/** Relative imports of a file: local name → [resolved .ts file, exported name]. */
function imports(file: string): Map<string, [string, string]> {
  const out = new Map<string, [string, string]>();
  for (const st of source(file).statements) {
    if (!ts.isImportDeclaration(st) && !ts.isExportDeclaration(st)) continue;
    const spec = st.moduleSpecifier;
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith(".")) continue;
    const target = resolve(dirname(file), spec.text.replace(/\.js$/, ".ts"));
    const named = ts.isImportDeclaration(st) ? st.importClause?.namedBindings : st.exportClause;
    if (named && (ts.isNamedImports(named) || ts.isNamedExports(named)))
      for (const el of named.elements) out.set(el.name.text, [target, (el.propertyName ?? el.name).text]);
  }
  return out;
}

/** The initializer of a `const name = …` anywhere in a file, or what an import of `name` points at. */
function definition(file: string, name: string, depth = 0): { file: string; init: ts.Expression } | null {
  if (depth > 6) return null;
  let found: ts.Expression | null = null;
  walk(source(file), (n) => {
    if (!found && ts.isVariableDeclaration(n) && ts.isIdentifier(n.name) && n.name.text === name && n.initializer)
      found = n.initializer;
  });
  if (found) return { file, init: found };
  const imp = imports(file).get(name);
  return imp ? definition(imp[0], imp[1], depth + 1) : null;
}

const prop = (o: ts.ObjectLiteralExpression, name: string) =>
  o.properties.find(
    (p) => (ts.isPropertyAssignment(p) || ts.isShorthandPropertyAssignment(p)) && p.name.getText() === name,
  );

/** The string values an expression can have (literals, constants, both arms of a ?:), or null when not static. */
function strings(file: string, e: ts.Expression): string[] | null {
  if (ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return [e.text];
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e)) return strings(file, e.expression);
  if (ts.isConditionalExpression(e)) {
    const [a, b] = [strings(file, e.whenTrue), strings(file, e.whenFalse)];
    return a && b ? [...a, ...b] : null;
  }
  if (ts.isIdentifier(e)) {
    const d = definition(file, e.text);
    return d ? strings(d.file, d.init) : null;
  }
  return null;
}

/** The SOPs of an object literal: its own `sop`, else those of the objects it spreads. */
function sopsOf(file: string, o: ts.ObjectLiteralExpression): string[] | null {
  const own = prop(o, "sop");
  if (own && ts.isPropertyAssignment(own)) return strings(file, own.initializer);
  if (own && ts.isShorthandPropertyAssignment(own)) return strings(file, own.name);
  for (const p of o.properties) {
    if (!ts.isSpreadAssignment(p) || !ts.isIdentifier(p.expression)) continue;
    const d = definition(file, p.expression.text);
    if (d && ts.isObjectLiteralExpression(d.init)) {
      const s = sopsOf(d.file, d.init);
      if (s) return s;
    }
  }
  return null;
}

interface Site {
  where: string;
  key: string;
  sops: string[] | null;
}

/**
 * The SOPs of the file's assemblers: literals with an SOP (their own or a base's) that take the finding itself from
 * elsewhere (`{ ...base, ...part }`, `{ ...part, sop: SOP_X }`, `{ ...base, key: p.key, … }`). Finding parts built without an SOP in that file
 * (`Omit<Finding, "sop">` values) become findings only there, so they carry these SOPs.
 */
function assembledSops(file: string): string[] {
  const out = new Set<string>();
  walk(source(file), (n) => {
    if (!ts.isObjectLiteralExpression(n)) return;
    const base = sopsOf(file, n);
    if (!base) return;
    const key = prop(n, "key");
    const borrowed =
      n.properties.some(
        (p) => ts.isSpreadAssignment(p) && !(ts.isIdentifier(p.expression) && sopsOfIdent(file, p.expression)),
      ) ||
      (key !== undefined && ts.isPropertyAssignment(key) && ts.isPropertyAccessExpression(key.initializer));
    if (borrowed) for (const a of base) out.add(a);
  });
  return [...out];
}

function sopsOfIdent(file: string, id: ts.Identifier): string[] | null {
  const d = definition(file, id.text);
  return d && ts.isObjectLiteralExpression(d.init) ? sopsOf(d.file, d.init) : null;
}

/** Every Finding-shaped object literal of `file`. */
function sites(file: string): Site[] {
  const out: Site[] = [];
  const assembled = assembledSops(file);
  walk(source(file), (n) => {
    if (!ts.isObjectLiteralExpression(n) || !prop(n, "key") || !prop(n, "severity")) return;
    if (!prop(n, "title") && !prop(n, "detail")) return;
    const sf = source(file);
    const line = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    const key = prop(n, "key")!;
    out.push({
      where: `${relative(SRC, file)}:${line}`,
      key: ts.isPropertyAssignment(key) ? key.initializer.getText(sf) : "key",
      sops: sopsOf(file, n) ?? (assembled.length ? assembled : null),
    });
  });
  return out;
}

/** A guard's file and the src/jobs files it imports (its helpers), without the engine's own modules. */
function guardFiles(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f) || !f.startsWith(JOBS) || f.includes("/runner") || /\/(guard|registry|alerts)\.ts$/.test(f)) return;
    seen.add(f);
    for (const [target] of imports(f).values()) visit(target);
  };
  visit(entry);
  return [...seen];
}

/** Registry order: each element of allGuards with the file its binding is imported from. */
function registryFiles(): string[] {
  const file = join(JOBS, "registry.ts");
  const imp = imports(file);
  const out: string[] = [];
  walk(source(file), (n) => {
    if (
      ts.isVariableDeclaration(n) &&
      n.name.getText() === "allGuards" &&
      n.initializer &&
      ts.isArrayLiteralExpression(n.initializer)
    )
      for (const el of n.initializer.elements)
        out.push(imp.get(el.getText())?.[0] ?? `(not imported: ${el.getText()})`);
  });
  return out;
}

const files = registryFiles();
const byGuard = allGuards.map((g, i) => ({
  guard: g,
  file: files[i]!,
  sites: guardFiles(files[i]!).flatMap(sites),
}));

describe("every guard finding has its SOP in RUNBOOK.md", () => {
  it("the enumeration sees every registered guard and its findings", () => {
    expect(files).toHaveLength(allGuards.length);
    const empty = byGuard.filter((g) => g.sites.length === 0).map((g) => g.guard.name);
    expect(empty, "guards in which no finding literal was found").toEqual([]);
    expect(byGuard.reduce((n, g) => n + g.sites.length, 0)).toBeGreaterThan(allGuards.length * 2);
  });

  it.each(byGuard.map((g) => [g.guard.name, g] as const))(
    "%s: each finding's SOP is readable and exists",
    (_name, g) => {
      const unresolved = g.sites.filter((s) => !s.sops?.length).map((s) => `${s.where} key ${s.key}`);
      expect(unresolved, "findings whose SOP cannot be read from the source").toEqual([]);
      const missing = g.sites.flatMap((s) =>
        (s.sops ?? []).filter((a) => !anchors.has(a)).map((a) => `${a} (${s.where}, key ${s.key})`),
      );
      expect(missing, "SOP anchors missing from RUNBOOK.md").toEqual([]);
    },
  );

  it("the runner's own findings (data invalid, guard failed or overran) have their SOPs", () => {
    const runner = sites(join(JOBS, "runner", "evaluate.ts"));
    expect(runner.length).toBeGreaterThanOrEqual(2);
    for (const s of runner)
      expect(
        s.sops?.every((a) => anchors.has(a)),
        `${s.where} ${s.sops}`,
      ).toBe(true);
  });

  it("at run time, guards evaluated on absent and unreadable inputs return only SOPs the enumeration found", () => {
    const now = new Date("2026-12-02T15:00:00.000Z");
    let evaluated = 0;
    for (const { guard, sites: found } of byGuard) {
      if (guard.probe) continue; // its evaluate needs a probe result
      const config = guard.config.safeParse({});
      if (!config.success) continue;
      const reads = guard.reads(config.data) as Record<string, KeyRead>;
      const empty = (r: KeyRead) => (r.type === "string" ? null : r.type === "hash" ? {} : []);
      const inputs = [
        Object.fromEntries(Object.entries(reads).map(([n, r]) => [n, empty(r)])),
        Object.fromEntries(
          Object.entries(reads).map(([n, r]) => [
            n,
            r.onError === "value" ? new ReadFailure(r.key, "WRONGTYPE") : empty(r),
          ]),
        ),
      ];
      const known = new Set(found.flatMap((s) => s.sops ?? []));
      for (const values of inputs) {
        const findings: Finding[] = guard.evaluate({ values }, now, config.data);
        evaluated++;
        for (const f of findings) {
          expect(anchors.has(f.sop), `${guard.name} ${f.key}: ${f.sop}`).toBe(true);
          expect(known.has(f.sop), `${guard.name} ${f.key}: ${f.sop} is not among ${[...known]}`).toBe(true);
        }
      }
    }
    expect(evaluated).toBeGreaterThan(4);
  });
});
