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
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";

/** Parses `--at`: ISO-8601; without an offset it is New York time. Defaults to now. */
export function parseAt(s: string | undefined, now: () => Date = () => new Date()): Date {
  if (s === undefined) return now();
  const dt = DateTime.fromISO(s, { zone: NY_ZONE });
  if (!dt.isValid)
    throw new CliExit(EXIT.usage, `--at: not an ISO-8601 time: ${JSON.stringify(s)} (e.g. 2026-11-27T12:45:00-05:00)`);
  return dt.toJSDate();
}

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
    .option("--at <iso>", "ISO-8601 instant (without an offset: New York time); default now")
    .option("--offline", "do not read unscheduled closures from Redis")
    .option("--json", "print as JSON")
    .action(async (opts: { at?: string; offline?: boolean; json?: boolean }) => {
      const at = parseAt(opts.at);
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
    .requiredOption("--ref-price <price>", "Reference Price in dollars")
    .requiredOption("--tier <tier>", "1 (S&P 500, Russell 1000, Schedule 1 ETPs) or 2")
    .option("--at <iso>", "ISO-8601 instant (without an offset: New York time); default now")
    .option("--prev-close <price>", "prior close, which picks the parameter bracket (default: the Reference Price)")
    .option("--json", "print as JSON")
    .action((opts: { refPrice: string; tier: string; at?: string; prevClose?: string; json?: boolean }) => {
      const dec = (name: string, s: string) => {
        if (!/^\d+(\.\d+)?$/.test(s) || new Decimal(s).lte(0)) {
          throw new CliExit(EXIT.usage, `${name}: expected a positive price in dollars, got ${JSON.stringify(s)}`);
        }
        return new Decimal(s);
      };
      const ref = dec("--ref-price", opts.refPrice);
      const prev = opts.prevClose !== undefined ? dec("--prev-close", opts.prevClose) : undefined;
      if (opts.tier !== "1" && opts.tier !== "2")
        throw new CliExit(EXIT.usage, `--tier: expected 1 or 2, got ${JSON.stringify(opts.tier)}`);
      const at = parseAt(opts.at);
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
