// Shared CLI plumbing: config, a stderr logger (stdout stays clean for --json), the runtime, exit codes.
import { pino } from "pino";
import { type Config, loadConfig } from "../config.js";
import { ConfigError, describeError } from "../errors.js";
import { type Logger, REDACT_PATHS } from "../log.js";
import { createRuntime, type Runtime } from "../main.js";
import { createNotifier } from "../notify-factory.js";

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

/** A logger on stderr; pretty on a terminal. */
export function cliLogger(level: string): Logger {
  const opts = { level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } };
  if (process.stderr.isTTY) {
    return pino({
      ...opts,
      transport: {
        target: "pino-pretty",
        options: { destination: 2, colorize: true, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss" },
      },
    });
  }
  return pino(opts, pino.destination({ fd: 2, sync: true }));
}

/** Parses the config or ends with exit code 2. */
export function cliConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) throw new CliExit(EXIT.usage, err.userMessage);
    throw err;
  }
}

/** Runs `fn` with a runtime built for the CLI (fast Redis give-up), then closes it. */
export async function withRuntime<T>(fn: (rt: Runtime) => Promise<T>, opts: { logLevel?: string } = {}): Promise<T> {
  const config = cliConfig();
  const log = cliLogger(opts.logLevel ?? (config.logLevel === "info" ? "warn" : config.logLevel));
  let rt: Runtime;
  try {
    rt = await createRuntime(config, {
      log,
      interactive: true,
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

/** Requires Redis for an operation that cannot work without it. */
export function requireRedis(rt: Runtime, what: string): void {
  if (!rt.redisUp)
    throw new CliExit(
      EXIT.unavailable,
      `${what} needs Redis, and Redis at ${rt.config.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@")} is unreachable.`,
    );
}

/** Prints a value as JSON on stdout. */
export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** The CLI's version of the one error path. */
export function reportCliError(err: unknown): number {
  if (err instanceof CliExit) {
    if (err.message) process.stderr.write(`tradeguard: ${err.message}\n`);
    return err.code;
  }
  const d = describeError(err);
  if (!d.expected) process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
  process.stderr.write(`tradeguard: ${d.message}\n`);
  return d.expected ? EXIT.failed : EXIT.failed;
}
