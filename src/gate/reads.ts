// The gate's reads of tradeguard's keys (docs/gate.md, "Redis keys"): which keys each read fetches in its one round
// trip, and how the replies become flags. No gate state lives here. Each read is a pair: `send*` queues the commands
// and returns ioredis's reply promise, `parse*` is pure. GateImpl (gate-impl.ts) awaits in between, so its ordering
// of sources (a reply is applied only if no newer mode arrived while it was in flight) sees the reply directly.
import type { Redis } from "ioredis";
import { type Keys, MARKET_KEYS } from "../state/keys.js";
import {
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

/** What ioredis's `exec()` of a transaction or pipeline gives: one [error, reply] per command, null when aborted. */
export type Replies = [Error | null, unknown][] | null;

/** The mode fields and the heartbeat: a read applies them only when no newer source arrived while it was in flight. */
export type ModeFields = Pick<GateFlags, "mode" | "modeReason" | "modeActor" | "modeInvalid" | "heartbeatMs">;

/** The flags a full re-read carries besides the mode fields (the quotes are read in a second round trip). */
export type OtherFlags = Omit<GateFlags, keyof ModeFields | "quotes">;

/** The symbols whose Reg SHO Rule 201 restriction is in force at `now` (their quotes are read). */
export function ssrSymbolsAt(ssr: ReadonlyMap<string, number>, now: number): string[] {
  return [...ssr.entries()].filter(([, until]) => until > now).map(([s]) => s);
}

/** Sends the poll: mode, mode:meta, heartbeat:bot and `md:quote:<symbol>` of `symbols`, in one transaction. */
export function sendPoll(reader: Redis, keys: Keys, symbols: string[]): Promise<Replies> {
  const m = reader
    .multi()
    .get(keys.raw(MARKET_KEYS.mode))
    .hgetall(keys.raw(MARKET_KEYS.modeMeta))
    .get(keys.raw(MARKET_KEYS.heartbeat));
  for (const s of symbols) m.hgetall(keys.raw(MARKET_KEYS.quote(s)));
  return m.exec();
}

/** Parses the poll's replies (throws when the mode keys or the heartbeat could not be read); bids in `symbols` order. */
export function parsePoll(res: Replies): { mode: ModeFields; bids: ({ bid: number; ts: number } | null)[] } {
  if (!res) throw new Error("poll: transaction aborted");
  for (const [err] of res.slice(0, 3)) if (err) throw err;
  return {
    mode: {
      ...parseMode(res[0]![1] as string | null, res[1]![1] as Record<string, string>),
      heartbeatMs: parseHeartbeat(res[2]![1] as string | null),
    },
    bids: res.slice(3).map(([err, q]) => (err ? null : parseQuoteBid((q ?? {}) as Record<string, string>))),
  };
}

/** Sends the full re-read of every flag, in one transaction (the order FULL_READ_KEYS names). */
export function sendFullRead(reader: Redis, keys: Keys): Promise<Replies> {
  const r = (name: string) => keys.raw(name);
  return reader
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
}

const FULL_READ_KEYS = [
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

/** Parses the full re-read's replies; throws when mode, mode:meta, heartbeat:bot or market:closures is unreadable. */
export function parseFullRead(res: Replies): { mode: ModeFields; other: OtherFlags } {
  if (!res) throw new Error("refresh: transaction aborted");
  // A key of the wrong type fails only its own command. Mode, heartbeat and closures have no strict reading that
  // is safe to trade on: the whole read fails (and after flagsMaxAgeMs the gate refuses: flags_stale). The others
  // are applied strictly (GateFlags.unreadable) so that the rest of the flags stay fresh.
  const fatal = new Set([0, 1, 2, 4]);
  const unreadable = new Map<string, string>();
  res.forEach(([err], i) => {
    if (!err) return;
    if (fatal.has(i)) throw new Error(`${FULL_READ_KEYS[i]}: ${err.message}`);
    unreadable.set(FULL_READ_KEYS[i]!, err.message);
  });
  const v = res.map(([err, value]) => (err ? null : value));
  const hash = (i: number) => (v[i] ?? {}) as Record<string, string>;
  const locates = parseLocates(hash(7));
  const eventLockErr = unreadable.get(MARKET_KEYS.eventLock);
  return {
    mode: { ...parseMode(v[0] as string | null, hash(1)), heartbeatMs: parseHeartbeat(v[2] as string | null) },
    other: {
      eventLock: eventLockErr ? invalidEventLock(eventLockErr) : parseEventLock(v[3] as string | null),
      closures: parseClosures(hash(4)),
      luldPaused: parseUntilMap(hash(5)),
      ssr: parseUntilMap(hash(6)),
      locatesBySymbol: locates.bySymbol,
      etb: parseEtb((v[8] ?? []) as string[]),
      pdt: parsePdt(hash(9)),
      caps: parseCaps(hash(10)),
      unreadable,
    },
  };
}

/** Sends the reads of `md:quote:<symbol>` of `symbols`, in one pipeline. */
export function sendQuotes(reader: Redis, keys: Keys, symbols: string[]): Promise<Replies> {
  const p = reader.pipeline();
  for (const s of symbols) p.hgetall(keys.raw(MARKET_KEYS.quote(s)));
  return p.exec();
}

/** Parses sendQuotes' replies: symbol → national best bid (symbols with no readable bid are left out). */
export function parseQuotes(res: Replies, symbols: string[]): Map<string, { bid: number; ts: number }> {
  const quotes = new Map<string, { bid: number; ts: number }>();
  (res ?? []).forEach(([err, q], i) => {
    const parsed = err ? null : parseQuoteBid((q ?? {}) as Record<string, string>);
    if (parsed) quotes.set(symbols[i]!, parsed);
  });
  return quotes;
}
