// The Redis values behind the LULD and Reg SHO Rule 201 checks, parsed and validated: what the feed writes per symbol
// (`md:trades:<symbol>`, `md:quote:<symbol>`, `md:prev_close`) and the records the LULD / SSR guard keeps
// (`luld:<symbol>`, `luld:paused`, `ssr:active`). Pure: no Redis, no clock; used by src/jobs/luld-ssr.ts. Key names and
// formats are documented in src/state/keys.ts.
//
// Nothing here throws on bad input: an unreadable value comes back as a problem list, a status or null, so the guard
// can report "data invalid" for that symbol and go on with the others.
import { Decimal } from "decimal.js";
import { z } from "zod";
import type { LimitState, PriceBands, Reference, Trade } from "./luld.js";
import type { SsrRecord } from "./ssr.js";

/** A Redis hash as the runner reads it (empty when absent). */
export const hashSchema = z.record(z.string(), z.string());
/** Per-symbol reads: scores are checked member by member (parseTrades), so a NaN score (`inf`) is one bad trade. */
export const zsetShape = z.array(z.tuple([z.string(), z.unknown()]));

const tradeMember = z.object({
  id: z.string().optional(),
  price: z.string().regex(/^\d+(\.\d+)?$/),
  size: z.number().optional(),
});

/** Eligible trades from `md:trades:<symbol>` (member JSON {id, price, size}, score epoch ms), and unreadable count. */
export function parseTrades(entries: [string, unknown][]): { trades: Trade[]; invalid: number } {
  const trades: Trade[] = [];
  let invalid = 0;
  for (const [member, score] of entries) {
    try {
      const p = tradeMember.safeParse(JSON.parse(member));
      if (p.success && typeof score === "number" && Number.isFinite(score))
        trades.push({ ts: score, price: new Decimal(p.data.price) });
      else invalid++;
    } catch {
      invalid++;
    }
  }
  return { trades, invalid };
}

/** `md:quote:<symbol>` as the guard uses it: the NBBO, its time, the day low and the feed's indicators. */
export interface Quote {
  bid: Decimal | null;
  ask: Decimal | null;
  ts: number | null;
  low: Decimal | null;
  halted: boolean;
  ssr: boolean;
}

const price = (s: string | undefined) => (s && /^\d+(\.\d+)?$/.test(s) ? new Decimal(s) : null);

/** Quote fields that are present but unreadable (a price that is not a decimal, a `ts` that is not epoch ms). */
export function quoteProblems(h: Record<string, string>): string[] {
  const bad: string[] = [];
  for (const f of ["bid", "ask", "low"] as const)
    if (h[f] !== undefined && h[f] !== "" && price(h[f]) === null)
      bad.push(`${f}=${JSON.stringify(h[f].slice(0, 40))}`);
  if (h.ts !== undefined && h.ts !== "" && !Number.isFinite(Number(h.ts)))
    bad.push(`ts=${JSON.stringify(h.ts.slice(0, 40))}`);
  return bad;
}

/** `md:quote:<symbol>` → the NBBO and the feed's indicators. */
export function parseQuote(h: Record<string, string>): Quote {
  const ts = Number(h.ts);
  return {
    bid: price(h.bid),
    ask: price(h.ask),
    ts: h.ts && Number.isFinite(ts) ? ts : null,
    low: price(h.low),
    halted: h.halted === "1" || h.halted === "true",
    ssr: h.ssr === "1" || h.ssr === "true",
  };
}

/** A prior close as read from `md:prev_close` for one symbol. */
export type PrevClose =
  | { status: "ok"; close: Decimal; date: string }
  | { status: "missing" }
  | { status: "unreadable"; raw: string }
  /** Dated another day than the expected one, or undated (`date` null: a bare number, the old format). */
  | { status: "stale"; close: Decimal | null; date: string | null };

const prevCloseSchema = z.object({
  close: z.string().regex(/^\d+(\.\d+)?$/),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
});

/**
 * `md:prev_close` → the prior close, usable only when dated `expectedDate` (the previous New York trading day). A
 * bare number is treated as undated (stale): the EOD writer may have failed and left an older close behind.
 */
export function parsePrevClose(raw: string | undefined, expectedDate: string): PrevClose {
  if (raw === undefined) return { status: "missing" };
  const bare = price(raw.trim());
  if (bare) return { status: "stale", close: bare, date: null };
  let p: z.infer<typeof prevCloseSchema> | null = null;
  try {
    const r = prevCloseSchema.safeParse(JSON.parse(raw));
    if (r.success) p = r.data;
  } catch {
    // not JSON: unreadable
  }
  if (!p) return { status: "unreadable", raw };
  const close = new Decimal(p.close);
  return p.date === expectedDate ? { status: "ok", close, date: p.date } : { status: "stale", close, date: p.date };
}

/** One symbol's LULD state as the guard keeps it in `luld:<symbol>`. */
export interface SymbolState {
  date: string | null;
  reference: Reference | null;
  reopenedAt: number | null;
  limit: LimitState;
}

/** `luld:<symbol>` → the guard's own state (a state from another New York date is discarded by the caller). */
export function parseState(h: Record<string, string>): SymbolState {
  const n = (s: string | undefined) => (s !== undefined && s !== "" && Number.isFinite(Number(s)) ? Number(s) : null);
  const ref = price(h.ref);
  const since = n(h.ref_since);
  const phase = h.phase === "limit" || h.phase === "paused" ? h.phase : "normal";
  return {
    date: h.date || null,
    reference: ref && since !== null ? { price: ref, since } : null,
    reopenedAt: n(h.reopened_at),
    limit: {
      phase,
      side: h.side === "up" || h.side === "down" ? h.side : null,
      limitSince: n(h.limit_since),
      pausedAt: n(h.paused_at),
      pauseUntil: n(h.pause_until),
    },
  };
}

/** A state and its bands → the `luld:<symbol>` fields (the inverse of parseState; "" for what is not known). */
export function stateFields(s: SymbolState, bands: Pick<PriceBands, "lower" | "upper" | "percent" | "doubled"> | null) {
  const str = (v: number | null) => (v === null ? "" : String(v));
  return {
    date: s.date ?? "",
    ref: s.reference ? s.reference.price.toString() : "",
    ref_since: str(s.reference?.since ?? null),
    reopened_at: str(s.reopenedAt),
    phase: s.limit.phase,
    side: s.limit.side ?? "",
    limit_since: str(s.limit.limitSince),
    paused_at: str(s.limit.pausedAt),
    pause_until: str(s.limit.pauseUntil),
    lower: bands ? bands.lower.toString() : "",
    upper: bands ? bands.upper.toString() : "",
    percent: bands ? bands.percent.toString() : "",
    doubled: bands ? (bands.doubled ? "1" : "0") : "",
  };
}

const ssrRecordSchema = z.object({
  triggered_at: z.string(),
  until: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
  source: z.enum(["trade", "feed"]),
  prev_close: z.string().optional(),
  price: z.string().optional(),
});

/** One `ssr:active` entry (JSON SsrRecord), or null when it is unreadable. */
export function safeSsr(json: string): SsrRecord | null {
  try {
    const p = ssrRecordSchema.safeParse(JSON.parse(json));
    return p.success ? p.data : null;
  } catch {
    return null;
  }
}

const pausedSchema = z.object({ since: z.string(), until: z.string(), side: z.string().nullable().optional() });

/** One `luld:paused` entry (JSON {since, until, side}), or null when it is unreadable. */
export function safePaused(json: string): z.infer<typeof pausedSchema> | null {
  try {
    const p = pausedSchema.safeParse(JSON.parse(json));
    return p.success ? p.data : null;
  } catch {
    return null;
  }
}
