// The checks `tradeguard doctor` runs and the bot logs at start-up. Each asks the real thing with a bounded wait (a
// PING and a write, auth.test, a read-only broker call, an SNTP query, HeadBucket, the chain head's signature) and
// says what it found in one line; none changes state other than its own short-lived probe key.
import { createHash, type KeyObject } from "node:crypto";
import type { Redis } from "ioredis";
import { verifySignature } from "../audit/chain.js";
import { tailEntries } from "../audit/log.js";
import type { Broker } from "../brokers/broker.js";
import type { Config } from "../config.js";
import { sntpQuery } from "../jobs/sntp.js";
import type { Keys } from "../state/keys.js";

export type CheckStatus = "ok" | "warn" | "fail" | "skip";

export interface CheckResult {
  /** Short name, e.g. "redis", "broker paper". */
  name: string;
  status: CheckStatus;
  detail: string;
  ms: number;
}

/** Bounds every check: no check may hold up the doctor (or the bot's start-up) longer than this. */
export const CHECK_TIMEOUT_MS = 5_000;

export function message(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code ?? (err.cause as { code?: unknown } | undefined)?.code;
    return code && !err.message.includes(String(code)) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

/** Runs `fn` within CHECK_TIMEOUT_MS and times it; a throw is a failure with its message. */
export async function timed(
  name: string,
  fn: (signal: AbortSignal) => Promise<{ status: CheckStatus; detail: string }>,
): Promise<CheckResult> {
  const started = performance.now();
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ac.abort();
      reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s`));
    }, CHECK_TIMEOUT_MS);
  });
  try {
    const r = await Promise.race([fn(ac.signal), timeout]);
    return { name, ...r, ms: Math.round(performance.now() - started) };
  } catch (err) {
    return { name, status: "fail", detail: message(err), ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/** Reachable, writable (a probe key set, read back and deleted), and what replication it sees. */
export async function checkRedis(redis: Redis, keys: Keys, instanceId: string) {
  return timed("redis", async () => {
    const info = await redis.info("replication");
    const field = (k: string) => new RegExp(`^${k}:(.*)$`, "m").exec(info)?.[1]?.trim();
    if (field("role") === "slave")
      return {
        status: "fail",
        detail: `connected to a read-only replica (of ${field("master_host")}:${field("master_port")}), not the primary`,
      };
    const probe = keys.raw(`doctor:probe:${instanceId}`);
    const token = `${Date.now()}`;
    await redis.set(probe, token, "PX", 10_000);
    const back = await redis.get(probe);
    await redis.del(probe);
    if (back !== token) return { status: "fail", detail: `wrote ${probe} but read back ${JSON.stringify(back)}` };
    const replicas = Number(field("connected_slaves") ?? 0);
    return {
      status: "ok",
      detail: `writable primary, ${replicas} replica${replicas === 1 ? "" : "s"} connected`,
    };
  });
}

/** The audit key is loaded and the chain head (if any) is signed with it: every replica must share one key. */
export async function checkAuditKey(redis: Redis, keys: Keys, publicKey: KeyObject) {
  return timed("audit key", async () => {
    const fp = fingerprint(publicKey);
    const [head] = await tailEntries({ kind: "redis", redis, keys }, 1);
    if (!head) return { status: "ok", detail: `key ${fp}; the chain is empty` };
    let entry: { seq?: unknown; hash?: unknown; sig?: unknown };
    try {
      entry = JSON.parse(head);
    } catch {
      return { status: "fail", detail: "the chain head is not JSON: run tradeguard audit verify" };
    }
    if (typeof entry.hash !== "string" || typeof entry.sig !== "string")
      return { status: "fail", detail: "the chain head has no hash/sig: run tradeguard audit verify" };
    return verifySignature(entry.hash, entry.sig, publicKey)
      ? { status: "ok", detail: `key ${fp} signed the chain head (seq ${entry.seq})` }
      : {
          status: "fail",
          detail: `the chain head (seq ${entry.seq}) is not signed by this key (${fp}): replicas must share one AUDIT_KEY_FILE`,
        };
  });
}

/** First 16 hex digits of the SHA-256 of the public key (SPKI DER): enough to tell keys apart in a log. */
export function fingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("hex")
    .slice(0, 16);
}

interface SlackReply {
  ok: boolean;
  error?: string;
  team?: string;
  user?: string;
  channel?: { name?: string; is_member?: boolean; is_archived?: boolean };
}

async function slackCall(config: Config, method: string, params: Record<string, string>, signal: AbortSignal) {
  const base = config.slack.apiUrl ?? "https://slack.com/api/";
  const res = await fetch(`${base.endsWith("/") ? base : `${base}/`}${method}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${config.slack.botToken}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(params).toString(),
    signal,
  });
  if (!res.ok) throw new Error(`${method}: HTTP ${res.status}`);
  return (await res.json()) as SlackReply;
}

/** The bot token (auth.test) and the alert channel (conversations.info: it exists and the bot is in it). */
export async function checkSlack(config: Config): Promise<CheckResult[]> {
  if (config.mode === "local")
    return [
      { name: "slack", status: "skip", detail: "local mode (no SLACK_BOT_TOKEN): alerts go to the console", ms: 0 },
    ];
  const token = await timed("slack token", async (signal) => {
    const r = await slackCall(config, "auth.test", {}, signal);
    return r.ok
      ? { status: "ok", detail: `auth.test ok: ${r.user ?? "?"} in ${r.team ?? "?"}` }
      : { status: "fail", detail: `auth.test: ${r.error ?? "not ok"}` };
  });
  const channel = config.slack.alertChannel;
  if (!channel)
    return [
      token,
      {
        name: "slack alert channel",
        status: "warn",
        detail: "SLACK_ALERT_CHANNEL is not set: alerts go to the console",
        ms: 0,
      },
    ];
  const ch = await timed("slack alert channel", async (signal) => {
    const r = await slackCall(config, "conversations.info", { channel }, signal);
    if (!r.ok)
      return r.error === "missing_scope"
        ? { status: "warn", detail: `cannot check ${channel}: the token lacks channels:read (add it to see this)` }
        : { status: "fail", detail: `conversations.info ${channel}: ${r.error ?? "not ok"}` };
    if (r.channel?.is_archived) return { status: "fail", detail: `#${r.channel.name} is archived` };
    if (r.channel?.is_member === false)
      return { status: "fail", detail: `the bot is not in #${r.channel.name}: /invite it there` };
    return { status: "ok", detail: `#${r.channel?.name ?? channel} reachable` };
  });
  return [token, ch];
}

/** One authenticated read-only call per broker (its positions), in parallel. */
export function checkBrokers(brokers: readonly Broker[]): Promise<CheckResult[]> {
  if (brokers.length === 0)
    return Promise.resolve([{ name: "brokers", status: "warn", detail: "no broker configured", ms: 0 }]);
  return Promise.all(
    brokers.map((b) =>
      timed(`broker ${b.name}`, async (signal) => {
        const positions = await b.listPositions({ signal });
        return { status: "ok", detail: `${b.kind}: authenticated, ${positions.length} open position(s)` };
      }),
    ),
  );
}

/** The time_sync guard's NTP servers answer (skipped while the guard is not configured). */
export async function checkNtp(config: Config): Promise<CheckResult[]> {
  const g = config.guards.time_sync;
  if (!g || g.notConfigured || !g.enabled)
    return [{ name: "ntp", status: "skip", detail: g?.notConfigured ?? "the time_sync guard is off", ms: 0 }];
  const servers = ((g.settings as { servers?: string[] }).servers ?? []).slice(0, 8);
  if (servers.length === 0) return [{ name: "ntp", status: "skip", detail: "no NTP servers configured", ms: 0 }];
  return Promise.all(
    servers.map((s) =>
      timed(`ntp ${s}`, async (signal) => {
        const r = await sntpQuery(s, { timeoutMs: 2_000, signal });
        return { status: "ok", detail: `stratum ${r.stratum}, offset ${Math.round(r.offsetMs)} ms` };
      }),
    ),
  );
}
