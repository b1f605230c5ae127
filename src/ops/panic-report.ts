// The report of one panic: what /panic, `tradeguard panic --json`, /status and /clear show. Quantities are the
// brokers' decimal strings.
import { z } from "zod";

const itemSchema = z.object({
  ref: z.string(),
  ok: z.boolean(),
  status: z.union([z.number(), z.string()]).optional(),
  brokerId: z.string().optional(),
  reason: z.string().optional(),
});

export const brokerOutcomeSchema = z.object({
  broker: z.string(),
  kind: z.string(),
  /** Nothing open and flat at the broker after the re-query. */
  verified: z.boolean(),
  cancelled: z.array(itemSchema),
  closed: z.array(itemSchema),
  /** What the re-query still found, or null when the broker could not be re-queried. */
  remaining: z
    .object({
      orders: z.array(
        z.object({
          id: z.string(),
          symbol: z.string(),
          side: z.string(),
          qty: z.string().nullable(),
          status: z.string(),
        }),
      ),
      positions: z.array(z.object({ symbol: z.string(), qty: z.string() })),
    })
    .nullable(),
  /** Why it is not verified (errors after retries, deadline), in order. */
  errors: z.array(z.string()),
  rounds: z.number().int(),
  durationMs: z.number(),
});
export type BrokerOutcome = z.infer<typeof brokerOutcomeSchema>;

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
  attempts: z.number().int(),
});
export type PanicReport = z.infer<typeof panicReportSchema>;

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
  return lines.join("\n");
}
