// The embedded secret store: one file under TRADEGUARD_HOME (secrets.json, 0600) holding, per managed secret, its
// CURRENT, PENDING and PREVIOUS credentials. Key ids, states and timestamps stay in clear (they are not secrets, and
// `tradeguard secrets list` shows them); every secret and password is encrypted with AES-256-GCM (crypto.ts) and
// the whole file carries a MAC, so tampering is an error, never a silently different store.
import { UserInputError } from "../errors.js";
import type { Logger } from "../log.js";
import { AuthenticationFailure, parseKey, type StoreKeys, storeKeys, valueAad } from "./crypto.js";
import {
  type Entry,
  emptyStore,
  loadMasterKey,
  readStoreFile,
  type StoreData,
  verifyStoreFile,
  withWriteLock,
  writeStoreFile,
} from "./local-file.js";
import {
  type Credential,
  type CredentialInfo,
  type CredentialState,
  checkKeyIdFree,
  checkName,
  checkNewCredential,
  credential,
  type NewCredential,
  noPending,
  notPrevious,
  type PromoteResult,
  type SecretStore,
  SecretStoreError,
  sortVersions,
} from "./store.js";

export interface LocalStoreOptions {
  /** The store file (absolute path). */
  file: string;
  /** The key file, used when TRADEGUARD_SECRETS_KEY is not set in `env`. */
  keyFile: string;
  env: Record<string, string | undefined>;
  /** Whether a missing key file may be generated (local mode) — only ever while the store file does not exist. */
  createKey: boolean;
  log?: Logger;
  now?: () => Date;
}

const info = (e: Entry): CredentialInfo => ({ keyId: e.key_id, createdAt: e.created_at, state: e.state });

/** The secret store in an encrypted local file. */
export class LocalSecretStore implements SecretStore {
  readonly kind = "local" as const;
  readonly file: string;
  readonly keyFile: string;
  readonly #opts: LocalStoreOptions;
  #keys: StoreKeys | undefined;

  constructor(opts: LocalStoreOptions) {
    this.file = opts.file;
    this.keyFile = opts.keyFile;
    this.#opts = opts;
    // A malformed TRADEGUARD_SECRETS_KEY stops start-up, not the first rotation.
    const fromEnv = opts.env.TRADEGUARD_SECRETS_KEY;
    if (fromEnv) this.#keys = storeKeys(parseKey(fromEnv, "TRADEGUARD_SECRETS_KEY"));
  }

  async #loadKeys(storeExists: boolean): Promise<StoreKeys> {
    if (this.#keys) return this.#keys;
    const master = await loadMasterKey({
      env: this.#opts.env,
      keyFile: this.keyFile,
      create: this.#opts.createKey && !storeExists,
      missingHint: storeExists
        ? `the secrets file ${this.file} exists and only the key it was written with opens it`
        : "it is generated on first use in local mode only",
    });
    this.#keys = storeKeys(master);
    return this.#keys;
  }

  /** The verified store content, or null when the file does not exist (nothing stored yet; no key needed). */
  async #read(): Promise<{ data: StoreData; keys: StoreKeys } | null> {
    const data = await readStoreFile(this.file);
    if (data === null) return null;
    const keys = await this.#loadKeys(true);
    verifyStoreFile(this.file, data, keys);
    const { mac: _mac, ...content } = data;
    return { data: content, keys };
  }

  /** Read, change and write back under the write lock; `change` returns whether it changed anything. */
  #update<T>(change: (data: StoreData, keys: StoreKeys) => { result: T; changed: boolean }): Promise<T> {
    return withWriteLock(
      this.file,
      async () => {
        const current = await this.#read();
        const keys = current?.keys ?? (await this.#loadKeys(false));
        const data = current?.data ?? emptyStore(keys.fingerprint);
        const { result, changed } = change(data, keys);
        if (changed) await writeStoreFile(this.file, data, keys);
        return result;
      },
      this.#opts.log,
    );
  }

  #open(keys: StoreKeys, name: string, e: Entry, field: "secret" | "password"): string | undefined {
    const sealed = e[field];
    if (!sealed) return undefined;
    try {
      return keys.open(sealed, valueAad(name, e.key_id, e.created_at, field));
    } catch (err) {
      if (!(err instanceof AuthenticationFailure)) throw err;
      throw new SecretStoreError(
        `secrets file ${this.file}: the ${field} of ${name} key ${e.key_id} failed authentication ` +
          "(modified, or moved from another entry); restore the file from a backup",
      );
    }
  }

  /** Versions of one managed secret, CURRENT first; [] when unknown. */
  async versions(name: string): Promise<CredentialInfo[]> {
    checkName(name);
    const store = await this.#read();
    return sortVersions((store?.data.secrets[name] ?? []).map(info));
  }

  /** The credential in `state` (default CURRENT) with its secret decrypted, or null. */
  async get(name: string, state: CredentialState = "CURRENT"): Promise<Credential | null> {
    checkName(name);
    const store = await this.#read();
    const e = store?.data.secrets[name]?.find((x) => x.state === state);
    if (!store || !e) return null;
    const secret = this.#open(store.keys, name, e, "secret")!;
    return credential(info(e), secret, this.#open(store.keys, name, e, "password"));
  }

  /** Stores `c` as PENDING (replacing a PENDING), or as CURRENT when `name` has none yet. */
  async stage(name: string, c: NewCredential): Promise<{ state: "PENDING" | "CURRENT" }> {
    checkName(name);
    checkNewCredential(c);
    const state = await this.#update((data, keys) => {
      const entries = data.secrets[name] ?? [];
      checkKeyIdFree(name, c.keyId, entries.map(info));
      const state: "PENDING" | "CURRENT" = entries.some((e) => e.state === "CURRENT") ? "PENDING" : "CURRENT";
      const createdAt = (this.#opts.now?.() ?? new Date()).toISOString();
      const entry: Entry = {
        key_id: c.keyId,
        created_at: createdAt,
        state,
        secret: keys.seal(c.secret, valueAad(name, c.keyId, createdAt, "secret")),
      };
      if (c.password !== undefined)
        entry.password = keys.seal(c.password, valueAad(name, c.keyId, createdAt, "password"));
      data.secrets[name] = [...entries.filter((e) => e.state !== "PENDING"), entry];
      return { result: state, changed: true };
    });
    this.#opts.log?.info({ store: "local", name, key_id: c.keyId, state }, "secrets: credential stored");
    return { state };
  }

  /** PENDING → CURRENT and CURRENT → PREVIOUS; an older PREVIOUS is deleted from the file (reported as `dropped`). */
  async promote(name: string): Promise<PromoteResult> {
    checkName(name);
    const result = await this.#update((data) => {
      const entries = data.secrets[name] ?? [];
      const pending = entries.find((e) => e.state === "PENDING");
      if (!pending) throw noPending(name);
      const current = entries.find((e) => e.state === "CURRENT");
      const dropped = entries.find((e) => e.state === "PREVIOUS");
      if (current) current.state = "PREVIOUS";
      pending.state = "CURRENT";
      data.secrets[name] = entries.filter((e) => e !== dropped);
      return {
        result: { current: pending.key_id, previous: current?.key_id ?? null, dropped: dropped?.key_id ?? null },
        changed: true,
      };
    });
    this.#opts.log?.info({ store: "local", name, ...result }, "secrets: PENDING credential promoted to CURRENT");
    return result;
  }

  /** Undoes a promote: CURRENT → PENDING, PREVIOUS → CURRENT. */
  async demote(name: string): Promise<void> {
    checkName(name);
    const keys = await this.#update((data) => {
      const entries = data.secrets[name] ?? [];
      const current = entries.find((e) => e.state === "CURRENT");
      const previous = entries.find((e) => e.state === "PREVIOUS");
      if (!current || !previous || entries.some((e) => e.state === "PENDING"))
        throw new UserInputError(`secret ${name}: nothing to roll back (needs a CURRENT, a PREVIOUS and no PENDING)`);
      current.state = "PENDING";
      previous.state = "CURRENT";
      return { result: { current: previous.key_id, pending: current.key_id }, changed: true };
    });
    this.#opts.log?.warn({ store: "local", name, ...keys }, "secrets: promotion rolled back");
  }

  /** Deletes the PENDING credential; does nothing when there is none. */
  async discardPending(name: string): Promise<void> {
    checkName(name);
    const discarded = await this.#update((data) => {
      const entries = data.secrets[name] ?? [];
      const pending = entries.find((e) => e.state === "PENDING");
      if (pending) data.secrets[name] = entries.filter((e) => e !== pending);
      return { result: pending?.key_id, changed: pending !== undefined };
    });
    if (discarded) this.#opts.log?.info({ store: "local", name, key_id: discarded }, "secrets: PENDING discarded");
  }

  /** Deletes the PREVIOUS credential `keyId`; throws when `keyId` is not PREVIOUS. */
  async retire(name: string, keyId: string): Promise<void> {
    checkName(name);
    await this.#update((data) => {
      const entries = data.secrets[name] ?? [];
      const e = entries.find((x) => x.key_id === keyId);
      if (e?.state !== "PREVIOUS") throw notPrevious(name, keyId, e?.state);
      data.secrets[name] = entries.filter((x) => x !== e);
      return { result: undefined, changed: true };
    });
    this.#opts.log?.info({ store: "local", name, key_id: keyId }, "secrets: PREVIOUS credential retired");
  }

  /** What JSON.stringify shows of the store: where it is, never a key. */
  toJSON(): Record<string, string> {
    return { kind: this.kind, file: this.file, keyFile: this.keyFile };
  }
}
