// Alpaca wire-format fixtures from the official OpenAPI spec (shared/specs/alpaca-trading-openapi.yaml), shared by
// the adapter, flatten and panic tests.
import { AlpacaBroker } from "../../src/brokers/alpaca.js";

export const ALPACA_BASE = "https://paper-api.alpaca.markets";
export const ALPACA_KEY_ID = "PKTESTKEYID0000000000";
export const ALPACA_SECRET = "test-secret-key-0000000000000000000000000";

/** An adapter against ALPACA_BASE with test credentials. */
export function alpacaBroker(timeoutMs = 2_000): AlpacaBroker {
  return new AlpacaBroker({
    name: "alpaca",
    baseUrl: ALPACA_BASE,
    keyId: ALPACA_KEY_ID,
    secretKey: ALPACA_SECRET,
    timeoutMs,
  });
}

/** A full Order object as in the spec's `Order` x-examples. */
export function order(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "61e69015-8549-4bfd-b9c3-01e75843f47d",
    client_order_id: "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
    created_at: "2021-03-16T18:38:01.942282Z",
    updated_at: "2021-03-16T18:38:01.942282Z",
    submitted_at: "2021-03-16T18:38:01.937734Z",
    filled_at: null,
    expired_at: null,
    canceled_at: null,
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    symbol: "AAPL",
    asset_class: "us_equity",
    notional: null,
    qty: "10",
    filled_qty: "0",
    filled_avg_price: null,
    order_class: "",
    order_type: "limit",
    type: "limit",
    side: "buy",
    time_in_force: "day",
    limit_price: "174.25",
    stop_price: null,
    status: "new",
    extended_hours: false,
    legs: null,
    trail_percent: null,
    trail_price: null,
    hwm: null,
    ...over,
  };
}

/** A full Position object as in the spec's `Position` x-examples (example-2). */
export function position(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    asset_id: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    symbol: "AAPL",
    exchange: "NASDAQ",
    asset_class: "us_equity",
    asset_marginable: false,
    qty: "2",
    qty_available: "2",
    avg_entry_price: "174.78",
    side: "long",
    market_value: "348.58",
    cost_basis: "349.56",
    unrealized_pl: "-0.98",
    unrealized_plpc: "-0.0028035244307129",
    unrealized_intraday_pl: "-0.98",
    unrealized_intraday_plpc: "-0.0028035244307129",
    current_price: "174.29",
    lastday_price: "174.61",
    change_today: "-0.0018326556325525",
    ...over,
  };
}

/** A short as live Alpaca reports it: negative qty and market_value, side "short". */
export const shortXlk = position({
  asset_id: "d704f4fd-c735-44f8-a7fa-7a50fef08fe4",
  symbol: "XLK",
  exchange: "ARCA",
  asset_marginable: true,
  qty: "-24",
  qty_available: "-24",
  avg_entry_price: "82.69",
  side: "short",
  market_value: "-2011.44",
  cost_basis: "-1984.56",
  unrealized_pl: "-26.88",
  unrealized_plpc: "-0.0135445640343451",
  unrealized_intraday_pl: "-26.88",
  unrealized_intraday_plpc: "-0.0135445640343451",
  current_price: "83.81",
  lastday_price: "88.91",
  change_today: "-0.0573613766730402",
});
