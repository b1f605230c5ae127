// Slack on the wire: requests signed exactly as Slack signs them (v0 HMAC-SHA256 of "v0:<ts>:<body>"), and a local
// fake of the Web API (SLACK_API_URL) and of response_url that records every call.
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** Slack's request signature for `body` at `ts` (seconds). */
export function slackSignature(secret: string, ts: number, body: string): string {
  return `v0=${createHmac("sha256", secret).update(`v0:${ts}:${body}`).digest("hex")}`;
}

/** POSTs a signed request to the receiver; `ts` and `signature` let a test break the timestamp or the signature. */
export async function postSigned(
  url: string,
  secret: string,
  body: string,
  opts: {
    contentType?: string;
    ts?: number;
    signature?: string;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<{ status: number; text: string }> {
  const ts = opts.ts ?? Math.floor(Date.now() / 1000);
  const res = await fetch(url, {
    method: "POST",
    signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000), // a test never waits forever on a bot that died
    headers: {
      "content-type": opts.contentType ?? "application/x-www-form-urlencoded",
      "x-slack-request-timestamp": String(ts),
      "x-slack-signature": opts.signature ?? slackSignature(secret, ts, body),
      ...opts.headers,
    },
    body,
  });
  return { status: res.status, text: await res.text() };
}

/** Form body of a slash command. */
export function commandBody(command: string, text: string, user: string, responseUrl: string): string {
  return new URLSearchParams({
    token: "deprecated",
    team_id: "T0001",
    team_domain: "desk",
    channel_id: "C0OPS",
    channel_name: "trading-ops",
    user_id: user,
    user_name: user.toLowerCase(),
    command,
    text,
    api_app_id: "A0TG",
    is_enterprise_install: "false",
    response_url: responseUrl,
    trigger_id: `${Date.now()}.${randomBytes(4).toString("hex")}`,
  }).toString();
}

/** Form body of a block_actions interaction with one button click. */
export function blockActionBody(
  actionId: string,
  value: string,
  user: string,
  responseUrl: string,
  opts: { triggerId?: string; actionTs?: string } = {},
): string {
  const payload = {
    type: "block_actions",
    user: { id: user, username: user.toLowerCase(), team_id: "T0001" },
    api_app_id: "A0TG",
    token: "deprecated",
    container: { type: "message", message_ts: "1700000000.000100", channel_id: "C0OPS", is_ephemeral: true },
    trigger_id: opts.triggerId ?? `${Date.now()}.${randomBytes(4).toString("hex")}`,
    team: { id: "T0001", domain: "desk" },
    channel: { id: "C0OPS", name: "trading-ops" },
    response_url: responseUrl,
    actions: [
      {
        action_id: actionId,
        block_id: "b1",
        text: { type: "plain_text", text: "x" },
        value,
        type: "button",
        action_ts: opts.actionTs ?? `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface RecordedCall {
  path: string;
  body: Record<string, unknown>;
  /** The raw request body (the bytes of a file upload). */
  bytes: Buffer;
  contentType: string;
}

/** A file as the fake's external upload flow holds it (files.getUploadURLExternal, then a POST to its URL). */
export interface FakeUpload {
  id: string;
  filename: string;
  length: number;
  altText: string | null;
  bytes: Buffer | null;
}

/**
 * A fake Slack: Web API methods under /api/, response_url posts under /response/, and the external file upload flow
 * (https://docs.slack.dev/reference/methods/files.getUploadURLExternal): files.getUploadURLExternal needs `filename`
 * and `length` and returns an upload URL under /upload/<file id>; a POST of the bytes there answers
 * `uploadStatus` (200, "OK - <length>"); files.completeUploadExternal takes `files` (a JSON array of {id, title}) and
 * refuses ids never reserved, never uploaded, or uploaded with another length than reserved (invalid_arguments).
 */
export async function startFakeSlack(): Promise<{
  url: string;
  apiUrl: string;
  responseUrl: (n?: string) => string;
  calls: RecordedCall[];
  uploads: Map<string, FakeUpload>;
  /** HTTP status the upload URL answers (a test sets 500 to see a failed upload). */
  uploadStatus: number;
  close: () => Promise<void>;
  waitFor: (pred: (c: RecordedCall) => boolean, timeoutMs?: number) => Promise<RecordedCall>;
}> {
  const calls: RecordedCall[] = [];
  const uploads = new Map<string, FakeUpload>();
  const homeHashes = new Map<string, string>();
  let nextFile = 1;
  const state = { uploadStatus: 200 };
  const waiters: { pred: (c: RecordedCall) => boolean; resolve: (c: RecordedCall) => void }[] = [];
  const server: Server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const bytes = Buffer.concat(chunks);
    const raw = bytes.toString();
    const contentType = req.headers["content-type"] ?? "";
    let body: Record<string, unknown> = {};
    if (contentType.includes("json")) body = raw ? JSON.parse(raw) : {};
    else if (!/octet-stream|^image\//.test(contentType)) body = Object.fromEntries(new URLSearchParams(raw));
    for (const k of ["blocks", "attachments", "files", "view"])
      if (typeof body[k] === "string") body[k] = JSON.parse(body[k] as string);
    const call = { path: req.url ?? "", body, bytes, contentType };
    calls.push(call);
    for (const w of [...waiters])
      if (w.pred(call)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
    if (call.path.startsWith("/fail/")) {
      res.writeHead(Number(call.path.split("/")[2]) || 500, { "content-type": "text/plain" });
      return res.end("failure injected by the test");
    }
    if (call.path.startsWith("/upload/")) {
      const u = uploads.get(call.path.slice("/upload/".length));
      if (!u) {
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end("no such upload");
      }
      if (state.uploadStatus !== 200) {
        res.writeHead(state.uploadStatus, { "content-type": "text/plain" });
        return res.end("failure injected by the test");
      }
      u.bytes = bytes;
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end(`OK - ${bytes.length}`);
    }
    res.writeHead(200, { "content-type": "application/json" });
    if (call.path.startsWith("/api/auth.test"))
      return res.end(
        JSON.stringify({ ok: true, user_id: "UBOT", bot_id: "BBOT", team_id: "T0001", user: "tradeguard" }),
      );
    if (call.path.startsWith("/api/chat.postMessage"))
      return res.end(JSON.stringify({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` }));
    if (call.path.startsWith("/api/files.getUploadURLExternal")) {
      const length = Number(body.length);
      if (typeof body.filename !== "string" || !body.filename || !Number.isInteger(length) || length < 0)
        return res.end(JSON.stringify({ ok: false, error: "invalid_arguments" }));
      const id = `F${String(nextFile++).padStart(9, "0")}`;
      const altText = typeof body.alt_txt === "string" ? body.alt_txt : null;
      uploads.set(id, { id, filename: body.filename, length, altText, bytes: null });
      return res.end(JSON.stringify({ ok: true, upload_url: `${url}/upload/${id}`, file_id: id }));
    }
    if (call.path.startsWith("/api/files.completeUploadExternal")) {
      const files = Array.isArray(body.files) ? (body.files as { id?: unknown; title?: unknown }[]) : [];
      const ok =
        files.length > 0 &&
        files.every((f) => {
          const u = typeof f.id === "string" ? uploads.get(f.id) : undefined;
          return u?.bytes && u.bytes.length === u.length;
        });
      if (!ok) return res.end(JSON.stringify({ ok: false, error: "invalid_arguments" }));
      return res.end(
        JSON.stringify({
          ok: true,
          files: files.map((f) => ({ id: f.id, title: f.title ?? uploads.get(f.id as string)!.filename })),
        }),
      );
    }
    if (call.path.startsWith("/api/views.publish")) {
      // Slack's optimistic lock: a `hash` that is not the tab's current one is refused (hash_conflict); every
      // published view gets a new hash, returned with it.
      const user = String(body.user_id ?? "");
      if (typeof body.hash === "string" && body.hash !== homeHashes.get(user))
        return res.end(JSON.stringify({ ok: false, error: "hash_conflict" }));
      const hash = `${Date.now()}.${randomBytes(4).toString("hex")}`;
      homeHashes.set(user, hash);
      return res.end(JSON.stringify({ ok: true, view: { id: `V${user}`, type: "home", hash } }));
    }
    res.end(JSON.stringify({ ok: true }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    apiUrl: `${url}/api/`,
    responseUrl: (n = randomBytes(3).toString("hex")) => `${url}/response/${n}`,
    calls,
    uploads,
    get uploadStatus() {
      return state.uploadStatus;
    },
    set uploadStatus(v: number) {
      state.uploadStatus = v;
    },
    close: () => new Promise((r) => server.close(() => r())),
    waitFor(pred, timeoutMs = 10_000) {
      const found = calls.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(`no matching Slack call within ${timeoutMs} ms; calls: ${calls.map((c) => c.path).join(", ")}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (c) => {
            clearTimeout(t);
            resolve(c);
          },
        });
      });
    },
  };
}

/** Form body of an interaction: `payload=<JSON of payload>` (any value: tests send broken ones too). */
export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

/**
 * An HTTP server that accepts every request and never answers. `open()` counts the connections holding a request it
 * never answered (what a call without a timeout leaks); `connections()` counts every open connection, idle ones too
 * (undici opens a spare one after an aborted request and closes it when idle, after ~4 s).
 */
export async function startHangingServer(): Promise<{
  url: string;
  open: () => number;
  connections: () => number;
  /** Requests received so far (their paths). */
  requests: string[];
  close: () => Promise<void>;
}> {
  const sockets = new Set<Socket>();
  const busy = new Set<Socket>();
  const requests: string[] = [];
  const server: Server = createServer((req) => {
    requests.push(req.url ?? "");
    busy.add(req.socket);
    req.resume(); // read the body, answer nothing
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => {
      sockets.delete(s);
      busy.delete(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    open: () => busy.size,
    connections: () => sockets.size,
    requests,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
