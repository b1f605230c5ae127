// `audit verify`'s progress hook (verifySource's onProgress, which the CLI's bar draws): counts that only grow, the
// head's seq as the total, and a last call at the whole chain — on one thread and on several, file and Redis alike.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type AuditEntry, buildEntry, EMPTY_HEAD, serializeEntry } from "../../src/audit/chain.js";
import { PROGRESS_EVERY, verifySource } from "../../src/audit/verify-parallel.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");

function chainFile(n: number): string {
  const lines: string[] = [];
  let head = EMPTY_HEAD;
  for (let i = 0; i < n; i++) {
    const e: AuditEntry = buildEntry(
      head,
      { ts: new Date(Date.UTC(2026, 11, 1) + i).toISOString(), actor: "U1", action: "mode.set", details: { i } },
      privateKey,
    );
    lines.push(serializeEntry(e));
    head = { seq: e.seq, hash: e.hash };
  }
  const file = join(mkdtempSync(join(tmpdir(), "tg-verify-progress-")), "audit.jsonl");
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const N = 3 * PROGRESS_EVERY + 123;
const file = chainFile(N);

describe("verifySource onProgress", () => {
  for (const workers of [1, 2]) {
    it(`${workers === 1 ? "on one thread" : "on worker threads"}: growing counts, the head as total, all at the end`, async () => {
      const seen: { done: number; total: number | null }[] = [];
      const how: string[] = [];
      const r = await verifySource({ kind: "file", file }, publicKey, {
        workers,
        minEntries: 1,
        tailSignatures: 10, // few signatures: this is about the counting
        onProgress: (p) => seen.push(p),
        report: (h) => how.push(h),
      });
      expect(r).toEqual({ ok: true, entries: N, firstBad: null, reason: null });
      expect(how).toEqual([workers === 1 ? "sequential" : "parallel"]);
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.every((p) => p.total === N)).toBe(true);
      for (let i = 1; i < seen.length; i++) expect(seen[i]!.done).toBeGreaterThan(seen[i - 1]!.done);
      expect(seen.at(-1)!.done).toBe(N);
    });
  }

  it("without onProgress the result is the same (the hook is optional)", async () => {
    expect(await verifySource({ kind: "file", file }, publicKey, { workers: 1, tailSignatures: 10 })).toMatchObject({
      ok: true,
      entries: N,
    });
  });
});
