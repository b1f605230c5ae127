// The local store at rest: what the file holds (no plaintext in any encoding), its modes, its key, and what happens
// when the file or key is wrong, tampered with, corrupt or too open.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { AuthenticationFailure, parseKey, storeKeys, valueAad } from "../../src/secrets/crypto.js";
import { LocalSecretStore } from "../../src/secrets/local.js";
import { canonical } from "../../src/secrets/local-file.js";
import { SecretStoreError } from "../../src/secrets/store.js";
import { caught } from "../support/caught.js";

let dir: string;
let file: string;
let keyFile: string;

function store(over: Partial<ConstructorParameters<typeof LocalSecretStore>[0]> = {}): LocalSecretStore {
  return new LocalSecretStore({ file, keyFile, env: {}, createKey: true, ...over });
}

beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), "tg-secrets-")), "home");
  file = join(dir, "secrets.json");
  keyFile = join(dir, "secrets.key");
});

const SECRET = "sk-live-Zq3vT9pW1xYb7Rk2Lm8Nc4Hd6Jf0Gs5A";
const PASSWORD = "hunter2-passphrase-for-okx";
const KEY_ID = "PK9QW3ERTY7UIOPLKJHG";

/** Every encoding of `s` a careless writer might have used. */
function encodings(s: string): string[] {
  const b = Buffer.from(s, "utf8");
  return [
    s,
    b.toString("base64"),
    b.toString("base64").replace(/=+$/, ""),
    b.toString("base64url"),
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    Buffer.from(s, "utf16le").toString("latin1"),
    JSON.stringify(s).slice(1, -1),
    encodeURIComponent(s),
  ];
}

type StoreJson = {
  secrets: Record<string, { key_id: string; state: string; secret: { ct: string; iv: string; tag: string } }[]>;
  mac: string;
};
const readJson = (): StoreJson => JSON.parse(readFileSync(file, "utf8"));

/** Writes `data` back with a valid MAC, as someone holding the key could: isolates the per-value authentication. */
function rewriteWithValidMac(data: StoreJson): void {
  const keys = storeKeys(parseKey(readFileSync(keyFile, "utf8"), "test"));
  const { mac: _mac, ...content } = data;
  writeFileSync(file, JSON.stringify({ ...content, mac: keys.mac(canonical(content)) }), { mode: 0o600 });
}

describe("local secret store at rest", () => {
  it("never writes a secret or password in clear, base64 or hex; key ids and timestamps stay readable", async () => {
    await store().stage("okx-main", { keyId: KEY_ID, secret: SECRET, password: PASSWORD });
    await store().stage("okx-main", {
      keyId: "PKSECONDKEY000000000",
      secret: `${SECRET}-2`,
      password: `${PASSWORD}-2`,
    });
    const bytes = readFileSync(file).toString("latin1");
    for (const plain of [SECRET, PASSWORD, `${SECRET}-2`, `${PASSWORD}-2`]) {
      for (const enc of encodings(plain)) expect(bytes).not.toContain(enc);
    }
    expect(bytes).toContain(KEY_ID);
    expect(readJson().secrets["okx-main"]!.map((e) => e.state)).toEqual(["CURRENT", "PENDING"]);
    // Each value has its own random IV: the same plaintext twice does not give the same ciphertext.
    await store().stage("okx-other", { keyId: KEY_ID, secret: SECRET });
    const cts = Object.values(readJson().secrets).flatMap((es) => es.map((e) => e.secret.ct));
    expect(new Set(cts).size).toBe(cts.length);
    expect((await store().get("okx-main"))?.secret).toBe(SECRET);
  });

  it("creates the store file and key file 0600 in a 0700 directory, and leaves no temp file", async () => {
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(parseKey(readFileSync(keyFile, "utf8"), "key").length).toBe(32);
    await store().stage("alpaca-live", { keyId: "PKOTHER0000000000000", secret: "x-secret-value" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("refuses a store file or key file readable by group or others, naming it and the chmod to run", async () => {
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    chmodSync(file, 0o644);
    const err = await caught(store().versions("alpaca-live"));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      `secrets file ${file} is accessible by group or others (mode 0644); it must be private to its owner: ` +
        `run \`chmod 600 ${file}\``,
    );
    chmodSync(file, 0o600);
    chmodSync(keyFile, 0o640);
    const keyErr = await caught(store().get("alpaca-live"));
    expect(keyErr).toBeInstanceOf(ConfigError);
    expect((keyErr as Error).message).toContain(`secrets key file ${keyFile} is accessible by group or others`);
    expect((keyErr as Error).message).toContain(`chmod 600 ${keyFile}`);
    chmodSync(keyFile, 0o600);
    expect((await store().get("alpaca-live"))?.secret).toBe(SECRET);
  });

  it("takes the key from TRADEGUARD_SECRETS_KEY (base64 or hex) and then needs no key file", async () => {
    const key = Buffer.alloc(32, 7);
    const b64 = store({ env: { TRADEGUARD_SECRETS_KEY: key.toString("base64") } });
    await b64.stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    const hex = store({ env: { TRADEGUARD_SECRETS_KEY: key.toString("hex") }, createKey: false });
    expect((await hex.get("alpaca-live"))?.secret).toBe(SECRET);
    expect(() => statSync(keyFile)).toThrow();
    // The file names the key by fingerprint: another key is a configuration error, not "tampering".
    const other = store({ env: { TRADEGUARD_SECRETS_KEY: Buffer.alloc(32, 8).toString("base64") } });
    const err = await caught(other.versions("alpaca-live"));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/was written with another key \(fingerprint [0-9a-f]{16}, this key is/);
  });

  it("rejects a malformed TRADEGUARD_SECRETS_KEY at construction, without echoing it", () => {
    for (const bad of [
      "too-short",
      Buffer.alloc(31).toString("base64"),
      "z".repeat(64),
      Buffer.alloc(33).toString("hex"),
    ]) {
      let err: unknown;
      try {
        store({ env: { TRADEGUARD_SECRETS_KEY: bad } });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(/^TRADEGUARD_SECRETS_KEY: expected a 32-byte key/);
      expect((err as Error).message).not.toContain(bad);
    }
  });

  it("accepts a key file of hex text or 32 raw bytes, and refuses other content", async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(keyFile, `${Buffer.alloc(32, 1).toString("hex")}\n`, { mode: 0o600 });
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    writeFileSync(keyFile, Buffer.alloc(32, 1), { mode: 0o600 });
    expect((await store().get("alpaca-live"))?.secret).toBe(SECRET);
    writeFileSync(keyFile, "not a key\n", { mode: 0o600 });
    const err = await caught(store().get("alpaca-live"));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`secrets key file ${keyFile}: expected a 32-byte key`);
  });

  it("generates a key only in local mode and only while no store file exists", async () => {
    const slack = await caught(store({ createKey: false }).stage("alpaca-live", { keyId: KEY_ID, secret: SECRET }));
    expect(slack).toBeInstanceOf(ConfigError);
    expect((slack as Error).message).toContain(`secrets key file ${keyFile} does not exist`);
    expect((slack as Error).message).toContain("openssl rand -base64 32");

    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    rmSync(keyFile);
    // A fresh key could never open the existing file: refuse rather than generate one.
    const err = await caught(store().stage("alpaca-live", { keyId: "PKNEW000000000000000", secret: "s-new-1" }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(`the secrets file ${file} exists`);
    expect(() => statSync(keyFile)).toThrow();
  });

  it("detects a modified ciphertext, key id or state through the file MAC, naming the file", async () => {
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    await store().stage("alpaca-live", { keyId: "PKSECOND000000000000", secret: "second-secret-value" });
    const original = readFileSync(file, "utf8");
    const edits: ((d: StoreJson) => void)[] = [
      (d) => {
        const ct = Buffer.from(d.secrets["alpaca-live"]![0]!.secret.ct, "base64");
        ct[0]! ^= 1;
        d.secrets["alpaca-live"]![0]!.secret.ct = ct.toString("base64");
      },
      (d) => {
        d.secrets["alpaca-live"]![0]!.key_id = "PKATTACKER0000000000";
      },
      (d) => {
        d.secrets["alpaca-live"]![0]!.state = "PENDING";
        d.secrets["alpaca-live"]![1]!.state = "CURRENT";
      },
    ];
    for (const edit of edits) {
      const d = JSON.parse(original) as StoreJson;
      edit(d);
      writeFileSync(file, JSON.stringify(d), { mode: 0o600 });
      const err = await caught(store().get("alpaca-live"));
      expect(err).toBeInstanceOf(SecretStoreError);
      expect((err as Error).message).toBe(
        `secrets file ${file} failed its integrity check: it was modified outside tradeguard; restore it from a backup`,
      );
    }
  });

  it("fails authentication for a ciphertext modified or moved to another entry, even with a valid file MAC", async () => {
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    await store().stage("alpaca-live", { keyId: "PKSECOND000000000000", secret: "second-secret-value" });
    await store().stage("alpaca-paper", { keyId: "PKPAPER0000000000000", secret: "paper-secret-value" });
    const original = readFileSync(file, "utf8");

    const moved = JSON.parse(original) as StoreJson;
    moved.secrets["alpaca-paper"]![0]!.secret = moved.secrets["alpaca-live"]![0]!.secret;
    rewriteWithValidMac(moved);
    const err = await caught(store().get("alpaca-paper"));
    expect(err).toBeInstanceOf(SecretStoreError);
    expect((err as Error).message).toBe(
      `secrets file ${file}: the secret of alpaca-paper key PKPAPER0000000000000 failed authentication ` +
        "(modified, or moved from another entry); restore the file from a backup",
    );

    const swapped = JSON.parse(original) as StoreJson;
    const [cur, pen] = swapped.secrets["alpaca-live"]!;
    [cur!.secret, pen!.secret] = [pen!.secret, cur!.secret];
    rewriteWithValidMac(swapped);
    expect(await caught(store().get("alpaca-live", "PENDING"))).toBeInstanceOf(SecretStoreError);

    const flipped = JSON.parse(original) as StoreJson;
    const tag = Buffer.from(flipped.secrets["alpaca-live"]![0]!.secret.tag, "base64");
    tag[3]! ^= 0x80;
    flipped.secrets["alpaca-live"]![0]!.secret.tag = tag.toString("base64");
    rewriteWithValidMac(flipped);
    expect(await caught(store().get("alpaca-live"))).toBeInstanceOf(SecretStoreError);
  });

  it("binds each value to its name, key id, creation time and field (AES-GCM additional data)", () => {
    const keys = storeKeys(Buffer.alloc(32, 3));
    const aad = valueAad("alpaca-live", KEY_ID, "2026-11-01T00:00:00.000Z", "secret");
    const sealed = keys.seal(SECRET, aad);
    expect(keys.open(sealed, aad)).toBe(SECRET);
    for (const other of [
      valueAad("alpaca-paper", KEY_ID, "2026-11-01T00:00:00.000Z", "secret"),
      valueAad("alpaca-live", "PKOTHER", "2026-11-01T00:00:00.000Z", "secret"),
      valueAad("alpaca-live", KEY_ID, "2026-11-02T00:00:00.000Z", "secret"),
      valueAad("alpaca-live", KEY_ID, "2026-11-01T00:00:00.000Z", "password"),
    ]) {
      expect(() => keys.open(sealed, other)).toThrow(AuthenticationFailure);
    }
    expect(() => storeKeys(Buffer.alloc(32, 4)).open(sealed, aad)).toThrow(AuthenticationFailure);
    expect(Buffer.from(sealed.iv, "base64").length).toBe(12);
    expect(Buffer.from(sealed.tag, "base64").length).toBe(16);
  });

  it("reports a corrupt file by name and never reads it as an empty store", async () => {
    await store().stage("alpaca-live", { keyId: KEY_ID, secret: SECRET });
    const good = readFileSync(file, "utf8");
    const cases: [string, RegExp][] = [
      ["", /not valid JSON/],
      [good.slice(0, good.length / 2), /not valid JSON/],
      ["[]", /\(root\)/],
      [JSON.stringify({ ...JSON.parse(good), format: "v0" }), /format/],
      [JSON.stringify({ ...JSON.parse(good), secrets: { x: [] } }), /x: exactly one CURRENT/],
    ];
    for (const [text, why] of cases) {
      writeFileSync(file, text, { mode: 0o600 });
      for (const call of [
        () => store().versions("alpaca-live"),
        () => store().stage("alpaca-live", { keyId: "PKX1", secret: "sx-1" }),
      ]) {
        const err = await caught(call());
        expect(err).toBeInstanceOf(SecretStoreError);
        expect((err as Error).message).toMatch(new RegExp(`^secrets file ${file} is corrupt \\(`));
        expect((err as Error).message).toMatch(why);
      }
    }
    // The parser's own message quotes the text it choked on; ours does not.
    writeFileSync(file, `{"secret": ${SECRET}`, { mode: 0o600 });
    expect(((await caught(store().versions("alpaca-live"))) as Error).message).not.toContain(SECRET);
  });
});
