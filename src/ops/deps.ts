// What operations need: built once by the composition root and shared by Slack handlers, the CLI and jobs.
import type { Redis } from "ioredis";
import type { AuditInput, AuditLog } from "../audit/log.js";
import type { Broker } from "../brokers/broker.js";
import type { Config } from "../config.js";
import type { AlertPipeline } from "../jobs/alerts.js";
import type { GuardRunner } from "../jobs/runner.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Notifier } from "../notify.js";
import type { Keys } from "../state/keys.js";
import type { ModeStore } from "../state/mode.js";
import type { ClearStore } from "./clear-store.js";
import type { PanicStore } from "./panic-store.js";

export interface OpsDeps {
  config: Config;
  log: Logger;
  /** Null only in a CLI run where Redis could not be reached. */
  redis: Redis;
  redisUp: boolean;
  keys: Keys;
  mode: ModeStore;
  audit: AuditLog;
  brokers: Broker[];
  metrics: Metrics;
  notifier: Notifier;
  panicStore: PanicStore;
  clearStore: ClearStore;
  /** Identifies this process (panic leases). */
  instanceId: string;
  now: () => Date;
  guards: GuardRunner;
  alerts: AlertPipeline;
}

/** Appends an audit entry and counts it. */
export function audit(deps: Pick<OpsDeps, "audit" | "metrics">, input: AuditInput) {
  deps.metrics.auditAppends.inc({ action: input.action });
  return deps.audit.append(input);
}
