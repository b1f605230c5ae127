// FIFO lot matching of our ledger, per (broker, symbol): the end-of-day positions the statement is compared against
// and the realized P&L of the date (issue #11: "a `sell_short` opens a short lot, a later `buy` covers it first-in
// first-out", gross of fees).
//
// - A `buy` first covers short lots, oldest first, then opens a long lot with what is left.
// - A `sell` or a `sell_short` first closes long lots, oldest first, then opens a short lot with what is left. The
//   two are treated alike: the side a fill was marked with does not change what it does to the position. A
//   `sell_short` while the book is long is a data anomaly (under Reg SHO Rule 200(c) and (g) a seller who is net
//   long sells long); it is not corrected here, and the position comparison shows whatever it did.
// - Realized P&L of a closing match of q: long (sell price − lot price) × q, short (lot price − buy price) × q, exact
//   at product scale (10^36).
//
// Lots must be matched in execution order, but a ledger written by several processes may be slightly out of order.
// Each book keeps a reorder buffer: a fill is held until a later fill of the same book is more than the window
// (5 s) newer, then booked in (tsMs, fillId) order, so the same fills give the same lots however they were
// interleaved; `flush()` books what is still held. A fill older than one already booked cannot be placed any more:
// it is an InputError, never silently misplaced. Memory is the open lots plus the buffers.
import type { InputError, LedgerFill, Side } from "./types.js";

/** How far a fill may trail the newest fill of its book and still be booked in order. */
export const REORDER_WINDOW_MS = 5_000;

/** One open lot: `qty` > 0 (the book's sign says long or short), at `price` (fixed). */
export interface Lot {
  qty: bigint;
  price: bigint;
}

/** The open FIFO lots of one (broker, symbol), oldest first, all on one side. */
export class LotBook {
  // Parallel arrays rather than an object per lot (a third less memory on a book with many open lots); `[head..]`
  // are open, and a lot closed in full is zeroed at once so a long-lived book does not keep closed lots alive.
  private qtys: bigint[] = [];
  private prices: bigint[] = [];
  private head = 0;
  /** Net position (fixed): > 0 long, < 0 short. */
  net = 0n;

  /** Applies one fill to the lots and returns the realized P&L of what it closed (scale 10^36, gross of fees). */
  apply(side: Side, qty: bigint, price: bigint): bigint {
    const buy = side === "buy";
    const { qtys, prices } = this;
    let rest = qty;
    let realized = 0n;
    while (rest > 0n && this.head < qtys.length && (buy ? this.net < 0n : this.net > 0n)) {
      const lotQty = qtys[this.head]!;
      const lotPrice = prices[this.head]!;
      // biome-ignore lint/complexity/useMathMinMax: these are bigints, which Math.min does not take
      const q = lotQty < rest ? lotQty : rest;
      realized += (buy ? lotPrice - price : price - lotPrice) * q;
      rest -= q;
      this.net += buy ? q : -q;
      if (q === lotQty) {
        qtys[this.head] = ZERO;
        prices[this.head] = ZERO;
        this.head++;
      } else {
        qtys[this.head] = lotQty - q;
      }
    }
    if (this.head === qtys.length) {
      this.qtys = [];
      this.prices = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > qtys.length) {
      this.qtys = qtys.slice(this.head);
      this.prices = prices.slice(this.head);
      this.head = 0;
    }
    if (rest > 0n) {
      this.qtys.push(rest);
      this.prices.push(price);
      this.net += buy ? rest : -rest;
    }
    return realized;
  }

  /** The open lots, oldest first, with signed quantities (negative = short). */
  openLots(): Lot[] {
    const sign = this.net < 0n ? -1n : 1n;
    return this.qtys.slice(this.head).map((q, i) => ({ qty: sign * q, price: this.prices[this.head + i]! }));
  }
}

const ZERO = 0n;

/** Book order: execution time, then fill id (deterministic whatever order the ledger was read in). */
function before(a: LedgerFill, b: LedgerFill): boolean {
  return a.tsMs < b.tsMs || (a.tsMs === b.tsMs && a.fillId < b.fillId);
}

interface Slot {
  broker: string;
  symbol: string;
  book: LotBook;
  /** Held fills, sorted by book order; `[headIdx..]` still held, the booked ones before it cleared. */
  held: (LedgerFill | undefined)[];
  headIdx: number;
  newestMs: number;
  /** The last fill booked. */
  last: LedgerFill | null;
}

/** What a book position looks like from outside. */
export interface BookPosition {
  broker: string;
  symbol: string;
  net: bigint;
}

/** Callback on every booked fill, with the realized P&L (scale 10^36) of what it closed. */
export type OnBooked = (fill: LedgerFill, realized: bigint) => void;

/** FIFO books of a whole ledger, per (broker, symbol), fed in roughly execution order through a reorder buffer. */
export class FifoLedger {
  /** broker → symbol → slot (nested maps: no key string built per fill). */
  private readonly slots = new Map<string, Map<string, Slot>>();
  private readonly windowMs: number;
  private readonly onBooked: OnBooked | undefined;

  constructor(opts: { windowMs?: number; onBooked?: OnBooked } = {}) {
    this.windowMs = opts.windowMs ?? REORDER_WINDOW_MS;
    this.onBooked = opts.onBooked;
  }

  /** Takes one fill: holds it in its book's buffer and books what is now old enough; an InputError if it is too late. */
  add(fill: LedgerFill): InputError | null {
    let bySymbol = this.slots.get(fill.broker);
    if (!bySymbol) {
      bySymbol = new Map();
      this.slots.set(fill.broker, bySymbol);
    }
    let slot = bySymbol.get(fill.symbol);
    if (!slot) {
      slot = {
        broker: fill.broker,
        symbol: fill.symbol,
        book: new LotBook(),
        held: [],
        headIdx: 0,
        newestMs: fill.tsMs,
        last: null,
      };
      bySymbol.set(fill.symbol, slot);
    }
    const last = slot.last;
    if (last && !before(last, fill)) {
      if (last.tsMs === fill.tsMs && last.fillId === fill.fillId) return duplicate(fill, last);
      const secs = this.windowMs / 1000;
      return {
        where: fill.where,
        reason: `out of order by more than ${secs} s: ${fill.ts} is before ${last.ts} (fill ${last.fillId}), already booked`,
      };
    }
    // Sorted insert, searching from the end: fills mostly arrive in order.
    const held = slot.held;
    let i = held.length;
    while (i > slot.headIdx && before(fill, held[i - 1]!)) i--;
    const prev = held[i - 1];
    if (i > slot.headIdx && prev && prev.tsMs === fill.tsMs && prev.fillId === fill.fillId)
      return duplicate(fill, prev);
    if (i === held.length) held.push(fill);
    else held.splice(i, 0, fill);
    if (fill.tsMs > slot.newestMs) slot.newestMs = fill.tsMs;
    this.release(slot, slot.newestMs - this.windowMs);
    return null;
  }

  /** Books every fill still held (call once the ledger has been read to the end). */
  flush(): void {
    for (const slot of this.allSlots()) this.release(slot, Number.POSITIVE_INFINITY);
  }

  /** Net positions of every book seen (flat ones included). */
  positions(): BookPosition[] {
    return [...this.allSlots()].map((s) => ({ broker: s.broker, symbol: s.symbol, net: s.book.net }));
  }

  /** The lot book of (broker, symbol), if any fill of it has been seen. */
  book(broker: string, symbol: string): LotBook | undefined {
    return this.slots.get(broker)?.get(symbol)?.book;
  }

  /** Fills currently held in reorder buffers (for memory accounting and tests). */
  heldCount(): number {
    let n = 0;
    for (const s of this.allSlots()) n += s.held.length - s.headIdx;
    return n;
  }

  private *allSlots(): Generator<Slot> {
    for (const bySymbol of this.slots.values()) yield* bySymbol.values();
  }

  /** Books held fills strictly older than `cutoffMs`, in book order. */
  private release(slot: Slot, cutoffMs: number): void {
    const held = slot.held;
    while (slot.headIdx < held.length && held[slot.headIdx]!.tsMs < cutoffMs) {
      const fill = held[slot.headIdx]!;
      held[slot.headIdx] = undefined; // let the booked fill be collected
      slot.headIdx++;
      const realized = slot.book.apply(fill.side, fill.qty, fill.price);
      slot.last = fill;
      this.onBooked?.(fill, realized);
    }
    if (slot.headIdx === held.length) {
      held.length = 0;
      slot.headIdx = 0;
    } else if (slot.headIdx > 1024 && slot.headIdx * 2 > held.length) {
      slot.held = held.slice(slot.headIdx);
      slot.headIdx = 0;
    }
  }
}

function duplicate(fill: LedgerFill, other: LedgerFill): InputError {
  return { where: fill.where, reason: `fill_id: ${JSON.stringify(fill.fillId)} recorded twice (also ${other.where})` };
}
