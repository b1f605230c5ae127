// The local secret store's semantics: staging, first provisioning, promotion, rollback, retirement, and writes that
// stay consistent when this process and others write at once.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { UserInputError } from "../../src/errors.js";
import { LocalSecretStore } from "../../src/secrets/local.js";
import { caught } from "../support/caught.js";
import { captureLog } from "../support/log.js";

let dir: string;
let clock: Date;

function store(over: Partial<ConstructorParameters<typeof LocalSecretStore>[0]> = {}): LocalSecretStore {
  return new LocalSecretStore({
    file: join(dir, "secrets.json"),
    keyFile: join(dir, "secrets.key"),
    env: {},
    createKey: true,
    now: () => clock,
    ...over,
  });
}

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "tg-secrets-")), "home");
  clock = new Date("2026-11-01T10:00:00.000Z");
});

const A = { keyId: "PKAAAAAAAAAAAAAAAAAA", secret: "secret-a-0123456789abcdef" };
const B = { keyId: "PKBBBBBBBBBBBBBBBBBB", secret: "secret-b-0123456789abcdef" };
const C = { keyId: "PKCCCCCCCCCCCCCCCCCC", secret: "secret-c-0123456789abcdef", password: "pass-c-xyz" };

describe("local secret store", () => {
  it("knows nothing of a name it never stored, and reading creates no file and no key", async () => {
    const s = store();
    expect(await s.versions("alpaca-live")).toEqual([]);
    expect(await s.get("alpaca-live")).toBeNull();
    expect(existsSync(dir)).toBe(false);
  });

  it("stores the first credential as CURRENT at once (first provisioning) and round-trips it", async () => {
    const s = store();
    expect(await s.stage("alpaca-live", A)).toEqual({ state: "CURRENT" });
    const c = await s.get("alpaca-live");
    expect(c?.keyId).toBe(A.keyId);
    expect(c?.secret).toBe(A.secret);
    expect(c?.password).toBeUndefined();
    expect(c?.state).toBe("CURRENT");
    expect(c?.createdAt).toBe("2026-11-01T10:00:00.000Z");
    // A second instance (another process) reads the same store with the same key file.
    expect(await store().versions("alpaca-live")).toEqual([
      { keyId: A.keyId, createdAt: "2026-11-01T10:00:00.000Z", state: "CURRENT" },
    ]);
  });

  it("stages later credentials as PENDING, a newer PENDING replacing the older", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    clock = new Date("2026-11-02T10:00:00.000Z");
    expect(await s.stage("alpaca-live", B)).toEqual({ state: "PENDING" });
    expect(await s.stage("alpaca-live", C)).toEqual({ state: "PENDING" });
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", A.keyId],
      ["PENDING", C.keyId],
    ]);
    const p = await s.get("alpaca-live", "PENDING");
    expect([p?.keyId, p?.secret, p?.password]).toEqual([C.keyId, C.secret, C.password]);
    expect((await s.get("alpaca-live"))?.secret).toBe(A.secret);
  });

  it("promotes PENDING to CURRENT and CURRENT to PREVIOUS; an unretired PREVIOUS is dropped and reported", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    expect(await s.promote("alpaca-live")).toEqual({ current: B.keyId, previous: A.keyId, dropped: null });
    expect((await s.versions("alpaca-live")).map((v) => [v.state, v.keyId])).toEqual([
      ["CURRENT", B.keyId],
      ["PREVIOUS", A.keyId],
    ]);
    expect((await s.get("alpaca-live", "PREVIOUS"))?.secret).toBe(A.secret);
    expect(await s.get("alpaca-live", "PENDING")).toBeNull();

    await s.stage("alpaca-live", C);
    expect(await s.promote("alpaca-live")).toEqual({ current: C.keyId, previous: B.keyId, dropped: A.keyId });
    expect((await s.versions("alpaca-live")).map((v) => v.keyId)).toEqual([C.keyId, B.keyId]);
    expect(readFileSync(join(dir, "secrets.json"), "utf8")).not.toContain(A.keyId);
  });

  it("refuses to promote without a PENDING credential and leaves CURRENT untouched", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    const err = await caught(s.promote("alpaca-live"));
    expect(err).toBeInstanceOf(UserInputError);
    expect((err as Error).message).toMatch(/alpaca-live: no PENDING credential/);
    expect(await caught(s.promote("unknown"))).toBeInstanceOf(UserInputError);
    expect((await s.get("alpaca-live"))?.keyId).toBe(A.keyId);
  });

  it("discards the PENDING credential (rollback) and does nothing when there is none", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.discardPending("alpaca-live");
    expect((await s.versions("alpaca-live")).map((v) => v.state)).toEqual(["CURRENT"]);
    const before = readFileSync(join(dir, "secrets.json"), "utf8");
    await s.discardPending("alpaca-live");
    await s.discardPending("never-stored");
    expect(readFileSync(join(dir, "secrets.json"), "utf8")).toBe(before);
  });

  it("retires only a PREVIOUS credential, by key id", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.promote("alpaca-live");
    const current = await caught(s.retire("alpaca-live", B.keyId));
    expect(current).toBeInstanceOf(UserInputError);
    expect((current as Error).message).toMatch(/is the CURRENT credential, not PREVIOUS/);
    expect((await caught(s.retire("alpaca-live", "PKNOTSTORED"))) as Error).toBeInstanceOf(UserInputError);
    await s.retire("alpaca-live", A.keyId);
    expect((await s.versions("alpaca-live")).map((v) => v.keyId)).toEqual([B.keyId]);
    expect(await caught(s.retire("alpaca-live", A.keyId))).toBeInstanceOf(UserInputError);
  });

  it("keeps secrets of different names apart", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("binance/main", { ...C });
    expect((await s.get("alpaca-live"))?.secret).toBe(A.secret);
    expect((await s.get("binance/main"))?.password).toBe(C.password);
    expect(await s.versions("binance")).toEqual([]);
  });

  it("refuses a key id already CURRENT or PREVIOUS, and bad names and credentials, without echoing input", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    const dup = await caught(s.stage("alpaca-live", { keyId: A.keyId, secret: "another-secret-value" }));
    expect(dup).toBeInstanceOf(UserInputError);
    expect((dup as Error).message).toBe(`alpaca-live: key ${A.keyId} is already the CURRENT credential`);
    for (const bad of [
      { keyId: `PK ${B.secret}`, secret: B.secret },
      { keyId: `PK\n${B.secret}`, secret: B.secret },
      { keyId: "", secret: B.secret },
      { keyId: B.keyId, secret: "" },
      { keyId: B.secret, secret: B.secret },
      { keyId: B.keyId, secret: B.secret, password: "" },
    ]) {
      const err = await caught(s.stage("alpaca-live", bad));
      expect(err).toBeInstanceOf(UserInputError);
      expect((err as Error).message).not.toContain(B.secret);
    }
    for (const name of ["", "../etc/passwd", "has space", "x".repeat(257)]) {
      expect(await caught(s.versions(name))).toBeInstanceOf(UserInputError);
    }
    expect((await s.versions("alpaca-live")).length).toBe(1);
  });

  it("serialises concurrent writers in one process: no write is lost", async () => {
    const one = store();
    const two = store();
    await one.stage("alpaca-live", A);
    const keys = Array.from({ length: 12 }, (_, i) => `PKN${String(i).padStart(17, "0")}`);
    await Promise.all(
      keys.map((keyId, i) => (i % 2 ? one : two).stage(`broker-${i}`, { keyId, secret: `secret-of-${keyId}` })),
    );
    for (const [i, keyId] of keys.entries()) {
      expect((await one.get(`broker-${i}`))?.secret).toBe(`secret-of-${keyId}`);
    }
    expect(readdirSync(dir).sort()).toEqual(["secrets.json", "secrets.key"]);
  });

  it("waits for another process's lock file, and removes one left stale by a crashed writer", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    const lock = join(dir, "secrets.json.lock");
    writeFileSync(lock, "99999\n");
    const staged = s.stage("alpaca-live", B);
    let done = false;
    void staged.then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 150));
    expect(done).toBe(false);
    rmSync(lock);
    expect(await staged).toEqual({ state: "PENDING" });

    const { log, lines } = captureLog();
    writeFileSync(lock, "99999\n");
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(await store({ log }).promote("alpaca-live")).toMatchObject({ current: B.keyId });
    expect(existsSync(lock)).toBe(false);
    expect(lines.join("")).toMatch(/stale lock file/);
  });

  it("logs what it did by key id, never the secret", async () => {
    const { log, lines } = captureLog();
    const s = store({ log });
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", C);
    await s.promote("alpaca-live");
    await s.retire("alpaca-live", A.keyId);
    const text = lines.join("");
    expect(text).toContain(C.keyId);
    expect(text).toMatch(/promoted/);
    for (const secret of [A.secret, C.secret, C.password]) expect(text).not.toContain(secret);
  });

  it("demote undoes a promote (a rotation rolled back): CURRENT back to the old key, the new one PENDING again", async () => {
    const s = store();
    await s.stage("alpaca-live", A);
    await s.stage("alpaca-live", B);
    await s.promote("alpaca-live");
    await s.demote("alpaca-live");
    expect((await s.get("alpaca-live"))?.keyId).toBe(A.keyId);
    expect((await s.get("alpaca-live", "PENDING"))?.keyId).toBe(B.keyId);
    expect(await s.get("alpaca-live", "PREVIOUS")).toBeNull();
    // Nothing to roll back now: a PENDING is in the way, and there is no PREVIOUS.
    await expect(s.demote("alpaca-live")).rejects.toThrow(/nothing to roll back/);
  });
});
