// Helpers for the anchoring tests: a throwaway signing key, and a chain rewritten as someone holding the key could.
import { generateKeyPairSync } from "node:crypto";
import { buildEntry, type ChainHead, EMPTY_HEAD, serializeEntry } from "../../src/audit/chain.js";
import type { AuditKeys } from "../../src/audit/keyfile.js";
import type { testRedis } from "../support/redis.js";

/** A fresh Ed25519 signing key. */
export function keys(): AuditKeys {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKey, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** Rewrites the Redis chain from `seq` on: new content at `seq`, every later entry relinked and re-signed. */
export async function rewriteChain(t: ReturnType<typeof testRedis>, seq: number, signer: AuditKeys): Promise<void> {
  const rows = await t.redis.xrange(t.keys.auditLog, "-", "+");
  let head: ChainHead = EMPTY_HEAD;
  const out = rows.map(([, f]) => {
    const e = JSON.parse(f[1]!);
    if (e.seq < seq) {
      head = { seq: e.seq, hash: e.hash };
      return e;
    }
    const details = e.seq === seq ? { ...e.details, rewritten: true } : e.details;
    const n = buildEntry(head, { ts: e.ts, actor: e.actor, action: e.action, details }, signer.privateKey);
    head = { seq: n.seq, hash: n.hash };
    return n;
  });
  // A stream id cannot go back below its top, so the rewriter replaces the whole stream.
  await t.redis.del(t.keys.auditLog);
  for (const e of out) await t.redis.xadd(t.keys.auditLog, `${e.seq}-0`, "e", serializeEntry(e));
}
