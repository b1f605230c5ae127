// The logger. Secrets never reach a log line: every path that may carry one is redacted here.
import { type Logger, pino } from "pino";

export type { Logger };

/** Paths redacted from every log line (tokens, secrets, keys, Slack signatures). */
export const REDACT_PATHS = [
  "*.signingSecret",
  "*.botToken",
  "*.appToken",
  "*.token",
  "*.secret",
  "*.secretKey",
  "*.apiKey",
  "*.keyId",
  "*.password",
  "*.privateKey",
  "*.headers.authorization",
  "*.headers['x-slack-signature']",
  "*.headers['apca-api-secret-key']",
  "*.headers['apca-api-key-id']",
  "headers.authorization",
  "headers['x-slack-signature']",
  "headers['apca-api-secret-key']",
  "config.env",
  "config.redis.url",
  "redis.url",
  "config.slack.signingSecret",
  "config.slack.botToken",
  "config.slack.appToken",
];

/** Builds the process logger; `pretty` renders human-readable lines for local mode. */
export function createLogger(opts: { level: string; pretty?: boolean; destination?: NodeJS.WritableStream }): Logger {
  const base = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    base: { app: "tradeguard" },
  };
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
