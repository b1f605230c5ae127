// The guarded Slack HTTP receiver: Bolt's HTTPReceiver behind a gate that reads the body itself (bounded in size and
// time), checks Slack's v0 signature and the timestamp in both directions, and validates the body's shape with zod
// before Bolt parses it. Bolt dereferences whatever a signed body holds: `null` killed the process (ssl_check of
// null), a slash command with an `event` field or team_id=constructor and an interaction without a user answered
// 500, and Bolt's own check let a request stamped in the future through. What passes is handed to Bolt with
// `req.rawBody` set (Bolt reuses a buffered body), so Bolt sees exactly the bytes that were checked; its own
// signature check is off because this one is stricter and uses the runtime's clock. Everything refused is answered
// at once (400 shape, 401 signature/timestamp, 408/413 body) with a short JSON error and logged with a short,
// censored preview; nothing here answers 5xx or leaves Slack waiting past its 3 s.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { parse as parseQuery } from "node:querystring";
import {
  type App,
  type BufferedIncomingMessage,
  ErrorCode,
  HTTPReceiver,
  type HTTPReceiverOptions,
  type ReceiverEvent,
} from "@slack/bolt";
import { z } from "zod";
import { describeError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";

/** Bolt's default body limit (4 MB). */
export const BODY_LIMIT = 4 * 1024 * 1024;
/** Slack's replay window: a request stamped further from now than this, either way, is refused. */
export const MAX_SKEW_SECONDS = 5 * 60;
/** A body still arriving after this is refused: Slack sends the whole request at once and waits 3 s for the answer. */
const BODY_READ_MS = 2_000;
const FORM = "application/x-www-form-urlencoded";

type Check = { ok: true } | { ok: false; why: string };

/** Checks Slack's request signature (v0 HMAC-SHA256 of "v0:<ts>:<body bytes>") and its timestamp against `nowMs`. */
export function verifySlackSignature(a: {
  secret: string;
  body: Buffer;
  timestamp: string | string[] | undefined;
  signature: string | string[] | undefined;
  nowMs: number;
}): Check {
  if (typeof a.timestamp !== "string" || !/^\d{1,12}$/.test(a.timestamp))
    return { ok: false, why: "missing or malformed x-slack-request-timestamp" };
  if (Math.abs(a.nowMs / 1000 - Number(a.timestamp)) > MAX_SKEW_SECONDS)
    return { ok: false, why: "x-slack-request-timestamp is more than 5 minutes from now (replay or clock skew)" };
  if (typeof a.signature !== "string" || !/^v0=[0-9a-f]{64}$/.test(a.signature))
    return { ok: false, why: "missing or malformed x-slack-signature" };
  const expected = createHmac("sha256", a.secret).update(`v0:${a.timestamp}:`).update(a.body).digest();
  if (!timingSafeEqual(Buffer.from(a.signature.slice(3), "hex"), expected))
    return { ok: false, why: "signature mismatch" };
  return { ok: true };
}

/** The first characters of a refused body for the log, with token/secret values masked and control characters shown. */
export function bodyPreview(raw: Buffer, max = 64): string {
  const text = raw.subarray(0, max * 4).toString("utf8");
  const masked = text.replace(/((?:token|secret|password|signature)[^=:&"]{0,20}["']?\s*[=:]\s*"?)[^&"\s,}]*/gi, "$1…");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is replaced
  const shown = [...masked.replace(/[\u0000-\u001f\u007f]/g, "·")].slice(0, max).join("");
  return raw.length > max ? `${shown}…` : shown;
}

// ---- The shapes Slack sends, as far as Bolt and the middleware read them. Unknown fields pass (Slack adds fields;
// a kill switch must not start refusing /panic because of one); fields Bolt dereferences must have the shape it
// assumes, and ids that Bolt uses as object keys must be Slack ids (upper-case letters and digits), so no
// "constructor" or "__proto__" reaches a lookup.

const slackId = z.string().regex(/^[A-Z][A-Z0-9]{1,63}$/, "not a Slack id");
const short = z.string().max(256);
const httpUrl = z
  .string()
  .max(2_048)
  .regex(/^https?:\/\/\S+$/, "not an http(s) URL")
  .refine((u) => URL.canParse(u), "not a URL");
const triggerId = z.string().regex(/^[A-Za-z0-9._-]{1,255}$/, "not a trigger id");
const absent = z.never().optional();

/** A slash command's form fields. `event` would make Bolt treat it as an event; `payload` here is a repeated key. */
const slashCommand = z.looseObject({
  command: z.string().regex(/^\/[\p{L}\p{N}_.-]{1,80}$/u, "not a slash command"),
  text: z.string().max(12_000),
  user_id: slackId,
  team_id: slackId,
  enterprise_id: slackId.optional(),
  channel_id: slackId.optional(),
  api_app_id: slackId.optional(),
  response_url: httpUrl,
  trigger_id: triggerId,
  is_enterprise_install: z.enum(["true", "false"]).optional(),
  token: short.optional(),
  team_domain: short.optional(),
  enterprise_name: short.optional(),
  channel_name: short.optional(),
  user_name: short.optional(),
  event: absent,
  payload: absent,
});

const INTERACTION_TYPES = [
  "block_actions",
  "block_suggestion",
  "interactive_message",
  "dialog_submission",
  "dialog_cancellation",
  "dialog_suggestion",
  "message_action",
  "shortcut",
  "view_submission",
  "view_closed",
  "workflow_step_edit",
] as const;

/** An interaction payload (`payload=<JSON>`): Bolt reads user.id, team.id, channel.id, actions[0], view.*. */
const interaction = z
  .looseObject({
    type: z.enum(INTERACTION_TYPES),
    user: z.looseObject({ id: slackId, team_id: slackId.optional() }),
    team: z.looseObject({ id: slackId, enterprise_id: slackId.optional() }).nullable().optional(),
    enterprise: z.looseObject({ id: slackId }).nullable().optional(),
    channel: z.looseObject({ id: slackId.optional() }).optional(),
    actions: z
      .array(z.looseObject({ action_id: short.optional(), action_ts: short.optional(), block_id: short.optional() }))
      .min(1)
      .optional(),
    view: z.looseObject({ app_installed_team_id: slackId.optional() }).optional(),
    response_url: httpUrl.optional(),
    response_urls: z.array(z.looseObject({ response_url: httpUrl })).optional(),
    trigger_id: triggerId.optional(),
    function_data: z.looseObject({}).optional(),
    is_enterprise_install: z.boolean().optional(),
  })
  .refine((p) => p.type !== "block_actions" || p.actions, { message: "block_actions without actions" })
  .refine((p) => !p.type.startsWith("view_") || p.view, { message: "view interaction without a view" });

/**
 * The event of an event_callback: Bolt uses `in` on it and on item/channel, reads user.id and subteam.*, and for a
 * function_executed event builds complete()/fail() from its function_execution_id (throwing when there is none).
 */
const event = z
  .looseObject({
    type: z.string().min(1).max(100),
    user: z.union([short, z.looseObject({ id: short.optional() })]).optional(),
    channel: z.union([short, z.looseObject({})]).optional(),
    channel_id: short.optional(),
    item: z.looseObject({}).optional(),
    subteam: z.looseObject({}).optional(),
    function_execution_id: short.optional(),
  })
  .refine((e) => e.type !== "function_executed" || e.function_execution_id, {
    message: "function_executed without function_execution_id",
  });
const authorization = z.looseObject({
  team_id: slackId.nullable().optional(),
  enterprise_id: slackId.nullable().optional(),
  is_enterprise_install: z.boolean().optional(),
});

/** An Events API body. */
const eventsBody = z.discriminatedUnion("type", [
  z.looseObject({
    type: z.literal("event_callback"),
    team_id: slackId.optional(),
    enterprise_id: slackId.nullable().optional(),
    api_app_id: slackId.optional(),
    event_id: triggerId.optional(),
    event,
    authorizations: z.array(authorization).optional(),
    is_enterprise_install: z.boolean().optional(),
  }),
  z.looseObject({ type: z.literal("url_verification"), challenge: z.string().max(1_000) }),
  z.looseObject({ type: z.literal("app_rate_limited"), team_id: slackId.optional(), event: absent }),
]);

/** Why `result` failed, in a line (paths and zod's messages; never the values). */
function issues(result: { success: boolean; error?: z.ZodError }): string | null {
  if (result.success) return null;
  const all = result.error!.issues;
  const list = all.slice(0, 3).map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
  return `${list.join("; ")}${all.length > 3 ? ` (+${all.length - 3} more)` : ""}`.slice(0, 300);
}

/** What is wrong with a signed body, parsed the way Bolt will parse it (form or JSON), or null when Bolt may have it. */
export function slackBodyProblem(text: string, form: boolean): string | null {
  if (form) {
    const q = parseQuery(text);
    if (typeof q.payload !== "string") return issues(slashCommand.safeParse(q));
    let payload: unknown;
    try {
      payload = JSON.parse(q.payload);
    } catch {
      return "payload is not JSON";
    }
    return issues(interaction.safeParse(payload));
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return "body is not JSON";
  }
  return issues(eventsBody.safeParse(body));
}

type BodyRead = { body: Buffer } | { status: 400 | 408 | 413; error: string };

/** Reads the request body, giving up beyond `limit` bytes or `timeoutMs`. */
function readBody(req: IncomingMessage, limit: number, timeoutMs: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    if (Number(req.headers["content-length"]) > limit) return resolve({ status: 413, error: "body_too_large" });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const done = (r: BodyRead) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off("data", onData);
      if (!("body" in r)) req.resume(); // the rest is discarded; the answer closes the connection
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) done({ status: 413, error: "body_too_large" });
      else chunks.push(c);
    };
    const timer = setTimeout(() => done({ status: 408, error: "body_timeout" }), timeoutMs);
    req.on("data", onData);
    req.once("end", () => done({ body: Buffer.concat(chunks) }));
    req.once("error", () => done({ status: 400, error: "body_unreadable" }));
    req.once("close", () => done({ status: 400, error: "body_incomplete" }));
  });
}

/** Answers with a short JSON error (and closes the connection: the client may still be sending). */
function refuse(res: ServerResponse, status: number, error: string, detail?: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json", connection: "close" });
  res.end(JSON.stringify(detail ? { error, detail } : { error }));
}

export interface GuardedReceiverOptions
  extends Omit<
    HTTPReceiverOptions,
    "endpoints" | "signatureVerification" | "dispatchErrorHandler" | "processEventErrorHandler"
  > {
  /** The one path Slack posts to. */
  endpoint: string;
  log: Logger;
  metrics: Metrics;
  /** The clock the timestamp is checked against (milliseconds). */
  now?: () => number;
}

/** Bolt's HTTP receiver with the gate in front of its Slack endpoint (see the top of this file). */
export class GuardedReceiver extends HTTPReceiver {
  private readonly gate: {
    secret: string;
    limit: number;
    log: Logger;
    metrics: Metrics;
    now: () => number;
  };

  constructor(opts: GuardedReceiverOptions) {
    const { endpoint, log, metrics, now, ...bolt } = opts;
    super({
      ...bolt,
      endpoints: endpoint,
      signatureVerification: false, // checked by the gate, both ways, on the bytes Bolt then parses
      bodyLimit: bolt.bodyLimit ?? BODY_LIMIT,
      dispatchErrorHandler: ({ error, request, response }) => {
        if ((error as { code?: string }).code === ErrorCode.HTTPReceiverDeferredRequestError) {
          refuse(response, 404, "not_found");
          return;
        }
        log.warn({ err: error, method: request.method }, "HTTP request Bolt could not route");
        refuse(response, 400, "bad_request");
      },
      processEventErrorHandler: async ({ error, response }) => {
        // A delivery that passed the gate and still failed inside Bolt: an ephemeral error with a correlation id
        // (the slash command's user sees it), never a 500 that Slack would retry.
        const d = describeError(error);
        metrics.errors.inc({ code: "unexpected" });
        log.error(
          { err: error, correlationId: d.correlationId },
          `Bolt failed on a Slack request (correlation id ${d.correlationId})`,
        );
        if (response.headersSent) return false;
        response.writeHead(200, { "content-type": "application/json" });
        response.end(JSON.stringify({ response_type: "ephemeral", text: `:no_entry: ${d.message}` }));
        return true;
      },
    });
    this.gate = {
      secret: bolt.signingSecret,
      limit: typeof bolt.bodyLimit === "number" ? bolt.bodyLimit : BODY_LIMIT,
      log: log.child({ component: "slack-receiver" }),
      metrics,
      now: now ?? Date.now,
    };
    const boltListener: RequestListener = this.requestListener;
    this.requestListener = (req, res) => {
      let path: string;
      try {
        path = new URL(req.url ?? "/", "http://localhost").pathname;
      } catch {
        return refuse(res, 400, "bad_url");
      }
      if (req.method !== "POST" || path !== endpoint) return boltListener(req, res);
      this.guard(req, res, boltListener).catch((err) => {
        this.gate.log.error({ err }, "the Slack request gate failed; refusing the request");
        refuse(res, 400, "refused");
      });
    };
  }

  /** Acknowledges, at once and empty, a delivery no listener acknowledged (Bolt would answer 404 after 3 s). */
  override init(app: App): void {
    // Bolt's receiver only ever calls processEvent on the app it is given.
    const withFallbackAck = {
      processEvent: async (event: ReceiverEvent) => {
        let acked = false;
        await app.processEvent({
          ...event,
          ack: (response?: unknown) => {
            acked = true;
            return event.ack(response);
          },
        });
        if (!acked) await event.ack().catch(() => {}); // the 3 s timer may have answered already
      },
    };
    super.init(withFallbackAck as unknown as App);
  }

  private async guard(req: IncomingMessage, res: ServerResponse, bolt: RequestListener): Promise<void> {
    const g = this.gate;
    const read = await readBody(req, g.limit, BODY_READ_MS);
    const contentType = req.headers["content-type"];
    const refused = (status: number, error: string, why: string, raw?: Buffer) => {
      g.metrics.slackRequests.inc({ kind: "refused", outcome: String(status) });
      g.log.warn(
        { status, why, contentType, bytes: raw?.length, preview: raw ? bodyPreview(raw) : undefined },
        `Slack request refused (${status}): ${why}`,
      );
      refuse(res, status, error, why);
    };
    if (!("body" in read)) return refused(read.status, read.error, read.error.replace("_", " "));
    const raw = read.body;
    // Bolt decides form vs JSON by this exact header value; the gate must judge the body the way Bolt will parse it.
    const form = contentType === FORM;
    const text = raw.toString("utf8");
    if (form && parseQuery(text).ssl_check === "1") {
      // Slack's SSL check is unsigned; Bolt answers it. Nothing else in the body reaches Bolt.
      (req as BufferedIncomingMessage).rawBody = Buffer.from("ssl_check=1");
      return bolt(req, res);
    }
    const signed = verifySlackSignature({
      secret: g.secret,
      body: raw,
      timestamp: req.headers["x-slack-request-timestamp"],
      signature: req.headers["x-slack-signature"],
      nowMs: g.now(),
    });
    if (!signed.ok) return refused(401, "invalid_signature", signed.why, raw);
    const problem = slackBodyProblem(text, form);
    if (problem) return refused(400, "invalid_body", problem, raw);
    (req as BufferedIncomingMessage).rawBody = raw;
    bolt(req, res);
  }
}
