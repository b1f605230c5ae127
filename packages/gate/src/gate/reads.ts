// The gate's reads of tradeguard's keys (docs/gate.md, "Redis keys"): which keys each read fetches in its one round
// trip (the full re-read includes `cutover:<class>` of each class the gate enforces), and how the replies become
// flags. No gate state lives here. Each read is a pair: `send*` queues the commands and returns ioredis's reply
// promise, `parse*` is pure. GateImpl (gate-impl.ts) awaits in between, so its ordering of sources (a reply is applied
// only if no newer mode arrived while it was in flight) sees the reply directly.
import type { ChainableCommander, Redis } from "ioredis";
import { type Keys, MARKET_KEYS } from "../state/keys.js";
import {
  type GateFlags,
  invalidEventLock,
  parseCaps,
  parseClosures,
  parseEtb,
  parseEventLock,
  parseHeartbeatField,
  parseLocates,
  parseMode,
  parsePdt,
  parseQuoteBid,
  parseUntilMap,
} from "./flags.js";
import { type CutoverState, parseBounds, parseCutover, parseRestrictions } from "./strategy-flags.js";

/** What ioredis's `exec()` of a transaction or pipeline gives: one [error, reply] per command, null when aborted. */
export type Replies = [Error | null, unknown][] | null;

/** The mode fields and the heartbeat: a read applies them only when no newer source arrived while it was in flight. */
export type ModeFields = Pick<
  GateFlags,
  | "mode"
  | "modeReason"
  | "modeActor"
  | "modeInvalid"
  | "modeSince"
  | "modeLastHalt"
  | "modeHeld"
  | "heartbeatMs"
  | "heartbeatInvalid"
>;

/** The flags a full re-read carries besides the mode fields (the quotes are read in a second round trip). */
export type OtherFlags = Omit<GateFlags, keyof ModeFields | "quotes">;

/** The symbols whose Reg SHO Rule 201 restriction is in force at `now` (their quotes are read). */
export function ssrSymbolsAt(ssr: ReadonlyMap<string, number>, now: number): string[] {
  return [...ssr.entries()].filter(([, until]) => until > now).map(([s]) => s);
}

/**
 * Queues the type-safe read of the mode fields: GET mode, HGETALL mode:meta, GET heartbeat:bot, then the TYPE of each
 * (in the same transaction, so the TYPE is that of the value read). A key of the wrong type is an answer, not a failed
 * read (docs/redis-keys.md: a `mode` of a wrong type is halt): modeFields() turns it into flags.
 */
function queueModeReads(m: ChainableCommander, keys: Keys): ChainableCommander {
  const r = (name: string) => keys.raw(name);
  return m.get(r(MARKET_KEYS.mode)).hgetall(r(MARKET_KEYS.modeMeta)).get(r(MARKET_KEYS.heartbeat));
}

/** Queues the TYPE of mode, mode:meta and heartbeat:bot (read after them in the same transaction). */
function queueModeTypes(m: ChainableCommander, keys: Keys): ChainableCommander {
  const r = (name: string) => keys.raw(name);
  return m.type(r(MARKET_KEYS.mode)).type(r(MARKET_KEYS.modeMeta)).type(r(MARKET_KEYS.heartbeat));
}

/** Sends the poll: mode, mode:meta, heartbeat:bot (type-safe) and `md:quote:<symbol>` of `symbols`, in one transaction. */
export function sendPoll(reader: Redis, keys: Keys, symbols: string[]): Promise<Replies> {
  const m = queueModeTypes(queueModeReads(reader.multi(), keys), keys);
  for (const s of symbols) m.hgetall(keys.raw(MARKET_KEYS.quote(s)));
  return m.exec();
}

/** Parses the poll's replies (throws only when a read failed, not on a wrong type); bids in `symbols` order. */
export function parsePoll(res: Replies): { mode: ModeFields; bids: ({ bid: number; ts: number } | null)[] } {
  if (!res) throw new Error("poll: transaction aborted");
  return {
    mode: modeFields(res, 0, 3),
    bids: res.slice(6).map(([err, q]) => (err ? null : parseQuoteBid((q ?? {}) as Record<string, string>))),
  };
}

/**
 * The value a reply carries, or the type the key holds when it is not `expected` (from its TYPE reply, or a WRONGTYPE
 * error); throws when the read itself failed.
 */
function typed(
  key: string,
  expected: "string" | "hash",
  [err, value]: [Error | null, unknown],
  [typeErr, type]: [Error | null, unknown],
): { value: unknown; wrongType: null } | { value: null; wrongType: string } {
  if (!typeErr && typeof type === "string" && type !== expected && type !== "none")
    return { value: null, wrongType: type };
  if (err?.message.startsWith("WRONGTYPE")) return { value: null, wrongType: "value of another type" };
  if (err) throw new Error(`${key}: ${err.message}`);
  return { value, wrongType: null };
}

/**
 * The mode fields from the type-safe reads (GET/HGETALL/GET at `at`, their TYPEs at `typesAt`). `mode` of a wrong type
 * is invalid (halt); `mode:meta` of a wrong type is ignored with a note in modeReason (it is cosmetic); `heartbeat:bot`
 * of a wrong type is an invalid heartbeat (the dead-man's switch trips).
 */
function modeFields(res: [Error | null, unknown][], at: number, typesAt: number): ModeFields {
  const reply = (i: number) => res[i] ?? [new Error("no reply"), null];
  const mode = typed(MARKET_KEYS.mode, "string", reply(at), reply(typesAt));
  const meta = typed(MARKET_KEYS.modeMeta, "hash", reply(at + 1), reply(typesAt + 1));
  const hb = typed(MARKET_KEYS.heartbeat, "string", reply(at + 2), reply(typesAt + 2));
  const out: ModeFields = {
    ...parseMode(mode.value as string | null, meta.value as Record<string, string> | null),
    ...parseHeartbeatField(hb.value as string | null),
  };
  if (mode.wrongType) {
    out.mode = "halt";
    out.modeInvalid = `mode key holds a ${mode.wrongType} (wrong type)`;
  }
  if (meta.wrongType)
    out.modeReason = `${MARKET_KEYS.modeMeta} is unreadable: it holds a ${meta.wrongType} (wrong type); ignored`;
  if (hb.wrongType) out.heartbeatInvalid = `it holds a ${hb.wrongType} (wrong type)`;
  return out;
}

/**
 * Sends the full re-read of every flag, in one transaction: the keys FULL_READ_KEYS names, then `cutover:<class>` of
 * each class in `cutoverClasses`, then the mode TYPEs.
 */
export function sendFullRead(reader: Redis, keys: Keys, cutoverClasses: readonly string[] = []): Promise<Replies> {
  const r = (name: string) => keys.raw(name);
  const m = queueModeReads(reader.multi(), keys)
    .get(r(MARKET_KEYS.eventLock))
    .hgetall(r(MARKET_KEYS.closures))
    .hgetall(r(MARKET_KEYS.luldPaused))
    .hgetall(r(MARKET_KEYS.ssrActive))
    .hgetall(r(MARKET_KEYS.locates))
    .zrange(r(MARKET_KEYS.etb), "0", "-1", "WITHSCORES")
    .hgetall(r(MARKET_KEYS.pdt))
    .hgetall(r(MARKET_KEYS.strategyCaps))
    .hgetall(r(MARKET_KEYS.strategyBounds))
    .hgetall(r(MARKET_KEYS.strategyReduceOnly))
    .hgetall(r(MARKET_KEYS.strategyBlocked));
  for (const c of cutoverClasses) m.get(r(MARKET_KEYS.cutover(c)));
  return queueModeTypes(m, keys).exec();
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
  MARKET_KEYS.strategyBounds,
  MARKET_KEYS.strategyReduceOnly,
  MARKET_KEYS.strategyBlocked,
];

/** Parses the full re-read's replies; throws when a read failed or market:closures is unreadable (wrong type). */
export function parseFullRead(
  res: Replies,
  cutoverClasses: readonly string[] = [],
): { mode: ModeFields; other: OtherFlags } {
  if (!res) throw new Error("refresh: transaction aborted");
  // The mode fields are read type-safely (modeFields: a wrong type is an answer). Of the other keys, one of the wrong
  // type fails only its own command: market:closures has no strict reading that is safe to trade on, so the whole
  // read fails (and after flagsMaxAgeMs the gate refuses: flags_stale); the others are applied strictly
  // (GateFlags.unreadable) so that the rest of the flags stay fresh.
  const names = [...FULL_READ_KEYS, ...cutoverClasses.map((c) => MARKET_KEYS.cutover(c))];
  const mode = modeFields(res, 0, names.length);
  const unreadable = new Map<string, string>();
  for (let i = 3; i < names.length; i++) {
    const err = res[i]?.[0];
    if (!err) continue;
    if (names[i] === MARKET_KEYS.closures) throw new Error(`${names[i]}: ${err.message}`);
    unreadable.set(names[i]!, err.message);
  }
  const v = res.map(([err, value]) => (err ? null : value));
  const hash = (i: number) => (v[i] ?? {}) as Record<string, string>;
  const locates = parseLocates(hash(7));
  const eventLockErr = unreadable.get(MARKET_KEYS.eventLock);
  const cutover = new Map<string, CutoverState>();
  cutoverClasses.forEach((c, j) => {
    const key = MARKET_KEYS.cutover(c);
    const err = unreadable.get(key);
    const raw = v[FULL_READ_KEYS.length + j];
    cutover.set(
      c,
      err ? { enabled: false, why: `${key} is unreadable: ${err}` } : parseCutover(key, raw as string | null),
    );
  });
  return {
    mode,
    other: {
      eventLock: eventLockErr ? invalidEventLock(eventLockErr) : parseEventLock(v[3] as string | null),
      closures: parseClosures(hash(4)),
      luldPaused: parseUntilMap(hash(5)),
      ssr: parseUntilMap(hash(6)),
      locatesBySymbol: locates.bySymbol,
      etb: parseEtb((v[8] ?? []) as string[]),
      pdt: parsePdt(hash(9)),
      caps: parseCaps(hash(10)),
      bounds: parseBounds(hash(11)),
      reduceOnly: parseRestrictions(hash(12)),
      blocked: parseRestrictions(hash(13)),
      cutover,
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
