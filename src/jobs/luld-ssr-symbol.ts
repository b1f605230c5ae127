// The per-symbol step of the LULD / SSR guard (src/jobs/luld-ssr.ts); not a guard itself. For one configured symbol
// and one tick it validates what the runner read, follows LULD (Reference Price, bands, Limit State, Trading Pause:
// src/market/luld.ts) and Reg SHO Rule 201 (src/market/ssr.ts), and says what to write: the symbol's `luld:<symbol>`
// fields and its entries in `luld:paused` and `ssr:active`. The guard runs it for every symbol and gathers those
// entries into one change per hash. Pure, like the guard: same inputs, same outcome.
import { Decimal } from "decimal.js";
import type { z } from "zod";
import { type Closures, type MarketStatus, NY_ZONE, nyDate } from "../market/calendar.js";
import {
  limitSide,
  NORMAL,
  type PriceBands,
  priceBands,
  stepLimitState,
  type Tier,
  type Trade,
  updateReference,
} from "../market/luld.js";
import {
  hashSchema,
  type PrevClose,
  parsePrevClose,
  parseQuote,
  parseState,
  parseTrades,
  type Quote,
  quoteProblems,
  type SymbolState,
  safePaused,
  safeSsr,
  stateFields,
  zsetShape,
} from "../market/luld-ssr-values.js";
import { applySsrTrigger, ssrActive, ssrTriggered } from "../market/ssr.js";
import { MARKET_KEYS } from "../state/keys.js";
import { type Finding, ReadFailure } from "./guard.js";

export const SOP_LULD = "sop-luld";
export const SOP_SSR = "sop-ssr";

/** One entry of the guard's `symbols` config. */
export interface SymbolConfig {
  symbol: string;
  tier: Tier;
  leverage: number;
}

/** What every symbol's step shares in one tick. */
export interface TickContext {
  now: Date;
  status: MarketStatus;
  closures: Closures;
  /** The New York date of `now`. */
  today: string;
  /** The trading day the prior close in `md:prev_close` must be dated. */
  prevTradingDay: string;
  quoteMaxAgeMs: number;
}

/** One symbol's inputs: its own reads as the runner returned them (not yet validated) and its shared-hash fields. */
export interface SymbolInputs {
  trades: unknown;
  quote: unknown;
  state: unknown;
  prevClose: string | undefined;
  ssr: string | undefined;
  paused: string | undefined;
}

/** A change to this symbol's field of a shared hash (`luld:paused`, `ssr:active`); null leaves it as it is. */
export type EntryWrite = { op: "set"; value: string } | { op: "del" } | null;

/** What one symbol's step decided. */
export interface SymbolOutcome {
  findings: Finding[];
  /** The `luld:<symbol>` fields that changed (empty: nothing to write). */
  state: Record<string, string>;
  paused: EntryWrite;
  ssr: EntryWrite;
}

const luldBase = { guard: "luld_ssr", sop: SOP_LULD };
const ssrBase = { guard: "luld_ssr", sop: SOP_SSR };

/** Evaluates one symbol for this tick: its findings, its changed state fields and its shared-hash entries. */
export function evaluateSymbol(cfg: SymbolConfig, input: SymbolInputs, t: TickContext): SymbolOutcome {
  const sym = cfg.symbol;
  const sv = symbolValues(input, sym);
  if (!sv.ok) {
    // Like the runner's data-invalid path, for this symbol only: nothing of it is evaluated or written.
    const finding: Finding = {
      ...luldBase,
      key: `luld_ssr:data_invalid:${sym}`,
      severity: "warn",
      title: `${sym}: data invalid`,
      detail: `Redis holds values the guard cannot read for ${sym}, so it did not evaluate ${sym} (other symbols are evaluated): ${sv.problems.join("; ")}`,
    };
    return { findings: [finding], state: {}, paused: null, ssr: null };
  }
  const findings: Finding[] = [];
  const { trades, invalid } = parseTrades(sv.trades);
  const badQuote = quoteProblems(sv.quote);
  const quote = parseQuote(sv.quote);
  const rawState = sv.state;
  const stored = parseState(rawState);
  // The prior close matters only in the session (trade-based Rule 201 trigger, LULD bracket, fallback reference).
  const pc = parsePrevClose(input.prevClose, t.prevTradingDay);
  const prevClose = pc.status === "ok" ? pc.close : null;
  // An unreadable NBBO is not followed (the feed's pause and SSR indicators still are: acting on them is safe).
  const quoteFresh = badQuote.length === 0 && quote.ts !== null && t.now.getTime() - quote.ts <= t.quoteMaxAgeMs;

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

  const luld = luldStep({ cfg, trades, quote, quoteFresh, badQuote, prevClose, stored, paused: input.paused }, t);
  const rule201 = rule201Step({ sym, trades, quote, prevClose, pc, existingRaw: input.ssr }, t);
  findings.push(...luld.findings, ...rule201.findings);

  const fields = stateFields(luld.state, luld.bands);
  const state = Object.fromEntries(Object.entries(fields).filter(([k, val]) => (rawState[k] ?? "") !== val));
  return { findings, state, paused: luld.paused, ssr: rule201.ssr };
}

/** One symbol's reads, validated here rather than by the runner so that one symbol's garbage cannot stop the others. */
function symbolValues(
  input: SymbolInputs,
  sym: string,
):
  | { ok: true; trades: [string, unknown][]; quote: Record<string, string>; state: Record<string, string> }
  | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const check = <T>(raw: unknown, key: string, schema: z.ZodType<T>, empty: T): T => {
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
  const trades = check(input.trades, MARKET_KEYS.trades(sym), zsetShape, []);
  const quote = check(input.quote, MARKET_KEYS.quote(sym), hashSchema, {});
  const state = check(input.state, MARKET_KEYS.luld(sym), hashSchema, {});
  return problems.length ? { ok: false, problems } : { ok: true, trades, quote, state };
}

/**
 * LULD Plan: the Reference Price, the bands and the Limit State for this tick (the Plan applies in the regular session
 * only), the findings they give, and the symbol's `luld:paused` entry.
 */
function luldStep(
  s: {
    cfg: SymbolConfig;
    trades: Trade[];
    quote: Quote;
    quoteFresh: boolean;
    badQuote: string[];
    prevClose: Decimal | null;
    stored: SymbolState;
    paused: string | undefined;
  },
  t: TickContext,
): { state: SymbolState; bands: PriceBands | null; findings: Finding[]; paused: EntryWrite } {
  const { cfg, trades, quote, prevClose, stored } = s;
  const { now, status, closures } = t;
  const sym = cfg.symbol;
  const nowMs = now.getTime();
  const findings: Finding[] = [];
  let st: SymbolState =
    stored.date === t.today ? stored : { date: t.today, reference: null, reopenedAt: null, limit: NORMAL };
  let bands: PriceBands | null = null;
  const bandsFor = (referencePrice: Decimal) =>
    priceBands({
      referencePrice,
      tier: cfg.tier,
      at: now,
      previousClose: prevClose ?? undefined,
      leverage: cfg.leverage,
      closures,
    });

  // Only during the regular session (the Plan applies 9:30–4:00, or to an early close).
  if (status.open) {
    const notBefore = Math.max(status.opens!.getTime(), st.reopenedAt ?? 0);
    const ref = updateReference(st.reference, trades, nowMs, {
      notBefore,
      fallback: st.reopenedAt ? null : prevClose,
    });
    st = { ...st, reference: ref.reference };
    if (ref.reference) bands = bandsFor(ref.reference.price);
    const side = bands && s.quoteFresh ? limitSide(quote, bands) : null;
    const pauseEnd = st.limit.pauseUntil;
    const step = stepLimitState(st.limit, { side, halted: quote.halted }, nowMs);
    st = { ...st, limit: step.state };
    if (step.event === "resumed") {
      // Reopened: the Reference Price restarts from the reopening (the first trade after the pause).
      const reopenedAt = pauseEnd ?? nowMs;
      const again = updateReference(null, trades, nowMs, { notBefore: reopenedAt });
      st = { ...st, reopenedAt, reference: again.reference };
      bands = again.reference ? bandsFor(again.reference.price) : null;
    }
    if (!s.quoteFresh && s.badQuote.length === 0) {
      findings.push({
        ...luldBase,
        key: `luld_ssr:quote_stale:${sym}`,
        severity: "warn",
        title: `${sym}: no fresh quote in ${MARKET_KEYS.quote(sym)}`,
        detail: `The last NBBO is ${quote.ts === null ? "missing" : `${Math.round((nowMs - quote.ts) / 1000)} s old`} (limit ${t.quoteMaxAgeMs / 1000} s): the Limit State cannot be followed for ${sym}.`,
        value: quote.ts === null ? "none" : `${Math.round((nowMs - quote.ts) / 1000)} s`,
        threshold: `${t.quoteMaxAgeMs / 1000} s`,
      });
    }
  } else if (st.limit.phase !== "normal") {
    // The session ended: a pause does not outlive it (the next day starts from the opening auction).
    st = { ...st, limit: NORMAL };
  }

  const lim = st.limit;
  let paused: EntryWrite = null;
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
    if (s.paused !== entry) paused = { op: "set", value: entry };
  } else if (s.paused !== undefined) {
    const p = safePaused(s.paused);
    // Leave an entry someone else wrote with a later end (e.g. the feed's own pause) until it ends.
    if (!p || Date.parse(p.until) <= nowMs || stored.limit.phase === "paused") paused = { op: "del" };
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
  return { state: st, bands, findings, paused };
}

/**
 * Reg SHO Rule 201: the trigger (a trade or the day low 10% under the prior close, or the feed's indicator), the
 * symbol's `ssr:active` entry, and the findings about it and about a stale or missing prior close.
 */
function rule201Step(
  s: {
    sym: string;
    trades: Trade[];
    quote: Quote;
    prevClose: Decimal | null;
    pc: PrevClose;
    existingRaw: string | undefined;
  },
  t: TickContext,
): { findings: Finding[]; ssr: EntryWrite } {
  const { sym, trades, quote, prevClose, pc, existingRaw } = s;
  const { now, status, closures, today, prevTradingDay } = t;
  const nowMs = now.getTime();
  const findings: Finding[] = [];
  let ssr: EntryWrite = null;
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
      .filter((tr) => tr.ts >= opens && tr.ts <= nowMs && ssrTriggered(prevClose, tr.price))
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
    if (next && next !== existing) ssr = { op: "set", value: JSON.stringify(next) };
    if (!next && existingRaw !== undefined) ssr = { op: "del" };
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
  return { findings, ssr };
}

function ssrTriggerLabel(prevClose: string): string {
  return `≤ ${new Decimal(prevClose).mul("0.9").toString()} (90% of ${prevClose})`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function et(ms: number): string {
  return `${new Date(ms).toLocaleTimeString("en-US", { timeZone: NY_ZONE, hour12: false })} ET`;
}
