// What operations need: built once by the composition root and shared by Slack handlers, the CLI and jobs. The
// guard engine and the alert pipeline live above the operations (src/jobs); operations see them only through the
// narrow interfaces declared here, which the engine implements.
import type { Redis } from "ioredis";
import type { AuditInput, AuditLog } from "../audit/log.js";
import type { Broker } from "../brokers/broker.js";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Notifier } from "../notify.js";
import type { SecretStore } from "../secrets/store.js";
import type { Keys } from "../state/keys.js";
import type { ModeStore } from "../state/mode.js";
import type { KeyProblem } from "../state/validate.js";
import type { ClearStore } from "./clear-store.js";
import type { PanicStore } from "./panic-store.js";

/** A guard's state as /status shows it. `not_configured`: off until the desk declares what it watches. */
export type GuardState = "ok" | "warn" | "critical" | "stale" | "error" | "not_configured";

/** One guard's recorded run, as the guard engine reports it. */
export interface GuardStatus {
  name: string;
  state: GuardState;
  detail: string;
  lastRun: string;
  durationMs: number;
  schedule: string;
  enabled: boolean;
}

/** What operations read of the guard engine: every guard's state, and what of its records is unreadable. */
export interface GuardStatusSource {
  readStates(): Promise<{ guards: GuardStatus[]; unreadable: KeyProblem[] }>;
}

/** An open alert as operations show it (the alert pipeline stores more). */
export interface OpenAlertView {
  guard: string;
  key: string;
  severity: "info" | "warn" | "critical";
  title: string;
  since: string;
  count: number;
  sop: string;
  ackedBy?: string;
}

/** A condition an operation reports (the alert pipeline's finding, as operations build it). */
export interface AlertFinding {
  guard: string;
  key: string;
  severity: "info" | "warn" | "critical";
  title: string;
  detail: string;
  sop: string;
  value?: string;
  threshold?: string;
}

/** What operations use of the alert pipeline. */
export interface AlertSource {
  readOpen(): Promise<{ alerts: OpenAlertView[]; unreadable: KeyProblem[] }>;
  acknowledge(field: string, by: string): Promise<OpenAlertView | null>;
  /** Opens (or counts, escalates) one condition of `stream`, leaving its other alerts alone. */
  raise(stream: string, finding: AlertFinding, now: Date): Promise<void>;
  /** Resolves one condition of `stream` if it is open. */
  resolve(stream: string, key: string, now: Date): Promise<void>;
}

/** One SLO's error budget as operations show it (computed by the error_budget guard's arithmetic). */
export interface BudgetView {
  slo: string;
  description: string;
  /** Percent of events that must be good over the period. */
  target: number;
  periodDays: number;
  policy: "none" | "reduce_only" | "extra_approver";
  /** "ok": judged; "no_data": no events in the period; "unreadable": a key or field holds garbage. */
  state: "ok" | "no_data" | "unreadable";
  /** Budget left in percent (rounded down, one decimal), null unless judged. */
  leftPct: string | null;
  /** Exactly: more than the asked share of the budget is left (false unless judged). */
  leftAbove: boolean;
  /** Spent: no budget left, or its policy still in force (error_budget:exhausted). */
  spent: boolean;
  /** Events of the period. */
  good: string;
  total: string;
  /** Each burn-rate rule: its windows' burn rates ("15.20×", "—") and whether it fires. */
  rules: { name: string; severity: "warn" | "critical"; windows: string; firing: boolean }[];
  problems: string[];
}

/** What operations read of the error budgets (the cutover gate, `tradeguard budget`). */
export interface BudgetSource {
  /** The SLOs declared (empty: error budgets are not configured). */
  slos(): string[];
  /** Every SLO's budget at `now`; `minLeftPct` is the share `leftAbove` is judged against (default 0). */
  read(now: Date, minLeftPct?: number): Promise<{ slos: BudgetView[]; unreadable: KeyProblem[] }>;
}

export interface OpsDeps {
  config: Config;
  log: Logger;
  /** The shared state. Never assumed up: every operation tries it and falls back only when a call fails. */
  redis: Redis;
  keys: Keys;
  mode: ModeStore;
  audit: AuditLog;
  brokers: Broker[];
  /** Where managed brokers' credentials live (local encrypted file, or AWS Secrets Manager). */
  secrets: SecretStore;
  metrics: Metrics;
  notifier: Notifier;
  panicStore: PanicStore;
  clearStore: ClearStore;
  /** Identifies this process (panic leases). */
  instanceId: string;
  /** Signs /panic confirmations (derived from the audit key, so every replica shares it). */
  confirmKey: Buffer;
  now: () => Date;
  guards: GuardStatusSource;
  alerts: AlertSource;
  /** The SLOs' error budgets (absent where no engine is wired: reported as not configured). */
  budgets?: BudgetSource;
  /**
   * Writes a signed checkpoint of the audit chain now (after a panic, a resume, a rotation): to the audit bucket, or
   * TRADEGUARD_HOME/checkpoints.jsonl. Best-effort: callers log a failure and carry on.
   */
  anchorNow(): Promise<void>;
}

/** Appends an audit entry and counts it. */
export function audit(deps: Pick<OpsDeps, "audit" | "metrics">, input: AuditInput) {
  deps.metrics.auditAppends.inc({ action: input.action });
  return deps.audit.append(input);
}
