// The gate's options with their defaults applied (docs/gate.md, "Options"), resolved once when a gate is created:
// its timings, and what the decision for one order needs (DecideOptions). A bad `cutoverAssetClasses` entry throws
// here, so createGate rejects instead of returning a gate that reads the wrong keys.
import type { DecideOptions } from "./decide-types.js";
import { HEARTBEAT_MAX_SKEW_MS } from "./rules-mode.js";
import { checkAssetClasses } from "./strategy-flags.js";
import type { GateOptions } from "./types.js";

/** A gate's resolved options. */
export interface ResolvedOptions {
  heartbeatMaxAgeMs: number;
  heartbeatMaxSkewMs: number;
  pollMs: number;
  refreshMs: number;
  maxStalenessMs: number;
  flagsMaxAgeMs: number;
  redisDownMode: "halt" | "reduce_only";
  /** `cutoverAssetClasses`, checked: their `cutover:<class>` flags are part of every full re-read. */
  cutoverClasses: readonly string[];
  decide: DecideOptions;
}

/** Applies the defaults of every option. */
export function resolveOptions(opts: GateOptions): ResolvedOptions {
  const heartbeatMaxAgeMs = opts.heartbeatMaxAgeMs ?? 15_000;
  const heartbeatMaxSkewMs = opts.heartbeatMaxSkewMs ?? HEARTBEAT_MAX_SKEW_MS;
  const refreshMs = opts.refreshMs ?? 10_000;
  const maxStalenessMs = opts.maxStalenessMs ?? 5_000;
  const cutoverClasses = checkAssetClasses(opts.cutoverAssetClasses);
  return {
    heartbeatMaxAgeMs,
    heartbeatMaxSkewMs,
    pollMs: opts.pollMs ?? 1_000,
    refreshMs,
    maxStalenessMs,
    flagsMaxAgeMs: opts.flagsMaxAgeMs ?? 2 * refreshMs + maxStalenessMs,
    redisDownMode: opts.redisDownMode ?? "halt",
    cutoverClasses,
    decide: {
      heartbeatMaxAgeMs,
      heartbeatMaxSkewMs,
      quoteMaxAgeMs: opts.quoteMaxAgeMs ?? 2_000,
      pdtRegime: opts.pdtRegime ?? "pdt_4210",
      marketRulesBrokers: opts.marketRulesBrokers ? new Set(opts.marketRulesBrokers) : null,
      allowExtendedHours: opts.allowExtendedHours ?? false,
      pdtRequired: opts.pdtRequired ?? true,
      ...(opts.pdtMaxAgeMs !== undefined ? { pdtMaxAgeMs: opts.pdtMaxAgeMs } : {}),
      ...(opts.intradayMaxAgeMs !== undefined ? { intradayMaxAgeMs: opts.intradayMaxAgeMs } : {}),
      cutoverAssetClasses: new Set(cutoverClasses),
    },
  };
}
