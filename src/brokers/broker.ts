// One interface for every broker the kill switch drives. Quantities and prices are decimal strings (exact, as the
// brokers send them); arithmetic on them goes through decimal.js, never binary floats.
import { z } from "zod";
import type { BrokerEndpoints } from "./endpoints.js";

export type Side = "buy" | "sell";

/** An order that is still working at the broker. */
export interface OpenOrder {
  id: string;
  clientOrderId: string | null;
  symbol: string;
  side: Side;
  /** Ordered quantity (decimal string); null for notional orders. */
  qty: string | null;
  filledQty: string;
  type: string;
  status: string;
  limitPrice: string | null;
  /** Notional of a notional order, or null. */
  notional: string | null;
}

/** A position; `qty` is signed (negative = short). */
export interface Position {
  symbol: string;
  qty: string;
  side: "long" | "short";
  /** Signed market value in the account currency, when the broker reports it. */
  marketValue: string | null;
  avgEntryPrice: string | null;
}

/** Outcome for one order or position in a bulk call; ids are the broker's own. */
export interface ItemResult {
  /** Order id (cancel) or symbol (close). */
  ref: string;
  ok: boolean;
  /** Broker's per-item HTTP status or state, when it sends one. */
  status?: number | string;
  /** Broker's id for what it did (e.g. the closing order id). */
  brokerId?: string;
  reason?: string;
}

export interface BulkResult {
  items: ItemResult[];
}

/** Context of a kill-switch call: the panic id makes client order ids idempotent; the signal enforces the deadline. */
export interface CallContext {
  panicId: string;
  signal?: AbortSignal;
}

/** API credentials of a managed broker (from the secret store). Never logged, audited or printed. */
export interface BrokerCredentials {
  keyId: string;
  secret: string;
  password?: string;
}

/** What every broker adapter implements. */
export interface Broker {
  readonly name: string;
  readonly kind: "paper" | "alpaca" | "ccxt";
  /** Uses these credentials from the next call on (a managed broker after a key rotation). */
  setCredentials?(c: BrokerCredentials): void;
  /** One authenticated read-only call with `c` (not the broker's own); resolves when accepted, throws when refused. */
  testCredentials?(c: BrokerCredentials, ctx?: { signal?: AbortSignal }): Promise<void>;
  /**
   * The broker's endpoints (alpaca, ccxt with `endpoints`): every call goes to `endpoints.current()` — the active one,
   * or the one pinned with `endpoints.using(url, fn)`.
   */
  readonly endpoints?: BrokerEndpoints;
  /** The cheap authenticated read the latency probe and the soak time (Alpaca GET /v2/account, ccxt fetchBalance). */
  ping?(ctx?: { signal?: AbortSignal; timeoutMs?: number }): Promise<void>;
  listOpenOrders(ctx?: { signal?: AbortSignal }): Promise<OpenOrder[]>;
  listPositions(ctx?: { signal?: AbortSignal }): Promise<Position[]>;
  /** Cancels every open order. */
  cancelAll(ctx: CallContext): Promise<BulkResult>;
  /** Closes every position with market (reduce-only where the venue has it) orders. */
  closeAll(ctx: CallContext): Promise<BulkResult>;
  close?(): Promise<void>;
}

/** The client order id the kill switch uses for a closing order: same panic + symbol → same id (idempotent). */
export function closeClientOrderId(panicId: string, symbol: string): string {
  const clean = symbol.replace(/[^A-Za-z0-9]/g, "");
  return `tg-${panicId}-${clean}`.slice(0, 48);
}

const itemSchema = z.object({
  ref: z.string(),
  ok: z.boolean(),
  status: z.union([z.number(), z.string()]).optional(),
  brokerId: z.string().optional(),
  reason: z.string().optional(),
});

/** What flattening one broker did and what is left (stored in panic reports, so validated when read back). */
export const brokerOutcomeSchema = z.object({
  broker: z.string(),
  kind: z.string(),
  /** Nothing open and flat at the broker after the re-query. */
  verified: z.boolean(),
  cancelled: z.array(itemSchema),
  closed: z.array(itemSchema),
  /** What the re-query still found, or null when the broker could not be re-queried. */
  remaining: z
    .object({
      orders: z.array(
        z.object({
          id: z.string(),
          symbol: z.string(),
          side: z.string(),
          qty: z.string().nullable(),
          status: z.string(),
        }),
      ),
      positions: z.array(z.object({ symbol: z.string(), qty: z.string() })),
    })
    .nullable(),
  /** Why it is not verified (errors after retries, deadline), in order. */
  errors: z.array(z.string()),
  rounds: z.number().int(),
  durationMs: z.number(),
  /** With several endpoints: the ones the flatten used, in order (the active one first, then each failover). */
  endpoints: z.array(z.string()).optional(),
});
export type BrokerOutcome = z.infer<typeof brokerOutcomeSchema>;
