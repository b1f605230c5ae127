// Exact money arithmetic for the gate's notional caps: cap / price must give the exact floor of the decimal quotient
// (an exact multiple never loses a share to binary rounding), and it runs on every check(), so it works on scaled
// integers (BigInt) behind a double fast path instead of on decimal.js.
import { Decimal } from "decimal.js";

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
