// The bot process's last line of defence. An unhandled rejection or uncaught exception is a bug somewhere (a library's
// callback, a forgotten await), but it need not take the kill switch down with it: everything that matters lives in
// Redis and the operations resume from there (an unfinished panic is picked up again from panic:active), so the
// process logs it with a correlation id, counts it (tradeguard_errors_total{code="unexpected"}) and keeps serving.
// A storm of them (more than `limit` within `windowMs`) means something is systematically broken: the process then
// exits 1, saying why, so the supervisor restarts it clean. Installed by `tradeguard start` only, not by every CLI
// command (a CLI run should fail loudly on its own).
import { randomUUID } from "node:crypto";
import type { EventEmitter } from "node:events";
import type { Logger } from "./log.js";
import type { Metrics } from "./metrics.js";

/** More than this many unexpected errors within the window exits the process. */
export const UNEXPECTED_LIMIT = 20;
/** The window the limit counts over. */
export const UNEXPECTED_WINDOW_MS = 60_000;

/** The part of `process` the guard listens on (a test passes an EventEmitter). */
type ProcessLike = Pick<EventEmitter, "on" | "off">;

/** Installs the unhandledRejection / uncaughtException handlers; `uninstall` removes them. */
export function installProcessGuard(deps: {
  log: Logger;
  metrics: Metrics;
  limit?: number;
  windowMs?: number;
  now?: () => number;
  exit?: (code: number) => void;
  proc?: ProcessLike;
}): { uninstall(): void } {
  const limit = deps.limit ?? UNEXPECTED_LIMIT;
  const windowMs = deps.windowMs ?? UNEXPECTED_WINDOW_MS;
  const now = deps.now ?? Date.now;
  const proc: ProcessLike = deps.proc ?? process;
  const exit =
    deps.exit ??
    ((code: number) => {
      // Let the logger write the fatal line first (a transport may be asynchronous), but never hang on it.
      setTimeout(() => process.exit(code), 1_000).unref();
      deps.log.flush(() => process.exit(code));
    });
  const seen: number[] = [];
  let exiting = false;

  const onError = (kind: "unhandled rejection" | "uncaught exception", err: unknown) => {
    const correlationId = randomUUID().slice(0, 8);
    deps.metrics.errors.inc({ code: "unexpected" });
    deps.log.error(
      { err: err instanceof Error ? err : { message: String(err) }, correlationId, kind },
      `unexpected ${kind} (correlation id ${correlationId}); still serving`,
    );
    const t = now();
    seen.push(t);
    while (seen.length && seen[0]! <= t - windowMs) seen.shift();
    if (seen.length > limit && !exiting) {
      exiting = true;
      deps.log.fatal(
        { count: seen.length, windowMs },
        `${seen.length} unexpected errors within ${Math.round(windowMs / 1000)} s: something is systematically broken; exiting (1) so the supervisor restarts the bot`,
      );
      exit(1);
    }
  };
  const onRejection = (reason: unknown) => onError("unhandled rejection", reason);
  const onException = (err: unknown) => onError("uncaught exception", err);
  proc.on("unhandledRejection", onRejection);
  proc.on("uncaughtException", onException);
  return {
    uninstall() {
      proc.off("unhandledRejection", onRejection);
      proc.off("uncaughtException", onException);
    },
  };
}
