// The guard contract. A guard is one file exporting a `Guard`: a pure `evaluate(snapshot, now, config)` that turns
// the Redis values it declared (already validated) and, optionally, the result of its probe into findings. Guards
// never touch Slack or Redis: the runner reads the snapshot (one pipelined round trip for every due guard), and
// applies the findings' flag changes and alerts.
import type { z } from "zod";

export type Severity = "info" | "warn" | "critical";

/** A Redis change a guard asks for; keys are logical names (e.g. "risk:event_lock"), prefixed by the runner. */
export type FlagChange =
  | { op: "set"; key: string; value: string; ttlMs?: number }
  | { op: "del"; key: string }
  | { op: "hset"; key: string; fields: Record<string, string> }
  | { op: "hdel"; key: string; fields: string[] }
  | { op: "sadd"; key: string; members: string[] }
  | { op: "srem"; key: string; members: string[] }
  /** Removes sorted-set members scored in [min, max] (e.g. events that are over). */
  | { op: "zremrangebyscore"; key: string; min: string; max: string }
  /** Publishes on a logical channel name (prefixed like keys). */
  | { op: "publish"; channel: string; message: string };

/** One condition a guard found. `key` identifies the condition across ticks (dedup, escalation, resolution). */
export interface Finding {
  guard: string;
  key: string;
  severity: Severity;
  title: string;
  detail: string;
  /** RUNBOOK.md anchor of the SOP, e.g. "sop-policy-watchdog". */
  sop: string;
  /** Current value and the threshold it crossed, as people read them ("412 s", "300 s"). */
  value?: string;
  threshold?: string;
  actions?: FlagChange[];
}

/** How the runner reads one declared key and validates its raw value. */
export interface KeyRead {
  /** Logical key name without prefix, e.g. "policy:last_update". */
  key: string;
  type: "string" | "hash" | "set" | "zset" | "list";
  /**
   * Validates the raw value: string → string | null; hash → Record<string,string> (empty when absent);
   * set → string[]; zset → [member, score][] (WITHSCORES, ascending); list → string[] (whole list).
   */
  schema: z.ZodType;
  /**
   * "fail" (default): a Redis error or schema failure on this read stops the guard with a "data invalid" finding.
   * "value": evaluate receives a ReadFailure instead, so a guard that reads many per-symbol keys can skip the one
   * that is broken and still judge the others.
   */
  onError?: "fail" | "value";
}

/** What a read declared with `onError: "value"` yields when Redis refused it or its value failed the schema. */
export class ReadFailure {
  constructor(
    readonly key: string,
    readonly message: string,
  ) {}
}

/** What `evaluate` receives: the validated values by read name, and the probe's result when the guard has one. */
export interface Snapshot<V = Record<string, unknown>, P = unknown> {
  values: V;
  probe?: P;
}

/** I/O a guard may need before evaluating (an NTP query, a file); runs in the runner with a timeout. */
export interface ProbeContext {
  signal: AbortSignal;
  now: Date;
}

export interface Guard<C = unknown, V = Record<string, unknown>, P = unknown> {
  /** Stable name: the YAML key under `guards.` and the label in metrics and /status. */
  name: string;
  /** Alert stream: alerts are recorded in `alerts:<alertStream>` (default: the guard's name), e.g. "policy". */
  alertStream?: string;
  /** Default node-cron schedule (overridable with guards.<name>.schedule). */
  schedule: string;
  /** Parses `guards.<name>` (with defaults), once, with the rest of the configuration. `enabled`, `schedule` and
   * `timeout_ms` are common to every guard and handled there. */
  config: z.ZodType<C>;
  /**
   * For a guard that watches something the desk must declare (a policy daemon, NTP servers): it stays off, shown
   * as "not configured — <hint>", until guards.<name> has a setting of its own (or `enabled: true`).
   */
  requires?: { hint: string };
  /** The Redis keys this guard reads, by read name. */
  reads(config: C): Record<keyof V & string, KeyRead>;
  probe?(config: C, ctx: ProbeContext): Promise<P>;
  /** Pure: same inputs, same findings. */
  evaluate(snapshot: Snapshot<V, P>, now: Date, config: C): Finding[];
  /** Gauges this guard exports (registered by the runner on the app's Prometheus registry). */
  metrics?: { name: string; help: string; labelNames?: string[] }[];
  /** Pure: gauge values from this tick's snapshot (e.g. tradeguard_clock_offset_seconds). */
  measure?(snapshot: Snapshot<V, P>, config: C): { name: string; labels?: Record<string, string>; value: number }[];
}

/** Helper for guard files: keeps the generic parameters inferred. */
export function defineGuard<C, V extends Record<string, unknown>, P = undefined>(g: Guard<C, V, P>): Guard<C, V, P> {
  return g;
}
