// One guard's evaluation over the values a tick read: garbage → a "data invalid" finding; the probe (I/O) within
// the guard's budget; the pure evaluate; the guard's state and one-line detail. No writes: the runner applies the
// findings' actions afterwards, and a drill (`tradeguard guards run --once --at`) only shows them.
import type { Finding, FlagChange, Guard, ProbeContext, Snapshot } from "../guard.js";

/** A guard's worst state after a tick (not_configured is the runner's, never a tick's). */
export type TickState = "ok" | "warn" | "critical" | "error";

export interface Evaluation {
  findings: Finding[];
  /** The flag changes the findings ask for (none when the guard did not evaluate). */
  actions: FlagChange[];
  state: TickState;
  detail: string;
  durationMs: number;
  /** What the guard could not read (a data-invalid tick), or the guard's error, for the caller's log. */
  invalid: string[];
  error: unknown;
  /** The snapshot the guard evaluated (null when it did not), for gauges. */
  snapshot: Snapshot | null;
}

/** Evaluates `guard` on `read` at `now`; never throws. */
export async function evaluateGuard(
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types go through one runner
  e: { guard: Guard<any, any, any>; config: unknown; timeoutMs: number },
  read: { values: Record<string, unknown>; invalid: string[] },
  now: Date,
  ctx: Omit<ProbeContext, "signal" | "now"> & Record<string, unknown> = {},
): Promise<Evaluation> {
  const name = e.guard.name;
  const started = performance.now();
  const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
  const failed = (f: Finding, err: unknown): Evaluation => ({
    findings: [f],
    actions: [],
    state: "error",
    detail: f.detail,
    durationMs: elapsed(),
    invalid: read.invalid,
    error: err,
    snapshot: null,
  });
  if (read.invalid.length) {
    const detail = `Redis holds values this guard cannot read, so it did not evaluate: ${read.invalid.join("; ")}`;
    const f: Finding = {
      guard: name,
      key: `${name}:data_invalid`,
      severity: "warn",
      title: `${name}: data invalid`,
      detail,
      sop: "sop-guard-data-invalid",
    };
    return failed(f, null);
  }
  try {
    const snapshot: Snapshot = { values: read.values };
    if (e.guard.probe) {
      const signal = AbortSignal.timeout(e.timeoutMs);
      snapshot.probe = await Promise.race([
        e.guard.probe(e.config, { ...ctx, signal, now }),
        new Promise<never>((_, reject) =>
          signal.addEventListener("abort", () => reject(new Error(`probe overran its ${e.timeoutMs} ms budget`))),
        ),
      ]);
    }
    const findings = e.guard.evaluate(snapshot, now, e.config).map((f) => ({ ...f, guard: f.guard || name }));
    const durationMs = elapsed();
    const state: TickState = findings.some((f) => f.severity === "critical")
      ? "critical"
      : findings.some((f) => f.severity === "warn")
        ? "warn"
        : "ok";
    let detail =
      findings
        .filter((f) => f.severity !== "info")
        .map((f) => f.title)
        .join("; ") || "ok";
    if (durationMs > e.timeoutMs) detail = `overran its ${e.timeoutMs} ms budget (${durationMs} ms); ${detail}`;
    const actions = findings.flatMap((f) => f.actions ?? []);
    return { findings, actions, state, detail, durationMs, invalid: [], error: null, snapshot };
  } catch (err) {
    const f: Finding = {
      guard: name,
      key: `${name}:error`,
      severity: "warn",
      title: `${name}: guard failed`,
      detail: (err as Error)?.message ?? String(err),
      sop: "sop-guard-error",
    };
    return failed(f, err);
  }
}
