// Shared CLI plumbing: config, a stderr logger (stdout stays clean for --json), the runtime, exit codes.
import type { Config } from "../config.js";
import { ConfigError, describeError, StateUnavailableError, TradeguardError, UsageError } from "../errors.js";
import { createLogger, type Logger } from "../log.js";
import { createRuntime, loadAppConfig } from "../main.js";
import { createNotifier } from "../notify-factory.js";
import type { Runtime } from "../runtime.js";
import { isConnectionError, redisReachable } from "../state/redis.js";

/** The CLI's exit codes (README): 0 ok; 1 operation failed or refused; 2 usage or configuration; 3 Redis unreachable. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

/** Thrown by commands to end with a specific exit code after printing `message` to stderr. */
export class CliExit extends Error {
  constructor(
    readonly code: number,
    message = "",
  ) {
    super(message);
  }
}

/** A logger on stderr (stdout stays clean for --json): pretty on a terminal, JSON lines on a pipe or a file. */
export function cliLogger(level: string): Logger {
  return createLogger({ level, pretty: true, fd: 2 });
}

/** Parses the config or ends with exit code 2. */
export function cliConfig(): Config {
  try {
    return loadAppConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
    throw err;
  }
}

/** Runs `fn` with a runtime built for the CLI (fast Redis give-up), then closes it. */
export async function withRuntime<T>(
  fn: (rt: Runtime) => Promise<T>,
  opts: { logLevel?: string; now?: () => Date } = {},
): Promise<T> {
  const config = cliConfig();
  const log = cliLogger(opts.logLevel ?? (config.logLevel === "info" ? "warn" : config.logLevel));
  let rt: Runtime;
  try {
    rt = await createRuntime(config, {
      log,
      interactive: true,
      ...(opts.now ? { now: opts.now } : {}),
      notifier: createNotifier(config, log, (l) => process.stderr.write(`${l}\n`)),
    });
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
    throw err;
  }
  try {
    return await fn(rt);
  } finally {
    await rt.close();
  }
}

/** Requires Redis (asked now, not remembered) for an operation that cannot work without it; else exit 3. */
export async function requireRedis(rt: Runtime, what: string): Promise<void> {
  if (!(await redisReachable(rt.redis, 2_000)))
    throw new CliExit(
      EXIT.unavailable,
      `${what} needs Redis, and Redis at ${rt.config.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@")} is unreachable.`,
    );
}

/** Prints a value as JSON on stdout. */
export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** The exit code an error ends the CLI with (README): refusals 1, configuration 2, Redis unreachable 3. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliExit) return err.code;
  if (err instanceof ConfigError || err instanceof UsageError) return EXIT.usage;
  if (err instanceof StateUnavailableError || isConnectionError(err)) return EXIT.unavailable;
  // Refused (not authorized, not allowed now, not found) or failed unexpectedly: the operation did not happen.
  return EXIT.failed;
}

/** The CLI's version of the one error path. */
export function reportCliError(err: unknown): number {
  if (err instanceof CliExit) {
    if (err.message) process.stderr.write(`tradeguard: ${err.message}\n`);
    return err.code;
  }
  if (isConnectionError(err) && !(err instanceof TradeguardError)) {
    process.stderr.write(`tradeguard: Redis is unreachable (${(err as Error).message})\n`);
    return EXIT.unavailable;
  }
  const d = describeError(err);
  if (!d.expected) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.stderr.write(`tradeguard: ${d.message}\n`);
  return exitCodeOf(err);
}
