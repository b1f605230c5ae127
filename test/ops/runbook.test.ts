import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { editDistance, findSop, loadRunbook, parseRunbook, RUNBOOK_PATH, searchSops } from "../../src/ops/runbook.js";

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

  const mini = parseRunbook(
    [
      ["sop-panic", "Panic (halt trading)"],
      ["sop-halt-partial", "HALT-PARTIAL"],
      ["sop-rotate", "Key rotation"],
      ["sop-rotate-revoke", "Revoke the old key after a rotation"],
      ["sop-slippage", "Slippage"],
      ["sop-slippage-data", "Slippage data unusable"],
      ["sop-economic-event", "Economic event lock"],
      ["sop-time-sync", "Time sync"],
    ]
      .map(([a, t]) => `<a id="${a}"></a>\n## SOP: ${t}\nsteps\n`)
      .join("\n"),
  );
  const pick = (topic: string) => {
    const r = searchSops(mini, topic);
    return r.sop ? `${r.match}:${r.sop.anchor}` : r.suggestions.map((x) => x.anchor);
  };

  it("forgives typos (one edit in a short word, two in a longer one, transpositions count as one)", () => {
    expect(pick("pnaic")).toBe("typo:sop-panic");
    expect(pick("panik")).toBe("typo:sop-panic");
    expect(pick("rotatte")).toBe("typo:sop-rotate");
    expect(pick("halt-partail")).toBe("typo:sop-halt-partial");
    expect(pick("econmic evnt")).toBe("typo:sop-economic-event");
    expect(pick("slipage")).toBe("typo:sop-slippage");
    expect(pick("tmie")).toBe("typo:sop-time-sync");
    expect(editDistance("pnaic", "panic")).toBe(1);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("accepts a prefix when it names one SOP, and exact anchors, titles and words as before", () => {
    expect(pick("halt")).toBe("prefix:sop-halt-partial");
    expect(pick("econ")).toBe("prefix:sop-economic-event");
    expect(pick("#SOP-Time_Sync")).toBe("exact:sop-time-sync");
    expect(pick("HALT-PARTIAL")).toBe("exact:sop-halt-partial");
    expect(pick("old key")).toBe("words:sop-rotate-revoke");
  });

  it("lists the close matches, best first, when several fit, instead of 'not found'", () => {
    expect(pick("rot")).toEqual(["sop-rotate", "sop-rotate-revoke"]);
    expect(pick("rotation")).toEqual(["sop-rotate", "sop-rotate-revoke"]);
    expect(pick("slip")).toEqual(["sop-slippage", "sop-slippage-data"]);
    expect(searchSops(mini, "key").suggestions.length).toBeGreaterThan(1);
  });

  it("finds nothing (and offers nothing) for unrelated words, a wrong first letter or a too-short typo", () => {
    expect(pick("bananas")).toEqual([]);
    expect(pick("clock")).toEqual([]); // one edit from "lock", but people do not mistype the first letter
    expect(pick("")).toEqual([]);
    expect(findSop(mini, "zz")).toBeNull();
  });

  it("the real runbook: typos and prefixes of its anchors find them", () => {
    const sops = loadRunbook();
    for (const [topic, anchor] of [
      ["pnaic", "sop-panic"],
      ["resme", "sop-resume"],
      ["recn", "sop-recon"],
      ["api qouta", "sop-api-quota"],
      ["dead mans", "sop-dead-mans-switch"],
    ] as const)
      expect(findSop(sops, topic)?.anchor, topic).toBe(anchor);
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
