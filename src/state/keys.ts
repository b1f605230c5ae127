// The only place Redis key names are built. Every key is `<prefix><name>`; docs/redis-keys.md documents each one
// for the trading processes that read them. Keys that must change together in one atomic step share this module.

/** Trading modes, strictest last. */
export const MODES = ["active", "reduce_only", "halt"] as const;
export type Mode = (typeof MODES)[number];

/** Builds prefixed key and channel names (BullMQ's toKey idea). */
export function createKeys(prefix: string) {
  const k = (name: string) => `${prefix}${name}`;
  return {
    prefix,
    mode: k("mode"),
    modeMeta: k("mode:meta"),
    /** Pub/sub channel carrying `{mode, reason, actor, ts}` on every mode change. */
    modeChannel: k("mode"),
    eventLock: k("risk:event_lock"),
    alerts: (guard: string) => k(`alerts:${guard}`),
    reconStatements: (date: string) => k(`recon:statements:${date}`),
    policyLastUpdate: k("policy:last_update"),
    policyEntropy: k("policy:entropy"),
    heartbeatBot: k("heartbeat:bot"),
    auditLog: k("audit:log"),
    /** Hash per panic: its progress, so a restarted bot resumes it and a second request joins it. */
    panic: (id: string) => k(`panic:${id}`),
    /** The id of the panic being executed now (absent when none). */
    panicActive: k("panic:active"),
    /** The id of the most recent panic (its report is shown by /status and /clear). */
    panicLast: k("panic:last"),
    /** Hash of one resume (clear) request. */
    clearRequest: (id: string) => k(`clear:request:${id}`),
    /** Set of the user ids that approved one clear request. */
    clearApprovals: (id: string) => k(`clear:request:${id}:approvals`),
    /** The id of the pending clear request (at most one; expires with the request). */
    clearActive: k("clear:active"),
    /** When the reduce_only soak after an approved clear ends (JSON {request_id, until}). */
    resumeSoak: k("resume:soak"),
    /** Delivery de-duplication marks (Slack retries, double clicks). */
    dedup: (id: string) => k(`dedup:${id}`),
    /** A logical key a guard declared (e.g. "risk:event_lock"), with the prefix applied. */
    raw: (name: string) => k(name),
    /** Hash guard name → JSON {state, detail, lastRun, durationMs}. */
    guardsState: k("guards:state"),
    /** Hash finding key → JSON of the open alert (dedup, escalation, resolution). */
    alertsOpen: k("alerts:open"),
    /** Mutual exclusion of one guard's tick across replicas. */
    guardLock: (guard: string) => k(`lock:guard:${guard}`),
    /** Marks a scheduled slot of a guard as taken by one replica. */
    guardSlot: (guard: string, slot: string) => k(`guards:slot:${guard}:${slot}`),
    /** Paper broker state. */
    paperOrders: (broker: string) => k(`paper:${broker}:orders`),
    paperPositions: (broker: string) => k(`paper:${broker}:positions`),
    paperFills: (broker: string) => k(`paper:${broker}:fills`),
  };
}

export type Keys = ReturnType<typeof createKeys>;

/** True when `s` is one of the trading modes. */
export function isMode(s: unknown): s is Mode {
  return typeof s === "string" && (MODES as readonly string[]).includes(s);
}
