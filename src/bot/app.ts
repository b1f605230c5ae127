// The Slack transport: Bolt over HTTP (POST /slack/events, signatures verified by Bolt) or Socket Mode, plus
// /healthz and /metrics; in local mode (no Slack tokens) only the HTTP endpoints. Middleware: delivery de-dup,
// roles (from the handler list). One error path (app.error). No business logic, no background work: the handlers
// and the services are handed in by the composition root.
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
import type { Logger } from "../log.js";
import type { Runtime } from "../runtime.js";
import { handleSlackError } from "./errors.js";
import type { SlackHandler } from "./handler.js";
import { httpRoutes, startPlainServer } from "./http-routes.js";

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

/**
 * Refuses a slash command early when the actor lacks the role its handler declares (acked, audited, answered). The
 * operations check again themselves: this only spares a refused user the work before the refusal.
 */
function roles(rt: Runtime, commandRoles: ReadonlyMap<string, Role | null>): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const b = args.body as { command?: string; user_id?: string; actions?: unknown[] };
    rt.metrics.slackRequests.inc({ kind: b.command ? "command" : b.actions ? "action" : "other", outcome: "received" });
    const role = b.command ? (commandRoles.get(b.command) ?? null) : null;
    if (role) {
      try {
        await rt.ops.authorize(b.user_id ?? "", role, b.command!);
      } catch (err) {
        const ack = (args as { ack?: () => Promise<void> }).ack;
        if (ack) await ack();
        throw err;
      }
    }
    await args.next();
  };
}

/** Builds the Bolt app for Slack modes: middleware, every handler of the list, the error path. */
export function createSlackApp(
  rt: Runtime,
  handlers: readonly SlackHandler[],
): { app: App; receiver: HTTPReceiver | null } {
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
  app.use(roles(rt, new Map(handlers.filter((h) => h.command).map((h) => [h.command!, h.role ?? null]))));
  for (const h of handlers) h.register(app, rt);
  app.error((async ({ error, body }: { error: Error; body: unknown }) =>
    handleSlackError(error, body, rt)) as Parameters<App["error"]>[0]);
  return { app, receiver };
}

export interface RunningTransport {
  /** The HTTP server (Bolt's receiver or the plain one). */
  server: Server;
  stop(): Promise<void>;
}

/** Starts the transport of the configured mode; resolves once it is listening. */
export async function startTransport(rt: Runtime, handlers: readonly SlackHandler[]): Promise<RunningTransport> {
  const c = rt.config;
  let server: Server;
  let app: App | null = null;
  if (c.mode === "slack-http") {
    app = createSlackApp(rt, handlers).app;
    server = (await app.start({ port: c.http.port, host: c.http.host })) as Server;
  } else {
    server = await startPlainServer(rt, c.http.host, c.http.port);
    if (c.mode === "slack-socket") {
      app = createSlackApp(rt, handlers).app;
      await app.start();
    }
  }
  return {
    server,
    async stop() {
      if (app) await app.stop().catch((err) => rt.log.warn({ err }, "Slack app stop failed"));
      if (server.listening) await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
