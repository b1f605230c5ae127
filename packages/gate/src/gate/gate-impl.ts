// The gate's machinery behind `createGate` (index.ts is the public API): the reader and subscriber connections, the
// subscription to the `mode` and `flags` channels, the poll and the full re-read (what they fetch is in reads.ts), and
// when the in-process copy of the flags can be trusted. Pub/sub is fire-and-forget, so the copy is trusted only while
// the subscriber is connected, the flags were re-read since it last (re)connected, a read succeeded within
// `maxStalenessMs` and a full re-read within `flagsMaxAgeMs`. Sources of the mode are ordered (`seq`): a slow read
// never undoes a mode message that arrived while it was in flight, and a message never loosens the mode before the
// key confirms it. A halt the gate saw is only left for a mode that descends from it (halt-hold.ts): a halt lost in a
// Redis failover never opens the gate. The connections (one server or Sentinel) are made in connection.ts.
import type { Redis } from "ioredis";
import { createKeys, type Keys, MARKET_KEYS, type Mode } from "../state/keys.js";
import { gateConnections } from "./connection.js";
import { decide } from "./decide.js";
import { DecideCache } from "./decide-cache.js";
import type { CheckResult, Connectivity, OrderCheck } from "./decide-types.js";
import { emptyFlags, type GateFlags, parseModeMessage } from "./flags.js";
import { type HaltSeen, haltOf, holdHalt } from "./halt-hold.js";
import { type ResolvedOptions, resolveOptions } from "./options.js";
import {
  type ModeFields,
  parseFullRead,
  parsePoll,
  parseQuotes,
  type Replies,
  sendFullRead,
  sendPoll,
  sendQuotes,
  ssrSymbolsAt,
} from "./reads.js";
import { effectiveMode } from "./rules-mode.js";
import type { Gate, GateOptions, GateView } from "./types.js";

const unreachable = (text: string) => ({ code: "redis_unreachable" as const, text });
/** How strict each mode is: a mode message may only move the gate up this order before the key is re-read. */
const STRICTNESS: Record<Mode, number> = { active: 0, reduce_only: 1, halt: 2 };

/** The Gate createGate returns: construct, then `start()` (subscribe and read once) before use. */
export class GateImpl implements Gate {
  private readonly now: () => number;
  private readonly keys: Keys;
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
  private readonly conn: Connectivity = { loaded: false, down: null, downMode: "halt" };
  /** The halt this gate saw last, until Redis shows a mode that descends from it (halt-hold.ts). */
  private haltSeen: HaltSeen | null = null;
  private readonly o: ResolvedOptions;

  constructor(private readonly opts: GateOptions) {
    this.now = opts.now ?? Date.now;
    this.keys = createKeys(opts.prefix ?? process.env.REDIS_PREFIX ?? "");
    this.o = resolveOptions(opts);
    this.conn.downMode = this.o.redisDownMode;
    const c = gateConnections(opts);
    this.reader = c.reader;
    this.sub = c.sub;
    this.ownsReader = c.ownsReader;
    // Connection errors surface as "Redis unreachable" in check(); the events only must not crash the process.
    this.reader.on("error", (err: Error) => {
      this.lastError = err.message;
    });
    this.sub.on("error", (err: Error) => {
      this.lastError = err.message;
    });
  }

  /** Subscribes, reads every flag once (waiting up to `readyTimeoutMs`) and starts the poll and refresh timers. */
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
    // A connection that ended on its own (ioredis ends a Sentinel client when its failover detector fires during a
    // reconnect) is reconnected: the gate refuses meanwhile, and must not refuse forever.
    const revive = (c: Redis, then: () => Promise<unknown>) =>
      c.on("end", () => {
        setTimeout(() => {
          if (!this.closed && c.status === "end")
            c.connect()
              .then(then)
              .catch(() => {});
        }, 500).unref?.();
      });
    revive(this.sub, () => this.sub.subscribe(modeChannel, flagsChannel));
    if (this.ownsReader) revive(this.reader, async () => {});
    const subscribed = this.sub.subscribe(modeChannel, flagsChannel).catch((err: Error) => {
      this.lastError = err.message;
    });
    // Ready = subscribed AND read once (in that order nothing published in between is lost: the read follows).
    const first = subscribed.then(() => this.refresh()).catch(() => {});
    const timeout = this.opts.readyTimeoutMs ?? 5_000;
    await Promise.race([first, new Promise<void>((r) => this.timer(setTimeout(r, timeout)))]);
    this.timer(setInterval(() => void this.poll().catch(() => {}), this.o.pollMs));
    this.timer(setInterval(() => this.scheduleRefresh("periodic"), this.o.refreshMs));
  }

  private timer(t: NodeJS.Timeout): void {
    t.unref?.();
    this.timers.push(t);
  }

  check(order: OrderCheck): CheckResult {
    const now = this.now();
    this.updateConn(now);
    return decide(order, this.flags, now, this.o.decide, this.conn, this.cache, this.localQuotes);
  }

  updateQuote(symbol: string, quote: { bid: number; ask?: number; ts?: number }): void {
    if (!Number.isFinite(quote.bid)) return;
    this.localQuotes.set(symbol, { bid: quote.bid, ts: quote.ts ?? this.now() });
  }

  view(): GateView {
    const now = this.now();
    this.updateConn(now);
    const eff = effectiveMode(this.flags, this.conn, now, this.o.heartbeatMaxAgeMs, this.o.heartbeatMaxSkewMs);
    return {
      loaded: this.loaded,
      down: this.conn.down,
      downCode: this.conn.down ? (this.conn.downCode ?? "redis_unreachable") : null,
      mode: this.flags.mode,
      effectiveMode: eff.mode,
      modeReason: this.flags.modeReason,
      heldHalt: this.flags.modeHeld,
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
    if (now - this.lastOk > this.o.maxStalenessMs) {
      return unreachable(
        `last successful read ${Math.round((now - this.lastOk) / 1000)} s ago${this.lastError ? ` (${this.lastError})` : ""}`,
      );
    }
    // The poll (mode + heartbeat) may keep succeeding while the full re-read fails: the other flags are then frozen.
    if (this.lastFullOk !== null && now - this.lastFullOk > this.o.flagsMaxAgeMs) {
      return {
        code: "flags_stale",
        text: `last successful full re-read of the flags ${Math.round((now - this.lastFullOk) / 1000)} s ago (limit ${Math.round(this.o.flagsMaxAgeMs / 1000)} s)${this.lastFullError ? `; it fails with: ${this.lastFullError}` : ""}`,
      };
    }
    return null;
  }

  /**
   * Any message on the mode channel, valid or not, re-reads the key at once (type-safe: a wrong type is halt), because
   * the key is the truth and the message only a prompt. A valid ModeEvent is applied before the re-read only when it
   * makes the gate stricter (or keeps its mode): a message that loosens the mode, or any while the key is invalid,
   * waits for the key to confirm it, so a stray `{"mode":"active"}` never opens a halted gate (issue 10).
   */
  private onModeMessage(message: string): void {
    const ev = parseModeMessage(message);
    const cur = this.flags;
    const apply = ev !== null && !cur.modeInvalid && STRICTNESS[ev.mode] >= STRICTNESS[cur.mode];
    if (apply) {
      this.modeSeq = ++this.seq;
      const halt = ev.mode === "halt";
      this.flags = {
        ...cur,
        mode: ev.mode,
        modeInvalid: null,
        modeReason: ev.reason,
        modeActor: ev.actor,
        modeSince: ev.ts,
        modeLastHalt: halt ? ev.ts : cur.modeLastHalt,
        modeHeld: halt ? null : cur.modeHeld,
      };
      if (halt) this.haltSeen = haltOf(this.flags, this.now());
    }
    // The re-read is sent before onChange runs (it takes the next seq: its reply supersedes the message).
    void this.poll().catch(() => {});
    if (apply) this.opts.onChange?.(`mode message: ${ev.mode}`);
  }

  /**
   * Reads mode, mode:meta, the heartbeat and `md:quote:<symbol>` of every symbol under Rule 201 now (one round
   * trip), so Redis quotes are as fresh as `pollMs` (`quoteMaxAgeMs` is 2 s by default, the full re-read 10 s).
   */
  private async poll(): Promise<void> {
    if (this.closed) return;
    const ssrSymbols = ssrSymbolsAt(this.flags.ssr, this.now());
    const mySeq = ++this.seq;
    const read = parsePoll(await sendPoll(this.reader, this.keys, ssrSymbols));
    const quotes = this.mergeQuotes(ssrSymbols, read.bids);
    if (mySeq > this.modeSeq) {
      this.modeSeq = mySeq;
      const mode = this.hold(read.mode);
      const changed = mode.mode !== this.flags.mode || mode.modeInvalid !== this.flags.modeInvalid;
      this.flags = { ...this.flags, ...mode, quotes };
      if (changed) this.opts.onChange?.(`mode read: ${read.mode.mode}`);
    } else {
      // A mode message (or a later read) arrived while this read was in flight: its mode is the newer one.
      this.flags = { ...this.flags, quotes };
    }
    if (this.loaded) this.lastOk = this.now();
    this.lastError = null;
  }

  /** The mode fields just read, after the halt-hold rule (halt-hold.ts); remembers the halt they show. */
  private hold(read: ModeFields): ModeFields {
    const { fields, seen } = holdHalt(read, this.haltSeen, this.now());
    this.haltSeen = seen;
    return fields;
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
    let res: Replies;
    const mySeq = ++this.seq;
    try {
      res = await sendFullRead(this.reader, this.keys, this.o.cutoverClasses);
    } catch (err) {
      this.lastError = (err as Error).message;
      throw err;
    }
    const read = parseFullRead(res, this.o.cutoverClasses);
    const ssrSymbols = ssrSymbolsAt(read.other.ssr, this.now());
    const quotes = ssrSymbols.length
      ? parseQuotes(await sendQuotes(this.reader, this.keys, ssrSymbols), ssrSymbols)
      : new Map<string, { bid: number; ts: number }>();
    // A mode message or a poll applied while this read was in flight is newer than what this read saw: keep it.
    const fresh = mySeq > this.modeSeq;
    if (fresh) this.modeSeq = mySeq;
    const cur = this.flags;
    const { unreadable, ...other } = read.other;
    this.flags = {
      ...(fresh
        ? this.hold(read.mode)
        : {
            mode: cur.mode,
            modeReason: cur.modeReason,
            modeActor: cur.modeActor,
            modeInvalid: cur.modeInvalid,
            modeSince: cur.modeSince,
            modeLastHalt: cur.modeLastHalt,
            modeHeld: cur.modeHeld,
            heartbeatMs: cur.heartbeatMs,
            heartbeatInvalid: cur.heartbeatInvalid,
          }),
      ...other,
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
