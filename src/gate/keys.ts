// Logical names (without REDIS_PREFIX) of the keys the market-rule guards and the gate share. Prefixed names are
// built by `createKeys(prefix).raw(name)` (src/state/keys.ts); the runner prefixes a guard's logical names itself.
// docs/gate.md and docs/redis-keys.md document each one: type, format, writer, reader.

/** The keys and the channel of the market rules and the gate. */
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
  eventLock: "risk:event_lock",
} as const;
