// Guard settings (`guards.<name>`): the common keys every guard has, and each guard's own schema, parsed once with the
// rest of the configuration. Guards (src/jobs) are handed in as GuardSpecs: config does not depend on the guard
// engine.
import cron from "node-cron";
import { z } from "zod";
import { formatIssues } from "./config-schema.js";
import { ConfigError } from "./errors.js";

/**
 * What configuration needs to know of a guard: its name, default schedule and settings schema, and — for a guard
 * that watches something the desk must declare (a policy daemon, NTP servers) — the settings that declare it.
 * Guards (src/jobs) satisfy this structurally; config does not depend on the guard engine.
 */
export interface GuardSpec {
  name: string;
  schedule: string;
  config: z.ZodType;
  /** The guard stays off ("not configured") until a setting of its own (or `enabled: true`) is set; `hint` says how. */
  requires?: { hint: string };
}

/** One guard's parsed settings. */
export interface GuardSettings {
  enabled: boolean;
  schedule: string;
  timeoutMs: number;
  /** Null when the guard can run; otherwise why it is off ("not configured — set guards.time_sync.servers …"). */
  notConfigured: string | null;
  /** The guard's own settings, parsed by its schema (defaults applied). */
  settings: unknown;
}

const guardCommon = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z
      .string()
      .refine((s) => cron.validate(s), "a cron expression (node-cron, optional seconds field)")
      .optional(),
    timeout_ms: z.number().int().min(10).max(600_000).default(10_000),
  })
  .passthrough();

/** Parses `guards.<name>` for every known guard (unknown names are an error), naming the key of any bad value. */
export function parseGuardSettings(raw: Record<string, unknown>, specs: readonly GuardSpec[], source: string) {
  const known = new Map(specs.map((g) => [g.name, g]));
  for (const name of Object.keys(raw)) {
    if (!known.has(name))
      throw new ConfigError(`${source} guards.${name}: unknown guard (known: ${[...known.keys()].join(", ")})`);
  }
  const out: Record<string, GuardSettings> = {};
  for (const g of specs) {
    const section = raw[g.name] ?? {};
    const common = guardCommon.safeParse(section);
    if (!common.success)
      throw new ConfigError(`invalid configuration:\n${formatIssues(`${source} guards.${g.name}`, common.error, ".")}`);
    const { enabled, schedule, timeout_ms, ...own } = common.data;
    const parsed = g.config.safeParse(own);
    if (!parsed.success)
      throw new ConfigError(`invalid configuration:\n${formatIssues(`${source} guards.${g.name}`, parsed.error, ".")}`);
    // Any setting of the guard's own (or `enabled: true`) declares what it watches: only an untouched guard is off.
    const declared = !g.requires || enabled === true || Object.keys(own).length > 0;
    out[g.name] = {
      enabled: enabled ?? true,
      schedule: schedule ?? g.schedule,
      timeoutMs: timeout_ms,
      notConfigured: declared || !g.requires ? null : `not configured — ${g.requires.hint}`,
      settings: parsed.data,
    };
  }
  return out;
}
