// The logger. Secrets never reach a log line: each line is censored by key name, at any depth, as the last step
// before it is written (after pino's serializers), so nested objects, arrays, Error properties as pino's err
// serializer outputs them, child bindings and the message are all covered, whether the line goes to a destination
// or to the pino-pretty transport. Path-based redaction (pino's redact.paths) missed anything nested deeper than
// the paths it listed.
import { createRequire } from "node:module";
import { type Logger, pino } from "pino";

export type { Logger };

/** What a secret value is replaced with. */
const CENSOR = "[redacted]";

/**
 * Secret key names, compared in lower case with "-" and "_" removed; any key ending in "secret", "token",
 * "password", "passphrase", "apikey", "accesskey" or "privatekey" is secret too. "apcaapikeyid" (the APCA-API-KEY-ID header) stays redacted as it always was, but generic
 * key ids (`keyId`, `key_id`) deliberately are not: a key id is not a secret, and the audit log and key rotation log
 * them so an operator can tell which key signed what.
 */
const SECRET_KEYS = new Set([
  "token",
  "bottoken",
  "apptoken",
  "secret",
  "secretkey",
  "signingsecret",
  "password",
  "passphrase",
  "apikey",
  "privatekey",
  "authorization",
  "proxyauthorization",
  "cookie",
  "setcookie",
  "xslacksignature",
  "apcaapisecretkey",
  "apcaapikeyid",
  // Exchange API headers of the venues tradeguard drives (Binance, OKX, Bybit, Coinbase, Kraken).
  "xmbxapikey",
  "okaccesskey",
  "okaccesssign",
  "okaccesspassphrase",
  "xbapiapikey",
  "xbapisign",
  "cbaccesskey",
  "cbaccesssign",
  "cbaccesspassphrase",
  "apisign",
]);
const SECRET_SUFFIXES = ["secret", "token", "password", "passphrase", "apikey", "accesskey", "privatekey"];

/** Nesting beyond this is replaced rather than walked (the walk is recursive). */
const MAX_DEPTH = 32;

/** Whether the property `key` holding `value` must be censored. */
function isSecret(key: string, value: unknown): boolean {
  const k = key.replace(/[-_]/g, "").toLowerCase();
  if (SECRET_KEYS.has(k) || SECRET_SUFFIXES.some((s) => k.endsWith(s))) return true;
  // `auth: "user:pass"` (HTTP clients' basic-auth option) is a secret; an `auth` object is walked into instead.
  if (k === "auth" && typeof value === "string") return true;
  // Config.env is the raw environment: broker secrets sit in it under names the operator chooses (key_id_env,
  // secret_key_env, ...), which no key-name rule can recognise, so a whole env map is censored (as before).
  return k === "env" && value !== null && typeof value === "object";
}

// scheme://userinfo@ — the scheme is bounded so a long run of scheme characters cannot make the scan quadratic.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)[^\s/?#]+@/gi;

/** `s` with the credentials of any URL in it masked (redis://user:pass@host → redis://[redacted]@host). */
function maskUrlCredentials(s: string): string {
  return s.includes("://") ? s.replace(URL_CREDENTIALS, `$1${CENSOR}@`) : s;
}

/** An Error's fields as pino's err serializer outputs them: type, message, stack, own enumerable properties. */
function errorFields(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: err.constructor?.name || err.name,
    message: err.message,
    stack: err.stack,
  };
  if (err.cause !== undefined) out.cause = err.cause;
  if (err instanceof AggregateError) out.aggregateErrors = err.errors;
  for (const key of Object.keys(err)) Object.defineProperty(out, key, { value: (err as never)[key], enumerable: true });
  return out;
}

function walk(value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (typeof value === "string") return maskUrlCredentials(value);
  if (value === null || typeof value !== "object") return value;
  if (ancestors.has(value)) return "[Circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, ancestors));
    let source: unknown = value;
    if (value instanceof Error) source = errorFields(value);
    else if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
      // What JSON would write (a Date's ISO string, a URL's href, a Buffer's bytes), censored in turn.
      source = (value as { toJSON(): unknown }).toJSON();
      if (source !== value) return walk(source, depth, ancestors);
    }
    // fromEntries, not assignment: a "__proto__" key stays a plain property.
    return Object.fromEntries(
      Object.entries(source as object).map(([k, v]) => [k, isSecret(k, v) ? CENSOR : walk(v, depth + 1, ancestors)]),
    );
  } finally {
    ancestors.delete(value);
  }
}

/**
 * A copy of `value` with every secret-named property censored at any depth and URL credentials masked in every string.
 * Pure: the input is never mutated. Cycles become "[Circular]"; nesting deeper than MAX_DEPTH becomes "[too deep]".
 */
export function redactDeep(value: unknown): unknown {
  return walk(value, 0, new Set());
}

/** The censor on each serialised line (pino's streamWrite hook, which must return a JSON line). */
function censorLine(line: string): string {
  const eol = line.slice(line.trimEnd().length);
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    // pino only writes JSON; anything else cannot be censored, so it is dropped rather than written as is.
    return `${JSON.stringify({ msg: `${CENSOR}: a log line that was not JSON` })}${eol}`;
  }
  return `${JSON.stringify(redactDeep(parsed))}${eol}`;
}

/** The options every tradeguard logger is built from: its level and the secret censor. */
export function loggerOptions(level: string): pino.LoggerOptions {
  return { level, hooks: { streamWrite: censorLine } };
}

/**
 * Whether `stream` gets colour: FORCE_COLOR (set and not "0") wins, then NO_COLOR (set and not empty,
 * https://no-color.org) turns it off, then only a terminal (and not TERM=dumb) gets it. Used by every coloured output:
 * the CLI's text (src/cli/style.ts) and the pretty log lines.
 */
export function colorEnabled(
  stream: { isTTY?: boolean } = process.stdout,
  env: Record<string, string | undefined> = process.env,
): boolean {
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

const requireCjs = createRequire(import.meta.url);

/**
 * Builds the process logger on stdout (`fd: 1`, the bot) or stderr (`fd: 2`, the CLI, whose stdout carries --json).
 * `pretty` renders human-readable lines, and only on a terminal: a pipe or a file gets JSON lines, one per line,
 * which collectors parse and which never interleave with a human rendering. The pretty lines are written in process
 * and synchronously, so they keep their place among the command's own output; coloured per colorEnabled (never with
 * NO_COLOR). Every line is censored first (loggerOptions' streamWrite hook runs before the rendering).
 */
export function createLogger(opts: {
  level: string;
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
  fd?: 1 | 2;
}): Logger {
  const base = { ...loggerOptions(opts.level), base: { app: "tradeguard" } };
  if (opts.destination) return pino(base, opts.destination as pino.DestinationStream);
  const fd = opts.fd ?? 1;
  const stream = fd === 2 ? process.stderr : process.stdout;
  if (opts.pretty && stream.isTTY) {
    // Loaded only here: most processes (every CLI command run from a script) never render a pretty line.
    const pretty = requireCjs("pino-pretty") as typeof import("pino-pretty");
    return pino(
      base,
      pretty({
        destination: fd,
        sync: true,
        colorize: colorEnabled(stream),
        translateTime: "SYS:HH:MM:ss.l",
        ignore: "pid,hostname,app",
      }),
    );
  }
  return fd === 2 ? pino(base, pino.destination({ fd: 2, sync: true })) : pino(base);
}
