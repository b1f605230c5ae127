// The audit signing key: an Ed25519 private key in PKCS#8 PEM. Local mode creates it on first start (mode 0600).
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../errors.js";

export interface AuditKeys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  publicPem: string;
}

/** Loads the signing key from `file`; with `create`, generates one when the file does not exist. */
export function loadAuditKey(file: string, opts: { create: boolean }): AuditKeys {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
      throw new ConfigError(`AUDIT_KEY_FILE: cannot read ${file}: ${(err as Error).message}`);
    }
    if (!opts.create)
      throw new ConfigError(`AUDIT_KEY_FILE: ${file} does not exist (an Ed25519 private key in PEM is expected)`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("ed25519");
    pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    writeFileSync(file, pem, { mode: 0o600, flag: "wx" });
    chmodSync(file, 0o600);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new ConfigError(`AUDIT_KEY_FILE: ${file} is not a PEM private key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new ConfigError(
      `AUDIT_KEY_FILE: ${file} holds a ${privateKey.asymmetricKeyType} key; an Ed25519 key is expected`,
    );
  }
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** Loads a public key (PEM, SPKI) to verify with. */
export function loadPublicKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ConfigError(`--pubkey: cannot load ${file}: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new ConfigError(`--pubkey: ${file} is not an Ed25519 public key`);
  return key;
}
