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

/** How a topic was matched: the anchor or title exactly, a prefix, all its words, or a near spelling (a typo). */
export type SopMatch = "exact" | "prefix" | "words" | "typo";

/** What a topic finds: the SOP (when one stands out) and the close ones to offer otherwise (best first, at most 5). */
export interface SopSearch {
  sop: Sop | null;
  match: SopMatch | null;
  suggestions: Sop[];
}

const SUGGESTIONS = 5;
/** Typos forgiven in a word, by its length: 1 for 4-5 letters, 2 for 6-9, 3 for longer (never for 3 or fewer). */
const typos = (len: number) => (len <= 3 ? 0 : len <= 5 ? 1 : len <= 9 ? 2 : 3);

/** Lower case, "sop-" and "#" dropped, separators as single spaces: "#SOP-Halt_Partial" → "halt partial". */
function normalise(s: string): string {
  return s
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/^#/, "")
    .replace(/^sop[-:\s]+/, "")
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions), stopping early past `max`. */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, prev2[j - 2]! + 1);
      cur.push(v);
      best = Math.min(best, v);
    }
    if (best > max) return max + 1;
    [prev2, prev] = [prev, cur];
  }
  return prev[b.length]!;
}

/** The words an SOP answers to: its anchor's and its title's. */
function vocabulary(s: Sop): string[] {
  return [...new Set([...normalise(s.anchor).split(" "), ...normalise(s.title).split(" ")].filter(Boolean))];
}

/**
 * How well one topic word matches an SOP's words, in points (integers: no float ties): the word itself 100, a word it
 * begins 90 (2+ letters), a word within its typo allowance with the same first letter (people rarely mistype that
 * one) 80 − 10 per edit, a shared stem of 5+ letters ("rotation" / "rotate") 60; else 0.
 */
function wordScore(w: string, vocab: string[]): number {
  let best = 0;
  for (const v of vocab) {
    if (v === w) return 100;
    if (w.length >= 2 && v.startsWith(w)) best = Math.max(best, 90);
    const allowed = typos(Math.min(w.length, v.length));
    if (allowed && w[0] === v[0]) {
      const d = editDistance(w, v, allowed);
      if (d <= allowed) best = Math.max(best, 80 - 10 * d);
    }
    let stem = 0;
    while (stem < w.length && stem < v.length && w[stem] === v[stem]) stem++;
    if (stem >= 5) best = Math.max(best, 60);
  }
  return best;
}

/**
 * Finds the SOP for a topic, forgiving typos and accepting prefixes: the exact anchor (with or without "sop-") or
 * title; else the one SOP whose anchor begins with the topic ("halt" → halt-partial); else the one whose title or
 * anchor holds every word (the old rule); else the best near match when it clearly beats the rest. When several fit
 * equally, no SOP is chosen and the closest are offered instead of "not found".
 */
export function searchSops(sops: Sop[], topic: string): SopSearch {
  const t = normalise(topic);
  if (!t) return { sop: null, match: null, suggestions: [] };
  const hit = (sop: Sop, match: SopMatch): SopSearch => ({ sop, match, suggestions: [] });
  const exact = sops.find((s) => normalise(s.anchor) === t || normalise(s.title) === t);
  if (exact) return hit(exact, "exact");
  const dashed = t.replace(/ /g, "-");
  const prefixed = sops.filter((s) => s.anchor.replace(/^sop-/, "").startsWith(dashed));
  if (prefixed.length === 1) return hit(prefixed[0]!, "prefix");
  const words = t.split(" ");
  const containing = sops.filter((s) =>
    words.every((w) => normalise(s.title).includes(w) || normalise(s.anchor).includes(w)),
  );
  if (containing.length === 1 && prefixed.length === 0) return hit(containing[0]!, "words");
  const scored = sops
    .map((s) => {
      const vocab = vocabulary(s);
      const per = words.map((w) => wordScore(w, vocab));
      // Every word must find something; the whole topic against the anchor counts too ("halt-partail").
      const anchor = s.anchor.replace(/^sop-/, "");
      const allowed = typos(dashed.length);
      const whole = dashed[0] === anchor[0] ? editDistance(dashed, anchor, allowed) : allowed + 1;
      const wholeScore = whole <= allowed ? 85 - 5 * whole : 0;
      const mean = per.every((x) => x > 0) ? Math.floor(per.reduce((a, b) => a + b, 0) / per.length) : 0;
      const boost = prefixed.includes(s) || containing.includes(s) ? 20 : 0;
      return { s, score: Math.max(mean, wholeScore) + boost };
    })
    .filter((x) => x.score > 0)
    .sort((a, b) => b.score - a.score || a.s.anchor.length - b.s.anchor.length);
  const [first, second] = scored;
  const clear = first && first.score >= 70 && (!second || first.score - second.score >= 10);
  if (clear && prefixed.length === 0 && containing.length === 0) return hit(first.s, "typo");
  return { sop: null, match: null, suggestions: scored.slice(0, SUGGESTIONS).map((x) => x.s) };
}

/** Finds the SOP for a topic (searchSops' choice), or null when none stands out. */
export function findSop(sops: Sop[], topic: string): Sop | null {
  return searchSops(sops, topic).sop;
}
