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
// schemas that accept anything, and each symbol's values are validated in that symbol's step (a
// `data_invalid:<symbol>` finding and that symbol skipped); they are read with `onError: "value"`, so even a Redis
// error on one of them (e.g. WRONGTYPE) affects only its symbol.
//
// Limits of an estimate (see docs/runbook/market-rules.md): the SIPs and the primary listing exchange are the
// authority. A feed that has their Trading Pause or short-sale-restriction indicators writes them (`halted`, `ssr`
// in `md:quote:<symbol>`), and they override what this guard infers. The Limit State clock is observed at tick
// granularity (default every 5 s).
//
// The per-symbol step (validation, LULD, Rule 201) is src/jobs/luld-ssr-symbol.ts; the parsing of the feed's values
// and of the guard's records is src/market/luld-ssr-values.ts. This file declares the reads and gathers the symbols'
// writes to the shared hashes into one change each.
import { z } from "zod";
import { closuresFromHash, marketStatus, nyDate, previousTradingDay } from "../market/calendar.js";
import { hashSchema, safePaused, safeSsr } from "../market/luld-ssr-values.js";
import { ssrActive } from "../market/ssr.js";
import { MARKET_KEYS } from "../state/keys.js";
import { defineGuard, type Finding, type FlagChange, type KeyRead } from "./guard.js";
import { type EntryWrite, evaluateSymbol, SOP_LULD, type TickContext } from "./luld-ssr-symbol.js";

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

/** What the runner validates per-symbol keys with: nothing, so one symbol's garbage cannot stop the others. */
const anything = z.unknown();

/** Read names of one symbol's keys. */
const rn = (kind: "trades" | "quote" | "state", symbol: string) => `${kind}:${symbol}`;

/** Adds one symbol's change of a shared hash to the tick's hset fields or hdel list. */
function gather(w: EntryWrite, sym: string, set: Record<string, string>, del: string[]): void {
  if (w?.op === "set") set[sym] = w.value;
  else if (w?.op === "del") del.push(sym);
}

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
      // Validated per symbol in evaluate (luld-ssr-symbol.ts): one symbol's garbage must not stop the others.
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
    const { closures } = closuresFromHash(hash("closures"));
    const status = marketStatus(now, closures);
    const today = nyDate(now);
    const tick: TickContext = {
      now,
      status,
      closures,
      today,
      prevTradingDay: previousTradingDay(today, closures),
      quoteMaxAgeMs: c.quote_max_age_ms,
    };
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
      const out = evaluateSymbol(
        cfg,
        {
          trades: v[rn("trades", sym)],
          quote: v[rn("quote", sym)],
          state: v[rn("state", sym)],
          prevClose: prevCloses[sym],
          ssr: ssrMap[sym],
          paused: pausedMap[sym],
        },
        tick,
      );
      findings.push(...out.findings);
      if (Object.keys(out.state).length)
        flagActions.push({ op: "hset", key: MARKET_KEYS.luld(sym), fields: out.state });
      gather(out.paused, sym, pausedSet, pausedDel);
      gather(out.ssr, sym, ssrSet, ssrDel);
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
