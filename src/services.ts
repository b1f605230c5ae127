// The bot's lifecycle, beside the composition root: the Slack transport (src/bot) with every handler
// (src/handlers), and the background duties — the heartbeat trading processes' dead-man's switch reads, the guard
// schedules, the policy restart relay, the end of resume soaks, and the recovery of a panic left unfinished (at
// start-up, whenever Redis comes back, and every few seconds). `tradeguard start`, tests and benchmarks call
// startBot; nothing in src/bot starts background work.
import type { Server } from "node:http";
import { startTransport } from "./bot/app.js";
import { createFileUploader } from "./bot/files.js";
import { startHomePublisher } from "./bot/home-publisher.js";
import { handlers } from "./handlers/index.js";
import { drReminderJob } from "./jobs/dr-reminder-job.js";
import { keyRotationJob } from "./jobs/key-rotation-job.js";
import { startPolicyRestartRelay } from "./jobs/policy-restart-relay.js";
import type { PolicyWatchdogConfig } from "./jobs/policy-watchdog.js";
import { reconJob } from "./jobs/recon-job.js";
import { reportJob } from "./jobs/report-job.js";
import { scheduleJobs } from "./jobs/scheduled.js";
import { reportsOf } from "./reports/config.js";
import type { PublishDeps } from "./reports/publish.js";
import type { Runtime } from "./runtime.js";
import { anchorMinutesOf } from "./s3/config.js";
import { connectionLost, redisReachable } from "./state/redis.js";

const HEARTBEAT_MS = 5_000;
const SOAK_CHECK_MS = 2_000;
const RECOVERY_CHECK_MS = 3_000;
const RELAY_RETRY_MS = 5_000;

export interface RunningBot {
  /** The HTTP server (Bolt's receiver or the plain one). */
  server: Server;
  stop(): Promise<void>;
}

/** Starts the background duties; resolves at once (nothing here waits on Redis being up). */
export function startServices(rt: Runtime): { stop(): Promise<void> } {
  const { config: c, log } = rt;
  const timers: NodeJS.Timeout[] = [];
  let stopped = false;

  for (const g of rt.guards.notConfigured()) {
    if (c.mode === "local") log.info(`guard ${g.name} is off: ${g.detail}`);
    else log.warn({ guard: g.name }, `guard ${g.name} is off: ${g.detail}`);
  }

  const beat = () =>
    rt.redis.set(rt.keys.heartbeatBot, String(Date.now())).catch((err) => log.warn({ err }, "heartbeat write failed"));
  void beat();
  timers.push(setInterval(beat, HEARTBEAT_MS));

  rt.guards.start();
  // Scheduled operations (one replica per slot): the daily recon, the weekly key-age check, the monthly DR reminder.
  const scheduled = [
    ...(c.recon.enabled ? [reconJob(rt.ops.recon, c.recon.schedule, log)] : []),
    ...(rt.ops.secrets.managedNames().length ? [keyRotationJob(rt.ops.rotate, c.rotation.schedule)] : []),
    // The monthly DR rehearsal reminder, once a scratch Redis is named to rehearse into.
    ...(c.dr.reminder && c.dr.scratchUrl ? [drReminderJob(rt.ops.dr, c.dr.reminderSchedule)] : []),
    ...reportJobs(rt),
  ];
  const jobs = scheduleJobs(scheduled, {
    redis: rt.redis,
    keys: rt.keys,
    log,
    instanceId: rt.instanceId,
    audit: rt.audit,
  });

  timers.push(
    setInterval(
      () => void rt.ops.resume.soakTick().catch((err) => log.warn({ err }, "soak check failed")),
      SOAK_CHECK_MS,
    ),
  );

  // A panic this bot (or another process) left unfinished — it died, or Redis failed before the panic was recorded —
  // is resumed as soon as Redis answers: at start-up, on every reconnect, and on a timer in case an event was missed.
  let recovering = false;
  let again = false;
  const recover = () => {
    if (stopped || connectionLost(rt.redis)) return;
    if (recovering) {
      again = true; // e.g. Redis came back while a check was failing: check once more right after it
      return;
    }
    recovering = true;
    rt.ops.panic
      .resumeUnfinished()
      .then(
        (r) =>
          r &&
          r.status !== "RUNNING" &&
          log.warn({ panic_id: r.id, status: r.status }, "an unfinished panic is finished (resumed or followed)"),
      )
      .catch((err) => log.warn({ err }, "could not check for an unfinished panic (Redis?); retrying"))
      .finally(() => {
        recovering = false;
        if (again) {
          again = false;
          recover();
        }
      });
  };
  let wasDown = false;
  const onReady = () => {
    if (wasDown) log.warn("Redis is reachable again");
    wasDown = false;
    recover();
  };
  const onClose = () => {
    if (!wasDown && !stopped) log.error("lost the connection to Redis; operations fall back where they can");
    wasDown = true;
  };
  rt.redis.on("ready", onReady);
  rt.redis.on("close", onClose);
  recover();
  timers.push(setInterval(recover, RECOVERY_CHECK_MS));
  void redisReachable(rt.redis, 2_000).then((up) => {
    if (!up) {
      wasDown = true;
      log.error("Redis is unreachable at start-up; the bot keeps retrying and /healthz answers 503 until it is back");
    }
  });

  // Audit anchoring (docs/s3.md): every audit.anchor_minutes a signed checkpoint of the chain head, then the export
  // of new entries to the audit bucket. The S3 SDK is loaded on the first tick, not by every CLI process.
  const anchorTick = () => {
    if (stopped || connectionLost(rt.redis)) return;
    rt.anchorNow().catch((err) =>
      log.warn({ err }, "audit anchor failed; retrying at the next interval (RUNBOOK.md#sop-audit-anchor)"),
    );
  };
  timers.push(setInterval(anchorTick, anchorMinutesOf(c) * 60_000));

  // The policy daemon's restart requests, relayed to a webhook/command when configured; retried until subscribed.
  // Only while the watchdog that drives it runs (enabled and configured).
  const pw = c.guards.policy_watchdog;
  const policy = pw?.enabled && !pw.notConfigured ? (pw.settings as PolicyWatchdogConfig) : undefined;
  let relay: { close(): Promise<void> } | null = null;
  const startRelay = () => {
    if (stopped || !policy || !(policy.restart_webhook || policy.restart_command)) return;
    startPolicyRestartRelay({
      subscriber: rt.redis.duplicate(),
      redis: rt.redis,
      keys: rt.keys,
      log,
      webhook: policy.restart_webhook,
      command: policy.restart_command,
      timeoutMs: policy.restart_timeout_ms,
      instanceId: rt.instanceId,
    }).then(
      (r) => {
        if (stopped) void r.close();
        else relay = r;
      },
      (err) => {
        log.warn({ err }, "policy restart relay: could not subscribe; retrying");
        if (!stopped) timers.push(setTimeout(startRelay, RELAY_RETRY_MS));
      },
    );
  };
  startRelay();

  // Managed brokers use the key a rotation promoted (on any replica) from their next call: told on `secrets:rotated`,
  // and checked against the store every minute in case a message was missed while Redis was away.
  const keys = startKeyReload(rt, () => stopped);

  // App Home re-published to whoever opened it when what it shows changes (Slack modes only; src/bot/home-publisher.ts).
  const home = startHomePublisher(rt);

  return {
    async stop() {
      stopped = true;
      for (const t of timers) clearInterval(t);
      rt.redis.off("ready", onReady);
      rt.redis.off("close", onClose);
      await rt.guards.stop();
      await jobs.stop();
      await keys.stop();
      await home?.stop();
      await relay?.close();
    },
  };
}

/** Starts the bot: the transport of the configured mode with every handler, then the background duties. */
export async function startBot(rt: Runtime): Promise<RunningBot> {
  const transport = await startTransport(rt, handlers);
  const services = startServices(rt);
  const addr = transport.server.address();
  rt.log.info(
    { mode: rt.config.mode, address: typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : addr },
    `tradeguard started (${rt.config.mode})`,
  );
  return {
    server: transport.server,
    async stop() {
      await services.stop();
      await transport.stop();
    },
  };
}

/** Keeps managed brokers on the store's CURRENT key: reloaded on `secrets:rotated` and every minute. */
function startKeyReload(rt: Runtime, stopped: () => boolean): { stop(): Promise<void> } {
  const names = rt.ops.secrets.managedNames();
  if (names.length === 0) return { stop: async () => {} };
  const loaded = new Map<string, string>();
  const reload = async (name: string) => {
    const { broker, secret } = rt.ops.secrets.managed(name);
    const c = await rt.secrets.get(secret, "CURRENT");
    if (!c || loaded.get(name) === c.keyId) return;
    broker.setCredentials?.({ keyId: c.keyId, secret: c.secret, password: c.password });
    if (loaded.has(name)) rt.log.warn({ broker: name, key_id: c.keyId }, "managed broker now uses its new key");
    loaded.set(name, c.keyId);
  };
  const reloadAll = () => {
    for (const n of names) reload(n).catch((err) => rt.log.warn({ err, broker: n }, "could not reload a managed key"));
  };
  reloadAll();
  const timer = setInterval(reloadAll, 60_000);
  const sub = rt.redis.duplicate();
  sub.on("error", () => {});
  sub.on("message", (_ch, msg) => {
    let broker: unknown;
    try {
      broker = (JSON.parse(msg) as { broker?: unknown }).broker;
    } catch {
      broker = null;
    }
    if (typeof broker === "string" && names.includes(broker)) void reload(broker).catch(() => reloadAll());
    else reloadAll();
  });
  sub.subscribe(rt.keys.secretsRotated).catch((err) => {
    if (!stopped()) rt.log.warn({ err }, "could not subscribe to secrets:rotated; the minute check still reloads keys");
  });
  return {
    async stop() {
      clearInterval(timer);
      sub.disconnect();
    },
  };
}

/** The weekly and monthly report jobs (reports.enabled), posting with the charts to the alert channel. */
function reportJobs(rt: Runtime) {
  const r = reportsOf(rt.config);
  if (!r.enabled) return [];
  const deps: PublishDeps = {
    redis: rt.redis,
    keys: rt.keys,
    config: rt.config,
    now: rt.now,
    keyAges: () => rt.ops.secrets.list(),
    budgets: rt.budgets,
    audit: rt.audit,
    metrics: rt.metrics,
    notifier: rt.notifier,
    log: rt.log,
    uploader: createFileUploader(rt.config, rt.log),
  };
  return [reportJob("weekly", r.weekly_schedule, deps), reportJob("monthly", r.monthly_schedule, deps)];
}
