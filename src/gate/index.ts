// The pre-trade gate: the library trading processes import (`import { createGate } from "tradeguard/gate"`) to check
// every order in-process against tradeguard's flags. tradeguard's guards decide; the gate is how trading processes
// obey. `check()` never touches the network: it answers from an in-process copy of the flags that Redis pub/sub
// keeps fresh (the `mode` channel and the `flags` channel), backed by a poll of the mode and the bot heartbeat
// (`pollMs`) and a full re-read (`refreshMs`, and on every `flags` message and every reconnect), because pub/sub is
// fire-and-forget. When the gate cannot trust its copy (Redis unreachable, data older than `maxStalenessMs`, or the
// full re-read failing for longer than `flagsMaxAgeMs` while the poll still succeeds) it fails safe: halt (or
// reduce-only, by option). A key of the wrong type among the flags is applied strictly (docs/gate.md) instead of
// failing the whole re-read. When the bot's heartbeat is stale it fails safe to reduce-only (the
// dead-man's switch: no bot is alive to relay a /panic).
//
// Imports are kept light on purpose (ioredis, zod, luxon, decimal.js and tradeguard's pure modules): a trading
// process must not load Slack, ccxt or the bot to check an order. docs/gate.md is the manual.
import { Redis, type RedisOptions } from "ioredis";
import type { PdtRegime } from "../market/pdt.js";
import { createKeys, isMode, type Mode } from "../state/keys.js";
import { type CheckResult, type Connectivity, DecideCache, decide, effectiveMode, type OrderCheck } from "./decide.js";
import {
  emptyFlags,
  type GateFlags,
  invalidEventLock,
  parseCaps,
  parseClosures,
  parseEtb,
  parseEventLock,
  parseHeartbeat,
  parseLocates,
  parseMode,
  parsePdt,
  parseQuoteBid,
  parseUntilMap,
} from "./flags.js";
import { MARKET_KEYS } from "./keys.js";

export type { CheckResult, OrderCheck, Side } from "./decide.js";
export type { GateFlags } from "./flags.js";
export { MARKET_KEYS } from "./keys.js";

export interface GateOptions {
  /** An ioredis client for reads (the gate duplicates it for its subscriber and never closes it). */
  redis?: Redis;
  /** Or a Redis URL (default REDIS_URL, then redis://127.0.0.1:6379); the gate then owns both connections. */
  url?: string;
  /** REDIS_PREFIX of the tradeguard deployment (default the REDIS_PREFIX environment variable, else ""). */
  prefix?: string;
  /** Dead-man's switch: heartbeat:bot older than this → reduce-only. Default 15 000 (three missed 5 s beats). */
  heartbeatMaxAgeMs?: number;
  /** Poll of mode + heartbeat. Default 1 000. */
  pollMs?: number;
  /** Full re-read of every flag. Default 10 000 (also on every `flags` message and reconnect). */
  refreshMs?: number;
  /** No successful read for this long → Redis treated as unreachable. Default 5 000. */
  maxStalenessMs?: number;
  /**
   * No successful FULL re-read for this long (while the poll of mode + heartbeat may still succeed) → the flags are
   * stale: the gate fails safe as if Redis were unreachable, with reason `flags_stale`. Default
   * 2 × refreshMs + maxStalenessMs.
   */
  flagsMaxAgeMs?: number;
  /** Redis unreachable → "halt" (default, docs/redis-keys.md) or "reduce_only". */
  redisDownMode?: "halt" | "reduce_only";
  /** A national best bid older than this is not used for the Rule 201 price test. Default 2 000. */
  quoteMaxAgeMs?: number;
  /** FINRA 4210(f)(8)(B) day-trade counting, or the 2026 intraday margin standard. Default "pdt_4210". */
  pdtRegime?: PdtRegime;
  /** Brokers the US equity market rules apply to (hours, LULD, SSR, locate, PDT). Default: all brokers. */
  marketRulesBrokers?: string[];
  /** Allow orders outside the NYSE regular session. Default false. */
  allowExtendedHours?: boolean;
  /** An account (of a market-rules broker) without a `pdt` record may not add exposure. Default true. */
  pdtRequired?: boolean;
  /** Maximum age of a `pdt` record's `updated_at` under "pdt_4210". Default 86 400 000 (24 h). */
  pdtMaxAgeMs?: number;
  /** Maximum age of a `pdt` record's `updated_at` under "intraday_margin". Default 900 000 (15 min). */
  intradayMaxAgeMs?: number;
  /** How long `createGate` waits for the first read before returning a gate that refuses (and keeps trying). */
  readyTimeoutMs?: number;
  /** Clock (epoch ms); tests pass one in. */
  now?: () => number;
  /** Called after the flags changed (a message arrived or a read found a difference). */
  onChange?: (why: string) => void;
}

/** What the gate believes now (for logs, health endpoints and tests). */
export interface GateView {
  loaded: boolean;
  /** Null when the gate trusts its copy of the flags; otherwise why not. */
  down: string | null;
  /** The reason code check() gives while `down` is set: Redis unreachable, or the full re-read failing. */
  downCode: "redis_unreachable" | "flags_stale" | null;
  mode: Mode;
  /** The mode check() applies: the strictest of mode, Redis state and the dead-man's switch. */
  effectiveMode: Mode;
  modeReason: string | null;
  heartbeatAgeMs: number | null;
  deadMansSwitch: boolean;
  /** Last successful read of any kind (poll or full re-read), epoch ms. */
  lastReadAt: number | null;
  /** Last successful full re-read of every flag, epoch ms. */
  lastFullReadAt: number | null;
  /** Keys the last full re-read could not read (applied strictly): key → error. Also in `flags.unreadable`. */
  unreadable: Record<string, string>;
  flags: GateFlags;
}

/** The gate a trading process holds. */
export interface Gate {
  /** Checks one order from the in-process cache (no network). Cancels never need a check. */
  check(order: OrderCheck): CheckResult;
  /** Gives the gate the latest national best bid for a symbol (used by the Rule 201 price test). */
  updateQuote(symbol: string, quote: { bid: number; ask?: number; ts?: number }): void;
  /** The gate's view of the flags. */
  view(): GateView;
  /** Re-reads every flag now. */
  refresh(): Promise<void>;
  /** Stops timers and closes the connections the gate opened. */
  close(): Promise<void>;
}

/** Creates a gate, subscribes, reads every flag once (up to `readyTimeoutMs`) and returns it. */
export async function createGate(opts: GateOptions = {}): Promise<Gate> {
  const gate = new GateImpl(opts);
  await gate.start();
  return gate;
}

const unreachable = (text: string) => ({ code: "redis_unreachable" as const, text });

class GateImpl implements Gate {
  private readonly now: () => number;
  private readonly keys: ReturnType<typeof createKeys>;
  private readonly reader: Redis;
  private readonly sub: Redis;
  private readonly ownsReader: boolean;
  private flags: GateFlags = emptyFlags();
  private readonly cache = new DecideCache();
  private readonly localQuotes = new Map<string, { bid: number; ts: number }>();
  private loaded = false;
  private lastOk: number | null = null;
  private lastError: string | null = null;
  /** Last successful full re-read (readAll), and why the last one failed (null after a success). */
  private lastFullOk: number | null = null;
  private lastFullError: string | null = null;
  /**
   * Ordering of the sources of the mode fields and the heartbeat: bumped when a read of them is sent and when a mode
   * message arrives. A read's reply is applied only when no newer source (a later read or a mode message) has been
   * applied since it was sent, so a slow full re-read can never undo a halt that arrived while it was in flight.
   */
  private seq = 0;
  /** The `seq` of the source the current mode fields come from. */
  private modeSeq = 0;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private refreshing: Promise<void> | null = null;
  private refreshAgain = false;
  /** Bumped whenever the subscriber loses its connection: messages may have been missed since. */
  private epoch = 0;
  /** The epoch of the last full read that started with the subscriber connected (the flags are trusted then). */
  private validEpoch = -1;
  private readonly decideOpts;
  private readonly conn: Connectivity = { loaded: false, down: null, downMode: "halt" };
  private readonly heartbeatMaxAgeMs: number;
  private readonly pollMs: number;
  private readonly refreshMs: number;
  private readonly maxStalenessMs: number;
  private readonly flagsMaxAgeMs: number;

  constructor(private readonly opts: GateOptions) {
    this.now = opts.now ?? Date.now;
    this.keys = createKeys(opts.prefix ?? process.env.REDIS_PREFIX ?? "");
    this.heartbeatMaxAgeMs = opts.heartbeatMaxAgeMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 1_000;
    this.refreshMs = opts.refreshMs ?? 10_000;
    this.maxStalenessMs = opts.maxStalenessMs ?? 5_000;
    this.flagsMaxAgeMs = opts.flagsMaxAgeMs ?? 2 * this.refreshMs + this.maxStalenessMs;
    this.conn.downMode = opts.redisDownMode ?? "halt";
    this.decideOpts = {
      heartbeatMaxAgeMs: this.heartbeatMaxAgeMs,
      quoteMaxAgeMs: opts.quoteMaxAgeMs ?? 2_000,
      pdtRegime: opts.pdtRegime ?? "pdt_4210",
      marketRulesBrokers: opts.marketRulesBrokers ? new Set(opts.marketRulesBrokers) : null,
      allowExtendedHours: opts.allowExtendedHours ?? false,
      pdtRequired: opts.pdtRequired ?? true,
      ...(opts.pdtMaxAgeMs !== undefined ? { pdtMaxAgeMs: opts.pdtMaxAgeMs } : {}),
      ...(opts.intradayMaxAgeMs !== undefined ? { intradayMaxAgeMs: opts.intradayMaxAgeMs } : {}),
    };
    const common: RedisOptions = {
      connectionName: "tradeguard-gate",
      connectTimeout: 2_000,
      maxRetriesPerRequest: 1,
      retryStrategy: (times) => Math.min(50 * times, 1_000),
    };
    if (opts.redis) {
      this.reader = opts.redis;
      this.ownsReader = false;
      this.sub = opts.redis.duplicate({ connectionName: "tradeguard-gate-sub" });
    } else {
      const url = opts.url ?? process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
      this.reader = new Redis(url, common);
      this.ownsReader = true;
      this.sub = new Redis(url, { ...common, connectionName: "tradeguard-gate-sub" });
    }
    // Connection errors surface as "Redis unreachable" in check(); the events only must not crash the process.
    this.reader.on("error", (err: Error) => {
      this.lastError = err.message;
    });
    this.sub.on("error", (err: Error) => {
      this.lastError = err.message;
    });
  }

  async start(): Promise<void> {
    const { keys } = this;
    const modeChannel = keys.raw(MARKET_KEYS.modeChannel);
    const flagsChannel = keys.raw(MARKET_KEYS.flagsChannel);
    this.sub.on("message", (channel: string, message: string) => {
      if (channel === modeChannel) this.onModeMessage(message);
      else if (channel === flagsChannel) this.scheduleRefresh("flags message");
    });
    // ioredis re-subscribes after a reconnect; whatever was published meanwhile is lost, so re-read on every ready.
    this.sub.on("ready", () => this.scheduleRefresh("subscriber (re)connected"));
    for (const ev of ["close", "reconnecting", "end"]) {
      this.sub.on(ev, () => {
        this.epoch++;
      });
    }
    const subscribed = this.sub.subscribe(modeChannel, flagsChannel).catch((err: Error) => {
      this.lastError = err.message;
    });
    // Ready = subscribed AND read once (in that order nothing published in between is lost: the read follows).
    const first = subscribed.then(() => this.refresh()).catch(() => {});
    const timeout = this.opts.readyTimeoutMs ?? 5_000;
    await Promise.race([first, new Promise<void>((r) => this.timer(setTimeout(r, timeout)))]);
    this.timer(setInterval(() => void this.poll().catch(() => {}), this.pollMs));
    this.timer(setInterval(() => this.scheduleRefresh("periodic"), this.refreshMs));
  }

  private timer(t: NodeJS.Timeout): void {
    t.unref?.();
    this.timers.push(t);
  }

  check(order: OrderCheck): CheckResult {
    const now = this.now();
    this.updateConn(now);
    return decide(order, this.flags, now, this.decideOpts, this.conn, this.cache, this.localQuotes);
  }

  updateQuote(symbol: string, quote: { bid: number; ask?: number; ts?: number }): void {
    if (!Number.isFinite(quote.bid)) return;
    this.localQuotes.set(symbol, { bid: quote.bid, ts: quote.ts ?? this.now() });
  }

  view(): GateView {
    const now = this.now();
    this.updateConn(now);
    const eff = effectiveMode(this.flags, this.conn, now, this.heartbeatMaxAgeMs);
    return {
      loaded: this.loaded,
      down: this.conn.down,
      downCode: this.conn.down ? (this.conn.downCode ?? "redis_unreachable") : null,
      mode: this.flags.mode,
      effectiveMode: eff.mode,
      modeReason: this.flags.modeReason,
      heartbeatAgeMs: eff.hbAge,
      deadMansSwitch: eff.deadMansSwitch,
      lastReadAt: this.lastOk,
      lastFullReadAt: this.lastFullOk,
      unreadable: Object.fromEntries(this.flags.unreadable),
      flags: this.flags,
    };
  }

  private updateConn(now: number): void {
    this.conn.loaded = this.loaded;
    const d = this.downReason(now);
    this.conn.down = d?.text ?? null;
    this.conn.downCode = d?.code ?? "redis_unreachable";
  }

  /** Why the gate cannot trust its copy of the flags now; null when it can. */
  private downReason(now: number): { code: "redis_unreachable" | "flags_stale"; text: string } | null {
    if (this.sub.status !== "ready")
      return unreachable(`subscriber connection is ${this.sub.status}${this.lastError ? ` (${this.lastError})` : ""}`);
    if (this.lastOk === null)
      return unreachable(this.lastError ? `no successful read yet (${this.lastError})` : "no successful read yet");
    if (this.validEpoch !== this.epoch)
      return unreachable("the subscriber reconnected and the flags have not been re-read yet");
    if (now - this.lastOk > this.maxStalenessMs) {
      return unreachable(
        `last successful read ${Math.round((now - this.lastOk) / 1000)} s ago${this.lastError ? ` (${this.lastError})` : ""}`,
      );
    }
    // The poll (mode + heartbeat) may keep succeeding while the full re-read fails: the other flags are then frozen.
    if (this.lastFullOk !== null && now - this.lastFullOk > this.flagsMaxAgeMs) {
      return {
        code: "flags_stale",
        text: `last successful full re-read of the flags ${Math.round((now - this.lastFullOk) / 1000)} s ago (limit ${Math.round(this.flagsMaxAgeMs / 1000)} s)${this.lastFullError ? `; it fails with: ${this.lastFullError}` : ""}`,
      };
    }
    return null;
  }

  private onModeMessage(message: string): void {
    // The message is a prompt to act now; the key is the truth and is re-read right after.
    try {
      const v = JSON.parse(message) as { mode?: unknown; reason?: unknown; actor?: unknown };
      if (isMode(v.mode)) {
        this.modeSeq = ++this.seq;
        this.flags = {
          ...this.flags,
          mode: v.mode,
          modeInvalid: null,
          modeReason: typeof v.reason === "string" ? v.reason : null,
          modeActor: typeof v.actor === "string" ? v.actor : null,
        };
        this.opts.onChange?.(`mode message: ${v.mode}`);
      }
    } catch {
      // not JSON: the poll below reads the key
    }
    void this.poll().catch(() => {});
  }

  /**
   * Reads mode, mode:meta, the heartbeat and `md:quote:<symbol>` of every symbol under Rule 201 now (one round
   * trip), so Redis quotes are as fresh as `pollMs` (`quoteMaxAgeMs` is 2 s by default, the full re-read 10 s).
   */
  private async poll(): Promise<void> {
    if (this.closed) return;
    const k = this.keys;
    const now = this.now();
    const ssrSymbols = [...this.flags.ssr.entries()].filter(([, until]) => until > now).map(([s]) => s);
    const m = this.reader
      .multi()
      .get(k.raw(MARKET_KEYS.mode))
      .hgetall(k.raw(MARKET_KEYS.modeMeta))
      .get(k.raw(MARKET_KEYS.heartbeat));
    for (const s of ssrSymbols) m.hgetall(k.raw(MARKET_KEYS.quote(s)));
    const mySeq = ++this.seq;
    const res = await m.exec();
    if (!res) throw new Error("poll: transaction aborted");
    for (const [err] of res.slice(0, 3)) if (err) throw err;
    const quotes = this.mergeQuotes(
      ssrSymbols,
      res.slice(3).map(([err, q]) => (err ? null : parseQuoteBid((q ?? {}) as Record<string, string>))),
    );
    if (mySeq > this.modeSeq) {
      this.modeSeq = mySeq;
      const mode = parseMode(res[0]![1] as string | null, res[1]![1] as Record<string, string>);
      const heartbeatMs = parseHeartbeat(res[2]![1] as string | null);
      const changed = mode.mode !== this.flags.mode || mode.modeInvalid !== this.flags.modeInvalid;
      this.flags = { ...this.flags, ...mode, heartbeatMs, quotes };
      if (changed) this.opts.onChange?.(`mode read: ${mode.mode}`);
    } else {
      // A mode message (or a later read) arrived while this read was in flight: its mode is the newer one.
      this.flags = { ...this.flags, quotes };
    }
    if (this.loaded) this.lastOk = this.now();
    this.lastError = null;
  }

  /** The current quotes updated with the bids just read for `symbols` (the newer `ts` wins). */
  private mergeQuotes(
    symbols: string[],
    read: ({ bid: number; ts: number } | null)[],
  ): Map<string, { bid: number; ts: number }> {
    const out = new Map(this.flags.quotes);
    symbols.forEach((s, i) => {
      const q = read[i];
      const cur = out.get(s);
      if (q && (!cur || q.ts >= cur.ts)) out.set(s, q);
    });
    return out;
  }

  private scheduleRefresh(why: string): void {
    if (this.closed) return;
    if (this.refreshing) {
      this.refreshAgain = true;
      return;
    }
    void this.refresh()
      .then(() => this.opts.onChange?.(why))
      .catch(() => {});
  }

  async refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.refreshAgain = false;
          await this.readAll();
        } while (this.refreshAgain && !this.closed);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Reads every flag in one round trip (plus one for the quotes of symbols under Rule 201). */
  private async readAll(): Promise<void> {
    try {
      await this.readAllOnce();
    } catch (err) {
      this.lastFullError = (err as Error).message;
      throw err;
    }
  }

  private async readAllOnce(): Promise<void> {
    if (this.closed) return;
    const epoch = this.epoch;
    const subscribed = this.sub.status === "ready";
    const k = this.keys;
    const r = (name: string) => k.raw(name);
    let res: [Error | null, unknown][] | null;
    const mySeq = ++this.seq;
    try {
      res = await this.reader
        .multi()
        .get(r(MARKET_KEYS.mode))
        .hgetall(r(MARKET_KEYS.modeMeta))
        .get(r(MARKET_KEYS.heartbeat))
        .get(r(MARKET_KEYS.eventLock))
        .hgetall(r(MARKET_KEYS.closures))
        .hgetall(r(MARKET_KEYS.luldPaused))
        .hgetall(r(MARKET_KEYS.ssrActive))
        .hgetall(r(MARKET_KEYS.locates))
        .zrange(r(MARKET_KEYS.etb), "0", "-1", "WITHSCORES")
        .hgetall(r(MARKET_KEYS.pdt))
        .hgetall(r(MARKET_KEYS.strategyCaps))
        .exec();
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
    if (!res) throw new Error("refresh: transaction aborted");
    // A key of the wrong type fails only its own command. Mode, heartbeat and closures have no strict reading that
    // is safe to trade on: the whole read fails (and after flagsMaxAgeMs the gate refuses: flags_stale). The others
    // are applied strictly (GateFlags.unreadable) so that the rest of the flags stay fresh.
    const names = [
      MARKET_KEYS.mode,
      MARKET_KEYS.modeMeta,
      MARKET_KEYS.heartbeat,
      MARKET_KEYS.eventLock,
      MARKET_KEYS.closures,
      MARKET_KEYS.luldPaused,
      MARKET_KEYS.ssrActive,
      MARKET_KEYS.locates,
      MARKET_KEYS.etb,
      MARKET_KEYS.pdt,
      MARKET_KEYS.strategyCaps,
    ];
    const fatal = new Set([0, 1, 2, 4]);
    const unreadable = new Map<string, string>();
    res.forEach(([err], i) => {
      if (!err) return;
      if (fatal.has(i)) throw new Error(`${names[i]}: ${err.message}`);
      unreadable.set(names[i]!, err.message);
    });
    const v = res.map(([err, value]) => (err ? null : value));
    const hash = (i: number) => (v[i] ?? {}) as Record<string, string>;
    const ssr = parseUntilMap(hash(6));
    const quotes = new Map<string, { bid: number; ts: number }>();
    const now = this.now();
    const ssrSymbols = [...ssr.entries()].filter(([, until]) => until > now).map(([s]) => s);
    if (ssrSymbols.length) {
      const p = this.reader.pipeline();
      for (const s of ssrSymbols) p.hgetall(r(MARKET_KEYS.quote(s)));
      const qs = (await p.exec()) ?? [];
      qs.forEach(([err, q], i) => {
        const parsed = err ? null : parseQuoteBid((q ?? {}) as Record<string, string>);
        if (parsed) quotes.set(ssrSymbols[i]!, parsed);
      });
    }
    const locates = parseLocates(hash(7));
    // A mode message or a poll applied while this read was in flight is newer than what this read saw: keep it.
    const fresh = mySeq > this.modeSeq;
    if (fresh) this.modeSeq = mySeq;
    const cur = this.flags;
    const eventLockErr = unreadable.get(MARKET_KEYS.eventLock);
    this.flags = {
      ...(fresh
        ? { ...parseMode(v[0] as string | null, hash(1)), heartbeatMs: parseHeartbeat(v[2] as string | null) }
        : {
            mode: cur.mode,
            modeReason: cur.modeReason,
            modeActor: cur.modeActor,
            modeInvalid: cur.modeInvalid,
            heartbeatMs: cur.heartbeatMs,
          }),
      eventLock: eventLockErr ? invalidEventLock(eventLockErr) : parseEventLock(v[3] as string | null),
      closures: parseClosures(hash(4)),
      luldPaused: parseUntilMap(hash(5)),
      ssr,
      locatesBySymbol: locates.bySymbol,
      etb: parseEtb((v[8] ?? []) as string[]),
      pdt: parsePdt(hash(9)),
      caps: parseCaps(hash(10)),
      // A poll may have read a newer bid while this read was in flight.
      quotes: new Map(
        ssrSymbols.flatMap((s) => {
          const a = quotes.get(s);
          const b = cur.quotes.get(s);
          const q = a && b ? (b.ts > a.ts ? b : a) : (a ?? b);
          return q ? [[s, q] as const] : [];
        }),
      ),
      unreadable,
    };
    this.cache.clear();
    if (subscribed && epoch === this.epoch) this.validEpoch = epoch;
    this.loaded = true;
    this.lastOk = this.now();
    this.lastFullOk = this.lastOk;
    this.lastFullError = null;
    this.lastError = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.sub.disconnect();
    if (this.ownsReader) this.reader.disconnect();
    // A read in flight while Redis is away may never settle once disconnected; it is ignored (closed) either way.
    await Promise.race([this.refreshing?.catch(() => {}), new Promise((r) => setTimeout(r, 50))]);
  }
}
