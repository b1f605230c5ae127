// tradeguard market | tradeguard luld — the NYSE calendar and the LULD bands from the command line. Both compute with
// the same pure modules the guards and the gate use (src/market/*). `market` also reads the desk's unscheduled
// closures (`market:closures`) when Redis is reachable, and says on stderr when it is not; `luld` needs no Redis.
import type { Command } from "commander";
import { Decimal } from "decimal.js";
import { DateTime } from "luxon";
import { type Closures, closuresFromHash, marketStatus, NY_ZONE } from "../market/calendar.js";
import { priceBands } from "../market/luld.js";
import { createKeys, MARKET_KEYS } from "../state/keys.js";
import { createRedis, redisReachable } from "../state/redis.js";
import { cliConfig, printJson } from "./context.js";
import { choiceOption, instantArg, positiveDecimalArg } from "./options.js";

/** The desk's unscheduled closures from Redis, or null (with the reason) when Redis cannot be asked. */
async function readClosures(): Promise<{ closures: Closures | null; note: string | null }> {
  let target: ReturnType<typeof cliConfig>["redis"];
  let prefix: string;
  try {
    const c = cliConfig();
    target = c.redis;
    prefix = c.redis.prefix;
  } catch (err) {
    return {
      closures: null,
      note: `configuration unreadable (${(err as Error).message}); unscheduled closures not consulted`,
    };
  }
  const redis = createRedis(target, { interactive: true, name: "tradeguard-cli-market" });
  try {
    if (!(await redisReachable(redis, 1_000))) {
      return { closures: null, note: "Redis unreachable: unscheduled closures (market:closures) not consulted" };
    }
    const raw = await redis.hgetall(createKeys(prefix).raw(MARKET_KEYS.closures));
    const { closures, invalid } = closuresFromHash(raw);
    return {
      closures,
      note: invalid.length ? `market:closures: ignored fields that are not dates: ${invalid.join(", ")}` : null,
    };
  } catch (err) {
    return { closures: null, note: `market:closures unreadable (${(err as Error).message}); not consulted` };
  } finally {
    redis.disconnect();
  }
}

function et(d: Date | null): string {
  return d ? DateTime.fromJSDate(d, { zone: NY_ZONE }).toFormat("HH:mm") : "—";
}

/** Registers `market` and `luld`. */
export function registerMarket(program: Command): void {
  program
    .command("market")
    .description("NYSE session at an instant: open or not, the day's session and bounds, why it is closed")
    .option("--at <iso>", "ISO-8601 instant (without an offset: New York time); default now", instantArg)
    .option("--offline", "do not read unscheduled closures from Redis")
    .option("--json", 'print {"open","session","opens","closes","reason"} as JSON')
    .addHelpText("after", "\nExample:\n  tradeguard market --at 2026-11-27T12:45:00-05:00 --json\n")
    .action(async (opts: { at?: Date; offline?: boolean; json?: boolean }) => {
      const at = opts.at ?? new Date();
      const { closures, note } = opts.offline ? { closures: null, note: null } : await readClosures();
      if (note) process.stderr.write(`tradeguard: ${note}\n`);
      const s = marketStatus(at, closures ?? undefined);
      const out = {
        open: s.open,
        session: s.session,
        opens: s.opens ? s.opens.toISOString() : null,
        closes: s.closes ? s.closes.toISOString() : null,
        reason: s.reason,
      };
      if (opts.json) return printJson(out);
      const bounds = s.session === "closed" ? "closed all day" : `${et(s.opens)}–${et(s.closes)} ET`;
      process.stdout.write(
        `${s.date} (New York): ${s.session.replace("_", " ")}, ${bounds}${s.reason ? ` — ${s.reason}` : ""}\n${at.toISOString()}: ${s.open ? "OPEN" : "CLOSED"}\n`,
      );
    });

  program
    .command("luld")
    .description("LULD price bands for a Reference Price (LULD Plan Appendix A; closing-period doubling)")
    .requiredOption("--ref-price <price>", "Reference Price in dollars", positiveDecimalArg)
    .addOption(
      choiceOption("--tier <tier>", "1 (S&P 500, Russell 1000, Schedule 1 ETPs) or 2", [
        "1",
        "2",
      ]).makeOptionMandatory(),
    )
    .option("--at <iso>", "ISO-8601 instant (without an offset: New York time); default now", instantArg)
    .option(
      "--prev-close <price>",
      "prior close, which picks the parameter bracket (default: the Reference Price)",
      positiveDecimalArg,
    )
    .option("--json", 'print {"lower","upper","percent","doubled"} as JSON')
    .addHelpText(
      "after",
      "\nExample:\n  tradeguard luld --ref-price 190.25 --tier 1 --at 2026-12-01T15:50:00-05:00 --json\n",
    )
    .action((opts: { refPrice: string; tier: "1" | "2"; at?: Date; prevClose?: string; json?: boolean }) => {
      const ref = new Decimal(opts.refPrice);
      const prev = opts.prevClose !== undefined ? new Decimal(opts.prevClose) : undefined;
      const at = opts.at ?? new Date();
      const b = priceBands({ referencePrice: ref, tier: opts.tier === "1" ? 1 : 2, at, previousClose: prev });
      const out = {
        lower: b.lower.toNumber(),
        upper: b.upper.toNumber(),
        percent: b.percent.toNumber(),
        doubled: b.doubled,
      };
      if (opts.json) return printJson(out);
      process.stdout.write(
        `Tier ${opts.tier}, reference ${ref.toString()}: ${b.lower.toString()} – ${b.upper.toString()} (±${b.percent.mul(100).toDecimalPlaces(4).toString()}%${b.doubled ? ", doubled: closing period" : ""})\n`,
      );
    });
}
