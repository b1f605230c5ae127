// Property tests of the gate's quantity caps (issue 15 §17): against an independent decimal.js oracle of every cap
// (strategy:caps max_qty / max_notional, strategy:bounds max_order_notional / max_position / max_gross_notional, each
// scaled by an event lock's cap), for whole-unit quantities the gate allows an order exactly when no cap is broken —
// so it never allows one that breaks a cap — and the maxQty it offers is the largest quantity allowed. The exact
// helpers behind them (floorSub, floorRoom, floorShares) match decimal.js on inputs built to sit on and around integers,
// including long-digit caps and lock caps whose products need more than decimal.js's default 20 digits: the oracle
// computes exactly, so a cap that rounds up anywhere in the gate fails here.
import { Decimal } from "decimal.js";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decide } from "../../packages/gate/src/gate/decide.js";
import { DecideCache } from "../../packages/gate/src/gate/decide-cache.js";
import type { DecideOptions, OrderCheck } from "../../packages/gate/src/gate/decide-types.js";
import {
  emptyFlags,
  type GateFlags,
  parseCaps,
  parseEventLock,
  parseMode,
} from "../../packages/gate/src/gate/flags.js";
import { floorRoom, floorShares, floorSub, numberToScaled, toScaled } from "../../packages/gate/src/gate/scaled.js";
import { parseBounds } from "../../packages/gate/src/gate/strategy-flags.js";

const NOW = Date.parse("2026-11-25T11:00:00-05:00");
// Not about market rules: the caps alone decide.
const opts: DecideOptions = {
  heartbeatMaxAgeMs: 15_000,
  quoteMaxAgeMs: 2_000,
  pdtRegime: "pdt_4210",
  marketRulesBrokers: new Set(),
  allowExtendedHours: false,
};
const up = { loaded: true, down: null, downMode: "halt" as const };
/** The oracle's decimals: wide enough that every product and sum here is exact (decimal.js's default rounds at 20). */
const Exact = Decimal.clone({ precision: 200 });
const D = (x: number | string | Decimal) => new Exact(typeof x === "number" ? String(x) : x);

/** $0.01 … $100,000.00 (a double whose shortest representation is the 2-decimal price). */
const priceArb = fc.integer({ min: 1, max: 10_000_000 }).map((c) => c / 100);
/** A whole or fractional position (up to 3 decimals), long or short. */
const positionArb = fc.oneof(
  fc.integer({ min: -200_000, max: 200_000 }),
  fc.integer({ min: -200_000_000, max: 200_000_000 }).map((m) => m / 1000),
);
const centsArb = (max: number) => fc.integer({ min: 0, max }).map((c) => D(c).div(100));
/**
 * A cap placed on, around or between exact multiples of `unit` (the boundaries are where rounding bites): `cents`
 * away, and `tiny` × 10⁻²⁰ more — long-digit caps, whose product with a lock cap needs more than 20 digits.
 */
const nearMultiple = (unit: Decimal, k: number, cents: number, tiny = 0) =>
  Exact.max(0, D(unit).mul(k).add(D(cents).div(100)).add(D(tiny).mul("1e-20")));
/** Lock caps as JSON numbers carry them: round ones, and doubles whose shortest form has 16–17 digits. */
const lockCapArb = fc.option(
  fc.oneof(fc.constantFrom(0, 0.25, 0.5, 1, 0.333, 1 / 3, 2 / 3, 0.1, 0.7), fc.double({ min: 0, max: 1, noNaN: true })),
  { nil: null },
);

interface Scenario {
  price: number;
  side: "buy" | "sell";
  position: number | undefined;
  gross: Decimal;
  capsQty: number | null;
  capsNotional: Decimal | null;
  orderNotional: Decimal | null;
  maxPosition: Decimal | null;
  maxGross: Decimal | null;
  /** The lock's cap as the JSON number `risk:event_lock` carries (read as its shortest decimal, like the gate). */
  lockCap: number | null;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    price: priceArb,
    side: fc.constantFrom("buy" as const, "sell" as const),
    position: positionArb,
    gross: centsArb(50_000_000_000),
    k: fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 5, maxLength: 5 }),
    d: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 5, maxLength: 5 }),
    on: fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
    tiny: fc.array(fc.integer({ min: -3, max: 3 }), { minLength: 5, maxLength: 5 }),
    lockCap: lockCapArb,
  })
  .map((r) => {
    const p = D(r.price);
    const k = r.k as [number, number, number, number, number];
    const d = r.d as [number, number, number, number, number];
    const on = r.on as [boolean, boolean, boolean, boolean, boolean];
    const tiny = r.tiny as [number, number, number, number, number];
    return {
      price: r.price,
      side: r.side,
      position: on[3] || on[4] ? r.position : undefined,
      gross: r.gross,
      capsQty: on[0] ? k[0] : null,
      capsNotional: on[1] ? nearMultiple(p, k[1], d[1], tiny[1]) : null,
      orderNotional: on[2] ? nearMultiple(p, k[2], d[2], tiny[2]) : null,
      maxPosition: on[3]
        ? Exact.max(
            0,
            D(Math.abs(r.position))
              .add(k[3] - 2_500)
              .add(D(d[3]).div(10))
              .add(D(tiny[3]).mul("1e-20")),
          )
        : null,
      // Room on, around or between multiples of the price — or none left (the strategy already over its cap).
      maxGross: on[4]
        ? Exact.max(
            0,
            D(r.gross)
              .add(p.mul(k[4] - 500))
              .add(D(d[4]).div(100))
              .add(D(tiny[4]).mul("1e-20")),
          )
        : null,
      lockCap: r.lockCap,
    };
  });

function flagsOf(s: Scenario): GateFlags {
  const caps: Record<string, unknown> = {};
  if (s.capsQty !== null) caps.max_qty = s.capsQty;
  if (s.capsNotional !== null) caps.max_notional = s.capsNotional.toFixed();
  const bounds: Record<string, string> = {};
  if (s.orderNotional) bounds.max_order_notional = s.orderNotional.toFixed();
  if (s.maxPosition) bounds.max_position = s.maxPosition.toFixed();
  if (s.maxGross) bounds.max_gross_notional = s.maxGross.toFixed();
  return {
    ...emptyFlags(),
    ...parseMode(null, {}),
    heartbeatMs: NOW,
    caps: parseCaps({ mm: JSON.stringify(caps) }),
    bounds: parseBounds({ mm: JSON.stringify(bounds) }),
    eventLock:
      s.lockCap !== null
        ? parseEventLock(JSON.stringify({ event: "CPI", until: new Date(NOW + 60_000).toISOString(), cap: s.lockCap }))
        : null,
  };
}

/** The oracle: does `qty` (whole units) break none of the caps? decimal.js throughout. */
function allowedByOracle(s: Scenario, qty: number): boolean {
  const scale = (x: Decimal) => (s.lockCap !== null ? D(x).mul(D(s.lockCap)) : D(x));
  const q = D(qty);
  const p = D(s.price);
  if (s.capsQty !== null && q.gt(scale(D(s.capsQty)).floor())) return false;
  if (s.capsNotional && q.mul(p).gt(scale(s.capsNotional))) return false;
  if (s.orderNotional && q.mul(p).gt(scale(s.orderNotional))) return false;
  const a = s.position === undefined ? D(0) : s.side === "buy" ? D(s.position) : D(s.position).neg();
  if (s.maxPosition && a.add(q).gt(scale(s.maxPosition))) return false;
  if (s.maxGross) {
    const raise = Exact.max(0, a.add(q).abs().sub(a.abs())).mul(p);
    if (raise.gt(Exact.max(0, scale(s.maxGross).sub(D(s.gross))))) return false;
  }
  return true;
}

function check(s: Scenario, qty: number) {
  const o: OrderCheck = {
    broker: "paper",
    account: "A1",
    strategy: "mm",
    symbol: "AAPL",
    side: s.side,
    qty,
    price: s.price,
    grossNotional: s.gross.toNumber(),
    ...(s.position !== undefined ? { position: s.position } : {}),
  };
  return decide(o, flagsOf(s), NOW, opts, up, new DecideCache());
}

/** A scenario where the caps have all the inputs they need (position for max_position, gross always given). */
const hasLimit = (s: Scenario) =>
  s.capsQty !== null ||
  s.capsNotional !== null ||
  s.orderNotional !== null ||
  s.maxPosition !== null ||
  s.maxGross !== null;

describe("gate caps (property): allowed exactly when no cap is broken; maxQty is the largest allowed", () => {
  it("for random caps, positions, gross notionals, prices and event locks", () => {
    fc.assert(
      fc.property(scenarioArb, fc.integer({ min: 1, max: 3_000_000 }), (s, qty) => {
        if (s.lockCap !== null && !hasLimit(s)) return; // the lock refuses a strategy without limits (event_lock)
        const r = check(s, qty);
        expect(r.allow).toBe(allowedByOracle(s, qty));
        if (r.maxQty === undefined) {
          expect(hasLimit(s)).toBe(false);
          return;
        }
        // The largest: maxQty is allowed (when it is at least one unit), maxQty + 1 is not.
        expect(allowedByOracle(s, r.maxQty + 1)).toBe(false);
        expect(check(s, r.maxQty + 1).allow).toBe(false);
        if (r.maxQty >= 1) {
          expect(allowedByOracle(s, r.maxQty)).toBe(true);
          expect(check(s, r.maxQty).allow).toBe(true);
        }
      }),
      { numRuns: 4_000 },
    );
  });

  it("without a position, the gross cap assumes every unit opens (never more than the room)", () => {
    fc.assert(
      fc.property(priceArb, centsArb(10_000_000), centsArb(10_000_000), (price, gross, room) => {
        const s: Scenario = {
          price,
          side: "buy",
          position: undefined,
          gross,
          capsQty: null,
          capsNotional: null,
          orderNotional: null,
          maxPosition: null,
          maxGross: gross.add(room),
          lockCap: null,
        };
        const r = check(s, 1);
        expect(r.maxQty).toBe(room.div(D(price)).floor().toNumber());
      }),
      { numRuns: 2_000 },
    );
  });
});

describe("long-digit caps: a cap only ever rounds down", () => {
  it("max_notional 199.99999999999999999998 under a 50% lock at $1 allows 99, not 100", () => {
    const s: Scenario = {
      price: 1,
      side: "buy",
      position: undefined,
      gross: D(0),
      capsQty: null,
      capsNotional: D("199.99999999999999999998"),
      orderNotional: null,
      maxPosition: null,
      maxGross: null,
      lockCap: 0.5,
    };
    // 199.99999999999999999998 × 0.5 = 99.99999999999999999999 (at decimal.js's 20 digits: 100.00000000000000000).
    expect(check(s, 1).maxQty).toBe(99);
    expect(check(s, 100).allow).toBe(false);
    // The same through max_qty: 3 × (1/3 as a double, 0.3333333333333333) = 0.9999999999999999 → 0.
    expect(check({ ...s, capsNotional: null, capsQty: 3, lockCap: 1 / 3 }, 1).allow).toBe(false);
  });

  it("floorShares is exact for prices written with an exponent (1e-7, 1e21)", () => {
    expect(floorShares(toScaled(D("0.99999999999999999999999")), 1e-7)).toBe(9_999_999);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.integer({ min: 0, max: 30 }),
        fc.constantFrom(1e-7, 2.5e-7, 1e-8, 1e21, 3e-9),
        (n, scale, price) => {
          const cap = D(n.toString()).div(D(10).pow(scale));
          const want = cap.div(D(price)).floor();
          // Beyond 2^53 the gate cannot say the figure as a number anyway; compare where it can.
          fc.pre(want.lte(Number.MAX_SAFE_INTEGER));
          expect(floorShares(toScaled(cap), price)).toBe(want.toNumber());
        },
      ),
      { numRuns: 5_000 },
    );
  });
});

describe("exact helpers (property): floorSub and floorRoom match decimal.js", () => {
  it("floorSub(cap, x) = floor(cap − x), on and around integers", () => {
    const capArb = fc
      .integer({ min: -10_000_000, max: 10_000_000 })
      .chain((i) => fc.integer({ min: 0, max: 3 }).map((places) => D(i).div(10 ** places)));
    fc.assert(
      fc.property(capArb, positionArb, (cap, x) => {
        expect(floorSub(toScaled(cap), x)).toBe(cap.sub(D(x)).floor().toNumber());
      }),
      { numRuns: 20_000 },
    );
  });

  it("floorRoom(cap, used, price, back) = floor(max(0, cap − used) / price + 2·back)", () => {
    fc.assert(
      fc.property(
        priceArb,
        centsArb(1_000_000_000),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: -3, max: 3 }),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 100_000 }), positionArb.map(Math.abs)),
        (price, used, k, d, back) => {
          const cap = Decimal.max(0, used.add(D(price).mul(k)).add(D(d).div(100)));
          const want = Decimal.max(0, cap.sub(used)).div(D(price)).add(D(back).mul(2)).floor().toNumber();
          expect(floorRoom(toScaled(cap), used.toNumber(), price, back)).toBe(want);
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("numberToScaled reads a number as its shortest decimal representation", () => {
    for (const x of [0.3, 0.1 + 0.2, -12.5, 1e21, 1e-7, 190.25, 0]) {
      const s = numberToScaled(x);
      expect(D(s.n.toString()).div(D(10).pow(s.scale)).eq(D(x))).toBe(true);
    }
  });
});
