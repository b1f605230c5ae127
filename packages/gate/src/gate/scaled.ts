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
  return plainToScaled(d.toFixed());
}

/** A plain decimal string ("-12.5", no exponent) as a Scaled. */
function plainToScaled(s: string): Scaled {
  const neg = s.startsWith("-");
  const body = neg ? s.slice(1) : s;
  const dot = body.indexOf(".");
  const digits = dot < 0 ? body : body.slice(0, dot) + body.slice(dot + 1);
  const n = BigInt(digits);
  return { n: neg ? -n : n, scale: dot < 0 ? 0 : body.length - dot - 1, approx: Number(s) };
}

/**
 * A finite JS number as the decimal its shortest representation names (what decimal.js reads from it): a position of
 * 0.3 is 0.3, not 0.299999999999999988898. Quantities and prices come from trading processes as numbers.
 */
export function numberToScaled(x: number): Scaled {
  const s = String(x);
  return s.includes("e") ? toScaled(new Decimal(s)) : plainToScaled(s);
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
  // (cap.n / 10^cap.scale) / (p.n / 10^p.scale) = cap.n * 10^p.scale / (p.n * 10^cap.scale), on integers, also for a
  // price written with an exponent (1e-7): decimal.js would round the quotient at its 20 digits.
  const p = numberToScaled(price);
  if (p.n <= 0n) return 0;
  const q = (cap.n * pow10(p.scale)) / (p.n * pow10(cap.scale));
  return q <= 0n ? 0 : Number(q);
}

/** The nearest double of n / 10^scale (within two roundings: enough for floorShares' fast path). */
function approxOf(n: bigint, scale: number): number {
  return scale <= 22 ? Number(n) / 10 ** scale : Number(`${n}e-${scale}`);
}

/** a + b, exactly. */
export function addScaled(a: Scaled, b: Scaled): Scaled {
  const scale = Math.max(a.scale, b.scale);
  const n = a.n * pow10(scale - a.scale) + b.n * pow10(scale - b.scale);
  return { n, scale, approx: approxOf(n, scale) };
}

/** a − b, exactly. */
export function subScaled(a: Scaled, b: Scaled): Scaled {
  return addScaled(a, { n: -b.n, scale: b.scale, approx: -b.approx });
}

/** a × b, exactly. */
export function mulScaled(a: Scaled, b: Scaled): Scaled {
  const n = a.n * b.n;
  const scale = a.scale + b.scale;
  return { n, scale, approx: approxOf(n, scale) };
}

/** floor(s), exactly (toward −∞ for negative values), as a number. */
export function floorScaled(s: Scaled): number {
  const d = pow10(s.scale);
  let q = s.n / d; // BigInt division truncates toward zero
  if (s.n < 0n && q * d !== s.n) q -= 1n;
  return Number(q);
}

/** floor(cap − x) for a number x, exactly (a double fast path decides whenever the result is clearly not near an
 * integer; integers, the usual case for shares, never leave doubles). */
export function floorSub(cap: Scaled, x: number): number {
  const d = cap.approx - x;
  if (cap.scale === 0 && Number.isSafeInteger(x) && Math.abs(cap.approx) <= 2 ** 52 && Math.abs(x) <= 2 ** 52) {
    return d;
  }
  // cap.approx and x are within ~2^-53 (relative) of the decimals they stand for, the subtraction adds 2^-53·|d|:
  // far from every integer (1e-12 of the magnitudes), floor(d) IS the exact floor.
  if (Math.abs(d) < 2 ** 52) {
    const f = Math.floor(d);
    const margin = 1e-12 * (Math.abs(cap.approx) + Math.abs(x) + 1);
    if (d - f > margin && f + 1 - d > margin) return f;
  }
  return floorScaled(subScaled(cap, numberToScaled(x)));
}

const TWO: Scaled = { n: 2n, scale: 0, approx: 2 };

/**
 * floor(max(0, cap − used) / price + 2 × back), exactly: the units an order may add when `cap − used` is the room left
 * under a notional cap and the first `2 × back` units only turn a position of `back` around (docs/gate.md, bounds).
 * `used`, `price` and `back` (≥ 0) are numbers, read as their shortest decimal representation; never below 0.
 */
export function floorRoom(cap: Scaled, used: number, price: number, back: number): number {
  // Fast path, as floorShares: every input is within ~2^-53 of its decimal and each operation adds 2^-53, so an
  // answer farther than 1e-12 of the magnitudes from every integer (and a room clearly ≠ 0) is the exact one.
  const mag = Math.abs(cap.approx) + Math.abs(used);
  const h = cap.approx - used;
  const hm = 1e-12 * (mag + 1);
  if (h > hm || h < -hm) {
    const x = Math.max(h, 0) / price + 2 * back;
    if (x < 2 ** 52) {
      const f = Math.floor(x);
      const margin = 1e-12 * (mag / price + x + 1);
      if (x - f > margin && f + 1 - x > margin) return Math.max(f, 0);
    }
  }
  const left = subScaled(cap, numberToScaled(used));
  const room = left.n > 0n ? left : { n: 0n, scale: 0, approx: 0 };
  if (back <= 0) return floorShares(room, price);
  return floorShares(addScaled(room, mulScaled(mulScaled(numberToScaled(back), TWO), numberToScaled(price))), price);
}
