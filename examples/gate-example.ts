// A trading process using the pre-trade gate. Run it against the Redis tradeguard uses:
//
//   REDIS_URL=redis://127.0.0.1:6379 REDIS_PREFIX= npx tsx examples/gate-example.ts          # a few checks, then exit
//   REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/gate-example.ts --watch                 # print every change
//
// In a trading process the import is `import { createGate } from "@tradeguard/gate"` (the package alone, docs/gate.md;
// `tradeguard/gate` where the bot is installed); this example imports the source so it runs without a build.
import { createGate, type OrderCheck } from "../packages/gate/src/gate/index.js";

const watch = process.argv.includes("--watch");

const gate = await createGate({
  url: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  prefix: process.env.REDIS_PREFIX ?? "",
  // Dead-man's switch: no tradeguard heartbeat for 15 s → reduce-only.
  heartbeatMaxAgeMs: 15_000,
  // FINRA 4210(f)(8)(B) day-trade counting, or "intraday_margin" once your broker applies SR-FINRA-2025-017.
  pdtRegime: "pdt_4210",
  // NYSE hours, LULD, Rule 201, locates and PDT apply to the US equity brokers only.
  marketRulesBrokers: ["alpaca"],
  onChange: (why) => {
    if (watch) {
      const v = gate.view();
      console.log(`[change] ${why} → effective mode ${v.effectiveMode}${v.down ? ` (Redis: ${v.down})` : ""}`);
    }
  },
});

const v = gate.view();
console.log(
  `gate loaded=${v.loaded} mode=${v.mode} effective=${v.effectiveMode} heartbeat age=${v.heartbeatAgeMs === null ? "none" : `${v.heartbeatAgeMs} ms`}${v.down ? ` down: ${v.down}` : ""}`,
);

// Your market data feeds the Rule 201 price test with the national best bid (or write md:quote:<symbol>).
gate.updateQuote("GME", { bid: 21.37, ask: 21.39 });

const orders: OrderCheck[] = [
  { broker: "alpaca", account: "A1", strategy: "momo", symbol: "AAPL", side: "buy", qty: 100, price: 190.25 },
  {
    broker: "alpaca",
    account: "A1",
    strategy: "momo",
    symbol: "AAPL",
    side: "sell",
    qty: 100,
    price: 190.2,
    reduceOnly: true,
  },
  { broker: "alpaca", account: "A1", strategy: "momo", symbol: "GME", side: "sell_short", qty: 50, price: 21.38 },
  { broker: "binance", account: "B1", strategy: "basis", symbol: "BTCUSDT", side: "buy", qty: 1, price: 97_000 },
];

for (const order of orders) {
  // Call check() right before sending each order; it never touches the network. Cancels need no check.
  const r = gate.check(order);
  const size = r.maxQty !== undefined ? ` (max qty ${r.maxQty})` : "";
  console.log(
    `${order.side} ${order.qty} ${order.symbol} @ ${order.price} on ${order.broker}: ${r.allow ? "ALLOW" : "REFUSE"}${size}`,
  );
  for (const reason of r.reasons) console.log(`   - ${reason}`);
  // if (r.allow) await broker.submit(order); else if (r.maxQty) resize, or drop and log r.reasons
}

if (watch) {
  console.log("watching for changes (Ctrl-C to stop)…");
  process.once("SIGINT", () => void gate.close().then(() => process.exit(0)));
  setInterval(() => {}, 1 << 30);
} else {
  await gate.close();
}
