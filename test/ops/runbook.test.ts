import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { findSop, loadRunbook, parseRunbook, RUNBOOK_PATH } from "../../src/ops/runbook.js";

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("runbook", () => {
  it("parses SOP sections with their anchors", () => {
    const sops = parseRunbook(
      '# T\n\n<a id="sop-a"></a>\n## SOP: Alpha\nstep 1\n\n## Not an SOP\nx\n<a id="sop-b"></a>\n## SOP: Beta\nstep 2\n',
    );
    expect(sops).toEqual([
      { anchor: "sop-a", title: "Alpha", body: "step 1" },
      { anchor: "sop-b", title: "Beta", body: "step 2" },
    ]);
  });

  it("finds an SOP by anchor, by anchor without sop-, and by words of the title", () => {
    const sops = loadRunbook();
    expect(findSop(sops, "sop-panic")?.anchor).toBe("sop-panic");
    expect(findSop(sops, "resume")?.anchor).toBe("sop-resume");
    expect(findSop(sops, "halt partial")?.anchor).toBe("sop-halt-partial");
    expect(findSop(sops, "no such thing")).toBeNull();
  });

  it("every SOP anchor the code links to exists in RUNBOOK.md", () => {
    const anchors = new Set(loadRunbook().map((s) => s.anchor));
    const used = new Set<string>();
    for (const f of sourceFiles(new URL("../../src", import.meta.url).pathname)) {
      for (const m of readFileSync(f, "utf8").matchAll(/["'`](sop-[a-z0-9-]+)["'`]/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(3);
    expect([...used].filter((a) => !anchors.has(a))).toEqual([]);
    expect(readFileSync(RUNBOOK_PATH, "utf8")).toContain("# tradeguard runbook");
  });
});
