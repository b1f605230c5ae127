// The gate's decision for one order, from the cached flags only (no I/O). Pure: the same flags, order and clock give
// the same answer. Every refusal reason is "<code>: <detail>"; docs/gate.md lists every code.
import { Decimal } from "decimal.js";
import { addDays, type Closures, calendarDay, nyDate, nyInstant } from "../market/calendar.js";
import { locateCoverage } from "../market/locate.js";
import { type PdtRegime, type PdtStatus, pdtStatus } from "../market/pdt.js";
import type { Mode } from "../state/keys.js";
import type { GateFlags } from "./flags.js";

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
  /** A national best bid older than this is not used for the Rule 201 price test. */
  quoteMaxAgeMs: number;
  pdtRegime: PdtRegime;
  /** Brokers the US equity market rules apply to (hours, LULD, SSR, locate, PDT); null = all. */
  marketRulesBrokers: ReadonlySet<string> | null;
  /** Allow orders outside the regular session (extended hours). */
  allowExtendedHours: boolean;
}

/** The connection state the decision depends on. */
export interface Connectivity {
  /** The first load has completed. */
  loaded: boolean;
  /** Set when Redis is unreachable (or the data is older than allowed): why. */
  down: string | null;
  /** What the gate does when Redis is unreachable. */
  downMode: "halt" | "reduce_only";
}

/** In-process quotes given by the trading process (`gate.updateQuote`): symbol → {bid, ts}. */
export type LocalQuotes = ReadonlyMap<string, { bid: number; ts: number }>;

/** Per-flags-version caches the decision may fill (market session of the day, PDT status per account and day). */
export class DecideCache {
  session: {
    date: string;
    dayStart: number;
    dayEnd: number;
    opens: number;
    closes: number;
    reason: string | null;
  } | null = null;
  readonly pdt = new Map<string, { date: string; status: PdtStatus; headroom: Scaled | null }>();
  /** Per strategy: its limits scaled by the event lock's `cap`. */
  readonly locked = new Map<string, { maxQty: number | null; maxNotional: Scaled | null }>();
  /** Notional caps as exact scaled integers, by the Decimal they came from. */
  readonly scaled = new WeakMap<Decimal, Scaled>();
  /** Drops everything (after the flags changed). */
  clear(): void {
    this.session = null;
    this.pdt.clear();
    this.locked.clear();
  }
}

/** An exact decimal as an integer and a power-of-ten scale: n / 10^scale. */
export interface Scaled {
  n: bigint;
  scale: number;
  /** The nearest double (for the fast path of floorShares). */
  approx: number;
}

/** A Decimal as a Scaled (exact). */
export function toScaled(d: Decimal): Scaled {
  const s = d.toFixed();
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf(".");
  const digits = dot < 0 ? body : body.slice(0, dot) + body.slice(dot + 1);
  const n = BigInt(digits);
  return { n: neg ? -n : n, scale: dot < 0 ? 0 : body.length - dot - 1, approx: Number(s) };
}

const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));
const pow10 = (k: number) => POW10[k] ?? 10n ** BigInt(k);

/**
 * floor(cap / price) shares, exactly, for a positive price given as a JS number: the price is taken as the decimal
 * its shortest representation names (what decimal.js would read), and the division is done on integers (BigInt),
 * so a $190.25 price never becomes 190.2499999… on the way. Never below 0.
 */
export function floorShares(cap: Scaled, price: number): number {
  // Fast path: cap and price are each within 2^-53 (relative) of the decimals they stand for and the division adds
  // another 2^-53, so the double quotient x is within ~4e-16·x of the exact one. When x is farther than 1e-12·x from
  // every integer, floor(x) IS the exact floor; otherwise (and for huge quotients) the exact integer path decides.
  const x = cap.approx / price;
  if (x < 2 ** 52) {
    const f = Math.floor(x);
    const margin = 1e-12 * (x + 1);
    if (x - f > margin && f + 1 - x > margin) return Math.max(f, 0);
  }
  const ps = String(price);
  let q: bigint;
  if (ps.includes("e")) {
    q = BigInt(new Decimal(cap.n.toString()).div(pow10(cap.scale).toString()).div(ps).floor().toFixed());
  } else {
    const dot = ps.indexOf(".");
    const pScale = dot < 0 ? 0 : ps.length - dot - 1;
    const pInt = BigInt(dot < 0 ? ps : ps.slice(0, dot) + ps.slice(dot + 1));
    // (cap.n / 10^cap.scale) / (pInt / 10^pScale) = cap.n * 10^pScale / (pInt * 10^cap.scale)
    q = (cap.n * pow10(pScale)) / (pInt * pow10(cap.scale));
  }
  return q <= 0n ? 0 : Number(q);
}

const SIDES: ReadonlySet<string> = new Set(["buy", "sell", "sell_short"]);

/** The session bounds of the New York day containing `now` (cached until the day changes or the flags do). */
function session(cache: DecideCache, now: number, closures: Closures) {
  const s = cache.session;
  if (s && now >= s.dayStart && now < s.dayEnd) return s;
  const date = nyDate(new Date(now));
  const day = calendarDay(date, closures);
  const next = {
    date,
    dayStart: nyInstant(date, 0).getTime(),
    dayEnd: nyInstant(addDays(date, 1), 0).getTime(),
    opens: day.opens ? day.opens.getTime() : Number.NaN,
    closes: day.closes ? day.closes.getTime() : Number.NaN,
    reason: day.reason,
  };
  cache.session = next;
  return next;
}

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
  let mode: Mode = flags.mode;
  if (conn.down) {
    if (conn.downMode === "halt") {
      return { allow: false, reasons: [`redis_unreachable: ${conn.down}; treating as halt`] };
    }
    if (mode === "active") mode = "reduce_only";
  }
  if (flags.modeInvalid) {
    return { allow: false, reasons: [`mode_invalid: ${flags.modeInvalid}; treating as halt`] };
  }
  if (mode === "halt") {
    return {
      allow: false,
      reasons: [
        `mode_halt: trading is halted${flags.modeReason ? ` (${flags.modeReason}${flags.modeActor ? ` — ${flags.modeActor}` : ""})` : ""}`,
      ],
    };
  }
  const reducing = order.reduceOnly === true && order.side !== "sell_short";
  if (mode === "reduce_only" && !reducing) {
    reasons.push(
      conn.down
        ? `mode_reduce_only: Redis unreachable (${conn.down}); only reduce-only orders`
        : `mode_reduce_only: only reduce-only orders${flags.modeReason ? ` (${flags.modeReason})` : ""}`,
    );
  }
  const hb = flags.heartbeatMs;
  const hbAge = hb === null ? null : now - hb;
  if ((hbAge === null || hbAge > opts.heartbeatMaxAgeMs) && !reducing) {
    reasons.push(
      hbAge === null
        ? "dead_mans_switch: heartbeat:bot is absent (no tradeguard bot has run); failing safe to reduce-only"
        : `dead_mans_switch: heartbeat:bot is ${Math.round(hbAge / 1000)} s old (limit ${Math.round(opts.heartbeatMaxAgeMs / 1000)} s); failing safe to reduce-only`,
    );
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
    const pause = flags.luldPaused.get(order.symbol);
    if (pause !== undefined && pause > now) {
      reasons.push(
        `luld_pause: ${order.symbol} is in a LULD Trading Pause until ${fmtTime(pause)} (LULD Plan Section VII)`,
      );
    }
    if (order.side === "sell_short") {
      const ssrUntil = flags.ssr.get(order.symbol);
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
      const acct = flags.pdt.get(order.account);
      if (acct && "invalid" in acct) {
        reasons.push(`pdt_data_invalid: the pdt record of account ${order.account} is unreadable (${acct.invalid})`);
      } else if (acct) {
        const date = session(cache, now, flags.closures).date;
        let entry = cache.pdt.get(order.account);
        if (!entry || entry.date !== date) {
          const status = pdtStatus(acct, date, opts.pdtRegime, flags.closures);
          const headroom =
            status.regime === "intraday_margin" && status.intradayHeadroom !== null
              ? toScaled(status.intradayHeadroom)
              : null;
          entry = { date, status, headroom };
          cache.pdt.set(order.account, entry);
        }
        const st = entry.status;
        if (st.blocked) reasons.push(`${st.blocked.code}: account ${order.account}: ${st.blocked.reason}`);
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
    if (sc && "invalid" in sc) {
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

function scaledOf(cache: DecideCache, d: Decimal): Scaled {
  let v = cache.scaled.get(d);
  if (!v) {
    v = toScaled(d);
    cache.scaled.set(d, v);
  }
  return v;
}
