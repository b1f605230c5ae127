// tradeguard paper ... — drive the built-in paper broker (drills, demos, local mode).
import type { Command } from "commander";
import { PaperBroker } from "../brokers/paper.js";
import { UserInputError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";

function paper(rt: Runtime, name: string): PaperBroker {
  const b = rt.ops.deps.brokers.find((x) => x.name === name);
  if (!(b instanceof PaperBroker)) throw new UserInputError(`No paper broker named ${name} is configured.`);
  return b;
}

/** Registers the paper command group. */
export function registerPaper(program: Command): void {
  const cmd = program.command("paper").description("the built-in paper broker");
  cmd
    .command("order")
    .description("place a simulated order (limit orders rest; market orders fill at the mark)")
    .requiredOption("--symbol <s>")
    .requiredOption("--side <buy|sell>")
    .requiredOption("--qty <decimal>")
    .option("--limit <price>", "limit price (omit for a market order)")
    .option("--broker <name>", "paper broker name", "paper")
    .action(async (o: { symbol: string; side: string; qty: string; limit?: string; broker: string }) => {
      if (o.side !== "buy" && o.side !== "sell") throw new CliExit(EXIT.usage, "--side must be buy or sell");
      await withRuntime(async (rt) => {
        await requireRedis(rt, "paper");
        const id = await paper(rt, o.broker).placeOrder({
          symbol: o.symbol,
          side: o.side as "buy" | "sell",
          qty: o.qty,
          type: o.limit ? "limit" : "market",
          limitPrice: o.limit,
        });
        process.stdout.write(`${id}\n`);
      });
    });
  cmd
    .command("position")
    .description("set a simulated position (negative qty = short)")
    .requiredOption("--symbol <s>")
    .requiredOption("--qty <decimal>")
    .requiredOption("--price <decimal>")
    .option("--broker <name>", "paper broker name", "paper")
    .action(async (o: { symbol: string; qty: string; price: string; broker: string }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "paper");
        await paper(rt, o.broker).setPosition(o.symbol, o.qty, o.price);
      });
    });
  cmd
    .command("book")
    .description("show open orders and positions")
    .option("--broker <name>", "paper broker name", "paper")
    .action(async (o: { broker: string }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "paper");
        const b = paper(rt, o.broker);
        printJson({ orders: await b.listOpenOrders(), positions: await b.listPositions() });
      });
    });
}
