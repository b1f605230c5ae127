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
    eventLock: k(EVENT_KEYS.lock),
    alerts: (guard: string) => k(`alerts:${guard}`),
    /** The result of the latest recon of a date (JSON, the `tradeguard recon --json` object + `broker`). */
    reconStatements: (date: string) => k(`recon:statements:${date}`),
    /** List (newest first, 50 kept) of recon summaries {date, broker, ok, mismatches, errors, at}: /status reads it. */
    reconLast: k("recon:last"),
    policyLastUpdate: k(POLICY_KEYS.lastUpdate),
    policyEntropy: k(POLICY_KEYS.entropy),
    heartbeatBot: k("heartbeat:bot"),
    auditLog: k("audit:log"),
    /** Hash per panic: its progress, so a restarted bot resumes it and a second request joins it. */
    panic: (id: string) => k(`panic:${id}`),
    /** One /panic confirmation's use: "starting", then the id of the panic it started; expires with it (+1 h). */
    panicConfirm: (nonce: string) => k(`panic:confirm:${nonce}`),
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
    /** Hash of one key rotation request (`r…`). */
    rotateRequest: (id: string) => k(`rotate:request:${id}`),
    /** Set of the user ids that approved one rotation request. */
    rotateApprovals: (id: string) => k(`rotate:request:${id}:approvals`),
    /** The id of the open rotation request of one managed broker (at most one; expires with the request). */
    rotateActive: (broker: string) => k(`rotate:active:${broker}`),
    /** Pub/sub channel: `{"broker","key_id","ts"}` after a rotation promoted a new key (replicas reload it). */
    secretsRotated: k("secrets:rotated"),
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

// Logical names (without REDIS_PREFIX) of the keys guards, the gate, the rate limiter and trading processes share.
// Guards declare these in their reads and flag changes and the runner prefixes them (`raw`); libraries prefix them
// with createKeys(prefix).raw. docs/redis-keys.md documents each one: type, format, writer, reader.

/** RL-policy daemon keys and the watchdog's own. */
export const POLICY_KEYS = {
  lastUpdate: "policy:last_update",
  entropy: "policy:entropy",
  /** Epoch ms when the entropy was first seen below the minimum; absent while it is not low. Owned by the watchdog. */
  entropyLowSince: "policy:entropy_low_since",
  /** The allocator's minimum weight per strategy while the policy is unhealthy ("0.05"). Owned by the watchdog. */
  weightFloor: "policy:weight_floor",
  /** Epoch ms of the last restart request (rate-limits the requests). Owned by the watchdog. */
  restartRequestedAt: "policy:restart_requested_at",
  /** Pub/sub channel of restart requests (JSON, see RestartRequest). */
  restartChannel: "policy:restart",
} as const;

/** Economic-event lock and the desk's earnings calendar. */
export const EVENT_KEYS = {
  /** JSON {"event","until","cap","exempt"} while a window is open; TTL = end of the window. */
  lock: "risk:event_lock",
  /** Sorted set: score = event time (epoch ms), member = JSON {"symbol","name"} (unique per event). */
  earnings: "risk:events:earnings",
} as const;

/** Market rules and the pre-trade gate. */
export const MARKET_KEYS = {
  /** Hash YYYY-MM-DD → reason: unscheduled closures declared by the desk. */
  closures: "market:closures",
  /** Hash: the session as the market-hours guard last published it. */
  marketState: "market:state",
  /** Hash per symbol: the LULD guard's own state (reference price, bands, limit state, pause). */
  luld: (symbol: string) => `luld:${symbol}`,
  /** Hash symbol → JSON {since, until, side}: symbols in a LULD Trading Pause. */
  luldPaused: "luld:paused",
  /** Hash symbol → JSON SsrRecord: symbols under the Reg SHO Rule 201 price test. */
  ssrActive: "ssr:active",
  /** Hash locate id → JSON {symbol, qty, expires_at, account?, broker?, source?}. */
  locates: "locates",
  /** Zset symbol → epoch ms of the easy-to-borrow list it came from. */
  etb: "etb",
  /** Hash account → JSON PdtAccount. */
  pdt: "pdt",
  /** Hash strategy → JSON {max_qty?, max_notional?, halted?, reason?}. */
  strategyCaps: "strategy:caps",
  /** Zset per symbol: eligible trades (member JSON {id, price, size}, score epoch ms), written by the feed. */
  trades: (symbol: string) => `md:trades:${symbol}`,
  /** Hash per symbol: the NBBO {bid, ask, ts, low?, halted?, ssr?}, written by the feed. */
  quote: (symbol: string) => `md:quote:${symbol}`,
  /** Hash symbol → prior regular-session closing price on the listing market, written by the feed. */
  prevClose: "md:prev_close",
  /** Pub/sub channel: any message means "flags changed, re-read" (the gate re-reads everything). */
  flagsChannel: "flags",
  // Existing keys the gate reads (docs/redis-keys.md).
  mode: "mode",
  modeMeta: "mode:meta",
  modeChannel: "mode",
  heartbeat: "heartbeat:bot",
  eventLock: EVENT_KEYS.lock,
} as const;

/** The shared rate limiter and quota counters (names are validated by src/ratelimit/keys.ts before use). */
export const rateLimitKeys = {
  /** string: GCRA theoretical arrival time (epoch ms, decimal), PX until the bucket is full again. */
  gcra: (exchange: string, endpoint: string) => `ratelimit:gcra:${exchange}:${endpoint}`,
  /** string: epoch ms until which every endpoint of the exchange waits after a 429, PX until then. */
  backoff: (exchange: string) => `ratelimit:backoff:${exchange}`,
  /** string: consecutive 429s (the backoff exponent), PX `strikeResetMs` after the last one. */
  strikes: (exchange: string) => `ratelimit:strikes:${exchange}`,
  /** hash: epoch minute → request weight sent in that minute; fields older than 15 minutes are pruned. */
  used: (exchange: string) => `quota:${exchange}:used`,
  /** string: the exchange's quota per 15 minutes (weight units), written by the limiter from its config. */
  limit: (exchange: string) => `quota:${exchange}:limit`,
  /** hash: epoch minute → HTTP 429 responses received in that minute. */
  throttled: (exchange: string) => `quota:${exchange}:429`,
  /** sorted set: one member per WebSocket reconnect, score = epoch ms; members older than 1 hour are pruned. */
  wsReconnects: (exchange: string) => `ws:${exchange}:reconnects`,
  /** set: every exchange a limiter has been used for (for `tradeguard quota`). */
  exchanges: "quota:exchanges",
} as const;
