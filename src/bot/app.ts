// The Slack transport: Bolt over HTTP (POST /slack/events through the guarded receiver, which checks signature,
// timestamp and body shape before Bolt sees a byte) or Socket Mode, plus /healthz and /metrics; in local mode (no
// Slack tokens) only the HTTP endpoints. Middleware: delivery de-dup, roles (from the handler list). One error path
// (app.error). Every outgoing call (Web API, response_url, the error reply) has a timeout. No business logic, no
// background work: the handlers and the services are handed in by the composition root.
import type { Server } from "node:http";
import {
  type AnyMiddlewareArgs,
  App,
  type Authorize,
  type Logger as BoltLogger,
  LogLevel,
  type Middleware,
  SocketModeReceiver,
  webApi,
} from "@slack/bolt";
import type { Role } from "../config.js";
import type { Logger } from "../log.js";
import { within } from "../ops/within.js";
import type { Runtime } from "../runtime.js";
import { connectionLost } from "../state/redis.js";
import { handleSlackError } from "./errors.js";
import type { SlackHandler } from "./handler.js";
import { httpRoutes, startPlainServer } from "./http-routes.js";
import { GuardedReceiver } from "./receiver.js";

/** How long one outgoing HTTP call to Slack (Web API attempt, response_url post) may take. */
export const SLACK_HTTP_TIMEOUT_MS = 5_000;
/** How long the de-dup check may take (a frozen Redis must not hold a delivery past Slack's 3 s). */
const DEDUP_WAIT_MS = 1_000;
/** How long a request waits for the bot's first auth.test (its ids); after that, never. */
const AUTH_TEST_WAIT_MS = 1_000;

/** fetch with a deadline: the caller's signal, if any, and `timeoutMs`, whichever fires first. */
export function fetchWithTimeout(timeoutMs: number): typeof fetch {
  return (input, init) => {
    const deadline = AbortSignal.timeout(timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return fetch(input, { ...init, signal });
  };
}

/** The options of every Slack Web API client: base URL, a timeout per attempt, and bounded retries. */
export function slackClientOptions(apiUrl: string | undefined, timeoutMs = SLACK_HTTP_TIMEOUT_MS) {
  return {
    slackApiUrl: slackApiUrl(apiUrl),
    timeout: timeoutMs,
    fetch: fetchWithTimeout(timeoutMs),
    // At most 3 attempts, 0.5 s then 1 s apart: a Slack that is down costs a call ~3 timeouts, not 30 minutes.
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 1_000, maxRetryTime: 4 * timeoutMs },
  };
}

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

/**
 * Bolt's authorization for the one bot token. Bolt's own (for `token`) calls auth.test once when the app is built and keeps the
 * promise: with Slack's Web API unreachable at start-up that rejection went unhandled (the process exited 1) and
 * every later request failed authorization, so no panic click reached its handler. Here the token is always
 * returned; the bot's ids (for Bolt's ignoreSelf) are added once auth.test answers, and looked up again while it
 * does not. Only the first request waits for it, and briefly.
 */
function botAuthorize(client: webApi.WebClient, token: string, log: Logger): Authorize<boolean> {
  let ids: { botUserId?: string; botId?: string } | null = null;
  let pending: Promise<void> | null = null;
  let tried = false;
  const lookup = () => {
    pending ??= client.auth
      .test({ token })
      .then(
        (r) => {
          ids = { botUserId: r.user_id, botId: r.bot_id };
        },
        (err) => log.warn({ err }, "Slack auth.test failed; serving without the bot's ids until it answers"),
      )
      .finally(() => {
        pending = null;
      });
    return pending;
  };
  return async () => {
    if (!ids) {
      const first = !tried;
      tried = true;
      const p = lookup();
      if (first) await within(p, AUTH_TEST_WAIT_MS, "auth.test").catch(() => {});
    }
    return { botToken: token, ...ids };
  };
}

/**
 * Drops duplicate deliveries (Slack retries, replays): each event/interaction id is processed once across replicas.
 * It fails open: with Redis away (or failing) a delivery goes through un-deduplicated, because the operations behind
 * it are safe to run twice (a second panic joins the first by id; flattening a flat book is a no-op) and a kill
 * switch that refuses a click because its de-dup store is down would fail closed.
 */
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
      let fresh: string | null = "OK";
      if (connectionLost(rt.redis)) rt.log.warn({ id }, "Redis is away: Slack delivery not de-duplicated");
      else
        fresh = await within(rt.redis.set(rt.keys.dedup(id), "1", "EX", 3600, "NX"), DEDUP_WAIT_MS, "de-dup").catch(
          (err) => {
            rt.log.warn({ err, id }, "de-dup check failed (Redis?): Slack delivery not de-duplicated");
            return "OK";
          },
        );
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

/**
 * Builds the Bolt app for Slack modes: middleware, every handler of the list, the error path. `now` is the clock
 * request timestamps are checked against (default: the runtime's); `httpTimeoutMs` bounds each outgoing call.
 */
export function createSlackApp(
  rt: Runtime,
  handlers: readonly SlackHandler[],
  opts: { now?: () => number; httpTimeoutMs?: number } = {},
): { app: App; receiver: GuardedReceiver | null } {
  const c = rt.config;
  const logger = boltLogger(rt.log);
  const clientOptions = slackClientOptions(c.slack.apiUrl, opts.httpTimeoutMs);
  const authClient = new webApi.WebClient(undefined, { ...clientOptions, logger });
  const authorize = botAuthorize(authClient, c.slack.botToken!, rt.log);
  let receiver: GuardedReceiver | null = null;
  let app: App;
  if (c.mode === "slack-socket") {
    // The receiver is built here so its own Web API client (apps.connections.open) gets SLACK_API_URL and the
    // timeouts too: Bolt hands a socket-mode receiver only `installerOptions.clientOptions`, not `clientOptions`.
    const socket = new SocketModeReceiver({
      appToken: c.slack.appToken!,
      logger,
      installerOptions: { clientOptions },
    });
    app = new App({ authorize, receiver: socket, logger, clientOptions, extendedErrorHandler: true });
  } else {
    receiver = new GuardedReceiver({
      signingSecret: c.slack.signingSecret!,
      endpoint: "/slack/events",
      customRoutes: httpRoutes(rt),
      logger,
      log: rt.log,
      metrics: rt.metrics,
      now: opts.now ?? (() => rt.now().getTime()),
      unhandledRequestTimeoutMillis: 3001,
    });
    app = new App({ authorize, receiver, logger, clientOptions, extendedErrorHandler: true });
  }
  app.use(dedup(rt));
  app.use(roles(rt, new Map(handlers.filter((h) => h.command).map((h) => [h.command!, h.role ?? null]))));
  for (const h of handlers) {
    if (h.command && h.onCommand) app.command(h.command, h.onCommand(rt));
    h.register?.(app, rt);
  }
  const errorDeps = { log: rt.log, metrics: rt.metrics, fetch: clientOptions.fetch };
  app.error((async ({ error, body }: { error: Error; body: unknown }) =>
    handleSlackError(error, body, errorDeps)) as Parameters<App["error"]>[0]);
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
