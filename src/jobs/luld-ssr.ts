// LULD / SSR guard: Limit Up-Limit Down (the LULD Plan; src/market/luld.ts) and Reg SHO Rule 201 (src/market/ssr.ts)
// for the symbols the desk trades, fed by the trades and quotes the trading processes (or the market-data process)
// write to Redis. Per tick and symbol it keeps the Reference Price (five-minute mean, moved only on a ≥1% change),
// computes the bands (doubled in the closing period where the Plan says so), follows the Limit State with the NBBO
// (15 s → a 5-minute Trading Pause, then automatic resumption), and sets the Rule 201 restriction on a 10% decline
// from the prior close (for the rest of the day and the next trading day). `luld:paused` and `ssr:active` are what
// the gate reads; every change is published on `flags` so gates re-read at once.
//
// Prior close: `md:prev_close` (hash symbol → JSON {"close":"123.45","date":"YYYY-MM-DD"}, `date` being the New York
// trading date the close belongs to). During the session only a close dated the previous trading day is used; a
// stale or undated one (including a bare number, the old format) is not trusted: no trade-based Rule 201 trigger and
// no prior-close LULD bracket for that symbol, and a critical `prev_close_stale` finding.
//
// One symbol's unreadable data never blinds the guard to the others: the per-symbol keys are declared with
// schemas that accept anything, and each symbol's values are validated here (a `data_invalid:<symbol>` finding and
// that symbol skipped); they are read with `onError: "value"`, so even a Redis error on one of them (e.g. WRONGTYPE)
// affects only its symbol.
//
// Limits of an estimate (see docs/runbook/market-rules.md): the SIPs and the primary listing exchange are the
// authority. A feed that has their Trading Pause or short-sale-restriction indicators writes them (`halted`, `ssr`
// in `md:quote:<symbol>`), and they override what this guard infers. The Limit State clock is observed at tick
// granularity (default every 5 s).
import { Decimal } from "decimal.js";
import { z } from "zod";
import { MARKET_KEYS } from "../gate/keys.js";
import { closuresFromHash, marketStatus, NY_ZONE, nyDate, previousTradingDay } from "../market/calendar.js";
import {
  type LimitState,
  limitSide,
  NORMAL,
  priceBands,
  type Reference,
  stepLimitState,
  type Tier,
  type Trade,
  updateReference,
} from "../market/luld.js";
import { applySsrTrigger, type SsrRecord, ssrActive, ssrTriggered } from "../market/ssr.js";
import { defineGuard, type Finding, type FlagChange, type KeyRead, ReadFailure } from "./guard.js";

export const SOP_LULD = "sop-luld";
export const SOP_SSR = "sop-ssr";

const symbolSchema = z.string().regex(/^[A-Z0-9][A-Z0-9./-]{0,15}$/, "an upper-case ticker");

const configSchema = z
  .object({
    symbols: z
      .array(
        z
          .object({
            symbol: symbolSchema,
            /** LULD Plan Appendix A tier: 1 (S&P 500, Russell 1000, Schedule 1 ETPs) or 2 (everything else). */
            tier: z.union([z.literal(1), z.literal(2)]).default(2),
            /** Leverage ratio of a leveraged Tier 2 ETP (Appendix A (B)(5)). */
            leverage: z.number().positive().default(1),
          })
          .strict(),
      )
      .default([]),
    /** A quote older than this is not used for the Limit State (and is reported during the session). */
    quote_max_age_ms: z.number().int().positive().default(10_000),
  })
  .strict();
export type LuldSsrConfig = z.infer<typeof configSchema>;

type Values = Record<string, unknown>;
type Probe = { at: number };

const hashSchema = z.record(z.string(), z.string());
/** Per-symbol reads: scores are checked member by member (parseTrades), so a NaN score (`inf`) is one bad trade. */
const zsetShape = z.array(z.tuple([z.string(), z.unknown()]));
/** What the runner validates per-symbol keys with: nothing, so one symbol's garbage cannot stop the others. */
const anything = z.unknown();
const tradeMember = z.object({
  id: z.string().optional(),
  price: z.string().regex(/^\d+(\.\d+)?$/),
  size: z.number().optional(),
});
const pausedSchema = z.object({ since: z.string(), until: z.string(), side: z.string().nullable().optional() });

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

interface Quote {
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

/** One symbol's values as the runner read them, or the problems that make them unusable. */
function symbolValues(
  v: Record<string, unknown>,
  sym: string,
):
  | { ok: true; trades: [string, unknown][]; quote: Record<string, string>; state: Record<string, string> }
  | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const check = <T>(name: string, key: string, schema: z.ZodType<T>, empty: T): T => {
    const raw = v[name];
    if (raw instanceof ReadFailure) {
      problems.push(`${key}: ${raw.message}`);
      return empty;
    }
    if (raw === undefined || raw === null) return empty;
    const r = schema.safeParse(raw);
    if (r.success) return r.data;
    const s = JSON.stringify(raw) ?? String(raw);
    problems.push(
      `${key}: ${r.error.issues[0]?.message ?? "invalid"} (got ${s.length > 60 ? `${s.slice(0, 57)}...` : s})`,
    );
    return empty;
  };
  const trades = check(rn("trades", sym), MARKET_KEYS.trades(sym), zsetShape, []);
  const quote = check(rn("quote", sym), MARKET_KEYS.quote(sym), hashSchema, {});
  const state = check(rn("state", sym), MARKET_KEYS.luld(sym), hashSchema, {});
  return problems.length ? { ok: false, problems } : { ok: true, trades, quote, state };
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

interface SymbolState {
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

function stateFields(
  s: SymbolState,
  bands: { lower: Decimal; upper: Decimal; percent: Decimal; doubled: boolean } | null,
) {
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

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function et(ms: number): string {
  return `${new Date(ms).toLocaleTimeString("en-US", { timeZone: NY_ZONE, hour12: false })} ET`;
}

/** Read names of one symbol's keys. */
const rn = (kind: "trades" | "quote" | "state", symbol: string) => `${kind}:${symbol}`;

export const luldSsrGuard = defineGuard<LuldSsrConfig, Values, Probe>({
  name: "luld_ssr",
  schedule: "*/5 * * * * *",
  config: configSchema,
  reads(c) {
    const r: Record<string, KeyRead> = {
      prevClose: { key: MARKET_KEYS.prevClose, type: "hash", schema: hashSchema },
      ssr: { key: MARKET_KEYS.ssrActive, type: "hash", schema: hashSchema },
      paused: { key: MARKET_KEYS.luldPaused, type: "hash", schema: hashSchema },
      closures: { key: MARKET_KEYS.closures, type: "hash", schema: hashSchema },
    };
    for (const s of c.symbols) {
      // Validated per symbol in evaluate (symbolValues): one symbol's garbage must not stop the others.
      // onError "value": even a key of the wrong Redis type (WRONGTYPE) only affects its own symbol.
      r[rn("trades", s.symbol)] = {
        key: MARKET_KEYS.trades(s.symbol),
        type: "zset",
        schema: anything,
        onError: "value",
      };
      r[rn("quote", s.symbol)] = { key: MARKET_KEYS.quote(s.symbol), type: "hash", schema: anything, onError: "value" };
      r[rn("state", s.symbol)] = { key: MARKET_KEYS.luld(s.symbol), type: "hash", schema: anything, onError: "value" };
    }
    return r;
  },
  probe: async (_c, ctx) => ({ at: ctx.now.getTime() }),
  evaluate(snapshot, now, c) {
    const v = snapshot.values as Record<string, unknown>;
    const hash = (name: string) => (v[name] ?? {}) as Record<string, string>;
    const nowMs = now.getTime();
    const { closures } = closuresFromHash(hash("closures"));
    const status = marketStatus(now, closures);
    const today = nyDate(now);
    const prevTradingDay = previousTradingDay(today, closures);
    const prevCloses = hash("prevClose");
    const ssrMap = hash("ssr");
    const pausedMap = hash("paused");
    const findings: Finding[] = [];
    const flagActions: FlagChange[] = [];
    const pausedSet: Record<string, string> = {};
    const pausedDel: string[] = [];
    const ssrSet: Record<string, string> = {};
    const ssrDel: string[] = [];

    for (const cfg of c.symbols) {
      const sym = cfg.symbol;
      const luldBase = { guard: "luld_ssr", sop: SOP_LULD };
      const sv = symbolValues(v, sym);
      if (!sv.ok) {
        // Like the runner's data-invalid path, for this symbol only: nothing of it is evaluated or written.
        findings.push({
          ...luldBase,
          key: `luld_ssr:data_invalid:${sym}`,
          severity: "warn",
          title: `${sym}: data invalid`,
          detail: `Redis holds values the guard cannot read for ${sym}, so it did not evaluate ${sym} (other symbols are evaluated): ${sv.problems.join("; ")}`,
        });
        continue;
      }
      const { trades, invalid } = parseTrades(sv.trades);
      const rawQuote = sv.quote;
      const badQuote = quoteProblems(rawQuote);
      const quote = parseQuote(rawQuote);
      const rawState = sv.state;
      const stored = parseState(rawState);
      // The prior close matters only in the session (trade-based Rule 201 trigger, LULD bracket, fallback reference).
      const pc = parsePrevClose(prevCloses[sym], prevTradingDay);
      const prevClose = pc.status === "ok" ? pc.close : null;
      let st: SymbolState =
        stored.date === today ? stored : { date: today, reference: null, reopenedAt: null, limit: NORMAL };
      let bands: ReturnType<typeof priceBands> | null = null;
      // An unreadable NBBO is not followed (the feed's pause and SSR indicators still are: acting on them is safe).
      const quoteFresh = badQuote.length === 0 && quote.ts !== null && nowMs - quote.ts <= c.quote_max_age_ms;

      if (badQuote.length) {
        findings.push({
          ...luldBase,
          key: `luld_ssr:data_invalid:${sym}`,
          severity: "warn",
          title: `${sym}: unreadable quote in ${MARKET_KEYS.quote(sym)}`,
          detail: `${MARKET_KEYS.quote(sym)} has ${badQuote.join(", ")}: prices must be decimals and ts epoch ms. The Limit State is not followed for ${sym} until the feed writes a readable quote; other symbols are unaffected.`,
        });
      }

      if (invalid > 0) {
        findings.push({
          ...luldBase,
          key: `luld_ssr:trades_invalid:${sym}`,
          severity: "warn",
          title: `${sym}: ${invalid} unreadable trade${invalid === 1 ? "" : "s"} in ${MARKET_KEYS.trades(sym)}`,
          detail: `Members must be JSON {"id","price","size"} with the report time (epoch ms) as score; unreadable ones are ignored for the Reference Price and Rule 201.`,
        });
      }

      // ---- LULD: only during the regular session (the Plan applies 9:30–4:00, or to an early close).
      if (status.open) {
        const notBefore = Math.max(status.opens!.getTime(), st.reopenedAt ?? 0);
        const ref = updateReference(st.reference, trades, nowMs, {
          notBefore,
          fallback: st.reopenedAt ? null : prevClose,
        });
        st = { ...st, reference: ref.reference };
        if (ref.reference) {
          bands = priceBands({
            referencePrice: ref.reference.price,
            tier: cfg.tier as Tier,
            at: now,
            previousClose: prevClose ?? undefined,
            leverage: cfg.leverage,
            closures,
          });
        }
        const side = bands && quoteFresh ? limitSide(quote, bands) : null;
        const pauseEnd = st.limit.pauseUntil;
        const step = stepLimitState(st.limit, { side, halted: quote.halted }, nowMs);
        st = { ...st, limit: step.state };
        if (step.event === "resumed") {
          // Reopened: the Reference Price restarts from the reopening (the first trade after the pause).
          const reopenedAt = pauseEnd ?? nowMs;
          const again = updateReference(null, trades, nowMs, { notBefore: reopenedAt });
          st = { ...st, reopenedAt, reference: again.reference };
          bands = again.reference
            ? priceBands({
                referencePrice: again.reference.price,
                tier: cfg.tier as Tier,
                at: now,
                previousClose: prevClose ?? undefined,
                leverage: cfg.leverage,
                closures,
              })
            : null;
        }
        if (!quoteFresh && badQuote.length === 0) {
          findings.push({
            ...luldBase,
            key: `luld_ssr:quote_stale:${sym}`,
            severity: "warn",
            title: `${sym}: no fresh quote in ${MARKET_KEYS.quote(sym)}`,
            detail: `The last NBBO is ${quote.ts === null ? "missing" : `${Math.round((nowMs - quote.ts) / 1000)} s old`} (limit ${c.quote_max_age_ms / 1000} s): the Limit State cannot be followed for ${sym}.`,
            value: quote.ts === null ? "none" : `${Math.round((nowMs - quote.ts) / 1000)} s`,
            threshold: `${c.quote_max_age_ms / 1000} s`,
          });
        }
      } else if (st.limit.phase !== "normal") {
        // The session ended: a pause does not outlive it (the next day starts from the opening auction).
        st = { ...st, limit: NORMAL };
      }

      const lim = st.limit;
      if (lim.phase === "limit") {
        findings.push({
          ...luldBase,
          key: `luld_ssr:limit:${sym}`,
          severity: "warn",
          title: `${sym} in a LULD Limit State (${lim.side === "down" ? "offer at the Lower Price Band" : "bid at the Upper Price Band"})`,
          detail: `Since ${et(lim.limitSince!)}; bands ${bands?.lower.toString()}–${bands?.upper.toString()}. If it does not clear within 15 s the primary listing exchange declares a 5-minute Trading Pause (LULD Plan Sections VI(B), VII(A)).`,
          value: bands ? `${bands.lower.toString()}–${bands.upper.toString()}` : undefined,
        });
      }
      if (lim.phase === "paused") {
        findings.push({
          ...luldBase,
          key: `luld_ssr:pause:${sym}`,
          severity: "critical",
          title: `${sym} LULD Trading Pause until ${et(lim.pauseUntil!)}`,
          detail: `${quote.halted ? "The feed reports the stock paused" : `Limit State since ${et(lim.limitSince ?? lim.pausedAt!)} did not clear within 15 s`}. Gates refuse orders in ${sym} until ${iso(lim.pauseUntil!)}; trading resumes by itself after the reopening (LULD Plan Section VII).`,
          value: iso(lim.pauseUntil!),
        });
        const entry = JSON.stringify({
          since: iso(lim.pausedAt ?? nowMs),
          until: iso(lim.pauseUntil!),
          side: lim.side,
        });
        if (pausedMap[sym] !== entry) pausedSet[sym] = entry;
      } else if (pausedMap[sym] !== undefined) {
        const p = safePaused(pausedMap[sym]);
        // Leave an entry someone else wrote with a later end (e.g. the feed's own pause) until it ends.
        if (!p || Date.parse(p.until) <= nowMs || stored.limit.phase === "paused") pausedDel.push(sym);
      }
      if (bands && st.reference && lim.phase !== "paused") {
        findings.push({
          ...luldBase,
          key: `luld_ssr:bands:${sym}`,
          severity: "info",
          title: `${sym} bands ${bands.lower.toString()}–${bands.upper.toString()}`,
          detail: `Reference ${st.reference.price.toString()} since ${et(st.reference.since)}, Tier ${cfg.tier}, ${bands.percent.mul(100).toDecimalPlaces(4).toString()}%${bands.doubled ? " (closing period: doubled)" : ""}.`,
        });
      }

      // ---- Reg SHO Rule 201
      const ssrBase = { guard: "luld_ssr", sop: SOP_SSR };
      const existingRaw = ssrMap[sym];
      const existing = existingRaw !== undefined ? safeSsr(existingRaw) : null;
      if (existingRaw !== undefined && !existing) {
        findings.push({
          ...ssrBase,
          key: `luld_ssr:ssr_invalid:${sym}`,
          severity: "warn",
          title: `${sym}: unreadable ${MARKET_KEYS.ssrActive} entry`,
          detail: `${MARKET_KEYS.ssrActive} ${sym} holds ${existingRaw.slice(0, 120)}; gates treat it as restricted. The guard replaces it on the next trigger; delete it if it is wrong.`,
        });
      }
      // A price-based trigger first: it runs to the end of the next trading day. The feed's indicator alone never
      // extends a restriction in force and lasts to the end of this New York day (Reg SHO Rule 201(b)(1)(ii): the
      // SIP indicator stays on for the restriction's second day; see src/market/ssr.ts).
      let trigger: { at: Date; source: "trade" | "feed"; prevClose?: string; price?: string } | null = null;
      if (status.open && prevClose) {
        const opens = status.opens!.getTime();
        const hit = trades
          .filter((t) => t.ts >= opens && t.ts <= nowMs && ssrTriggered(prevClose, t.price))
          .sort((a, b) => a.ts - b.ts)[0];
        if (hit)
          trigger = {
            at: new Date(hit.ts),
            source: "trade",
            prevClose: prevClose.toString(),
            price: hit.price.toString(),
          };
        else if (
          quote.low &&
          quote.ts !== null &&
          nyDate(new Date(quote.ts)) === today &&
          ssrTriggered(prevClose, quote.low)
        ) {
          trigger = { at: now, source: "trade", prevClose: prevClose.toString(), price: quote.low.toString() };
        }
      }
      if (!trigger && quote.ssr) trigger = { at: now, source: "feed" };
      if (existingRaw === undefined || existing) {
        const next = applySsrTrigger(existing, trigger, now, closures);
        if (next && next !== existing) ssrSet[sym] = JSON.stringify(next);
        if (!next && existingRaw !== undefined) ssrDel.push(sym);
        if (next && ssrActive(next, now)) {
          findings.push({
            ...ssrBase,
            key: `luld_ssr:ssr:${sym}`,
            severity: "warn",
            title: `${sym} under the Reg SHO Rule 201 price test until ${next.until}`,
            detail: `${next.source === "feed" ? "The feed reports the listing market's short sale restriction" : `A ${next.price ?? "?"} print is a decline of 10% or more from the prior close ${next.prev_close ?? "?"}`} (since ${next.triggered_at}). Short sales only above the national best bid until ${next.until} (${next.source === "feed" ? "the end of this day; the feed's indicator is re-read tomorrow" : "the rest of the day and the next trading day"}).`,
            value: next.price,
            threshold: next.prev_close ? ssrTriggerLabel(next.prev_close) : undefined,
          });
        }
      }
      if (status.open && pc.status === "stale") {
        findings.push({
          ...ssrBase,
          key: `luld_ssr:prev_close_stale:${sym}`,
          severity: "critical",
          title: `${sym}: prior close in ${MARKET_KEYS.prevClose} is ${pc.date === null ? "undated" : `dated ${pc.date}`}, expected ${prevTradingDay}`,
          detail: `${MARKET_KEYS.prevClose} ${sym} holds ${pc.close ? pc.close.toString() : "?"} ${pc.date === null ? 'without a date (write JSON {"close","date"})' : `for ${pc.date}`}, not the close of ${prevTradingDay}: the end-of-day write may have failed. It is not used: Rule 201 cannot be triggered from trades for ${sym} (only by the feed's indicator) and the LULD parameter bracket falls back to the Reference Price. Write today's prior close.`,
          value: pc.date ?? "undated",
          threshold: prevTradingDay,
        });
      } else if (status.open && !prevClose) {
        findings.push({
          ...ssrBase,
          key: `luld_ssr:prev_close_missing:${sym}`,
          severity: "warn",
          title: `${sym}: ${pc.status === "unreadable" ? "unreadable" : "no"} prior close in ${MARKET_KEYS.prevClose}`,
          detail: `${pc.status === "unreadable" ? `${MARKET_KEYS.prevClose} ${sym} holds ${JSON.stringify(pc.raw.slice(0, 80))}, not {"close","date"}. ` : ""}Without the listing market's prior close, Rule 201 cannot be triggered from trades and the LULD parameter bracket falls back to the Reference Price.`,
        });
      }

      const fields = stateFields(st, bands);
      const changed = Object.entries(fields).filter(([k, val]) => (rawState[k] ?? "") !== val);
      if (changed.length)
        flagActions.push({ op: "hset", key: MARKET_KEYS.luld(sym), fields: Object.fromEntries(changed) });
    }

    // Stale entries of symbols no longer configured stay untouched: another writer (a feed) may own them.
    const gateActions: FlagChange[] = [];
    if (Object.keys(pausedSet).length) gateActions.push({ op: "hset", key: MARKET_KEYS.luldPaused, fields: pausedSet });
    if (pausedDel.length) gateActions.push({ op: "hdel", key: MARKET_KEYS.luldPaused, fields: pausedDel });
    if (Object.keys(ssrSet).length) gateActions.push({ op: "hset", key: MARKET_KEYS.ssrActive, fields: ssrSet });
    if (ssrDel.length) gateActions.push({ op: "hdel", key: MARKET_KEYS.ssrActive, fields: ssrDel });
    if (gateActions.length) {
      gateActions.push({
        op: "publish",
        channel: MARKET_KEYS.flagsChannel,
        message: JSON.stringify({ key: "luld_ssr", by: "luld_ssr", ts: now.toISOString() }),
      });
    }
    const actions = [...flagActions, ...gateActions];
    findings.push({
      guard: "luld_ssr",
      key: "luld_ssr:tick",
      severity: "info",
      sop: SOP_LULD,
      title: `LULD/SSR: ${c.symbols.length} symbol${c.symbols.length === 1 ? "" : "s"}, session ${status.open ? "open" : "closed"}`,
      detail: `Paused: ${Object.keys(pausedSet).join(", ") || "—"}; resumed: ${pausedDel.join(", ") || "—"}; Rule 201 set: ${Object.keys(ssrSet).join(", ") || "—"}; lifted: ${ssrDel.join(", ") || "—"}.`,
      actions: actions.length ? actions : undefined,
    });
    return findings;
  },
  metrics: [
    {
      name: "tradeguard_luld_paused",
      help: "1 while a symbol is in a LULD Trading Pause (luld:paused)",
      labelNames: ["symbol"],
    },
    {
      name: "tradeguard_ssr_active",
      help: "1 while a symbol is under the Reg SHO Rule 201 price test (ssr:active)",
      labelNames: ["symbol"],
    },
  ],
  measure(snapshot, c) {
    const at = snapshot.probe?.at;
    if (at === undefined) return [];
    const v = snapshot.values as Record<string, unknown>;
    const paused = (v.paused ?? {}) as Record<string, string>;
    const ssr = (v.ssr ?? {}) as Record<string, string>;
    return c.symbols.flatMap((s) => {
      const p = paused[s.symbol] !== undefined ? safePaused(paused[s.symbol]!) : null;
      const r = ssr[s.symbol] !== undefined ? safeSsr(ssr[s.symbol]!) : null;
      return [
        { name: "tradeguard_luld_paused", labels: { symbol: s.symbol }, value: p && Date.parse(p.until) > at ? 1 : 0 },
        { name: "tradeguard_ssr_active", labels: { symbol: s.symbol }, value: r && ssrActive(r, new Date(at)) ? 1 : 0 },
      ];
    });
  },
});

function ssrTriggerLabel(prevClose: string): string {
  return `≤ ${new Decimal(prevClose).mul("0.9").toString()} (90% of ${prevClose})`;
}

const ssrRecordSchema = z.object({
  triggered_at: z.string(),
  until: z.string().refine((s) => !Number.isNaN(Date.parse(s))),
  source: z.enum(["trade", "feed"]),
  prev_close: z.string().optional(),
  price: z.string().optional(),
});

function safeSsr(json: string): SsrRecord | null {
  try {
    const p = ssrRecordSchema.safeParse(JSON.parse(json));
    return p.success ? p.data : null;
  } catch {
    return null;
  }
}

function safePaused(json: string): z.infer<typeof pausedSchema> | null {
  try {
    const p = pausedSchema.safeParse(JSON.parse(json));
    return p.success ? p.data : null;
  } catch {
    return null;
  }
}
