// The composition root: config → logger → Redis → audit → brokers → operations → guard engine. Nothing else creates
// clients. src/services.ts starts what runs in the background; src/bot the Slack transport; src/cli the CLI.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { anchor, fileCheckpointSink } from "./audit/anchor.js";
import { type AuditKeys, loadAuditKey } from "./audit/keyfile.js";
import type { AuditSource } from "./audit/log.js";
import { AuditLog } from "./audit/log.js";
import { HOME_SECTION } from "./bot/home-settings.js";
import { alertView } from "./bot/views/alert.js";
import type { Broker } from "./brokers/broker.js";
import { createBrokers } from "./brokers/index.js";
import { type Config, loadConfig } from "./config.js";
import { ConfigError } from "./errors.js";
import { AlertPipeline, PacedQueue } from "./jobs/alerts.js";
import { withCost } from "./jobs/cost.js";
import { declareDrFreshness } from "./jobs/dr-freshness.js";
import { declareEndpointLatency, withEndpointLatency } from "./jobs/endpoint-latency.js";
import { budgetSource } from "./jobs/error-budget-source.js";
import type { Guard } from "./jobs/guard.js";
import { allGuards } from "./jobs/registry.js";
import { GuardRunner } from "./jobs/runner.js";
import { declareS3Drift, withS3Drift } from "./jobs/s3-drift.js";
import { withSlippage } from "./jobs/slippage.js";
import { createMetrics } from "./metrics.js";
import { MONITORING_SECTION } from "./monitoring/config.js";
import { ConsoleNotifier } from "./notify.js";
import { ClearStore } from "./ops/clear-store.js";
import type { OpsDeps } from "./ops/deps.js";
import { createOperations } from "./ops/index.js";
import { confirmationKey } from "./ops/panic-confirm.js";
import { PanicStore } from "./ops/panic-store.js";
import { REPORT_SECTIONS } from "./reports/config.js";
import type { Runtime, RuntimeOptions } from "./runtime.js";
import { bucketOf, S3_SECTIONS, s3Of } from "./s3/config.js";
import { createSecretStore } from "./secrets/index.js";
import type { SecretStore } from "./secrets/store.js";
import { createKeys, type Keys } from "./state/keys.js";
import { ModeStore } from "./state/mode.js";
import { createRedis } from "./state/redis.js";

/** Parses the configuration once, with the settings of every registered guard. */
export function loadAppConfig(env: Record<string, string | undefined> = process.env): Config {
  return declareDrFreshness(
    declareEndpointLatency(
      declareS3Drift(
        loadConfig(env, allGuards, [...S3_SECTIONS, MONITORING_SECTION, ...REPORT_SECTIONS, HOME_SECTION]),
      ),
    ),
  );
}

/**
 * Builds everything an entry point (bot, CLI, test) needs from one parsed config. Redis is not probed here: every
 * operation tries it when it needs it and falls back only when a call actually fails.
 */
export async function createRuntime(config: Config, opts: RuntimeOptions): Promise<Runtime> {
  const log = opts.log;
  const auditKeys = loadAuditKey(config.audit.keyFile, { create: config.mode === "local" });
  const redis = createRedis(config.redis, {
    interactive: opts.interactive,
    name: opts.interactive ? "tradeguard-cli" : "tradeguard-bot",
  });
  const keys = createKeys(config.redis.prefix);
  const metrics = createMetrics();
  const audit = new AuditLog({ redis, keys, signer: auditKeys, file: config.audit.file, log });
  const notifier = opts.notifier ?? new ConsoleNotifier();
  const instanceId = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const now = opts.now ?? (() => new Date());
  let anchoring: Promise<{ tick(): Promise<unknown> }> | null = null;
  const pendingAnchors = new Set<Promise<void>>();
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
    // The adapters are built below (after the secret store); the probe looks them up when it runs.
    guards: opts.guards ?? bindGuards(allGuards, config, { redis, keys, brokers: () => deps.brokers }),
    alerts,
    audit,
    instanceId,
    now,
  });
  // A secret store that cannot be opened must not stop a panic: every call then fails with the reason.
  let secrets: SecretStore;
  try {
    secrets = createSecretStore(config.secrets, { home: config.home, env: config.env, mode: config.mode, log });
  } catch (err) {
    log.error({ err }, "secret store unusable; managed brokers have no credentials");
    secrets = unusableStore((err as Error).message);
  }
  // A managed broker starts with its CURRENT key; a store that cannot be read leaves it without one (said loudly).
  const credentials = async (name: string) => {
    try {
      const c = await secrets.get(name, "CURRENT");
      if (!c) log.error({ secret: name }, `secret store: no CURRENT credential for ${name} (tradeguard secrets stage)`);
      return c ? { keyId: c.keyId, secret: c.secret, password: c.password } : null;
    } catch (err) {
      log.error({ err, secret: name }, "secret store: could not read a managed broker's credential");
      return null;
    }
  };
  const deps: OpsDeps = {
    config,
    log,
    redis,
    keys,
    mode: new ModeStore(redis, keys),
    audit,
    brokers: await createBrokers(config, redis, keys, credentials),
    secrets,
    metrics,
    notifier,
    panicStore: new PanicStore(redis, keys),
    clearStore: new ClearStore(redis, keys),
    instanceId,
    confirmKey: confirmationKey(auditKeys.privateKey),
    now,
    guards,
    alerts,
    budgets: budgetSource(redis, config.redis.prefix, config),
    anchorNow: () => {
      const source = { kind: "redis" as const, redis, keys };
      // With an audit bucket the S3 module (and the SDK) is loaded on first use; without one, the local file.
      anchoring ??= bucketOf(s3Of(config), "audit")
        ? import("./s3/anchoring.js").then((m) => m.createAnchoring({ config, source, signer: auditKeys }))
        : Promise.resolve(localAnchoring(join(config.home, "checkpoints.jsonl"), source, auditKeys));
      const p = anchoring.then((a) => a.tick()).then(() => {});
      pendingAnchors.add(p);
      void p.then(
        () => pendingAnchors.delete(p),
        () => pendingAnchors.delete(p),
      );
      return p;
    },
  };
  const ops = createOperations(deps);
  return {
    ...deps,
    guards,
    alerts,
    auditKeys,
    ops,
    async close() {
      await guards.stop();
      await ops.panic.close();
      // A checkpoint being written (after a panic from the CLI) is finished before the process exits, bounded.
      if (pendingAnchors.size) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          Promise.allSettled([...pendingAnchors]),
          new Promise((r) => {
            timer = setTimeout(r, 10_000);
          }),
        ]);
        clearTimeout(timer);
      }
      if (!(await audit.drained()))
        log.error("audit: entries were still being written at exit; the local audit file has what was committed");
      await Promise.all(
        deps.brokers.map((b) => b.close?.().catch((err) => log.warn({ err, broker: b.name }, "broker close failed"))),
      );
      redis.disconnect();
    },
  };
}

/**
 * `guards` with the probes that need this process's clients bound (S3, Cost Explorer, the ledger cursor, the broker
 * adapters). A guard the result holds as a different object than `guards` has such a probe (`tradeguard guards run
 * --at` leaves those out: their probes write or call out).
 */
export function bindGuards(
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
  guards: Guard<any, any, any>[],
  config: Config,
  io: { redis: Redis; keys: Keys; brokers: () => readonly Broker[] },
  // biome-ignore lint/suspicious/noExplicitAny: see above
): Guard<any, any, any>[] {
  const { redis, keys } = io;
  return withEndpointLatency(
    withSlippage(withCost(withS3Drift(guards, config), { redis, keys, config }), { redis, keys }),
    config,
    io.brokers,
    redis,
    keys,
  );
}

/** Anchoring without S3: checkpoints to a local JSONL file, one at a time. */
function localAnchoring(file: string, source: AuditSource, signer: AuditKeys): { tick(): Promise<unknown> } {
  const sink = fileCheckpointSink(file);
  let running: Promise<unknown> = Promise.resolve();
  return {
    tick() {
      const run = running.then(() => anchor({ source, sink, signer }));
      running = run.catch(() => {});
      return run;
    },
  };
}

/** A secret store whose every call fails with `why` (its configuration could not be used). */
function unusableStore(why: string): SecretStore {
  const fail = async (): Promise<never> => {
    throw new ConfigError(`secret store: ${why}`);
  };
  return {
    kind: "local",
    versions: fail,
    get: fail,
    stage: fail,
    promote: fail,
    demote: fail,
    discardPending: fail,
    retire: fail,
  };
}
