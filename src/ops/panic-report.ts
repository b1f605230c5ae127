// The report of one panic: what /panic, `tradeguard panic --json`, /status and /clear show. Quantities are the
// brokers' decimal strings.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type BrokerOutcome, brokerOutcomeSchema } from "../brokers/broker.js";
import { UserInputError } from "../errors.js";

/** The longest reason a panic or resume request takes (it is shown in Slack, logs and the audit log). */
export const MAX_REASON = 500;

/** A trimmed reason, or a clear refusal when it is too long. */
export function checkReason(reason: string): string {
  const why = reason.trim() || "no reason given";
  if (why.length > MAX_REASON)
    throw new UserInputError(`The reason is ${why.length} characters long; keep it to ${MAX_REASON}.`);
  return why;
}

/**
 * Whether the halt reached the replicas (docs/redis-keys.md, "Failover"). Confirmed: `replicated` (WAIT answered),
 * `no_replicas` (nothing it could be lost to), `reasserted` (lost in a failover and set again, as it was, on the
 * primary that answered next), `superseded` (not replicated, and the mode has since been changed by a later
 * transition that descends from a halt: a resume is never undone). Not confirmed: `not_replicated` (no replica
 * acknowledged and the halt is not known to be on any other node), `unknown` (Redis could not be asked).
 */
export const haltReplicationSchema = z.object({
  status: z.enum(["replicated", "no_replicas", "reasserted", "superseded", "not_replicated", "unknown"]),
  /** Replicas that acknowledged the last WAIT; null when none was sent. */
  acked: z.number().int().nullable(),
  /** Replicas connected to the primary at the last check; null when unknown. */
  connected: z.number().int().nullable(),
  /** How long the first WAIT blocked (0 when skipped: no replica to wait for). */
  waitedMs: z.number().int(),
  /** When this process set the halt again after it was lost; null when it never had to. */
  reassertedAt: z.string().nullable(),
  detail: z.string(),
});
export type HaltReplication = z.infer<typeof haltReplicationSchema>;

/** The statuses that confirm the halt is where trading processes will read it, failover or not. */
export const CONFIRMED: ReadonlySet<HaltReplication["status"]> = new Set([
  "replicated",
  "no_replicas",
  "reasserted",
  "superseded",
]);

export const panicReportSchema = z.object({
  id: z.string(),
  status: z.enum(["RUNNING", "HALT-VERIFIED", "HALT-PARTIAL"]),
  reason: z.string(),
  actor: z.string(),
  requestedAt: z.string(),
  haltedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  /** Whether `mode=halt` was set in Redis (false only when Redis was unreachable). */
  haltFlag: z.enum(["set", "not_set"]),
  brokers: z.array(brokerOutcomeSchema),
  snapshot: z.string().nullable(),
  /** Why no snapshot was written (null when it was, or while the panic runs). */
  snapshotError: z.string().nullable().default(null),
  /** Redis steps after the halt that failed (the brokers were flattened regardless), e.g. "save progress: …". */
  redisErrors: z.array(z.string()).default([]),
  attempts: z.number().int(),
  /** Set at the end of a panic that set the halt itself (null/absent: a takeover, or a report older than this). */
  haltReplication: haltReplicationSchema.nullable().optional(),
});
export type PanicReport = z.infer<typeof panicReportSchema>;

/** What a finished panic did not do although trading is halted and flat: a snapshot, a Redis step. */
export function incompleteSteps(r: PanicReport): string[] {
  return [...(r.snapshotError ? [`snapshot: ${r.snapshotError}`] : []), ...r.redisErrors.map((e) => `redis: ${e}`)];
}

/**
 * The HALT-VERIFIED / HALT-PARTIAL verdict: the halt flag set — and, when its replication was checked, confirmed
 * (a halt a failover may have lost is not verified) — and every broker verified flat.
 */
export function verdict(
  haltFlag: PanicReport["haltFlag"],
  brokers: BrokerOutcome[],
  replication?: HaltReplication | null,
): "HALT-VERIFIED" | "HALT-PARTIAL" {
  const durable = !replication || CONFIRMED.has(replication.status);
  return haltFlag === "set" && durable && brokers.every((b) => b.verified) ? "HALT-VERIFIED" : "HALT-PARTIAL";
}

/** The audit fields of a halt's replication (panic.verified's `halt_replication`, panic.halt_replication). */
export function auditFields(r: HaltReplication) {
  return {
    status: r.status,
    confirmed: CONFIRMED.has(r.status),
    replicated: r.status === "replicated" || r.status === "no_replicas",
    acked: r.acked,
    connected: r.connected,
    waited_ms: r.waitedMs,
    reasserted_at: r.reassertedAt,
    detail: r.detail,
  };
}

/** One line on the halt's replication, or null when it was not checked. */
export function replicationText(r: HaltReplication | null | undefined): string | null {
  if (!r) return null;
  switch (r.status) {
    case "replicated":
      return `halt flag: replicated (${r.acked} replica(s) acknowledged in ${r.waitedMs} ms)`;
    case "no_replicas":
      return "halt flag: set on a primary without replicas (nothing to wait for)";
    case "reasserted":
      return `halt flag: LOST in a Redis failover and re-asserted at ${r.reassertedAt} on the primary that answered next (${r.detail})`;
    case "superseded":
      return `halt flag: not replicated, and the mode was changed after the halt (${r.detail}); not re-asserted`;
    default:
      return `!! HALT FLAG NOT CONFIRMED (${r.status}: ${r.detail}): after a Redis failover trading processes may not see it — RUNBOOK.md#sop-halt-not-replicated`;
  }
}

/** Plain-text report, for the console, the CLI and Slack's fallback text. */
export function reportText(r: PanicReport): string {
  const lines = [`${r.status} — panic ${r.id} by ${r.actor}: ${r.reason}`];
  if (r.haltFlag === "not_set")
    lines.push("!! THE HALT FLAG COULD NOT BE SET IN REDIS: trading processes have NOT been told to stop !!");
  const replication = replicationText(r.haltReplication);
  if (replication) lines.push(replication);
  for (const b of r.brokers) {
    const cancelledOk = b.cancelled.filter((i) => i.ok).length;
    const closedOk = b.closed.filter((i) => i.ok).length;
    lines.push(
      `• ${b.broker} (${b.kind}): ${b.verified ? "verified flat" : "NOT FLAT"} — ${cancelledOk} orders cancelled, ${closedOk} positions closed, ${b.rounds} round(s), ${b.durationMs} ms`,
    );
    if (b.remaining) {
      for (const o of b.remaining.orders)
        lines.push(`    open order ${o.id} ${o.side} ${o.qty ?? "?"} ${o.symbol} (${o.status})`);
      for (const p of b.remaining.positions) lines.push(`    position ${p.symbol} ${p.qty}`);
    } else if (!b.verified) lines.push("    could not re-query the broker: state unknown");
    for (const e of b.errors) lines.push(`    error: ${e}`);
  }
  if (r.snapshot) lines.push(`snapshot: ${r.snapshot}`);
  else if (r.snapshotError) lines.push(`!! SNAPSHOT FAILED: ${r.snapshotError} (the state at the halt was not saved)`);
  if (r.redisErrors.length) {
    lines.push(
      `!! Redis failed during the panic (${r.redisErrors.length} step(s)); the broker work went ahead regardless:`,
    );
    for (const e of r.redisErrors) lines.push(`    ${e}`);
  }
  return lines.join("\n");
}

/** New panic id: sortable by time, unique across processes. */
export function newPanicId(now: Date): string {
  return `p${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/** The report of a panic that is starting; with the flag set it was halted at `now`. */
export function startingReport(
  actor: string,
  reason: string,
  now: Date,
  haltFlag: PanicReport["haltFlag"],
): PanicReport {
  return {
    id: newPanicId(now),
    status: "RUNNING",
    reason,
    actor,
    requestedAt: now.toISOString(),
    haltedAt: haltFlag === "set" ? now.toISOString() : null,
    finishedAt: null,
    durationMs: null,
    haltFlag,
    brokers: [],
    snapshot: null,
    snapshotError: null,
    redisErrors: [],
    attempts: 1,
    haltReplication: null,
  };
}
