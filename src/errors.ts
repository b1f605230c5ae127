// Typed errors: the one error path maps these to clear user-facing messages (Slack ephemeral, CLI stderr).
import { randomUUID } from "node:crypto";

/** Base class of every error tradeguard expects; `userMessage` is safe to show to the person who asked. */
export class TradeguardError extends Error {
  constructor(
    readonly userMessage: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
    this.name = new.target.name;
  }
}

/** The actor lacks the role the operation needs. */
export class NotAuthorizedError extends TradeguardError {
  constructor(message: string) {
    super(message, "not_authorized");
  }
}

/** The request itself is malformed or not allowed in the current state. */
export class UserInputError extends TradeguardError {
  constructor(message: string) {
    super(message, "bad_input");
  }
}

/** The command was called wrongly (a bad argument, a file that does not exist): the CLI exits 2. */
export class UsageError extends TradeguardError {
  constructor(message: string) {
    super(message, "usage");
  }
}

/** A referenced object (approval request, panic, ...) does not exist or expired. */
export class NotFoundError extends TradeguardError {
  constructor(message: string) {
    super(message, "not_found");
  }
}

/** A broker call failed in a way the caller should see (after retries). */
export class BrokerError extends TradeguardError {
  constructor(
    readonly broker: string,
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${broker}: ${message}`, "broker_error", options);
  }
}

/** Configuration is missing or invalid: start-up stops with exit code 2. */
export class ConfigError extends TradeguardError {
  constructor(message: string) {
    super(message, "config_error");
  }
}

/** Redis (the shared state) could not be reached. */
export class StateUnavailableError extends TradeguardError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, "state_unavailable", options);
  }
}

/** What a caller shows for an error: typed errors verbatim, unknown ones as a correlation id. */
export function describeError(err: unknown): { message: string; correlationId?: string; expected: boolean } {
  if (err instanceof TradeguardError) return { message: err.userMessage, expected: true };
  const correlationId = randomUUID().slice(0, 8);
  return {
    message: `Something went wrong (correlation id ${correlationId}). The error is in the tradeguard log under that id.`,
    correlationId,
    expected: false,
  };
}
