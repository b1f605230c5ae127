// A full runtime for integration tests: the run's redis-server, a random key prefix, a temp home (audit key, audit
// file, snapshots) and a notifier that records announcements.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { loadAuditKey } from "../../src/audit/keyfile.js";
import { loadConfig } from "../../src/config.js";
import type { Guard } from "../../src/jobs/guard.js";
import { allGuards } from "../../src/jobs/registry.js";
import type { Logger } from "../../src/log.js";
import { createRuntime } from "../../src/main.js";
import type { Announcement, Notifier } from "../../src/notify.js";
import { createNotifier } from "../../src/notify-factory.js";
import type { Runtime } from "../../src/runtime.js";
import { redisReachable } from "../../src/state/redis.js";
import { silentLog } from "./log.js";

/** Records announcements instead of posting them. */
export class RecordingNotifier implements Notifier {
  readonly messages: Announcement[] = [];
  async announce(msg: Announcement) {
    this.messages.push(msg);
    return null;
  }
}

/** Builds a runtime; `yaml` becomes the TRADEGUARD_CONFIG file; `env` adds or overrides variables. */
export async function testRuntime(
  opts: {
    yaml?: string;
    env?: Record<string, string>;
    notifier?: Notifier;
    now?: () => Date;
    // biome-ignore lint/suspicious/noExplicitAny: guards of mixed types
    guards?: Guard<any, any, any>[];
    alertIntervalMs?: number;
    /** Post through the real notifier for the config (Slack Web API when a bot token and channel are set). */
    realNotifier?: boolean;
    /** The runtime's logger (default: silent). */
    log?: Logger;
  } = {},
) {
  const home = mkdtempSync(join(tmpdir(), "tg-rt-"));
  const prefix = `t${randomBytes(6).toString("hex")}:`;
  const env: Record<string, string> = {
    TRADEGUARD_HOME: home,
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: prefix,
    LOG_LEVEL: "silent",
    ...opts.env,
  };
  if (opts.yaml !== undefined) {
    writeFileSync(join(home, "config.yml"), opts.yaml);
    env.TRADEGUARD_CONFIG = join(home, "config.yml");
  }
  // Settings are parsed for every registered guard plus the test's own (a test guard may share no name with them).
  const specs = [...allGuards, ...(opts.guards ?? []).filter((g) => !allGuards.includes(g))];
  const config = loadConfig(env, specs);
  loadAuditKey(config.audit.keyFile, { create: true }); // Slack mode expects a provisioned key

  const notifier = opts.realNotifier ? createNotifier(config, silentLog) : (opts.notifier ?? new RecordingNotifier());
  const rt: Runtime = await createRuntime(config, {
    log: opts.log ?? silentLog,
    notifier,
    now: opts.now,
    guards: opts.guards ?? [],
    alertIntervalMs: opts.alertIntervalMs ?? 0,
  });
  return {
    rt,
    home,
    env,
    notifier: notifier as RecordingNotifier,
    async cleanup() {
      try {
        // A runtime pointed at a Redis that is not there (a test of that) has no keys to remove.
        if (await redisReachable(rt.redis)) {
          let cursor = "0";
          do {
            const [next, keys] = await rt.redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
            cursor = next;
            if (keys.length) await rt.redis.del(...keys);
          } while (cursor !== "0");
        }
      } finally {
        await rt.close();
      }
    },
  };
}
