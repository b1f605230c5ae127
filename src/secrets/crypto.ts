// Encryption at rest for the local secret store: AES-256-GCM per value (node:crypto), a fresh random 96-bit IV each
// time (NIST SP 800-38D §8.2 recommends 96-bit IVs; a random IV per key stays far below its 2^32 limit here), the
// 128-bit tag stored, and the value's place in the file as additional authenticated data, so a ciphertext moved to
// another entry or field fails authentication. A keyed MAC over the whole file also catches edits to what is kept in
// clear (key ids, states, timestamps). Both keys are derived from the one 32-byte master key with HKDF-SHA256
// (RFC 5869), so neither is ever used for two purposes.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../errors.js";

/** An encrypted value as stored: base64 of the IV, the GCM tag and the ciphertext. */
export interface Sealed {
  iv: string;
  tag: string;
  ct: string;
}

/** The keys derived from one master key. Kept out of JSON and inspect output. */
export interface StoreKeys {
  readonly fingerprint: string;
  seal(plaintext: string, aad: string): Sealed;
  open(sealed: Sealed, aad: string): string;
  mac(data: string): string;
  verifyMac(data: string, mac: string): boolean;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SALT = Buffer.from("tradeguard secrets v1");

function derive(master: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", master, SALT, info, KEY_BYTES));
}

/** The additional authenticated data binding a value to its secret name, key id, creation time and field. */
export function valueAad(name: string, keyId: string, createdAt: string, field: "secret" | "password"): string {
  return JSON.stringify(["tradeguard-secret/v1", name, keyId, createdAt, field]);
}

/** Thrown by open() when a value fails authentication (wrong key, tampered, or moved). */
export class AuthenticationFailure extends Error {}

/** Builds the sealing, opening and MAC functions for a 32-byte master key. */
export function storeKeys(master: Buffer): StoreKeys {
  if (master.length !== KEY_BYTES) throw new ConfigError(`secrets key: ${KEY_BYTES} bytes expected`);
  const enc = derive(master, "aes-256-gcm value encryption");
  const macKey = derive(master, "hmac-sha256 file mac");
  const fingerprint = derive(master, "key fingerprint").subarray(0, 8).toString("hex");
  const mac = (data: string) => createHmac("sha256", macKey).update(data).digest("base64");
  const keys: StoreKeys = {
    fingerprint,
    seal(plaintext, aad) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", enc, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(aad));
      const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
      return { iv: iv.toString("base64"), tag: cipher.getAuthTag().toString("base64"), ct: ct.toString("base64") };
    },
    open(sealed, aad) {
      const iv = Buffer.from(sealed.iv, "base64");
      const tag = Buffer.from(sealed.tag, "base64");
      if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new AuthenticationFailure("bad IV or tag length");
      try {
        const decipher = createDecipheriv("aes-256-gcm", enc, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(Buffer.from(aad));
        decipher.setAuthTag(tag);
        return Buffer.concat([decipher.update(Buffer.from(sealed.ct, "base64")), decipher.final()]).toString("utf8");
      } catch {
        throw new AuthenticationFailure("value failed authentication");
      }
    },
    mac,
    verifyMac(data, expected) {
      const a = Buffer.from(mac(data), "base64");
      const b = Buffer.from(expected, "base64");
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
  // Nothing secret is enumerable here, but the closures hold the keys: keep the object opaque when printed.
  Object.defineProperty(keys, Symbol.for("nodejs.util.inspect.custom"), {
    value: () => `StoreKeys(${fingerprint})`,
  });
  return keys;
}

/** A new random master key, as the text the key file holds (base64 and a newline). */
export function generateKeyText(): string {
  return `${randomBytes(KEY_BYTES).toString("base64")}\n`;
}

/**
 * Decodes a master key given as base64 (standard or URL-safe, padding optional) or hex of exactly 32 bytes.
 * `source` names where it came from for the error, which never includes the value.
 */
export function parseKey(text: string, source: string): Buffer {
  const s = text.trim();
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(s)) key = Buffer.from(s, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(s)) key = Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
  if (!key || key.length !== KEY_BYTES) {
    throw new ConfigError(
      `${source}: expected a 32-byte key as base64 (44 characters) or hex (64 characters), got ${s.length} characters` +
        " (generate one with: openssl rand -base64 32)",
    );
  }
  return key;
}
