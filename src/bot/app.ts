// The Slack transport: Bolt over HTTP (POST /slack/events, signatures verified by Bolt) or Socket Mode, plus
// /healthz and /metrics; in local mode (no Slack tokens) only the HTTP endpoints. Middleware: delivery de-dup,
// roles. One error path (app.error).
import type { Server } from "node:http";
import {
  type AnyMiddlewareArgs,
  App,
  type Logger as BoltLogger,
  HTTPReceiver,
  LogLevel,
  type Middleware,
} from "@slack/bolt";
import type { Role } from "../config.js";
import { register as registerAlerts } from "../handlers/alerts.js";
import { register as registerClear } from "../handlers/clear.js";
import { register as registerHome } from "../handlers/home.js";
import { register as registerPanic } from "../handlers/panic.js";
import { register as registerRunbook } from "../handlers/runbook.js";
import { register as registerStatus } from "../handlers/status.js";
import { startPolicyRestartRelay } from "../jobs/policy-restart-relay.js";
import { policyWatchdog } from "../jobs/policy-watchdog.js";
import type { Logger } from "../log.js";
import type { Runtime } from "../main.js";
import { handleSlackError } from "./errors.js";
import { httpRoutes, startPlainServer } from "./http-routes.js";
import { commandRoles, ids } from "./ids.js";

/** The Slack Web API base URL (SLACK_API_URL), with the trailing slash the client expects. */
export function slackApiUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  return url.endsWith("/") ? url : `${url}/`;
}

/** Bolt's logger interface over pino. */
export function boltLogger(log: Logger): BoltLogger {
  let level = LogLevel.INFO;
  const child = log.child({ component: "bolt" });
  return {
    debug: (...m) => child.debug(m.map(String).join(" ")),
    info: (...m) => child.info(m.map(String).join(" ")),
    warn: (...m) => child.warn(m.map(String).join(" ")),
    error: (...m) => child.error(m.map(String).join(" ")),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

const actionRoles: Record<string, Role> = {
  [ids.panicConfirm]: "panic",
  [ids.clearApprove]: "approve",
};

/** Drops duplicate deliveries (Slack retries, replays): each event/interaction id is processed once across replicas. */
function dedup(rt: Runtime): Middleware<AnyMiddlewareArgs> {
  return async ({ body, next, ...rest }) => {
    const b = body as {
      event_id?: string;
      trigger_id?: string;
      actions?: { action_ts?: string }[];
      user?: { id?: string };
    };
    const id =
      b.event_id ??
      (b.trigger_id && b.actions?.[0]?.action_ts ? `${b.trigger_id}:${b.actions[0].action_ts}` : b.trigger_id);
    if (id) {
      const fresh = await rt.redis.set(rt.keys.dedup(id), "1", "EX", 3600, "NX");
      if (fresh !== "OK") {
        rt.log.info({ id }, "duplicate Slack delivery dropped");
        rt.metrics.slackRequests.inc({ kind: "duplicate", outcome: "dropped" });
        const ack = (rest as { ack?: () => Promise<void> }).ack;
        if (ack) await ack();
        return;
      }
    }
    await next();
  };
}

/** Enforces the roles config on commands and buttons; a refusal is acked, audited and answered. */
function roles(rt: Runtime): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const b = args.body as {
      command?: string;
      user_id?: string;
      user?: { id?: string };
      actions?: { action_id?: string }[];
    };
    let role: Role | null = null;
    let what = "";
    if (b.command) {
      role = (commandRoles as Record<string, Role | null>)[b.command] ?? null;
      what = b.command;
    } else if (b.actions?.[0]?.action_id) {
      role = actionRoles[b.actions[0].action_id] ?? null;
      what = b.actions[0].action_id;
    }
    const actor = b.user_id ?? b.user?.id ?? "";
    rt.metrics.slackRequests.inc({ kind: b.command ? "command" : b.actions ? "action" : "other", outcome: "received" });
    if (role) {
      try {
        await rt.ops.authorize(actor, role, what);
      } catch (err) {
        const ack = (args as { ack?: () => Promise<void> }).ack;
        if (ack) await ack();
        throw err;
      }
    }
    await args.next();
  };
}

/** Answers commands declared in the manifest that this version does not implement, plainly. */
function registerUnavailable(app: App): void {
  for (const cmd of ["/recon", "/rotate"]) {
    app.command(cmd, async ({ ack }) => {
      await ack({ response_type: "ephemeral", text: `\`${cmd}\` is not available in this version of tradeguard yet.` });
    });
  }
}

export interface RunningBot {
  /** The HTTP server (Bolt's receiver or the plain one). */
  server: Server;
  stop(): Promise<void>;
}

/** Builds the Bolt app for Slack modes (registering middleware, handlers and the error path). */
export function createSlackApp(rt: Runtime): { app: App; receiver: HTTPReceiver | null } {
  const c = rt.config;
  const logger = boltLogger(rt.log);
  const clientOptions = { slackApiUrl: slackApiUrl(c.slack.apiUrl), retryConfig: { retries: 2 } };
  let receiver: HTTPReceiver | null = null;
  let app: App;
  if (c.mode === "slack-socket") {
    app = new App({
      token: c.slack.botToken,
      appToken: c.slack.appToken,
      socketMode: true,
      logger,
      clientOptions,
      extendedErrorHandler: true,
    });
  } else {
    receiver = new HTTPReceiver({
      signingSecret: c.slack.signingSecret!,
      endpoints: "/slack/events",
      customRoutes: httpRoutes(rt),
      logger,
      unhandledRequestTimeoutMillis: 3001,
    });
    app = new App({ token: c.slack.botToken, receiver, logger, clientOptions, extendedErrorHandler: true });
  }
  app.use(dedup(rt));
  app.use(roles(rt));
  registerPanic(app, rt);
  registerClear(app, rt);
  registerStatus(app, rt);
  registerHome(app, rt);
  registerRunbook(app, rt);
  registerAlerts(app, rt);
  registerUnavailable(app);
  app.error((async ({ error, body }: { error: Error; body: unknown }) =>
    handleSlackError(error, body, rt)) as Parameters<App["error"]>[0]);
  return { app, receiver };
}

/** Starts the bot in the configured mode and its background duties; resolves once it is listening. */
export async function startBot(rt: Runtime): Promise<RunningBot> {
  const c = rt.config;
  const timers: NodeJS.Timeout[] = [];
  let server: Server;
  let app: App | null = null;
  if (c.mode === "slack-http") {
    const built = createSlackApp(rt);
    app = built.app;
    server = (await app.start({ port: c.http.port, host: c.http.host })) as Server;
  } else {
    server = await startPlainServer(rt, c.http.host, c.http.port);
    if (c.mode === "slack-socket") {
      app = createSlackApp(rt).app;
      await app.start();
    }
  }
  // Heartbeat for the trading processes' dead-man's switch, and the end of resume soaks.
  const beat = () =>
    rt.redis
      .set(rt.keys.heartbeatBot, String(Date.now()))
      .catch((err) => rt.log.warn({ err }, "heartbeat write failed"));
  void beat();
  timers.push(setInterval(beat, 5_000));
  rt.guards.start();
  // The policy daemon's restart requests, relayed to a webhook/command when configured.
  const policyCfg = policyWatchdog.config.parse(c.guards.policy_watchdog ?? {});
  const relay =
    policyCfg.restart_webhook || policyCfg.restart_command
      ? await startPolicyRestartRelay({
          subscriber: rt.redis.duplicate(),
          redis: rt.redis,
          keys: rt.keys,
          log: rt.log,
          webhook: policyCfg.restart_webhook,
          command: policyCfg.restart_command,
          timeoutMs: policyCfg.restart_timeout_ms,
          instanceId: rt.instanceId,
        })
      : null;
  timers.push(
    setInterval(() => void rt.ops.resume.soakTick().catch((err) => rt.log.warn({ err }, "soak check failed")), 2_000),
  );
  // An unfinished panic (this bot died mid-panic) is resumed now; it runs in the background.
  void rt.ops.panic
    .resumeUnfinished()
    .then((r) => r && rt.log.warn({ panic_id: r.id, status: r.status }, "resumed an unfinished panic"))
    .catch((err) => rt.log.error({ err }, "could not resume the unfinished panic"));
  const addr = server.address();
  rt.log.info(
    { mode: c.mode, address: typeof addr === "object" && addr ? `${addr.address}:${addr.port}` : addr },
    `tradeguard started (${c.mode})`,
  );
  return {
    server,
    async stop() {
      for (const t of timers) clearInterval(t);
      await rt.guards.stop();
      await relay?.close();
      if (app) await app.stop().catch(() => {});
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
