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
});
export type PanicReport = z.infer<typeof panicReportSchema>;

/** What a finished panic did not do although trading is halted and flat: a snapshot, a Redis step. */
export function incompleteSteps(r: PanicReport): string[] {
  return [...(r.snapshotError ? [`snapshot: ${r.snapshotError}`] : []), ...r.redisErrors.map((e) => `redis: ${e}`)];
}

/** The HALT-VERIFIED / HALT-PARTIAL verdict for a set of broker outcomes. */
export function verdict(haltFlag: PanicReport["haltFlag"], brokers: BrokerOutcome[]): "HALT-VERIFIED" | "HALT-PARTIAL" {
  return haltFlag === "set" && brokers.every((b) => b.verified) ? "HALT-VERIFIED" : "HALT-PARTIAL";
}

/** Plain-text report, for the console, the CLI and Slack's fallback text. */
export function reportText(r: PanicReport): string {
  const lines = [`${r.status} — panic ${r.id} by ${r.actor}: ${r.reason}`];
  if (r.haltFlag === "not_set")
    lines.push("!! THE HALT FLAG COULD NOT BE SET IN REDIS: trading processes have NOT been told to stop !!");
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
  };
}
