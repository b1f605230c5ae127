// The pre-trade gate: the library trading processes import (`import { createGate } from "tradeguard/gate"`) to check
// every order in-process against tradeguard's flags. tradeguard's guards decide; the gate is how trading processes
// obey. `check()` never touches the network: it answers from an in-process copy of the flags that Redis pub/sub
// keeps fresh (the `mode` channel and the `flags` channel), backed by a poll of the mode and the bot heartbeat
// (`pollMs`) and a full re-read (`refreshMs`, and on every `flags` message and every reconnect), because pub/sub is
// fire-and-forget. When the gate cannot trust its copy (Redis unreachable, data older than `maxStalenessMs`) it
// fails safe: halt (or reduce-only, by option). When the bot's heartbeat is stale it fails safe to reduce-only (the
// dead-man's switch: no bot is alive to relay a /panic).
//
// Imports are kept light on purpose (ioredis, zod, luxon, decimal.js and tradeguard's pure modules): a trading
// process must not load Slack, ccxt or the bot to check an order. docs/gate.md is the manual.
import { Redis, type RedisOptions } from "ioredis";
import type { PdtRegime } from "../market/pdt.js";
import { createKeys, isMode, type Mode } from "../state/keys.js";
import { type CheckResult, type Connectivity, DecideCache, decide, type OrderCheck } from "./decide.js";
import {
  emptyFlags,
  type GateFlags,
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
  /** Null when Redis is reachable; otherwise why not. */
  down: string | null;
  mode: Mode;
  /** The mode check() applies: the strictest of mode, Redis state and the dead-man's switch. */
  effectiveMode: Mode;
  modeReason: string | null;
  heartbeatAgeMs: number | null;
  deadMansSwitch: boolean;
  lastReadAt: number | null;
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

  constructor(private readonly opts: GateOptions) {
    this.now = opts.now ?? Date.now;
    this.keys = createKeys(opts.prefix ?? process.env.REDIS_PREFIX ?? "");
    this.heartbeatMaxAgeMs = opts.heartbeatMaxAgeMs ?? 15_000;
    this.pollMs = opts.pollMs ?? 1_000;
    this.refreshMs = opts.refreshMs ?? 10_000;
    this.maxStalenessMs = opts.maxStalenessMs ?? 5_000;
    this.conn.downMode = opts.redisDownMode ?? "halt";
    this.decideOpts = {
      heartbeatMaxAgeMs: this.heartbeatMaxAgeMs,
      quoteMaxAgeMs: opts.quoteMaxAgeMs ?? 2_000,
      pdtRegime: opts.pdtRegime ?? "pdt_4210",
      marketRulesBrokers: opts.marketRulesBrokers ? new Set(opts.marketRulesBrokers) : null,
      allowExtendedHours: opts.allowExtendedHours ?? false,
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
    this.conn.loaded = this.loaded;
    this.conn.down = this.downReason(now);
    return decide(order, this.flags, now, this.decideOpts, this.conn, this.cache, this.localQuotes);
  }

  updateQuote(symbol: string, quote: { bid: number; ask?: number; ts?: number }): void {
    if (!Number.isFinite(quote.bid)) return;
    this.localQuotes.set(symbol, { bid: quote.bid, ts: quote.ts ?? this.now() });
  }

  view(): GateView {
    const now = this.now();
    const down = this.downReason(now);
    const hbAge = this.flags.heartbeatMs === null ? null : now - this.flags.heartbeatMs;
    const dms = hbAge === null || hbAge > this.heartbeatMaxAgeMs;
    let eff: Mode = this.flags.modeInvalid || !this.loaded ? "halt" : this.flags.mode;
    if (down) eff = this.conn.downMode === "halt" ? "halt" : eff === "halt" ? "halt" : "reduce_only";
    if (dms && eff === "active") eff = "reduce_only";
    return {
      loaded: this.loaded,
      down,
      mode: this.flags.mode,
      effectiveMode: eff,
      modeReason: this.flags.modeReason,
      heartbeatAgeMs: hbAge,
      deadMansSwitch: dms,
      lastReadAt: this.lastOk,
      flags: this.flags,
    };
  }

  /** Why the gate cannot trust its copy of the flags now; null when it can. */
  private downReason(now: number): string | null {
    if (this.sub.status !== "ready")
      return `subscriber connection is ${this.sub.status}${this.lastError ? ` (${this.lastError})` : ""}`;
    if (this.lastOk === null)
      return this.lastError ? `no successful read yet (${this.lastError})` : "no successful read yet";
    if (this.validEpoch !== this.epoch) return "the subscriber reconnected and the flags have not been re-read yet";
    if (now - this.lastOk > this.maxStalenessMs) {
      return `last successful read ${Math.round((now - this.lastOk) / 1000)} s ago${this.lastError ? ` (${this.lastError})` : ""}`;
    }
    return null;
  }

  private onModeMessage(message: string): void {
    // The message is a prompt to act now; the key is the truth and is re-read right after.
    try {
      const v = JSON.parse(message) as { mode?: unknown; reason?: unknown; actor?: unknown };
      if (isMode(v.mode)) {
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

  /** Reads mode, mode:meta and the heartbeat (one round trip). */
  private async poll(): Promise<void> {
    if (this.closed) return;
    const k = this.keys;
    const res = await this.reader
      .multi()
      .get(k.raw(MARKET_KEYS.mode))
      .hgetall(k.raw(MARKET_KEYS.modeMeta))
      .get(k.raw(MARKET_KEYS.heartbeat))
      .exec();
    if (!res) throw new Error("poll: transaction aborted");
    for (const [err] of res) if (err) throw err;
    const mode = parseMode(res[0]![1] as string | null, res[1]![1] as Record<string, string>);
    const heartbeatMs = parseHeartbeat(res[2]![1] as string | null);
    const changed = mode.mode !== this.flags.mode || mode.modeInvalid !== this.flags.modeInvalid;
    this.flags = { ...this.flags, ...mode, heartbeatMs };
    if (this.loaded) this.lastOk = this.now();
    this.lastError = null;
    if (changed) this.opts.onChange?.(`mode read: ${mode.mode}`);
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
    if (this.closed) return;
    const epoch = this.epoch;
    const subscribed = this.sub.status === "ready";
    const k = this.keys;
    const r = (name: string) => k.raw(name);
    let res: [Error | null, unknown][] | null;
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
    for (const [err] of res) if (err) throw err;
    const v = res.map(([, value]) => value);
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
    this.flags = {
      ...parseMode(v[0] as string | null, hash(1)),
      heartbeatMs: parseHeartbeat(v[2] as string | null),
      eventLock: parseEventLock(v[3] as string | null),
      closures: parseClosures(hash(4)),
      luldPaused: parseUntilMap(hash(5)),
      ssr,
      locatesBySymbol: locates.bySymbol,
      etb: parseEtb((v[8] ?? []) as string[]),
      pdt: parsePdt(hash(9)),
      caps: parseCaps(hash(10)),
      quotes,
    };
    this.cache.clear();
    if (subscribed && epoch === this.epoch) this.validEpoch = epoch;
    this.loaded = true;
    this.lastOk = this.now();
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
