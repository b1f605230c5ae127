// The composition root: config → logger → Redis → audit → brokers → operations. Nothing else creates clients.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type AuditKeys, loadAuditKey } from "./audit/keyfile.js";
import { AuditLog } from "./audit/log.js";
import { alertView } from "./bot/views/alert.js";
import { createBrokers } from "./brokers/index.js";
import type { Config } from "./config.js";
import { AlertPipeline, PacedQueue } from "./jobs/alerts.js";
import type { Guard } from "./jobs/guard.js";
import { allGuards } from "./jobs/registry.js";
import { GuardRunner } from "./jobs/runner.js";
import type { Logger } from "./log.js";
import { createMetrics } from "./metrics.js";
import { ConsoleNotifier, type Notifier } from "./notify.js";
import { ClearStore } from "./ops/clear-store.js";
import type { OpsDeps } from "./ops/deps.js";
import { createOperations, type Operations } from "./ops/index.js";
import { PanicStore } from "./ops/panic-store.js";
import { createKeys } from "./state/keys.js";
import { ModeStore } from "./state/mode.js";
import { createRedis, redisReachable } from "./state/redis.js";

/** Everything an entry point needs: the operations' dependencies, the operations, and a way to close it all. */
export interface Runtime extends OpsDeps {
  auditKeys: AuditKeys;
  ops: Operations;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  log: Logger;
  /** CLI: give up on Redis fast and carry on without it where the operation allows. */
  interactive?: boolean;
  notifier?: Notifier;
  now?: () => Date;
  /** The guards to schedule (default: every registered guard). */
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
  guards?: Guard<any, any, any>[];
  /** Spacing of alert posts per channel (Slack allows ~1/s). */
  alertIntervalMs?: number;
}

/** Builds everything an entry point (bot, CLI, test) needs from one parsed config. */
export async function createRuntime(config: Config, opts: RuntimeOptions): Promise<Runtime> {
  const log = opts.log;
  const auditKeys = loadAuditKey(config.audit.keyFile, { create: config.mode === "local" });
  const redis = createRedis(config.redis.url, {
    interactive: opts.interactive,
    name: opts.interactive ? "tradeguard-cli" : "tradeguard-bot",
  });
  const redisUp = await redisReachable(redis, 2_000);
  if (!redisUp) log.error({ url: config.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@") }, "Redis is unreachable");
  const keys = createKeys(config.redis.prefix);
  const metrics = createMetrics();
  const audit = new AuditLog({ redis: redisUp ? redis : null, keys, signer: auditKeys, file: config.audit.file, log });
  const notifier = opts.notifier ?? new ConsoleNotifier();
  const instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const mode = new ModeStore(redis, keys);
  const now = opts.now ?? (() => new Date());
  const alerts = new AlertPipeline({
    redis,
    keys,
    queue: new PacedQueue(notifier, log, opts.alertIntervalMs),
    render: (e) => alertView(e, config.runbookUrl),
    log,
  });
  const guards = new GuardRunner({
    redis,
    keys,
    config,
    log,
    metrics,
    guards: opts.guards ?? allGuards,
    alerts,
    audit,
    instanceId,
    now,
  });
  const deps: OpsDeps = {
    config,
    log,
    redis,
    redisUp,
    keys,
    mode,
    audit,
    brokers: await createBrokers(config, redisUp ? redis : null, keys),
    metrics,
    notifier,
    panicStore: new PanicStore(redis, keys),
    clearStore: new ClearStore(redis, keys),
    instanceId,
    now,
    guards,
    alerts,
  };
  const ops = createOperations(deps);
  return {
    ...deps,
    auditKeys,
    ops,
    async close() {
      await guards.stop();
      await Promise.all(deps.brokers.map((b) => b.close?.().catch(() => {})));
      redis.disconnect();
    },
  };
}
