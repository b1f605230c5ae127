// A local Slack speaking Socket Mode (https://api.slack.com/apis/socket-mode): `apps.connections.open` (an app-level
// `xapp-` token) answers a ws:// URL on this server; each WebSocket connection gets `hello`; the test sends envelopes
// (`{"envelope_id","type":"slash_commands"|"interactive"|"events_api","payload","accepts_response_payload",
// "retry_attempt","retry_reason"}`) and reads the acks (`{"envelope_id","payload"?}`); `disconnect` asks the client
// to reconnect as Slack does when it recycles a host. Also the Web API methods the bot calls (auth.test,
// chat.postMessage, views.publish) and response_url posts under /response/, all recorded.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

export interface Connection {
  id: number;
  ws: WebSocket;
  acks: { envelope_id: string; payload?: unknown }[];
  closed: boolean;
}

export interface Recorded {
  path: string;
  auth: string | undefined;
  body: Record<string, unknown>;
}

export class SocketModeSlack {
  readonly connections: Connection[] = [];
  readonly calls: Recorded[] = [];
  /** Number of apps.connections.open calls. */
  opens = 0;
  private server!: Server;
  private wss!: WebSocketServer;
  private waiters: (() => void)[] = [];
  url = "";

  static async start(): Promise<SocketModeSlack> {
    const s = new SocketModeSlack();
    await s.listen();
    return s;
  }

  get apiUrl(): string {
    return `${this.url}/api/`;
  }
  responseUrl(): string {
    return `${this.url}/response/${randomBytes(4).toString("hex")}`;
  }

  private async listen() {
    this.server = createServer((req, res) => void this.http(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on("upgrade", (req, socket, head) => {
      if (!req.url?.startsWith("/link/")) return socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws));
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", () => r()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private onConnection(ws: WebSocket) {
    const conn: Connection = { id: this.connections.length + 1, ws, acks: [], closed: false };
    this.connections.push(conn);
    ws.on("message", (data) => {
      try {
        const m = JSON.parse(String(data)) as { envelope_id?: string; payload?: unknown };
        if (m.envelope_id) conn.acks.push({ envelope_id: m.envelope_id, payload: m.payload });
      } catch {
        // a client never sends anything else; ignore
      }
      this.wake();
    });
    ws.on("close", () => {
      conn.closed = true;
      this.wake();
    });
    ws.send(
      JSON.stringify({
        type: "hello",
        num_connections: this.connections.filter((c) => !c.closed).length,
        debug_info: { host: "applink-test", build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: "A0TG" },
      }),
    );
    this.wake();
  }

  private async http(req: IncomingMessage, res: import("node:http").ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: Record<string, unknown> = {};
    try {
      body = (req.headers["content-type"] ?? "").includes("json")
        ? JSON.parse(raw || "{}")
        : Object.fromEntries(new URLSearchParams(raw));
    } catch {
      body = { raw };
    }
    const path = req.url ?? "";
    this.calls.push({ path, auth: req.headers.authorization, body });
    this.wake();
    const json = (v: unknown) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(v));
    };
    if (path.startsWith("/api/apps.connections.open")) {
      if (!req.headers.authorization?.startsWith("Bearer xapp-"))
        return json({ ok: false, error: "not_allowed_token_type" });
      this.opens++;
      return json({ ok: true, url: `${this.url.replace("http:", "ws:")}/link/?ticket=${randomUUID()}&app_id=A0TG` });
    }
    if (path.startsWith("/api/auth.test"))
      return json({ ok: true, user_id: "UBOT", bot_id: "BBOT", team_id: "T0001", user: "tradeguard" });
    if (path.startsWith("/api/chat.postMessage"))
      return json({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` });
    return json({ ok: true });
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `pred` holds (checked on every message, call and connection), or rejects after `ms`. */
  async until<T>(pred: () => T | undefined | false, what: string, ms = 10_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = pred();
      if (v) return v;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`socket-mode slack: timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Open connections, oldest first. */
  open(): Connection[] {
    return this.connections.filter((c) => !c.closed);
  }

  /** Sends an envelope on `conn`; returns its envelope_id. */
  send(
    conn: Connection,
    type: "slash_commands" | "interactive" | "events_api",
    payload: unknown,
    opts: { envelopeId?: string; retryAttempt?: number } = {},
  ): string {
    const envelope_id = opts.envelopeId ?? randomUUID();
    conn.ws.send(
      JSON.stringify({
        envelope_id,
        type,
        payload,
        accepts_response_payload: type !== "events_api",
        ...(type === "events_api"
          ? { retry_attempt: opts.retryAttempt ?? 0, retry_reason: opts.retryAttempt ? "timeout" : "" }
          : {}),
      }),
    );
    return envelope_id;
  }

  /** Asks the client on `conn` to reconnect, as Slack does before recycling the host. */
  disconnect(conn: Connection, reason: "refresh_requested" | "warning" | "link_disabled" = "refresh_requested") {
    conn.ws.send(JSON.stringify({ type: "disconnect", reason, debug_info: { host: "applink-test" } }));
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    await new Promise<void>((r) => this.wss.close(() => r()));
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A slash command payload as Slack delivers it over Socket Mode (the same fields as the HTTP form body). */
export function slashPayload(command: string, text: string, user: string, responseUrl: string) {
  return {
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
  };
}

/** A block_actions payload (one button click). */
export function buttonPayload(actionId: string, value: string, user: string, responseUrl: string) {
  return {
    type: "block_actions",
    user: { id: user, username: user.toLowerCase(), team_id: "T0001" },
    api_app_id: "A0TG",
    token: "deprecated",
    container: { type: "message", message_ts: "1700000000.000100", channel_id: "C0OPS", is_ephemeral: false },
    trigger_id: `${Date.now()}.${randomBytes(4).toString("hex")}`,
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
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
}
