// Reg SHO Rule 203(b)(1) (17 CFR 242.203(b)(1)), the locate requirement: a broker-dealer may not accept or effect a
// short sale in an equity security unless it has (i) borrowed the security or entered into a bona-fide arrangement
// to borrow it, or (ii) reasonable grounds to believe it can be borrowed for delivery when due, and (iii) documented
// compliance. Two kinds of documentation are accepted here:
// - an easy-to-borrow list entry: the SEC's Reg SHO adopting release (Release 34-50103, 2004) allows reliance on an
//   "easy to borrow" list as reasonable grounds provided the list is less than 24 hours old — so each entry of the
//   `etb` zset carries the time its list was published, and entries older than 24 hours do not count;
// - a locate record (`locates` hash: field = locate id, value = JSON {symbol, qty, expires_at, account?, broker?,
//   source?}) from the stock-loan desk or the prime broker: only unexpired records for the symbol, and for the
//   account (or desk-wide records without an account), count, and only up to their quantity.
// Not modelled: the bona-fide market-making exception of Rule 203(b)(2)(iii), and consumption of a locate by the
// short sales it covered — the writer of `locates` lowers `qty` as shorts execute.
import { z } from "zod";

/** An easy-to-borrow list older than this is not reasonable grounds (Reg SHO adopting release). */
export const ETB_MAX_AGE_MS = 24 * 3600_000;

/** One locate as stored in the `locates` hash (the field is its id). */
export const locateSchema = z.object({
  symbol: z.string().min(1),
  qty: z.number().int().positive(),
  /** ISO time after which the locate may no longer be relied on (typically the end of the trading day). */
  expires_at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "an ISO-8601 time"),
  account: z.string().min(1).optional(),
  broker: z.string().min(1).optional(),
  /** Who provided it (prime broker, stock-loan desk): the Rule 203(b)(1)(iii) documentation. */
  source: z.string().optional(),
});
export type Locate = z.infer<typeof locateSchema> & { id: string };

/** True while an easy-to-borrow entry published at `asOfMs` is usable at `nowMs`. */
export function etbFresh(asOfMs: number | null | undefined, nowMs: number): boolean {
  return (
    typeof asOfMs === "number" && Number.isFinite(asOfMs) && nowMs - asOfMs < ETB_MAX_AGE_MS && asOfMs <= nowMs + 60_000
  );
}

/** True when a locate is unexpired at `nowMs` and applies to this order's symbol, account and broker. */
export function locateApplies(
  l: Locate,
  order: { symbol: string; account: string; broker?: string },
  nowMs: number,
): boolean {
  return (
    l.symbol === order.symbol &&
    Date.parse(l.expires_at) > nowMs &&
    (l.account === undefined || l.account === order.account) &&
    (l.broker === undefined || order.broker === undefined || l.broker === order.broker)
  );
}

export interface LocateCoverage {
  /** The order may be accepted as far as Rule 203(b)(1) goes. */
  covered: boolean;
  via: "etb" | "locate" | null;
  /** Shares the unexpired locates cover (Infinity when the ETB list covers the symbol). */
  available: number;
  /** Locate ids relied on. */
  ids: string[];
}

/** Rule 203(b)(1): whether a short sale of `qty` is covered by a fresh ETB entry or enough unexpired locates. */
export function locateCoverage(
  order: { symbol: string; account: string; broker?: string; qty: number },
  locates: readonly Locate[],
  etbAsOfMs: number | null | undefined,
  nowMs: number,
): LocateCoverage {
  if (etbFresh(etbAsOfMs, nowMs)) return { covered: true, via: "etb", available: Number.POSITIVE_INFINITY, ids: [] };
  let available = 0;
  const ids: string[] = [];
  for (const l of locates) {
    if (!locateApplies(l, order, nowMs)) continue;
    available += l.qty;
    ids.push(l.id);
  }
  return { covered: available >= order.qty && available > 0, via: ids.length ? "locate" : null, available, ids };
}
