// The secret store: where managed brokers' credentials live, behind one small interface with two implementations
// (local.ts, an encrypted file; aws.ts, AWS Secrets Manager). Its vocabulary follows the rotation pattern AWS
// documents for Secrets Manager (https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_how.html):
// a new credential is staged PENDING, tested, then promoted to CURRENT while the old one becomes PREVIOUS, which is
// kept until it has been revoked at the venue and retired.
//
// Secret values never leave this module in printable form: every Credential it returns masks `secret` and
// `password` in JSON.stringify, util.inspect and String(), and no error message carries a secret value.
import { inspect } from "node:util";
import { TradeguardError, UserInputError } from "../errors.js";

export type CredentialState = "CURRENT" | "PENDING" | "PREVIOUS";

/** A broker credential. `keyId` is not secret (it is shown and audited); `secret` and `password` are. */
export interface Credential {
  keyId: string;
  secret: string;
  password?: string;
  createdAt: string;
  state: CredentialState;
}

/** What may be shown: never the secret. */
export interface CredentialInfo {
  keyId: string;
  createdAt: string;
  state: CredentialState;
}

/** A credential to store: what `tradeguard secrets stage` reads. */
export interface NewCredential {
  keyId: string;
  secret: string;
  password?: string;
}

/** What a promotion did, by key id: the new CURRENT, the new PREVIOUS, and the older PREVIOUS it dropped (if any). */
export interface PromoteResult {
  current: string;
  previous: string | null;
  /**
   * The key id of a PREVIOUS credential that was never retired and is no longer tracked by the store (local: deleted
   * from the file; aws: its version lost AWSPREVIOUS and is deprecated). It may still be live at the venue: the
   * caller must make sure it gets revoked.
   */
  dropped: string | null;
}

export interface SecretStore {
  readonly kind: "local" | "aws";
  /** Versions of one managed secret (CURRENT, at most one PENDING, PREVIOUS until retired); [] when unknown. */
  versions(name: string): Promise<CredentialInfo[]>;
  /** The credential in a state (default CURRENT), or null. */
  get(name: string, state?: CredentialState): Promise<Credential | null>;
  /** Stores a new credential as PENDING (replacing an older PENDING); with no CURRENT yet it becomes CURRENT at once. */
  stage(name: string, c: NewCredential): Promise<{ state: "PENDING" | "CURRENT" }>;
  /** PENDING → CURRENT, CURRENT → PREVIOUS; an older PREVIOUS is dropped (see PromoteResult); throws without PENDING. */
  promote(name: string): Promise<PromoteResult>;
  /**
   * Undoes a promote (a rotation rolled back after it): CURRENT → PENDING, PREVIOUS → CURRENT. Throws when there is
   * no PREVIOUS to go back to, or a PENDING is in the way.
   */
  demote(name: string): Promise<void>;
  /** Drops the PENDING credential (rollback of a failed rotation); does nothing when there is none. */
  discardPending(name: string): Promise<void>;
  /** Drops the PREVIOUS credential with that key id (after it was revoked at the venue); throws if it is not PREVIOUS. */
  retire(name: string, keyId: string): Promise<void>;
}

/** The secret store could not do what was asked (unreadable, tampered, or the backend failed); no secret in it. */
export class SecretStoreError extends TradeguardError {
  constructor(message: string) {
    super(message, "secret_store");
  }
}

/** Order in which versions are listed. */
export const STATE_ORDER: readonly CredentialState[] = ["CURRENT", "PENDING", "PREVIOUS"];

const MASK = "[redacted]";

/**
 * A Credential whose secret fields are private: JSON, util.inspect and String() show the key id and state only, and
 * a spread (`{...c}`) or structuredClone drops the secret rather than copying it somewhere printable.
 */
class SafeCredential implements Credential {
  readonly #secret: string;
  readonly #password: string | undefined;

  constructor(
    readonly keyId: string,
    secret: string,
    password: string | undefined,
    readonly createdAt: string,
    readonly state: CredentialState,
  ) {
    this.#secret = secret;
    this.#password = password;
  }

  get secret(): string {
    return this.#secret;
  }

  get password(): string | undefined {
    return this.#password;
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = {
      keyId: this.keyId,
      createdAt: this.createdAt,
      state: this.state,
      secret: MASK,
    };
    if (this.#password !== undefined) out.password = MASK;
    return out;
  }

  toString(): string {
    return `Credential ${this.keyId} (${this.state}, created ${this.createdAt})`;
  }

  [inspect.custom](): string {
    return `Credential ${inspect(this.toJSON())}`;
  }
}

/** The safe-to-print Credential object both stores return. */
export function credential(info: CredentialInfo, secret: string, password: string | undefined): Credential {
  return new SafeCredential(info.keyId, secret, password, info.createdAt, info.state);
}

// AWS secret-name characters (CreateSecret: "letters, numbers, and /_+=.@-"), starting with a letter or digit; the
// same rule for the local store so a name works in both.
const NAME = /^[A-Za-z0-9][A-Za-z0-9/_+=.@-]{0,255}$/;
// Printable ASCII without spaces: broker key ids are like that, and a pasted secret with a newline is refused.
const KEY_ID = /^[\x21-\x7e]{1,256}$/;
const MAX_SECRET = 8192;

/** Throws UserInputError unless `name` is a valid managed-secret name. */
export function checkName(name: string): void {
  if (typeof name !== "string" || !NAME.test(name)) {
    throw new UserInputError(
      "secret name: 1–256 characters of letters, digits and / _ + = . @ -, starting with a letter or digit, expected",
    );
  }
}

/**
 * Throws UserInputError unless `c` is a storable credential. Messages never echo the input: a secret pasted into
 * the wrong field must not end up in an error message.
 */
export function checkNewCredential(c: NewCredential): void {
  if (typeof c?.keyId !== "string" || !KEY_ID.test(c.keyId)) {
    throw new UserInputError("key id: 1–256 printable characters without spaces expected");
  }
  if (typeof c.secret !== "string" || c.secret.length === 0 || c.secret.length > MAX_SECRET) {
    throw new UserInputError(`secret: a non-empty string of at most ${MAX_SECRET} characters expected`);
  }
  if (c.password !== undefined && (typeof c.password !== "string" || !c.password || c.password.length > MAX_SECRET)) {
    throw new UserInputError(`password: a non-empty string of at most ${MAX_SECRET} characters expected`);
  }
  if (c.secret === c.keyId || c.password === c.keyId) {
    throw new UserInputError("key id: must differ from the secret (was the secret pasted as the key id?)");
  }
}

/** Throws UserInputError when `keyId` is already the CURRENT or PREVIOUS credential of `name` (a PENDING is replaced). */
export function checkKeyIdFree(name: string, keyId: string, existing: readonly CredentialInfo[]): void {
  const clash = existing.find((v) => v.keyId === keyId && v.state !== "PENDING");
  if (clash) throw new UserInputError(`${name}: key ${keyId} is already the ${clash.state} credential`);
}

/** The error promote() throws without a PENDING credential. */
export function noPending(name: string): UserInputError {
  return new UserInputError(`${name}: no PENDING credential to promote (stage one first)`);
}

/** The error retire() throws when `keyId` is not the PREVIOUS credential. */
export function notPrevious(name: string, keyId: string, state: CredentialState | undefined): UserInputError {
  return new UserInputError(
    state
      ? `${name}: key ${keyId} is the ${state} credential, not PREVIOUS; only a PREVIOUS credential can be retired`
      : `${name}: key ${keyId} is not a stored credential; only a PREVIOUS credential can be retired`,
  );
}

/** Versions sorted CURRENT, PENDING, PREVIOUS. */
export function sortVersions<T extends { state: CredentialState }>(vs: T[]): T[] {
  return vs.sort((a, b) => STATE_ORDER.indexOf(a.state) - STATE_ORDER.indexOf(b.state));
}
