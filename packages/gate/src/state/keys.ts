// The only place Redis key names are built. Every key is `<prefix><name>`; docs/redis-keys.md documents each one
// for the trading processes that read them. Keys that must change together in one atomic step share this module.
// This is the key schema both sides share: the bot writes it, the gate and the rate limiter read it, and the
// `@tradeguard/gate` package that ships them is versioned with it (KEY_SCHEMA_VERSION below).

/**
 * The version of the key schema (the names, types and value formats in docs/redis-keys.md) this package reads and
 * the bot writes. It is the package's major version: a change an older gate would misread (a key renamed, a value
 * format changed incompatibly) bumps both, so a trading process pinned to `@tradeguard/gate@^N` keeps reading keys
 * it understands; new keys and new optional fields are minor versions. test/gate/package.test.ts holds them equal.
 */
export const KEY_SCHEMA_VERSION = 1;

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
    /** Hash: the broker's active endpoint (`url`, `since`, `by`, `reason`, `from`); absent → the primary. */
    endpointActive: (broker: string) => k(ENDPOINT_KEYS.active(broker)),
    /** List (newest first, bounded): one endpoint's latency samples, JSON {ts, ms, ok, error?}. */
    endpointLatency: (broker: string, url: string) => k(ENDPOINT_KEYS.latency(broker, url)),
    /** Paper broker state. */
    paperOrders: (broker: string) => k(`paper:${broker}:orders`),
    paperPositions: (broker: string) => k(`paper:${broker}:positions`),
    paperFills: (broker: string) => k(`paper:${broker}:fills`),
    /** Hash of one cutover (go-live) request (`g…`). */
    cutoverRequest: (id: string) => k(`cutover:request:${id}`),
    /** Set of the user ids that approved one cutover request. */
    cutoverApprovals: (id: string) => k(`cutover:request:${id}:approvals`),
    /** The id of the open cutover request of one asset class (at most one; expires with the request). */
    cutoverPending: (assetClass: string) => k(`cutover:pending:${assetClass}`),
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

/** What the allocator and the models publish for the strategy_caps and feature_schema guards. */
export const STRATEGY_KEYS = {
  /** String JSON {"as_of": ISO, "weights": {strategy: decimal string}}: the allocator's current weights. */
  allocWeights: "alloc:weights",
  /** Hash feature set → JSON {"version","published_at"}: the schema version the feature store serves. */
  featureStoreSchema: "feature_store:schema",
  /** Hash strategy → JSON {"model","feature_set","version","trained_at"?}: what its model was trained on. */
  modelFeatureSchema: "model:feature_schema",
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
  /** Hash strategy → JSON {min_weight?, max_weight?, max_gross_notional?, max_position?, max_order_notional?}
   * (decimal strings): the configured bounds, published by the strategy_caps guard. */
  strategyBounds: "strategy:bounds",
  /** Hash strategy → JSON {reason, source, since}: only reducing orders (written by the error_budget guard). */
  strategyReduceOnly: "strategy:reduce_only",
  /** Hash strategy → JSON {reason, source, since}: no new exposure (written by the feature_schema guard). */
  strategyBlocked: "strategy:blocked",
  /** String JSON {enabled, request_id, approved_by, at} per asset class (absent = not cut over). */
  cutover: (assetClass: string) => `cutover:${assetClass}`,
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

/** Broker endpoints: the active one every adapter follows, and the latency window the endpoint_latency guard keeps. */
export const ENDPOINT_KEYS = {
  /** hash `url`, `since` (ISO), `by`, `reason`, `from`: written by the guard's failover and `tradeguard endpoint use`. */
  active: (broker: string) => `endpoint:active:${broker}`,
  /** list of JSON samples, newest first, LTRIMmed to `max_samples`; `<url>` is the configured endpoint, normalised. */
  latency: (broker: string, url: string) => `endpoint:latency:${broker}:${url}`,
} as const;

/** Cost guardrails (`cost` guard). `<source>` is a configured cost source; dates and months are UTC. */
export const COST_KEYS = {
  /** hash YYYY-MM-DD → decimal string: the source's cost of that UTC day so far (exporters; Cost Explorer DAILY). */
  daily: (source: string) => `cost:daily:${source}`,
  /** hash YYYY-MM → decimal string: the month's total (month to date for the current one); optional for exporters. */
  monthly: (source: string) => `cost:monthly:${source}`,
  /** hash YYYY-MM → decimal string: the writer's forecast of the month's total at its end (optional). */
  forecast: (source: string) => `cost:forecast:${source}`,
  /** string ISO-8601: when the source's figures were last written successfully. */
  updated: (source: string) => `cost:updated:${source}`,
  /** string JSON {at, ok, requests, error?, estimated?}: the last Cost Explorer refresh attempt. */
  fetch: (source: string) => `cost:fetch:${source}`,
  /** string integer: Cost Explorer requests made on one UTC day (48 h TTL). */
  requests: (source: string, date: string) => `cost:requests:${source}:${date}`,
} as const;

/** Backtest–live slippage (`slippage` guard), aggregated from `ledger:fills` per New York trade date and strategy. */
export const SLIPPAGE_KEYS = {
  /** string: the id of the last `ledger:fills` entry the guard consumed. */
  cursor: "slippage:cursor",
  /** hash: one strategy's slippage aggregate of one trade date (fields in docs/redis-keys.md). */
  daily: (date: string, strategy: string) => `slippage:daily:${date}:${strategy}`,
  /** set: the strategies with an aggregate on that trade date. */
  strategies: (date: string) => `slippage:strategies:${date}`,
  /** list of JSON {entry, reason, at}, newest first, capped: ledger entries the guard could not use. */
  skipped: "slippage:skipped",
} as const;

/**
 * Error budgets (`error_budget` guard). Trading processes count good/total events per SLO into two rings of hashes
 * whose names never change (so the guard can declare them): minute counts in a ring of `MINUTE_SLOTS` day slots,
 * day counts in a ring of `DAY_BLOCKS` blocks of `DAY_BLOCK_DAYS` days. Fields carry the absolute epoch minute/day,
 * so a slot's leftovers from an earlier lap are never counted; the TTLs (set on every write) let a slot expire
 * before its next lap. docs/redis-keys.md has the writer's recipe.
 */
export const SLO_KEYS = {
  MINUTE_SLOTS: 5,
  /** 3.5 days: outlives the longest burn window (72 h) after a slot's last write, gone before its next lap (4 days). */
  MINUTE_TTL_MS: 302_400_000,
  DAY_BLOCK_DAYS: 32,
  DAY_BLOCKS: 3,
  /** 40 days: outlives the longest SLO period (31 days), gone long before the block's next lap (64 days). */
  DAY_TTL_MS: 3_456_000_000,
  /** hash `<epoch minute>:g|t` → good/total events of that minute; slot = epoch day mod MINUTE_SLOTS. */
  minutes: (slo: string, slot: number) => `slo:${slo}:m:${slot}`,
  /** hash `<epoch day>:g|t` → good/total events of that UTC day; block = floor(epoch day / 32) mod DAY_BLOCKS. */
  days: (slo: string, block: number) => `slo:${slo}:d:${block}`,
  /** hash SLO → JSON {since, policy, enforced, strategies}: SLOs whose budget is spent. Owned by the guard. */
  exhausted: "error_budget:exhausted",
  /** hash SLO → JSON {by, reason, at}: a spent budget's policy lifted by command until the budget is back. */
  waivers: "error_budget:waivers",
} as const;

/** DR restore rehearsals (`tradeguard dr rehearse`, `dr_freshness` guard). */
export const DR_KEYS = {
  /** string JSON {"ts","ok","keys","ms"}: the latest rehearsal, successful or not. */
  lastRehearsal: "dr:last_rehearsal",
  /** string JSON {"ts","ok":true,"keys","ms"}: the latest successful rehearsal. */
  lastSuccess: "dr:last_success",
} as const;

/** The shared rate limiter and quota counters (names are validated by ratelimit/keys.ts before use). */
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
