// Exact decimal arithmetic for reconciliation: money and quantities as BigInt scaled by 10^18 ("fixed"). Exact for
// every decimal string with up to 18 fractional digits (crypto quantities included), fast enough to stream a
// million fills, and never a binary float. Products (qty × price) carry scale 10^36 until they are compared or
// printed.

/** Fractional digits kept exactly. */
export const SCALE_DIGITS = 18;
/** 10^18: one unit. */
export const ONE = 10n ** 18n;
const POW10: bigint[] = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));

const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?$/;

/** A decimal string ("12.5", "-0.37", "0.1") as fixed, or a reason when it is not one (exponents refused). */
export function parseFixed(s: unknown): bigint | string {
  if (typeof s !== "string") return `not a decimal string (${JSON.stringify(s) ?? String(s)})`;
  const m = DECIMAL.exec(s.trim());
  if (!m) return `not a decimal (${JSON.stringify(s.length > 40 ? `${s.slice(0, 37)}...` : s)})`;
  const frac = m[3] ?? "";
  if (frac.length > SCALE_DIGITS) {
    // More digits than kept: only trailing zeros may be dropped, anything else would be rounding.
    if (/[^0]/.test(frac.slice(SCALE_DIGITS))) return `more than ${SCALE_DIGITS} decimal places (${JSON.stringify(s)})`;
  }
  const digits = BigInt(m[2]!) * ONE + BigInt((frac.slice(0, SCALE_DIGITS) || "0").padEnd(SCALE_DIGITS, "0"));
  return m[1] === "-" ? -digits : digits;
}

/** The product of two fixed values, at scale 10^36 (exact). */
export function mul(a: bigint, b: bigint): bigint {
  return a * b;
}

/** A scale-10^36 product back to fixed, exactly when it is representable, else null (needs rounding). */
export function fromProduct(p: bigint): bigint | null {
  return p % ONE === 0n ? p / ONE : null;
}

/** Absolute value. */
export function abs(a: bigint): bigint {
  return a < 0n ? -a : a;
}

/**
 * Prints a value of scale 10^`scale` as a decimal string without losing anything: trailing zeros dropped, at least
 * `minDecimals` decimals (money prints "250.00", quantities "5").
 */
export function formatScaled(v: bigint, scale: number, minDecimals = 0): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const unit = POW10[scale] ?? 10n ** BigInt(scale);
  const int = a / unit;
  let frac = (a % unit).toString().padStart(scale, "0").replace(/0+$/, "");
  if (frac.length < minDecimals) frac = frac.padEnd(minDecimals, "0");
  const s = frac ? `${int}.${frac}` : `${int}`;
  return neg && a !== 0n ? `-${s}` : s;
}

/** A fixed value as a decimal string ("5", "0.1", "-2.5"). */
export function formatFixed(v: bigint, minDecimals = 0): string {
  return formatScaled(v, SCALE_DIGITS, minDecimals);
}

/** A money amount (fixed) as a decimal string with at least two decimals ("250.00", "0.375"). */
export function formatMoney(v: bigint): string {
  return formatScaled(v, SCALE_DIGITS, 2);
}

/** A scale-10^36 product (a notional) as money. */
export function formatProductMoney(p: bigint): string {
  return formatScaled(p, 2 * SCALE_DIGITS, 2);
}

/** One cent, fixed. */
export const CENT = ONE / 100n;
/** One cent at product scale (for notionals). */
export const CENT_PRODUCT = (ONE * ONE) / 100n;
