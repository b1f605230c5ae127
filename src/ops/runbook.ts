// SOPs come from RUNBOOK.md, the one source: sections headed `## SOP: <title>` under an `<a id="sop-...">` anchor.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export interface Sop {
  anchor: string;
  title: string;
  /** The section's markdown body (without the heading). */
  body: string;
}

/** The repository's RUNBOOK.md (same relative place from src/ and dist/). */
export const RUNBOOK_PATH = fileURLToPath(new URL("../../RUNBOOK.md", import.meta.url));

/** Parses SOP sections out of runbook markdown. */
export function parseRunbook(markdown: string): Sop[] {
  const out: Sop[] = [];
  const lines = markdown.split("\n");
  let anchor: string | null = null;
  let current: Sop | null = null;
  for (const line of lines) {
    const a = /^<a id="([^"]+)"><\/a>\s*$/.exec(line);
    if (a) {
      anchor = a[1]!;
      continue;
    }
    const h = /^## (.+)$/.exec(line);
    if (h) {
      if (current) out.push(current);
      current = anchor ? { anchor, title: h[1]!.replace(/^SOP:\s*/, "").trim(), body: "" } : null;
      anchor = null;
      continue;
    }
    if (/^# /.test(line)) {
      if (current) out.push(current);
      current = null;
      continue;
    }
    if (current) current.body += `${line}\n`;
  }
  if (current) out.push(current);
  return out.map((s) => ({ ...s, body: s.body.trim() }));
}

/** Loads the SOPs from RUNBOOK.md. */
export function loadRunbook(path = RUNBOOK_PATH): Sop[] {
  return parseRunbook(readFileSync(path, "utf8"));
}

/** Finds the SOP for a topic: exact anchor (with or without "sop-"), else a title or anchor containing the words. */
export function findSop(sops: Sop[], topic: string): Sop | null {
  const t = topic.trim().toLowerCase().replace(/^#/, "");
  if (!t) return null;
  const exact = sops.find((s) => s.anchor === t || s.anchor === `sop-${t}`);
  if (exact) return exact;
  const words = t.split(/\s+/);
  return sops.find((s) => words.every((w) => s.title.toLowerCase().includes(w) || s.anchor.includes(w))) ?? null;
}
