// The local secret store's files: the store file (secrets.json) and its key file, both private to their owner (0600,
// refused otherwise, as ssh refuses a private key others can read), read and validated whole, written atomically
// (a 0600 temp file renamed over the old one) under an in-process queue and a lock file shared with other processes
// (the bot promoting while the CLI stages must not lose either write).
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, stat, unlink, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { generateKeyText, parseKey, type StoreKeys } from "./crypto.js";
import { SecretStoreError } from "./store.js";

export const FORMAT = "tradeguard-secrets/v1";

const sealedSchema = z.object({ iv: z.string(), tag: z.string(), ct: z.string() }).strict();
const entrySchema = z
  .object({
    key_id: z.string().min(1),
    created_at: z.string().min(1),
    state: z.enum(["CURRENT", "PENDING", "PREVIOUS"]),
    secret: sealedSchema,
    password: sealedSchema.optional(),
  })
  .strict();
const fileSchema = z
  .object({
    format: z.literal(FORMAT),
    key_fingerprint: z.string().regex(/^[0-9a-f]{16}$/),
    secrets: z.record(z.string(), z.array(entrySchema)),
    mac: z.string().min(1),
  })
  .strict();

export type Entry = z.infer<typeof entrySchema>;
/** The store file's content without its MAC. */
export interface StoreData {
  format: typeof FORMAT;
  key_fingerprint: string;
  secrets: Record<string, Entry[]>;
}

/** An empty store for a key. */
export function emptyStore(fingerprint: string): StoreData {
  return { format: FORMAT, key_fingerprint: fingerprint, secrets: {} };
}

/** `value` as JSON with object keys sorted at every depth: the bytes the file MAC covers. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const errText = (err: unknown) => (err as Error).message;

/** Throws ConfigError when `path` is not a regular file private to its owner (no group or other permission bits). */
function checkPrivate(path: string, mode: number, isFile: boolean, what: string): void {
  if (!isFile) throw new ConfigError(`${what} ${path} is not a regular file`);
  if ((mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, "0");
    throw new ConfigError(
      `${what} ${path} is accessible by group or others (mode ${octal}); it must be private to its owner: ` +
        `run \`chmod 600 ${path}\``,
    );
  }
}

/** The bytes of a private file, or null when it does not exist. */
async function readPrivate(path: string, what: string): Promise<Buffer | null> {
  let h: FileHandle;
  try {
    h = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new ConfigError(`${what} ${path}: cannot open: ${errText(err)}`);
  }
  try {
    const st = await h.stat();
    checkPrivate(path, st.mode, st.isFile(), what);
    return await h.readFile();
  } finally {
    await h.close();
  }
}

/** The store file, validated (no key needed), or null when it does not exist yet. */
export async function readStoreFile(file: string): Promise<(StoreData & { mac: string }) | null> {
  const bytes = await readPrivate(file, "secrets file");
  if (bytes === null) return null;
  const corrupt = (why: string) =>
    new SecretStoreError(`secrets file ${file} is corrupt (${why}); restore it from a backup or remove it`);
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch {
    // Not the parser's message: it quotes the text it choked on.
    throw corrupt("not valid JSON");
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw corrupt(`${i.path.join(".") || "(root)"}: ${i.message}`);
  }
  for (const [name, entries] of Object.entries(parsed.data.secrets)) {
    const states = entries.map((e) => e.state);
    const keyIds = new Set(entries.map((e) => e.key_id));
    if (
      entries.length === 0 ||
      states.filter((s) => s === "CURRENT").length !== 1 ||
      new Set(states).size < states.length
    )
      throw corrupt(`${name}: exactly one CURRENT and at most one PENDING and one PREVIOUS expected`);
    if (keyIds.size < entries.length) throw corrupt(`${name}: a key id appears twice`);
  }
  return parsed.data;
}

/** Checks that `data` was written with `keys` and not modified since: ConfigError for another key, else tampering. */
export function verifyStoreFile(file: string, data: StoreData & { mac: string }, keys: StoreKeys): void {
  if (data.key_fingerprint !== keys.fingerprint) {
    throw new ConfigError(
      `secrets file ${file} was written with another key (fingerprint ${data.key_fingerprint}, this key is ` +
        `${keys.fingerprint}): check TRADEGUARD_SECRETS_KEY or the secrets key file`,
    );
  }
  const { mac, ...content } = data;
  if (!keys.verifyMac(canonical(content), mac)) {
    throw new SecretStoreError(
      `secrets file ${file} failed its integrity check: it was modified outside tradeguard; restore it from a backup`,
    );
  }
}

/** Writes `data` with its MAC atomically: a 0600 temp file in the same directory, fsynced, renamed over `file`. */
export async function writeStoreFile(file: string, data: StoreData, keys: StoreKeys): Promise<void> {
  const text = `${JSON.stringify({ ...data, mac: keys.mac(canonical(data)) }, null, 2)}\n`;
  const dir = dirname(file);
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  let h: FileHandle | undefined;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    h = await open(tmp, "wx", 0o600);
    await h.writeFile(text);
    await h.sync();
    await h.close();
    h = undefined;
    await rename(tmp, file);
  } catch (err) {
    await h?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw new SecretStoreError(`cannot write secrets file ${file}: ${errText(err)}`);
  }
  // The rename is durable only once the directory entry is: fsync the directory (best effort, not all filesystems can).
  const d = await open(dir, "r").catch(() => undefined);
  if (!d) return;
  await d.sync().catch(() => undefined);
  await d.close();
}

const queues = new Map<string, Promise<unknown>>();
const LOCK_WAIT_MS = 5_000;
/** A lock file older than this is left over from a crashed writer (a write takes milliseconds). */
const LOCK_STALE_MS = 30_000;

/** Takes `file`.lock (created exclusively), waiting up to LOCK_WAIT_MS; resolves to its release. */
async function acquireLock(file: string, log?: Logger): Promise<() => Promise<void>> {
  const lock = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  await mkdir(dirname(file), { recursive: true, mode: 0o700 }).catch(() => undefined);
  for (;;) {
    try {
      await writeFile(lock, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return () => unlink(lock).catch(() => undefined);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new SecretStoreError(`cannot create lock file ${lock}: ${errText(err)}`);
      }
    }
    const st = await stat(lock).catch(() => null);
    if (st && Date.now() - st.mtimeMs > LOCK_STALE_MS) {
      log?.warn({ lock }, "secrets: removing a stale lock file left by a writer that did not finish");
      await unlink(lock).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new SecretStoreError(
        `secrets file ${file} is locked by another process (lock file ${lock}); ` +
          "if no tradeguard process is writing secrets, remove the lock file",
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `fn` with exclusive write access to `file`: queued behind this process's other writers, then the lock file. */
export function withWriteLock<T>(file: string, fn: () => Promise<T>, log?: Logger): Promise<T> {
  const run = async () => {
    const release = await acquireLock(file, log);
    try {
      return await fn();
    } finally {
      await release();
    }
  };
  const prev = queues.get(file) ?? Promise.resolve();
  const result = prev.then(run, run);
  const tail = result.catch(() => undefined);
  queues.set(file, tail);
  void tail.then(() => {
    if (queues.get(file) === tail) queues.delete(file);
  });
  return result;
}

/**
 * The master key: from TRADEGUARD_SECRETS_KEY when set, else from `keyFile` (base64 or hex text, or 32 raw bytes;
 * private to its owner). With `create` a missing key file is generated (0600, in a 0700 directory).
 */
export async function loadMasterKey(opts: {
  env: Record<string, string | undefined>;
  keyFile: string;
  create: boolean;
  missingHint: string;
}): Promise<Buffer> {
  const fromEnv = opts.env.TRADEGUARD_SECRETS_KEY;
  if (fromEnv) return parseKey(fromEnv, "TRADEGUARD_SECRETS_KEY");
  const what = "secrets key file";
  for (let attempt = 0; attempt < 2; attempt++) {
    const bytes = await readPrivate(opts.keyFile, what);
    if (bytes !== null)
      return bytes.length === 32 ? bytes : parseKey(bytes.toString("utf8"), `${what} ${opts.keyFile}`);
    if (!opts.create) {
      throw new ConfigError(
        `${what} ${opts.keyFile} does not exist (${opts.missingHint}); create it with ` +
          `\`(umask 077; openssl rand -base64 32 > ${opts.keyFile})\` or set TRADEGUARD_SECRETS_KEY`,
      );
    }
    try {
      await mkdir(dirname(opts.keyFile), { recursive: true, mode: 0o700 });
      await writeFile(opts.keyFile, generateKeyText(), { mode: 0o600, flag: "wx" });
    } catch (err) {
      // Another process generated it first: read theirs.
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new ConfigError(`${what} ${opts.keyFile}: cannot create: ${errText(err)}`);
      }
    }
  }
  throw new ConfigError(`${what} ${opts.keyFile}: cannot be read after it was created`);
}
