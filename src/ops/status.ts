// The status operation: what /status, `tradeguard status` and App Home show.
import { MARKET_KEYS } from "../state/keys.js";
import type { ModeState } from "../state/mode.js";
import type { GuardState, OpsDeps } from "./deps.js";
import type { PanicReport } from "./panic-report.js";

export interface StatusView {
  mode: ModeState["mode"];
  reason: string | null;
  actor: string | null;
  since: string | null;
  panicId: string | null;
  /** Set when the mode key holds something invalid (readers fail safe to halt). */
  invalid?: string;
  /** The id of a panic that is executing now. */
  panicRunning: string | null;
  lastPanic: PanicReport | null;
  /** Open resume request, when one waits for approval. */
  clearRequest: { id: string; requester: string; reason: string; approvals: string[]; expiresAt: string } | null;
  /** When reduce_only ends and trading resumes (during a soak). */
  soakUntil: string | null;
  brokers: { name: string; kind: string }[];
  guards: { name: string; state: GuardState; detail: string; lastRun: string | null; durationMs: number }[];
  /** Open alerts, most severe first. */
  alerts: {
    guard: string;
    key: string;
    severity: string;
    title: string;
    since: string;
    count: number;
    sop: string;
    ackedBy: string | null;
  }[];
  /** Active flags trading processes obey: the event lock as stored, and how many symbols are LULD-paused or under SSR. */
  flags: { eventLock: string | null; luldPaused: number; ssrActive: number };
}

/** Reads the current state (one transaction for the mode, one pipeline for the rest). */
export async function getStatus(deps: OpsDeps): Promise<StatusView> {
  const { redis, keys } = deps;
  const mode = await deps.mode.get();
  const res = await redis
    .pipeline()
    .get(keys.panicActive)
    .get(keys.panicLast)
    .get(keys.clearActive)
    .get(keys.resumeSoak)
    .get(keys.eventLock)
    .hlen(keys.raw(MARKET_KEYS.luldPaused))
    .hlen(keys.raw(MARKET_KEYS.ssrActive))
    .exec();
  const failed = res?.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
  const val = (i: number) => (res?.[i]?.[1] as string | null) ?? null;
  const lastId = val(1);
  const clearId = val(2);
  const [lastPanic, clearRequest, guards, alerts] = await Promise.all([
    lastId ? deps.panicStore.report(lastId) : Promise.resolve(null),
    clearId ? deps.clearStore.get(clearId, deps.now()) : Promise.resolve(null),
    deps.guards.states(),
    deps.alerts.open(),
  ]);
  let soakUntil: string | null = null;
  const soak = val(3);
  if (soak) {
    try {
      soakUntil = String((JSON.parse(soak) as { until?: unknown }).until ?? "") || null;
    } catch {
      soakUntil = null;
    }
  }
  return {
    mode: mode.mode,
    reason: mode.reason,
    actor: mode.actor,
    since: mode.since,
    panicId: mode.panicId,
    ...(mode.invalid ? { invalid: mode.invalid } : {}),
    panicRunning: val(0),
    lastPanic,
    clearRequest:
      clearRequest && clearRequest.state === "pending"
        ? {
            id: clearRequest.id,
            requester: clearRequest.requester,
            reason: clearRequest.reason,
            approvals: clearRequest.approvals,
            expiresAt: clearRequest.expiresAt,
          }
        : null,
    soakUntil,
    brokers: deps.brokers.map((b) => ({ name: b.name, kind: b.kind })),
    guards: guards.map((g) => ({
      name: g.name,
      state: g.state,
      detail: g.detail,
      lastRun: g.lastRun || null,
      durationMs: g.durationMs,
    })),
    alerts: alerts.map((a) => ({
      guard: a.guard,
      key: a.key,
      severity: a.severity,
      title: a.title,
      since: a.since,
      count: a.count,
      sop: a.sop,
      ackedBy: a.ackedBy ?? null,
    })),
    flags: { eventLock: val(4), luldPaused: Number(res?.[5]?.[1] ?? 0), ssrActive: Number(res?.[6]?.[1] ?? 0) },
  };
}
