// The `slack_home` section of the YAML: how App Home is kept current (src/bot/home-publisher.ts). Its own small
// module, so the composition root can pass the schema to loadConfig without loading Bolt into every CLI process.
import { z } from "zod";
import type { Config } from "../config.js";

/** YAML `slack_home:` — how often Home may be re-published per user, how long a viewer is remembered, the poll. */
export const homeSettingsSchema = z
  .object({
    /** At most one republish per user per this many ms; changes in between are coalesced into the next one. */
    republish_interval_ms: z.number().int().min(100).max(600_000).default(5_000),
    /** A user who opened Home is republished to for this long after the last time they opened it. */
    viewer_ttl_hours: z
      .number()
      .positive()
      .max(24 * 30)
      .default(12),
    /** How often every replica re-reads the state for changes the mode channel does not carry (alerts, panics). */
    poll_ms: z.number().int().min(500).max(600_000).default(10_000),
  })
  .strict();
export type HomeSettings = z.infer<typeof homeSettingsSchema>;

/** The config section this module owns, for the composition root to pass to loadConfig. */
export const HOME_SECTION = { key: "slack_home", schema: homeSettingsSchema.optional() } as const;

/** The parsed `slack_home` section of a config, with defaults when the desk set none. */
export function homeOf(config: Config): HomeSettings {
  // Parsed again here (it is small) so the type comes from the schema, not from a cast of `sections`.
  return homeSettingsSchema.parse(config.sections?.slack_home ?? {});
}
