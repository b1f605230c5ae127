// What a panic does, step by step, as it happens: the halt flag, then every broker's cancel, close and verify (and
// its retries and failovers). The CLI draws its live progress from these; Slack follows the whole report instead
// (onProgress). A step callback is the caller's code running inside the kill switch: whatever it does, it can never
// stop or delay the panic (emitStep swallows and logs what it throws).
import type { Logger } from "../log.js";

export type PanicStep =
  /** The halt flag is set (`ms`: how long Redis took); `late` when it was set after the flatten had started. */
  | { step: "halt"; haltFlag: "set"; ms: number; late?: boolean }
  /** Redis did not take the halt flag in time: the brokers are flattened without it. */
  | { step: "halt"; haltFlag: "not_set"; ms: number; error: string }
  /** A panic was already running: this request follows it (its broker steps are not seen here, its report is). */
  | { step: "joined"; panicId: string }
  | { step: "cancelled" | "closed"; broker: string; round: number; ok: number; failed: number }
  /** The re-query after a round: flat, or what is left (null counts: the re-query itself failed). */
  | { step: "verified"; broker: string; round: number; flat: boolean; orders: number | null; positions: number | null }
  | { step: "retry"; broker: string; op: string; attempt: number; waitMs: number; error: string }
  | { step: "failover"; broker: string; op: string; from: string; to: string; error: string };

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === "string" ? v : String(v ?? ""));
/** How many orders or positions `remaining` lists (flatten's `{ orders, positions }`); null when it holds none. */
const count = (remaining: unknown, field: "orders" | "positions"): number | null => {
  const list =
    typeof remaining === "object" && remaining !== null
      ? Object.getOwnPropertyDescriptor(remaining, field)?.value
      : null;
  return Array.isArray(list) ? list.length : null;
};

/** A step of flattenBroker (src/brokers/flatten.ts: a name and untyped details) as a PanicStep; null if unknown. */
export function brokerStep(broker: string, step: string, d: Record<string, unknown>): PanicStep | null {
  switch (step) {
    case "cancelled":
    case "closed":
      return { step, broker, round: num(d.round), ok: num(d.ok), failed: num(d.failed) };
    case "verified":
      return {
        step,
        broker,
        round: num(d.round),
        flat: d.flat === true,
        orders: count(d.remaining, "orders"),
        positions: count(d.remaining, "positions"),
      };
    case "retry":
      return { step, broker, op: str(d.op), attempt: num(d.attempt), waitMs: num(d.waitMs), error: str(d.error) };
    case "failover":
      return { step, broker, op: str(d.op), from: str(d.from), to: str(d.to), error: str(d.error) };
    default:
      return null;
  }
}

/** Calls `onStep` with `step`; what it throws is logged and dropped (the panic carries on regardless). */
export function emitStep(
  onStep: ((s: PanicStep) => void) | undefined,
  step: PanicStep | null,
  log: Pick<Logger, "warn">,
): void {
  if (!onStep || !step) return;
  try {
    onStep(step);
  } catch (err) {
    log.warn({ err, step: step.step }, "panic: the progress callback failed; carrying on");
  }
}
