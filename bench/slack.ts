// Slack for the benchmarks: a light fake of the Web API and of response_url (it counts, and keeps only the bodies a
// benchmark asks for, so a load test does not fill memory), signed request headers, the environment of a real bot in
// Slack HTTP mode, and the bare Bolt apps the real one is measured against.
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { App, HTTPReceiver } from "@slack/bolt";
import { loadAuditKey } from "../src/audit/keyfile.js";

export const SECRET = "bench-signing-secret";

/** Slack's signature headers for `body`, stamped now. */
export function signed(body: string, contentType = "application/x-www-form-urlencoded"): Record<string, string> {
  const ts = String(Math.floor(Date.now() / 1000));
  return {
    "content-type": contentType,
    "x-slack-request-timestamp": ts,
    "x-slack-signature": `v0=${createHmac("sha256", SECRET).update(`v0:${ts}:${body}`).digest("hex")}`,
  };
}

/** A minimal Slack Web API (`/api/<method>`) plus response_url endpoints (`/response/<id>`). */
export class FakeSlack {
  /** response_url bodies kept, for paths starting with this (null: none kept). */
  keep: string | null = null;
  readonly responses = new Map<string, { at: number; body: string }[]>();
  responseCount = 0;

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeSlack> {
    let fake: FakeSlack | null = null;
    const server = createServer((req, res) => fake?.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    if (typeof addr !== "object" || !addr) throw new Error("fake Slack: no address");
    fake = new FakeSlack(server, addr.port);
    return fake;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const json = (v: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(v));
      };
      if (path === "/api/auth.test")
        return json({ ok: true, user_id: "UBOT", bot_id: "BBOT", team_id: "T1", team: "bench", user: "tradeguard" });
      if (path === "/api/chat.postMessage") return json({ ok: true, channel: "C0ALERTS", ts: `${Date.now() / 1000}` });
      if (path.startsWith("/response/")) {
        this.responseCount++;
        if (this.keep !== null && path.startsWith(this.keep)) {
          const list = this.responses.get(path) ?? [];
          list.push({ at, body: Buffer.concat(chunks).toString("utf8") });
          this.responses.set(path, list);
        }
        return json({ ok: true });
      }
      json({ ok: true });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The environment of a real bot in Slack HTTP mode: one paper broker (empty book), the fake Slack's Web API, its own
 * TRADEGUARD_HOME with a config file and an audit key (outside local mode the bot does not create one).
 */
export function botEnv(home: string, o: { redisUrl: string; prefix: string; slack: FakeSlack; port: number }) {
  const configFile = join(home, "tradeguard.yaml");
  writeFileSync(
    configFile,
    "brokers:\n  - name: paper1\n    kind: paper\n    latency_ms: 0\npanic:\n  deadline_ms: 10000\n",
  );
  loadAuditKey(join(home, "audit-key.pem"), { create: true });
  return {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: configFile,
    REDIS_URL: o.redisUrl,
    REDIS_PREFIX: o.prefix,
    SLACK_BOT_TOKEN: "xoxb-bench",
    SLACK_SIGNING_SECRET: SECRET,
    SLACK_API_URL: o.slack.url("/api/"),
    SLACK_ALERT_CHANNEL: "C0ALERTS",
    HOST: "127.0.0.1",
    PORT: String(o.port),
    LOG_LEVEL: "silent",
  };
}

/**
 * A bare Bolt app on Bolt's HTTP receiver (the one the bot's guarded receiver extends), signature checked by Bolt,
 * with only the listeners given; nothing else (no middleware, no Redis unless a listener uses it).
 */
export async function startBareApp(
  slackApiUrl: string,
  port: number,
  register: (app: App) => void,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const receiver = new HTTPReceiver({ signingSecret: SECRET, endpoints: "/slack/events" });
  const app = new App({
    receiver,
    authorize: async () => ({ botToken: "xoxb-bench", botId: "BBOT", botUserId: "UBOT" }),
    clientOptions: { slackApiUrl },
  });
  register(app);
  await app.start({ port, host: "127.0.0.1" });
  return { url: `http://127.0.0.1:${port}/slack/events`, stop: () => app.stop().then(() => {}) };
}
