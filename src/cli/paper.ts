// tradeguard paper ... — drive the built-in paper broker (drills, demos, local mode).
import type { Command } from "commander";
import { PaperBroker } from "../brokers/paper.js";
import { UsageError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import { printJson, requireRedis, withRuntime } from "./context.js";
import { choiceOption, decimalArg, positiveDecimalArg } from "./options.js";
import { table } from "./style.js";

function paper(rt: Runtime, name: string): PaperBroker {
  const b = rt.ops.deps.brokers.find((x) => x.name === name);
  if (!(b instanceof PaperBroker)) throw new UsageError(`--broker ${name}: no paper broker of that name is configured`);
  return b;
}

/** Registers the paper command group. */
export function registerPaper(program: Command): void {
  const cmd = program.command("paper").description("the built-in paper broker");
  cmd
    .command("order")
    .description("place a simulated order (limit orders rest; market orders fill at the mark)")
    .requiredOption("--symbol <s>")
    .addOption(choiceOption("--side <side>", "buy or sell", ["buy", "sell"]).makeOptionMandatory())
    .requiredOption("--qty <decimal>", "quantity (> 0)", positiveDecimalArg)
    .option("--limit <price>", "limit price (omit for a market order)", positiveDecimalArg)
    .option("--broker <name>", "paper broker name", "paper")
    .option("--json", 'print {"id"} as JSON')
    .addHelpText("after", "\nExample:\n  tradeguard paper order --symbol MSFT --side buy --qty 1 --limit 400\n")
    .action(
      async (o: {
        symbol: string;
        side: "buy" | "sell";
        qty: string;
        limit?: string;
        broker: string;
        json?: boolean;
      }) => {
        await withRuntime(async (rt) => {
          await requireRedis(rt, "paper");
          const id = await paper(rt, o.broker).placeOrder({
            symbol: o.symbol,
            side: o.side,
            qty: o.qty,
            type: o.limit ? "limit" : "market",
            limitPrice: o.limit,
          });
          if (o.json) printJson({ id });
          else process.stdout.write(`${id}\n`);
        });
      },
    );
  cmd
    .command("position")
    .description("set a simulated position (negative qty = short)")
    .requiredOption("--symbol <s>")
    .requiredOption("--qty <decimal>", "signed quantity (negative: short)", decimalArg)
    .requiredOption("--price <decimal>", "average entry price (> 0)", positiveDecimalArg)
    .option("--broker <name>", "paper broker name", "paper")
    .option("--json", 'print {"symbol","qty","price"} as JSON')
    .action(async (o: { symbol: string; qty: string; price: string; broker: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "paper");
        await paper(rt, o.broker).setPosition(o.symbol, o.qty, o.price);
        if (o.json) printJson({ symbol: o.symbol, qty: o.qty, price: o.price });
      });
    });
  cmd
    .command("book")
    .description("show open orders and positions")
    .option("--broker <name>", "paper broker name", "paper")
    .option("--json", 'print {"orders","positions"} as JSON')
    .action(async (o: { broker: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "paper");
        const b = paper(rt, o.broker);
        const book = { orders: await b.listOpenOrders(), positions: await b.listPositions() };
        if (o.json) return printJson(book);
        const orders = book.orders.map((x) => [x.id, x.symbol, x.side, x.qty ?? "—", x.type, x.limitPrice ?? "—"]);
        const positions = book.positions.map((p) => [p.symbol, p.qty, p.avgEntryPrice ?? "—", p.marketValue ?? "—"]);
        process.stdout.write(
          `${orders.length ? table(["order", "symbol", "side", "qty", "type", "limit"], orders) : "no open orders"}\n\n${positions.length ? table(["symbol", "qty", "avg entry", "market value"], positions) : "no positions"}\n`,
        );
      });
    });
}
