// What every entry point (the bot's transports, the CLI, tests) is handed by the composition root: the operations'
// dependencies, the operations, the guard engine, and a way to close it all. Types only; built by src/main.ts.
import type { AuditKeys } from "./audit/keyfile.js";
import type { AlertPipeline } from "./jobs/alerts.js";
import type { Guard } from "./jobs/guard.js";
import type { GuardRunner } from "./jobs/runner.js";
import type { Logger } from "./log.js";
import type { Notifier } from "./notify.js";
import type { OpsDeps } from "./ops/deps.js";
import type { Operations } from "./ops/index.js";

/** Everything an entry point needs. */
export interface Runtime extends OpsDeps {
  auditKeys: AuditKeys;
  ops: Operations;
  guards: GuardRunner;
  alerts: AlertPipeline;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  log: Logger;
  /** CLI: give up on Redis fast and carry on without it where the operation allows. */
  interactive?: boolean;
  notifier?: Notifier;
  now?: () => Date;
  /** The guards to schedule (default: every registered guard). */
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
  guards?: Guard<any, any, any>[];
  /** Spacing of alert posts per channel (Slack allows ~1/s). */
  alertIntervalMs?: number;
}
