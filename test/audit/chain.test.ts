import { generateKeyPairSync } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/audit/canonical.js";
import {
  type AuditEntry,
  buildEntry,
  EMPTY_HEAD,
  GENESIS_HASH,
  hashBody,
  serializeEntry,
  verifyChain,
} from "../../src/audit/chain.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");

function chain(n: number, key = privateKey): AuditEntry[] {
  const out: AuditEntry[] = [];
  let head = EMPTY_HEAD;
  for (let i = 0; i < n; i++) {
    const e = buildEntry(
      head,
      {
        ts: `2026-11-25T10:00:${String(i % 60).padStart(2, "0")}.000Z`,
        actor: "U1",
        action: "test",
        details: { i, nested: { b: 1, a: [1, "x"] } },
      },
      key,
    );
    out.push(e);
    head = { seq: e.seq, hash: e.hash };
  }
  return out;
}
const lines = (es: AuditEntry[]) => es.map(serializeEntry);

/** Rebuilds hashes from `from` on (what an attacker without the key can do), keeping the old signatures. */
function relink(es: AuditEntry[], from: number, key?: typeof privateKey): AuditEntry[] {
  const out = es.map((e) => ({ ...e }));
  for (let i = from; i < out.length; i++) {
    const e = out[i]!;
    e.seq = i + 1;
    e.prev = i === 0 ? GENESIS_HASH : out[i - 1]!.hash;
    e.hash = hashBody(e);
    if (key) e.sig = buildEntry({ seq: e.seq - 1, hash: e.prev }, e, key).sig;
  }
  return out;
}

describe("canonicalJson", () => {
  it("sorts keys recursively and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: undefined, c: [2, { z: 1, y: 2 }] } })).toBe(
      '{"a":{"c":[2,{"y":2,"z":1}]},"b":1}',
    );
  });
  it("rejects values JSON cannot carry", () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(/non-finite/);
  });
  it("is stable under key order (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.integer(), fc.string(), fc.boolean())), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(JSON.parse(canonicalJson(obj))).toEqual(obj);
      }),
    );
  });
});

describe("audit chain", () => {
  it("links seq 1 to the genesis hash and each entry to the previous one", () => {
    const es = chain(3);
    expect(es[0]!.prev).toBe(GENESIS_HASH);
    expect(es[1]!.prev).toBe(es[0]!.hash);
    expect(es.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(es[0]!.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("stores entries as canonical JSON with exactly the eight fields", () => {
    const [e] = chain(1);
    const s = serializeEntry(e!);
    expect(Object.keys(JSON.parse(s))).toEqual(["action", "actor", "details", "hash", "prev", "seq", "sig", "ts"]);
    expect(s).toBe(canonicalJson(JSON.parse(s)));
  });

  it("verifies an intact chain, in both modes", async () => {
    const es = lines(chain(2500));
    expect(await verifyChain(es, publicKey)).toEqual({ ok: true, entries: 2500, firstBad: null, reason: null });
    expect((await verifyChain(es, publicKey, { full: true })).ok).toBe(true);
  });

  it("verifies an empty chain as ok with 0 entries", async () => {
    expect(await verifyChain([], publicKey)).toEqual({ ok: true, entries: 0, firstBad: null, reason: null });
  });

  it("detects a modified entry", async () => {
    const es = chain(10);
    es[4] = { ...es[4]!, details: { i: 999 } };
    const r = await verifyChain(lines(es), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 5 });
    expect(r.reason).toMatch(/hash does not match/);
  });

  it("detects a modified entry whose hash was recomputed: its signature fails, and the next link breaks", async () => {
    const es = chain(10);
    es[4] = { ...es[4]!, actor: "mallory" };
    es[4].hash = hashBody(es[4]);
    const r = await verifyChain(lines(es), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 5 });
    expect(r.reason).toMatch(/signature is not valid/);
    // Without the tail signatures (a long chain, entry far from the head) the broken link still gives it away.
    const r2 = await verifyChain(lines(es), publicKey, { tailSignatures: 0 });
    expect(r2).toMatchObject({ ok: false, firstBad: 6 });
    expect(r2.reason).toMatch(/prev does not match/);
  });

  it("detects a deleted entry", async () => {
    const es = chain(10);
    es.splice(3, 1);
    const r = await verifyChain(lines(es), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 4 });
    expect(r.reason).toMatch(/missing/);
  });

  it("detects a deleted entry with the tail renumbered and relinked (head signature fails)", async () => {
    const es = chain(10);
    es.splice(3, 1);
    const r = await verifyChain(lines(relink(es, 3)), publicKey);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/signature/);
  });

  it("detects an inserted entry", async () => {
    const es = chain(10);
    const fake = { ...es[5]! };
    es.splice(5, 0, fake);
    const r = await verifyChain(lines(es), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 6 });
  });

  it("detects reordered entries", async () => {
    const es = chain(10);
    [es[2], es[3]] = [es[3]!, es[2]!];
    const r = await verifyChain(lines(es), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 3 });
    expect(r.reason).toMatch(/out of order|missing/);
  });

  it("detects a chain re-signed with another key from the tampered entry on", async () => {
    const es = chain(10);
    es[6] = { ...es[6]!, details: { i: "forged" } };
    const r = await verifyChain(lines(relink(es, 6, other.privateKey)), publicKey);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toBe(7); // the tampered entry itself: the last 10,000 signatures are checked
    expect(r.reason).toMatch(/signature is not valid/);
  });

  it("detects a re-signed checkpoint inside a long chain before reaching the head", async () => {
    const es = chain(2100);
    es[1499] = { ...es[1499]!, details: { i: "forged" } };
    const r = await verifyChain(lines(relink(es, 1499, other.privateKey)), publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 1500 }); // the earliest re-signed entry, found when checkpoint 2000 fails
    // With no tail signatures, the first re-signed checkpoint is where it shows.
    expect(
      await verifyChain(lines(relink(es, 1499, other.privateKey)), publicKey, { tailSignatures: 0 }),
    ).toMatchObject({ firstBad: 2000 });
  });

  it("detects entries signed by another key among the last 10,000 in the default mode (two writers, two keys)", async () => {
    const es = chain(30);
    es[11] = { ...es[11]!, sig: buildEntry({ seq: 11, hash: es[10]!.hash }, es[11]!, other.privateKey).sig };
    expect(await verifyChain(lines(es), publicKey)).toMatchObject({ ok: false, firstBad: 12 });
  });

  it("detects a single re-signed entry with unchanged content in --full mode", async () => {
    const es = chain(10);
    es[3] = { ...es[3]!, sig: buildEntry({ seq: 3, hash: es[2]!.hash }, es[3]!, other.privateKey).sig };
    expect((await verifyChain(lines(es), publicKey, { full: true })).firstBad).toBe(4);
  });

  it("rejects the whole chain under a different public key", async () => {
    const r = await verifyChain(lines(chain(5)), other.publicKey);
    expect(r).toMatchObject({ ok: false, firstBad: 1 });
  });

  it("verifies canonical entries without parsing them exactly as the full parse would (property)", async () => {
    const tricky = fc.oneof(
      fc.string(),
      fc.constant(`,"hash":"${"a".repeat(64)}","prev":"${"b".repeat(64)}","seq":1,"sig":"x","ts":"t"}`),
      fc.constant('"}\\"'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.dictionary(fc.string(), fc.oneof(tricky, fc.integer(), fc.boolean())), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.nat(7),
        async (details, victim) => {
          const es: AuditEntry[] = [];
          let head = EMPTY_HEAD;
          for (const d of details) {
            const e = buildEntry(
              head,
              { ts: 'ts "quoted" \\ ok', actor: "U1", action: "x", details: { d } },
              privateKey,
            );
            es.push(e);
            head = { seq: e.seq, hash: e.hash };
          }
          expect(await verifyChain(lines(es), publicKey)).toEqual({
            ok: true,
            entries: es.length,
            firstBad: null,
            reason: null,
          });
          // Tamper with one entry's details in its stored text: detected at that entry whichever path reads it.
          const i = victim % es.length;
          const stored = lines(es);
          stored[i] = stored[i]!.replace('"details":{', '"details":{"injected":1,');
          const r = await verifyChain(stored, publicKey);
          expect(r).toMatchObject({ ok: false, firstBad: i + 1 });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("reports garbage lines instead of throwing", async () => {
    const es = lines(chain(3));
    es[1] = "{not json";
    expect(await verifyChain(es, publicKey)).toMatchObject({ ok: false, firstBad: 2 });
    es[1] = JSON.stringify({ seq: 2, hello: "world" });
    expect((await verifyChain(es, publicKey)).reason).toMatch(/malformed/);
  });
});
