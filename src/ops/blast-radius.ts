// The blast radius of a panic: what it would cancel and close on every broker, read live before the confirmation
// (Slack's confirm message, the CLI's prompt) and kept in the panic's audit entry.
import { Decimal } from "decimal.js";
import type { OpsDeps } from "./deps.js";

/** Order statuses a cancel request cannot act on right now. */
const NOT_CANCELLABLE = new Set(["pending_cancel", "pending_replace", "done_for_day", "calculated", "held"]);

export interface BlastRadius {
  readAt: string;
  brokers: {
    broker: string;
    kind: string;
    openOrders: number;
    positions: number;
    /** Sum of |market value| of positions plus the notional of priced open orders (decimal string). */
    grossNotional: string;
    notCancellable: { id: string; symbol: string; status: string }[];
    error: string | null;
  }[];
  totals: { openOrders: number; positions: number; grossNotional: string };
}

/** Reads live what a panic would hit on each broker (bounded by `timeoutMs` per broker). */
export async function blastRadius(deps: Pick<OpsDeps, "brokers" | "now">, timeoutMs = 2_500): Promise<BlastRadius> {
  const per = await Promise.all(
    deps.brokers.map(async (b) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const [orders, positions] = await Promise.all([b.listOpenOrders({ signal }), b.listPositions({ signal })]);
        let gross = new Decimal(0);
        for (const p of positions) if (p.marketValue) gross = gross.add(new Decimal(p.marketValue).abs());
        for (const o of orders) {
          if (o.notional) gross = gross.add(new Decimal(o.notional).abs());
          else if (o.qty && o.limitPrice)
            gross = gross.add(
              new Decimal(o.qty)
                .sub(o.filledQty || "0")
                .mul(o.limitPrice)
                .abs(),
            );
        }
        return {
          broker: b.name,
          kind: b.kind,
          openOrders: orders.length,
          positions: positions.length,
          grossNotional: gross.toFixed(2),
          notCancellable: orders
            .filter((o) => NOT_CANCELLABLE.has(o.status))
            .map((o) => ({ id: o.id, symbol: o.symbol, status: o.status })),
          error: null,
        };
      } catch (err) {
        return {
          broker: b.name,
          kind: b.kind,
          openOrders: 0,
          positions: 0,
          grossNotional: "0.00",
          notCancellable: [],
          error: (err as Error).message,
        };
      }
    }),
  );
  const total = per.reduce((s, b) => s.add(b.grossNotional), new Decimal(0));
  return {
    readAt: deps.now().toISOString(),
    brokers: per,
    totals: {
      openOrders: per.reduce((s, b) => s + b.openOrders, 0),
      positions: per.reduce((s, b) => s + b.positions, 0),
      grossNotional: total.toFixed(2),
    },
  };
}
