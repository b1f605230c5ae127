// The logger. Secrets never reach a log line: each line is censored by key name, at any depth, as the last step
// before it is written (after pino's serializers), so nested objects, arrays, Error properties as pino's err
// serializer outputs them, child bindings and the message are all covered, whether the line goes to a destination
// or to the pino-pretty transport. Path-based redaction (pino's redact.paths) missed anything nested deeper than
// the paths it listed.
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

/** Builds the process logger; `pretty` renders human-readable lines for local mode. */
export function createLogger(opts: { level: string; pretty?: boolean; destination?: NodeJS.WritableStream }): Logger {
  const base = { ...loggerOptions(opts.level), base: { app: "tradeguard" } };
  if (opts.destination) return pino(base, opts.destination as pino.DestinationStream);
  if (opts.pretty) {
    return pino({
      ...base,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname,app" },
      },
    });
  }
  return pino(base);
}
