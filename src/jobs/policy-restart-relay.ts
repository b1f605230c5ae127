// Relays the policy watchdog's restart requests (pub/sub `<prefix>policy:restart`) to a webhook and/or a command,
// for policy daemons that do not subscribe to the channel themselves. Guards never do I/O, so this is the one place
// a restart request leaves Redis. With several bot replicas subscribed, a SET NX on the request id lets exactly one
// of them act. Pub/sub drops messages while a subscriber is disconnected; the watchdog republishes every
// `restart_cooldown_ms` while the daemon stays unhealthy, so a dropped request is retried, not lost.
import { execFile } from "node:child_process";
import type { Redis } from "ioredis";
import type { Logger } from "../log.js";
import type { Keys } from "../state/keys.js";
import { POLICY_KEYS } from "../state/keys.js";
import { type RestartRequest, restartRequestSchema } from "./policy-watchdog.js";

export interface RestartRelayOptions {
  /** A dedicated connection (ioredis puts a subscribed connection in subscriber mode); the relay closes it. */
  subscriber: Redis;
  /** A normal connection, for the de-duplication mark. */
  redis: Redis;
  keys: Keys;
  log: Logger;
  /** POST the request JSON here. */
  webhook?: string;
  /** Run this argv, with the request JSON in the environment variable TRADEGUARD_RESTART_REQUEST. */
  command?: string[];
  timeoutMs?: number;
  instanceId: string;
  /** Called after each message is handled (tests, metrics). */
  onHandled?: (outcome: RelayOutcome) => void;
}

export type RelayOutcome =
  | {
      id: string;
      relayed: true;
      webhook?: { status: number } | { error: string };
      command?: { code: number } | { error: string };
    }
  | { id: string | null; relayed: false; reason: "duplicate" | "invalid" };

/** How long a request id stays claimed (replicas de-duplicate within this). */
const DEDUP_MS = 600_000;

/** Subscribes to the restart channel and relays each request once; resolves when subscribed. */
export async function startPolicyRestartRelay(opts: RestartRelayOptions): Promise<{ close(): Promise<void> }> {
  const channel = opts.keys.raw(POLICY_KEYS.restartChannel);
  const timeoutMs = opts.timeoutMs ?? 10_000;

  const relay = async (raw: string): Promise<RelayOutcome> => {
    let req: RestartRequest;
    try {
      req = restartRequestSchema.parse(JSON.parse(raw));
    } catch {
      opts.log.warn({ channel, message: raw.slice(0, 200) }, "policy restart relay: ignoring an unreadable message");
      return { id: null, relayed: false, reason: "invalid" };
    }
    const mark = await opts.redis.set(
      opts.keys.raw(`policy:restart:relayed:${req.id}`),
      opts.instanceId,
      "PX",
      DEDUP_MS,
      "NX",
    );
    if (mark !== "OK") return { id: req.id, relayed: false, reason: "duplicate" };
    const out: Extract<RelayOutcome, { relayed: true }> = { id: req.id, relayed: true };
    if (opts.webhook) {
      try {
        const res = await fetch(opts.webhook, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: raw,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body?.cancel();
        out.webhook = { status: res.status };
        if (!res.ok) opts.log.error({ id: req.id, status: res.status }, "policy restart webhook refused the request");
      } catch (err) {
        out.webhook = { error: (err as Error).message };
        opts.log.error({ err, id: req.id }, "policy restart webhook failed");
      }
    }
    if (opts.command?.length) {
      const [file, ...args] = opts.command as [string, ...string[]];
      out.command = await new Promise((resolve) => {
        execFile(
          file,
          args,
          { timeout: timeoutMs, env: { ...process.env, TRADEGUARD_RESTART_REQUEST: raw } },
          (err) => {
            if (!err) return resolve({ code: 0 });
            const code = (err as { code?: unknown }).code;
            opts.log.error({ err, id: req.id }, "policy restart command failed");
            resolve(typeof code === "number" ? { code } : { error: err.message });
          },
        );
      });
    }
    opts.log.warn({ ...out, reasons: req.reasons }, "policy restart request relayed");
    return out;
  };

  const onMessage = (ch: string, message: string) => {
    if (ch !== channel) return;
    void relay(message)
      .then((o) => opts.onHandled?.(o))
      .catch((err) => opts.log.error({ err }, "policy restart relay failed"));
  };
  opts.subscriber.on("message", onMessage);
  try {
    await opts.subscriber.subscribe(channel);
  } catch (err) {
    opts.subscriber.off("message", onMessage);
    opts.subscriber.disconnect();
    throw err;
  }
  return {
    /** Stops relaying and closes the dedicated subscriber connection (the relay owns it). */
    async close() {
      opts.subscriber.off("message", onMessage);
      await opts.subscriber.unsubscribe(channel).catch(() => {});
      opts.subscriber.disconnect();
    },
  };
}
