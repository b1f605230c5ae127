// The gate's decision for one order, from the cached flags only (no I/O). Pure: the same flags, order and clock give
// the same answer. Every refusal reason is "<code>: <detail>"; docs/gate.md lists every code. The exact arithmetic of
// the caps is in scaled.ts, and what the decision may remember between checks in decide-cache.ts.
import { Decimal } from "decimal.js";
import { locateCoverage } from "../market/locate.js";
import {
  INTRADAY_RECORD_MAX_AGE_MS,
  PDT_RECORD_MAX_AGE_MS,
  type PdtRegime,
  pdtStatus,
  pdtUpdatedAtMs,
} from "../market/pdt.js";
import { MARKET_KEYS, type Mode } from "../state/keys.js";
import { type DecideCache, scaledOf, session } from "./decide-cache.js";
import type { GateFlags } from "./flags.js";
import { floorShares, toScaled } from "./scaled.js";

export type Side = "buy" | "sell" | "sell_short";

/** What a trading process asks about one order. */
export interface OrderCheck {
  broker: string;
  account: string;
  strategy: string;
  symbol: string;
  side: Side;
  qty: number;
  /** Limit price (for a market order: the price you expect; under Rule 201 send short sales as limit orders). */
  price: number;
  /** The order can only reduce a position (the broker order carries reduce-only / close-only semantics). */
  reduceOnly?: boolean;
}

/** The answer: allowed or not, every reason it is not, and the largest quantity the caps allow. */
export interface CheckResult {
  allow: boolean;
  reasons: string[];
  maxQty?: number;
}

export interface DecideOptions {
  /** Dead-man's switch: `heartbeat:bot` older than this (or absent) → reduce-only. */
  heartbeatMaxAgeMs: number;
  /** Dead-man's switch: `heartbeat:bot` more than this ahead of the gate's clock is invalid → reduce-only. Default 5 000. */
  heartbeatMaxSkewMs?: number;
  /** A national best bid older than this is not used for the Rule 201 price test. */
  quoteMaxAgeMs: number;
  pdtRegime: PdtRegime;
  /** Brokers the US equity market rules apply to (hours, LULD, SSR, locate, PDT); null = all. */
  marketRulesBrokers: ReadonlySet<string> | null;
  /** Allow orders outside the regular session (extended hours). */
  allowExtendedHours: boolean;
  /**
   * An account of a market-rules broker with no `pdt` record may not add exposure (`pdt_data_missing`). Default true;
   * false = such accounts are not checked for PDT / intraday margin (a record that exists is always enforced).
   */
  pdtRequired?: boolean;
  /** Maximum age of a record's `updated_at` under "pdt_4210" (FINRA 4210(f)(8)(B)). Default 24 h. */
  pdtMaxAgeMs?: number;
  /** Maximum age of a record's `updated_at` under "intraday_margin". Default 15 min. */
  intradayMaxAgeMs?: number;
}

/** The connection state the decision depends on. */
export interface Connectivity {
  /** The first load has completed. */
  loaded: boolean;
  /** Set when Redis is unreachable (or the data is older than allowed): why. */
  down: string | null;
  /** What the gate does when Redis is unreachable. */
  downMode: "halt" | "reduce_only";
  /** The reason code for `down`: Redis unreachable (default), or the full re-read failing for too long. */
  downCode?: "redis_unreachable" | "flags_stale";
}

/** Default of DecideOptions.heartbeatMaxSkewMs / GateOptions.heartbeatMaxSkewMs: the clock skew a heartbeat may show. */
export const HEARTBEAT_MAX_SKEW_MS = 5_000;

/**
 * The mode check() applies, and the dead-man's switch (shared by decide() and the gate's view()). The switch trips
 * when `heartbeat:bot` is absent or unreadable, older than `heartbeatMaxAgeMs`, or more than `heartbeatMaxSkewMs` in
 * the future: a heartbeat from the future proves no bot is alive now (issue 10: a year-2100 value must not keep the
 * switch open forever). Written so that a NaN limit trips it too.
 */
export function effectiveMode(
  flags: GateFlags,
  conn: Connectivity,
  now: number,
  heartbeatMaxAgeMs: number,
  heartbeatMaxSkewMs: number = HEARTBEAT_MAX_SKEW_MS,
): { mode: Mode; beforeDeadMansSwitch: Mode; hbAge: number | null; deadMansSwitch: boolean } {
  const hbAge = flags.heartbeatMs === null ? null : now - flags.heartbeatMs;
  const deadMansSwitch = hbAge === null || !(hbAge <= heartbeatMaxAgeMs && hbAge >= -heartbeatMaxSkewMs);
  let m: Mode = !conn.loaded || flags.modeInvalid ? "halt" : flags.mode;
  if (conn.down) m = conn.downMode === "halt" || m === "halt" ? "halt" : "reduce_only";
  return { mode: deadMansSwitch && m === "active" ? "reduce_only" : m, beforeDeadMansSwitch: m, hbAge, deadMansSwitch };
}

/** "5.001 s", "42 s", "2304 days": how far a heartbeat is off, for the dead_mans_switch reason. */
function fmtSpan(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))} s`;
  if (ms < 86_400_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.floor(ms / 86_400_000)} days`;
}

/** Why the dead-man's switch tripped (only called when it did, so no string is built on the allowing path). */
function deadMansSwitchReason(flags: GateFlags, hbAge: number | null, maxAgeMs: number, maxSkewMs: number): string {
  const tail = "failing safe to reduce-only";
  if (hbAge === null) {
    return flags.heartbeatInvalid
      ? `dead_mans_switch: heartbeat:bot is unreadable (${flags.heartbeatInvalid}); ${tail}`
      : `dead_mans_switch: heartbeat:bot is absent (no tradeguard bot has run); ${tail}`;
  }
  if (hbAge < 0) {
    return `dead_mans_switch: heartbeat:bot is ${fmtSpan(-hbAge)} in the future (more than the ${fmtSpan(maxSkewMs)} allowed clock skew); ${tail}`;
  }
  return `dead_mans_switch: heartbeat:bot is ${Math.round(hbAge / 1000)} s old (limit ${Math.round(maxAgeMs / 1000)} s); ${tail}`;
}

/** In-process quotes given by the trading process (`gate.updateQuote`): symbol → {bid, ts}. */
export type LocalQuotes = ReadonlyMap<string, { bid: number; ts: number }>;

const SIDES: ReadonlySet<string> = new Set(["buy", "sell", "sell_short"]);

function fmtTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "further notice";
}

/** Decides one order from the flags. */
export function decide(
  order: OrderCheck,
  flags: GateFlags,
  now: number,
  opts: DecideOptions,
  conn: Connectivity,
  cache: DecideCache,
  localQuotes?: LocalQuotes,
): CheckResult {
  // 1. Can the gate answer at all?
  if (!conn.loaded) {
    return {
      allow: false,
      reasons: [`not_ready: the gate has not read tradeguard's flags yet${conn.down ? ` (${conn.down})` : ""}`],
    };
  }
  const reasons: string[] = [];
  const qty = order.qty;
  const price = order.price;
  if (
    typeof order.symbol !== "string" ||
    order.symbol === "" ||
    !SIDES.has(order.side) ||
    !Number.isFinite(qty) ||
    qty <= 0 ||
    !Number.isFinite(price) ||
    price <= 0
  ) {
    return {
      allow: false,
      reasons: ["invalid_order: symbol, side (buy|sell|sell_short), qty > 0 and price > 0 are required"],
    };
  }

  // 2. The effective mode: the strictest of the mode key, Redis reachability and the dead-man's switch.
  const maxSkewMs = opts.heartbeatMaxSkewMs ?? HEARTBEAT_MAX_SKEW_MS;
  const eff = effectiveMode(flags, conn, now, opts.heartbeatMaxAgeMs, maxSkewMs);
  if (conn.down && conn.downMode === "halt") {
    return { allow: false, reasons: [`${conn.downCode ?? "redis_unreachable"}: ${conn.down}; treating as halt`] };
  }
  if (flags.modeInvalid) {
    return { allow: false, reasons: [`mode_invalid: ${flags.modeInvalid}; treating as halt`] };
  }
  if (eff.mode === "halt") {
    return {
      allow: false,
      reasons: [
        `mode_halt: trading is halted${flags.modeReason ? ` (${flags.modeReason}${flags.modeActor ? ` — ${flags.modeActor}` : ""})` : ""}`,
      ],
    };
  }
  const reducing = order.reduceOnly === true && order.side !== "sell_short";
  if (eff.beforeDeadMansSwitch === "reduce_only" && !reducing) {
    reasons.push(
      conn.down
        ? `mode_reduce_only: ${conn.downCode === "flags_stale" ? "flags stale" : "Redis unreachable"} (${conn.down}); only reduce-only orders`
        : `mode_reduce_only: only reduce-only orders${flags.modeReason ? ` (${flags.modeReason})` : ""}`,
    );
  }
  if (eff.deadMansSwitch && !reducing) {
    reasons.push(deadMansSwitchReason(flags, eff.hbAge, opts.heartbeatMaxAgeMs, maxSkewMs));
  }

  // The smallest cap wins; what set it is named only when the message is needed (no closures on the hot path).
  let maxQty = Number.POSITIVE_INFINITY;
  let capBy: CapSource = "locates";
  let q = 0;

  // 3. US equity market rules.
  if (!opts.marketRulesBrokers || opts.marketRulesBrokers.has(order.broker)) {
    const s = session(cache, now, flags.closures);
    if (!opts.allowExtendedHours && !(now >= s.opens && now < s.closes)) {
      reasons.push(
        `market_closed: outside the NYSE regular session${s.reason ? ` (${s.reason})` : ""}; next regular session opens ${Number.isFinite(s.opens) && now < s.opens ? fmtTime(s.opens) : "on the next trading day"}`,
      );
    }
    const luldErr = flags.unreadable.get(MARKET_KEYS.luldPaused);
    const pause = luldErr ? Number.POSITIVE_INFINITY : flags.luldPaused.get(order.symbol);
    if (luldErr) {
      reasons.push(
        `luld_pause: ${MARKET_KEYS.luldPaused} is unreadable (${luldErr}); every symbol is treated as paused (LULD Plan Section VII)`,
      );
    } else if (pause !== undefined && pause > now) {
      reasons.push(
        `luld_pause: ${order.symbol} is in a LULD Trading Pause until ${fmtTime(pause)} (LULD Plan Section VII)`,
      );
    }
    if (order.side === "sell_short") {
      // ssr:active unreadable: every symbol is treated as restricted (the price test applies until it is readable).
      const ssrUntil = flags.unreadable.has(MARKET_KEYS.ssrActive)
        ? Number.POSITIVE_INFINITY
        : flags.ssr.get(order.symbol);
      if (ssrUntil !== undefined && ssrUntil > now) {
        const local = localQuotes?.get(order.symbol);
        const remote = flags.quotes.get(order.symbol);
        const nbb = local && (!remote || local.ts >= remote.ts) ? local : remote;
        if (!nbb || now - nbb.ts > opts.quoteMaxAgeMs) {
          reasons.push(
            `ssr_no_quote: ${order.symbol} is under the Reg SHO Rule 201 price test until ${fmtTime(ssrUntil)} and the gate has no national best bid fresher than ${opts.quoteMaxAgeMs} ms`,
          );
        } else if (!(price > nbb.bid)) {
          // Comparing (not computing) is exact on doubles: decimal → double rounding is monotone, and two prices of up
          // to 15 significant digits never round to the same double, so `>` here is `>` on the decimals.
          reasons.push(
            `ssr_price_test: ${order.symbol} is under Reg SHO Rule 201 until ${fmtTime(ssrUntil)}: a short sale must be priced above the national best bid ${nbb.bid} (got ${price})`,
          );
        }
      }
      const cover = locateCoverage(
        { symbol: order.symbol, account: order.account, broker: order.broker, qty },
        flags.locatesBySymbol.get(order.symbol) ?? [],
        flags.etb.get(order.symbol),
        now,
      );
      if (!cover.covered) {
        if (cover.available > 0) {
          if (cover.available < maxQty) [maxQty, capBy] = [cover.available, "locates"];
        } else
          reasons.push(
            `no_locate: short sale of ${order.symbol} without a fresh easy-to-borrow entry or an unexpired locate (Reg SHO Rule 203(b)(1))`,
          );
      } else if (cover.via === "locate" && cover.available < maxQty) [maxQty, capBy] = [cover.available, "locates"];
    }
    if (!reducing) {
      const pdtErr = flags.unreadable.get(MARKET_KEYS.pdt);
      const acct = flags.pdt.get(order.account);
      if (pdtErr) {
        reasons.push(`pdt_data_invalid: the ${MARKET_KEYS.pdt} hash is unreadable (${pdtErr}); no new exposure`);
      } else if (!acct) {
        // FINRA 4210(f)(8)(B): whether the account may day trade depends on its day trades and equity; without a
        // record the gate cannot know, so it does not grant unrestricted new exposure (opt out: pdtRequired false).
        if (opts.pdtRequired ?? true)
          reasons.push(
            `pdt_data_missing: account ${order.account} has no record in ${MARKET_KEYS.pdt}; no new exposure until the back office writes one`,
          );
      } else if ("invalid" in acct) {
        reasons.push(`pdt_data_invalid: the pdt record of account ${order.account} is unreadable (${acct.invalid})`);
      } else {
        const date = session(cache, now, flags.closures).date;
        let entry = cache.pdt.get(order.account);
        if (!entry || entry.date !== date) {
          const status = pdtStatus(acct, date, opts.pdtRegime, flags.closures);
          const headroom =
            status.regime === "intraday_margin" && status.intradayHeadroom !== null
              ? toScaled(status.intradayHeadroom)
              : null;
          const maxAgeMs =
            status.regime === "intraday_margin"
              ? (opts.intradayMaxAgeMs ?? INTRADAY_RECORD_MAX_AGE_MS)
              : (opts.pdtMaxAgeMs ?? PDT_RECORD_MAX_AGE_MS);
          entry = { date, status, headroom, updatedMs: pdtUpdatedAtMs(acct), maxAgeMs };
          cache.pdt.set(order.account, entry);
        }
        const st = entry.status;
        if (entry.updatedMs === null) {
          reasons.push(
            `pdt_data_stale: the pdt record of account ${order.account} has no readable updated_at; its age is unknown`,
          );
        } else if (now - entry.updatedMs > entry.maxAgeMs) {
          reasons.push(
            `pdt_data_stale: the pdt record of account ${order.account} was updated ${Math.round((now - entry.updatedMs) / 60_000)} min ago (limit ${Math.round(entry.maxAgeMs / 60_000)} min under ${st.regime})`,
          );
        } else if (st.blocked) reasons.push(`${st.blocked.code}: account ${order.account}: ${st.blocked.reason}`);
        else if (entry.headroom) {
          q = floorShares(entry.headroom, price);
          if (q < maxQty) [maxQty, capBy] = [q, "intraday"];
        }
      }
    }
  }

  // 4. The risk desk's event lock and the strategy caps apply to orders that add exposure.
  if (!reducing) {
    const sc = flags.caps.get(order.strategy);
    const lock = flags.eventLock;
    if (lock && (lock.until === null || lock.until > now)) {
      const tags = sc && !("invalid" in sc) ? sc.tags : [];
      const exempt = lock.exempt.has(order.strategy) || tags.some((t) => lock.exempt.has(t));
      if (lock.invalid) reasons.push(`event_lock: risk:event_lock is unreadable (${lock.invalid}); no new exposure`);
      else if (!exempt) {
        const limits = sc && !("invalid" in sc) ? sc : null;
        if (!limits || (limits.maxQty === null && limits.maxNotional === null)) {
          reasons.push(
            `event_lock: ${lock.event} until ${fmtTime(lock.until ?? Number.NaN)} caps strategies at ${lock.cap.mul(100).toString()}% of their normal limit, and strategy ${order.strategy} has no limit in strategy:caps to scale; no new exposure`,
          );
        } else {
          let l = cache.locked.get(order.strategy);
          if (!l) {
            l = {
              maxQty: limits.maxQty === null ? null : new Decimal(limits.maxQty).mul(lock.cap).floor().toNumber(),
              maxNotional: limits.maxNotional === null ? null : toScaled(limits.maxNotional.mul(lock.cap)),
            };
            cache.locked.set(order.strategy, l);
          }
          if (l.maxQty !== null && l.maxQty < maxQty) [maxQty, capBy] = [l.maxQty, "event_lock"];
          if (l.maxNotional !== null) {
            q = floorShares(l.maxNotional, price);
            if (q < maxQty) [maxQty, capBy] = [q, "event_lock"];
          }
        }
      }
    }
    const capsErr = flags.unreadable.get(MARKET_KEYS.strategyCaps);
    if (capsErr) {
      reasons.push(
        `strategy_caps_invalid: ${MARKET_KEYS.strategyCaps} is unreadable (${capsErr}); no new exposure for any strategy`,
      );
    } else if (sc && "invalid" in sc) {
      reasons.push(`strategy_caps_invalid: strategy:caps entry of ${order.strategy} is unreadable (${sc.invalid})`);
    } else if (sc) {
      if (sc.halted) reasons.push(`strategy_halted: ${order.strategy}${sc.reason ? ` (${sc.reason})` : ""}`);
      if (sc.maxQty !== null && sc.maxQty < maxQty) [maxQty, capBy] = [sc.maxQty, "strategy"];
      if (sc.maxNotional !== null) {
        q = floorShares(scaledOf(cache, sc.maxNotional), price);
        if (q < maxQty) [maxQty, capBy] = [q, "strategy"];
      }
    }
  }

  const result: CheckResult = { allow: false, reasons };
  if (Number.isFinite(maxQty)) {
    result.maxQty = maxQty;
    if (qty > maxQty) reasons.push(`max_qty: ${qty} exceeds the ${maxQty} allowed by ${capText(capBy, order, flags)}`);
  }
  result.allow = reasons.length === 0;
  return result;
}

type CapSource = "locates" | "intraday" | "event_lock" | "strategy";

/** Names what set the quantity cap (for the max_qty reason). */
function capText(by: CapSource, order: OrderCheck, flags: GateFlags): string {
  switch (by) {
    case "locates":
      return "the unexpired locates (Reg SHO Rule 203(b)(1))";
    case "intraday":
      return `account ${order.account}'s intraday buying power`;
    case "event_lock": {
      const lock = flags.eventLock!;
      return `the ${lock.event} event lock (${lock.cap.mul(100).toString()}% of strategy ${order.strategy}'s limit)`;
    }
    case "strategy":
      return `strategy ${order.strategy}'s caps`;
  }
}
