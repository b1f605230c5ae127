// Rule module of the gate's decision: the US equity market rules, for orders of a market-rules broker. NYSE hours
// (NYSE Rule 7.2), LULD Trading Pauses (LULD Plan Section VII), the Reg SHO Rule 201 price test, Rule 203(b)(1)
// locates, and pattern day trading (FINRA 4210(f)(8)(B)) or the intraday margin standard.
import { locateCoverage } from "../market/locate.js";
import { INTRADAY_RECORD_MAX_AGE_MS, PDT_RECORD_MAX_AGE_MS, pdtStatus, pdtUpdatedAtMs } from "../market/pdt.js";
import { MARKET_KEYS } from "../state/keys.js";
import { type DecideCache, session } from "./decide-cache.js";
import { type DecideOptions, type LocalQuotes, lowerCap, type OrderCheck, type QtyCap } from "./decide-types.js";
import type { GateFlags } from "./flags.js";
import { floorShares, toScaled } from "./scaled.js";

/** An instant for a reason ("further notice" when there is none). */
export function fmtTime(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : "further notice";
}

/** Adds the market rules' reasons for one order and lowers `cap` by its locates and intraday buying power. */
export function marketRules(
  order: OrderCheck,
  flags: GateFlags,
  now: number,
  opts: DecideOptions,
  cache: DecideCache,
  localQuotes: LocalQuotes | undefined,
  reducing: boolean,
  reasons: string[],
  cap: QtyCap,
): void {
  const { qty, price } = order;
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
      if (cover.available > 0) lowerCap(cap, cover.available, "locates");
      else
        reasons.push(
          `no_locate: short sale of ${order.symbol} without a fresh easy-to-borrow entry or an unexpired locate (Reg SHO Rule 203(b)(1))`,
        );
    } else if (cover.via === "locate") lowerCap(cap, cover.available, "locates");
  }
  if (!reducing) pdtRule(order, flags, now, opts, cache, reasons, cap);
}

/** Pattern day trading / intraday margin for an order that adds exposure. */
function pdtRule(
  order: OrderCheck,
  flags: GateFlags,
  now: number,
  opts: DecideOptions,
  cache: DecideCache,
  reasons: string[],
  cap: QtyCap,
): void {
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
    else if (entry.headroom) lowerCap(cap, floorShares(entry.headroom, order.price), "intraday");
  }
}
