// The gate's in-process picture of tradeguard's flags, parsed from raw Redis replies. Every parser fails safe:
// a value the gate cannot read makes it stricter, never looser (an unreadable mode is halt, an unreadable pause
// entry is a pause, an unreadable cap refuses the strategy's new orders, an unreadable locate is no locate).
import { Decimal } from "decimal.js";
import { z } from "zod";
import { closuresFromHash } from "../market/calendar.js";
import { type Locate, locateSchema } from "../market/locate.js";
import { type PdtAccount, pdtAccountSchema } from "../market/pdt.js";
import { isMode, type Mode } from "../state/keys.js";
import { safeJson } from "./json.js";
import type { CutoverState, Invalid, StrategyBounds, StrategyRestriction } from "./strategy-flags.js";

/**
 * `risk:event_lock`, as the economic-event guard writes it (src/jobs/economic-events.ts): {"event","until","cap",
 * "exempt"} — around a macro release, every strategy not tagged with one of `exempt` is capped at `cap` (a fraction)
 * of its normal limit.
 */
export interface EventLock {
  event: string;
  /** Epoch ms the lock ends; null = until removed. */
  until: number | null;
  /** Fraction of the normal limit (0..1). */
  cap: Decimal;
  /** Strategy names or tags the lock does not apply to. */
  exempt: ReadonlySet<string>;
  /** The value could not be read: treated as a lock that allows no new exposure. */
  invalid: string | null;
}

export interface StrategyCap {
  /** Tags (matched against the event lock's `exempt`). */
  tags: readonly string[];
  maxQty: number | null;
  maxNotional: Decimal | null;
  halted: boolean;
  reason: string | null;
}

export interface GateFlags {
  mode: Mode;
  modeReason: string | null;
  modeActor: string | null;
  /** mode:meta `since`: when the mode became what it is (ISO-8601), null when absent. */
  modeSince: string | null;
  /** mode:meta `last_halt`: the `since` of the latest halt this mode descends from, null when absent. */
  modeLastHalt: string | null;
  /**
   * Set when the gate holds a halt Redis no longer shows (docs/gate.md, "Failover"): Redis reads a looser mode that
   * does not descend from the halt this gate saw, so `mode` stays halt; says why.
   */
  modeHeld: string | null;
  /** Set when the mode key held something that is not a mode (treated as halt). */
  modeInvalid: string | null;
  /** heartbeat:bot, epoch ms; null when absent or unreadable. */
  heartbeatMs: number | null;
  /** Set when heartbeat:bot exists but cannot be read (wrong type, not epoch ms): the dead-man's switch trips. */
  heartbeatInvalid: string | null;
  eventLock: EventLock | null;
  closures: Map<string, string>;
  /** Symbol → epoch ms the Trading Pause ends (Infinity when unreadable: a pause until told otherwise). */
  luldPaused: Map<string, number>;
  /** Symbol → epoch ms the Rule 201 restriction ends (Infinity when unreadable). */
  ssr: Map<string, number>;
  locatesBySymbol: Map<string, Locate[]>;
  /** Symbol → epoch ms of its easy-to-borrow list. */
  etb: Map<string, number>;
  pdt: Map<string, PdtAccount | { invalid: string }>;
  caps: Map<string, StrategyCap | { invalid: string }>;
  /** National best bids read from `md:quote:<symbol>` for the symbols under Rule 201: symbol → {bid, ts}. */
  quotes: Map<string, { bid: number; ts: number }>;
  /** strategy:bounds: the configured per-order caps the strategy_caps guard publishes. */
  bounds: Map<string, StrategyBounds | Invalid>;
  /** strategy:reduce_only (error budgets) and strategy:blocked (feature schema): only reducing orders. */
  reduceOnly: Map<string, StrategyRestriction | Invalid>;
  blocked: Map<string, StrategyRestriction | Invalid>;
  /** cutover:<asset_class> of every class in `cutoverAssetClasses`. */
  cutover: Map<string, CutoverState>;
  /**
   * Whole keys the last full read could not read (e.g. WRONGTYPE after a `SET strategy:caps oops`): key name → the
   * error. Each is applied strictly by decide(): `strategy:caps` / `strategy:bounds` / `strategy:reduce_only` /
   * `strategy:blocked` → no new exposure for any strategy; `luld:paused` → every symbol paused; `ssr:active` → every
   * symbol under the Rule 201 price test; `pdt` → every account's record unreadable; `risk:event_lock` → a lock that
   * allows no new exposure (parsed as such here); `locates` / `etb` → none (no short sale is covered);
   * `cutover:<class>` → the class is not cut over (parsed as such by reads.ts).
   */
  unreadable: Map<string, string>;
}

/** Flags before anything was read (never used to allow an order: the gate is "not ready" until the first load). */
export function emptyFlags(): GateFlags {
  return {
    mode: "halt",
    modeReason: "gate not loaded yet",
    modeActor: null,
    modeSince: null,
    modeLastHalt: null,
    modeHeld: null,
    modeInvalid: null,
    heartbeatMs: null,
    heartbeatInvalid: null,
    eventLock: null,
    closures: new Map(),
    luldPaused: new Map(),
    ssr: new Map(),
    locatesBySymbol: new Map(),
    etb: new Map(),
    pdt: new Map(),
    caps: new Map(),
    quotes: new Map(),
    bounds: new Map(),
    reduceOnly: new Map(),
    blocked: new Map(),
    cutover: new Map(),
    unreadable: new Map(),
  };
}

/** `mode` + `mode:meta` → the mode, failing safe (absent = active, anything else unreadable = halt). */
export function parseMode(
  raw: string | null,
  meta: Record<string, string> | null,
): Pick<GateFlags, "mode" | "modeReason" | "modeActor" | "modeInvalid" | "modeSince" | "modeLastHalt" | "modeHeld"> {
  const m = {
    modeReason: meta?.reason || null,
    modeActor: meta?.actor || null,
    modeSince: meta?.since || null,
    modeLastHalt: meta?.last_halt || null,
    modeHeld: null,
  };
  if (raw === null) return { mode: "active", ...m, modeInvalid: null };
  if (!isMode(raw)) return { mode: "halt", ...m, modeInvalid: `mode key holds ${JSON.stringify(raw)}` };
  return { mode: raw, ...m, modeInvalid: null };
}

/** heartbeat:bot (epoch ms) → number, or null. */
export function parseHeartbeat(raw: string | null): number | null {
  if (raw === null || !/^\d{10,16}$/.test(raw)) return null;
  return Number(raw);
}

/** heartbeat:bot → its time, or why it is unreadable (absent: both null; the dead-man's switch trips either way). */
export function parseHeartbeatField(raw: string | null): Pick<GateFlags, "heartbeatMs" | "heartbeatInvalid"> {
  const heartbeatMs = parseHeartbeat(raw);
  if (raw === null || heartbeatMs !== null) return { heartbeatMs, heartbeatInvalid: null };
  return { heartbeatMs: null, heartbeatInvalid: `it holds ${JSON.stringify(raw.slice(0, 40))}, not epoch ms` };
}

/**
 * A message on the mode channel → its mode, reason and actor, or null when it is not a valid ModeEvent (the same
 * contract as `parseModeEvent` in src/state/mode.ts, which the gate does not load: `mode` one of the three and `ts`
 * a string). Whatever it returns, the gate re-reads the key: the message is a prompt, the key is the truth.
 */
export function parseModeMessage(
  message: string,
): { mode: Mode; reason: string | null; actor: string | null; ts: string } | null {
  let v: unknown;
  try {
    v = JSON.parse(message);
  } catch {
    return null;
  }
  if (typeof v !== "object" || v === null) return null;
  const e = v as { mode?: unknown; reason?: unknown; actor?: unknown; ts?: unknown };
  if (!isMode(e.mode) || typeof e.ts !== "string") return null;
  return {
    mode: e.mode,
    reason: typeof e.reason === "string" ? e.reason : null,
    actor: typeof e.actor === "string" ? e.actor : null,
    ts: e.ts,
  };
}

const num = z.union([z.number(), z.string().regex(/^\d+(\.\d+)?$/)]);

const eventLockSchema = z.object({
  event: z.string().min(1),
  until: z.string(),
  cap: z.number().min(0).max(1),
  exempt: z.array(z.string()).default([]),
});

/** A lock that allows no new exposure (the key or its value could not be read). */
export function invalidEventLock(invalid: string): EventLock {
  return { event: "?", until: null, cap: new Decimal(0), exempt: new Set(), invalid };
}

/** risk:event_lock → the lock, or null when absent. Unreadable → a lock that allows no new exposure. */
export function parseEventLock(raw: string | null): EventLock | null {
  if (raw === null) return null;
  const bad = invalidEventLock;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return bad(`not JSON: ${raw.slice(0, 60)}`);
  }
  const p = eventLockSchema.safeParse(v);
  if (!p.success) return bad(p.error.issues[0]?.message ?? "invalid");
  const until = Date.parse(p.data.until);
  if (Number.isNaN(until)) return bad("until is not a time");
  return { event: p.data.event, until, cap: new Decimal(p.data.cap), exempt: new Set(p.data.exempt), invalid: null };
}

const capSchema = z.object({
  tags: z.array(z.string()).default([]),
  max_qty: num.optional(),
  max_notional: num.optional(),
  halted: z.boolean().optional(),
  reason: z.string().optional(),
});

/** strategy:caps → strategy → cap (unreadable entries kept as invalid: the strategy's new orders are refused). */
export function parseCaps(raw: Record<string, string>): Map<string, StrategyCap | { invalid: string }> {
  const out = new Map<string, StrategyCap | { invalid: string }>();
  for (const [strategy, json] of Object.entries(raw)) {
    const p = safeJson(json, capSchema);
    if ("invalid" in p) out.set(strategy, p);
    else
      out.set(strategy, {
        tags: p.tags,
        maxQty: p.max_qty !== undefined ? Math.floor(Number(p.max_qty)) : null,
        maxNotional: p.max_notional !== undefined ? new Decimal(p.max_notional) : null,
        halted: p.halted === true,
        reason: p.reason ?? null,
      });
  }
  return out;
}

const untilSchema = z.object({ until: z.string() }).passthrough();

/** luld:paused / ssr:active → symbol → epoch ms until (Infinity when an entry is unreadable). */
export function parseUntilMap(raw: Record<string, string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [symbol, json] of Object.entries(raw)) {
    const p = safeJson(json, untilSchema);
    const t = "invalid" in p ? Number.NaN : Date.parse(p.until);
    out.set(symbol, Number.isNaN(t) ? Number.POSITIVE_INFINITY : t);
  }
  return out;
}

/** locates → symbol → locates (unreadable entries are dropped: no locate is the safe reading). */
export function parseLocates(raw: Record<string, string>): { bySymbol: Map<string, Locate[]>; invalid: string[] } {
  const bySymbol = new Map<string, Locate[]>();
  const invalid: string[] = [];
  for (const [id, json] of Object.entries(raw)) {
    const p = safeJson(json, locateSchema);
    if ("invalid" in p) {
      invalid.push(id);
      continue;
    }
    const list = bySymbol.get(p.symbol) ?? [];
    list.push({ ...p, id });
    bySymbol.set(p.symbol, list);
  }
  return { bySymbol, invalid };
}

/** etb (ZRANGE … WITHSCORES, flat) → symbol → epoch ms. */
export function parseEtb(flat: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const t = Number(flat[i + 1]);
    if (Number.isFinite(t)) out.set(flat[i]!, t);
  }
  return out;
}

/** pdt → account → record (unreadable entries kept as invalid: the account's new orders are refused). */
export function parsePdt(raw: Record<string, string>): Map<string, PdtAccount | { invalid: string }> {
  const out = new Map<string, PdtAccount | { invalid: string }>();
  for (const [account, json] of Object.entries(raw)) out.set(account, safeJson(json, pdtAccountSchema));
  return out;
}

/** market:closures → valid YYYY-MM-DD → reason (other fields are ignored here and reported by the guard). */
export function parseClosures(raw: Record<string, string>): Map<string, string> {
  return closuresFromHash(raw).closures;
}

/** md:quote:<symbol> → {bid, ts}, or null without a usable bid and time. */
export function parseQuoteBid(raw: Record<string, string>): { bid: number; ts: number } | null {
  const bid = Number(raw.bid);
  const ts = Number(raw.ts);
  if (!raw.bid || !/^\d+(\.\d+)?$/.test(raw.bid) || !Number.isFinite(bid) || !Number.isFinite(ts)) return null;
  return { bid, ts };
}
