// The mode machine: `mode` + `mode:meta` change together with a PUBLISH on the mode channel, in one Lua step, so a
// trading process never sees a mode without its reason and never misses the change. The step is defined once here
// (MODE_LUA) and composed into every script that changes the mode (ModeStore.set, the panic's begin, the approval of
// a resume, the end of a soak), so a change to the mode contract is made in one place.
import type { Redis } from "ioredis";
import { z } from "zod";
import { isMode, type Keys, type Mode } from "./keys.js";
import { connectionGeneration } from "./redis.js";

/** Published on `<prefix>mode` on every change. */
export interface ModeEvent {
  mode: Mode;
  reason: string;
  actor: string;
  ts: string;
}

export interface ModeState {
  mode: Mode;
  reason: string | null;
  actor: string | null;
  since: string | null;
  panicId: string | null;
  /** Set when Redis held something that is not a mode: reported, treated as halt by readers that must fail safe. */
  invalid?: string;
}

/**
 * The one definition of a mode change, as a Lua function for scripts to prepend:
 * `tg_set_mode(modeKey, metaKey, channel, mode, reason, actor, since, panicId, event)` sets `mode`, replaces
 * `mode:meta` and publishes `event` — the ModeEvent JSON built by modeEventJson (so the bytes on the channel are
 * exactly `{"mode","reason","actor","ts"}` as docs/redis-keys.md says) — on the channel.
 *
 * `mode:meta.last_halt` is the `since` of the latest halt in this mode's history: a halt writes its own; every other
 * change carries the previous value over (or the previous halt's `since`, for a meta written before the field
 * existed). A mode whose `last_halt` is older than a halt someone saw does not descend from that halt: the halt was
 * lost (a Redis failover before it was replicated), and the gate and the panic's re-assertion act on that
 * (docs/redis-keys.md, "Failover"). The previous meta is read with pcall: garbage in it never stops a mode change.
 */
export const MODE_LUA = `
local function tg_set_mode(mode_key, meta_key, channel, mode, reason, actor, since, panic_id, event)
  local last_halt = since
  if mode ~= 'halt' then
    local ok, v = pcall(redis.call, 'HGET', meta_key, 'last_halt')
    last_halt = ok and v or false
    if not last_halt then
      local okm, cur = pcall(redis.call, 'GET', mode_key)
      local oks, s = pcall(redis.call, 'HGET', meta_key, 'since')
      if okm and cur == 'halt' and oks and s then last_halt = s end
    end
  end
  redis.call('SET', mode_key, mode)
  redis.call('DEL', meta_key)
  redis.call('HSET', meta_key, 'reason', reason, 'actor', actor, 'since', since, 'panic_id', panic_id)
  if last_halt then redis.call('HSET', meta_key, 'last_halt', last_halt) end
  redis.call('PUBLISH', channel, event)
end
`;

/** The message published on the mode channel for a change (the one place its shape is written). */
export function modeEventJson(mode: Mode, reason: string, actor: string, ts: string): string {
  const event: ModeEvent = { mode, reason, actor, ts };
  return JSON.stringify(event);
}

// KEYS: mode, mode:meta. ARGV: mode, reason, actor, since, panic_id, channel, allowed-from (csv or ""), event JSON.
// Returns {1, previous} on change, {0, current} when the current mode is not one the change is allowed from.
const SET_MODE = `${MODE_LUA}
local cur = redis.call('GET', KEYS[1])
if ARGV[7] ~= '' then
  local ok = false
  for m in string.gmatch(ARGV[7], '[^,]+') do
    if m == cur or (m == 'active' and cur == false) then ok = true end
  end
  if not ok then return {0, cur or ''} end
end
tg_set_mode(KEYS[1], KEYS[2], ARGV[6], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[8])
return {1, cur or ''}
`;

const metaSchema = z
  .object({
    reason: z.string().optional(),
    actor: z.string().optional(),
    since: z.string().optional(),
    panic_id: z.string().optional(),
  })
  .passthrough();

/** Reads and changes the trading mode. */
export class ModeStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
  ) {
    redis.defineCommand("tgSetMode", { numberOfKeys: 2, lua: SET_MODE });
  }

  /** The current mode with its meta; an absent key means `active` (nothing has ever halted trading). */
  async get(): Promise<ModeState> {
    const [[e1, mode], [e2, meta]] = (await this.redis
      .multi()
      .get(this.keys.mode)
      .hgetall(this.keys.modeMeta)
      .exec()) as [[Error | null, string | null], [Error | null, Record<string, string>]];
    if (e1) throw e1;
    if (e2) throw e2;
    const m = metaSchema.safeParse(meta ?? {});
    const md = m.success ? m.data : {};
    const base = {
      reason: md.reason || null,
      actor: md.actor || null,
      since: md.since || null,
      panicId: md.panic_id || null,
    };
    if (mode === null) return { mode: "active", ...base };
    if (!isMode(mode)) return { mode: "halt", ...base, invalid: `mode key holds ${JSON.stringify(mode)}` };
    return { mode, ...base };
  }

  /**
   * Changes the mode atomically and publishes the change. With `from`, the change only happens when the current
   * mode is one of those (compare-and-set); returns whether it changed and the mode before.
   */
  async set(
    mode: Mode,
    meta: { reason: string; actor: string; panicId?: string; now?: Date },
    from?: Mode[],
  ): Promise<{ changed: boolean; previous: Mode | null; event: ModeEvent }> {
    const ts = (meta.now ?? new Date()).toISOString();
    const event: ModeEvent = { mode, reason: meta.reason, actor: meta.actor, ts };
    const res = (await (this.redis as unknown as RedisWithScripts).tgSetMode(
      this.keys.mode,
      this.keys.modeMeta,
      mode,
      meta.reason,
      meta.actor,
      ts,
      meta.panicId ?? "",
      this.keys.modeChannel,
      from ? from.join(",") : "",
      JSON.stringify(event),
    )) as [number, string];
    const prev = res[1] === "" ? null : isMode(res[1]) ? res[1] : null;
    return { changed: res[0] === 1, previous: prev, event };
  }
}

interface RedisWithScripts {
  tgSetMode(...args: (string | number)[]): Promise<unknown>;
}

/** Parses a message from the mode channel; null when it is not a valid ModeEvent. */
export function parseModeEvent(message: string): ModeEvent | null {
  try {
    const v = JSON.parse(message) as Partial<ModeEvent>;
    if (isMode(v.mode) && typeof v.ts === "string") {
      return { mode: v.mode, reason: String(v.reason ?? ""), actor: String(v.actor ?? ""), ts: v.ts };
    }
  } catch {
    // not JSON: ignored below
  }
  return null;
}

/** Whether a write reached the replicas (checkReplication). */
export type ReplicationOutcome = "replicated" | "no_replicas" | "not_replicated" | "unknown";

export interface ReplicationCheck {
  /**
   * replicated: `replicas` acknowledged it; no_replicas: the primary has none connected and none could take over (one
   * server, or Sentinel knows no promotable replica): nothing to wait for; not_replicated: fewer acknowledged within
   * the wait (or none is connected while Sentinel knows one that could be promoted); unknown: the check itself failed
   * or the connection changed meanwhile.
   */
  outcome: ReplicationOutcome;
  /** Replicas that acknowledged (WAIT's answer); null when WAIT was not sent. */
  acked: number | null;
  /** Replicas connected to the primary (ROLE); null when unknown. */
  connected: number | null;
  /** How long WAIT blocked (0 when it was skipped). */
  waitedMs: number;
  detail: string;
}

/**
 * After a write on `redis` (made while the connection was at `generation`, see connectionGeneration): asks the
 * primary for its replicas (ROLE, one round trip) and, when it has some, waits for `replicas` of them to acknowledge
 * (`WAIT replicas waitMs`). A primary without connected replicas is never waited on: with `promotable` (Sentinel) it
 * is asked whether a replica exists that could be promoted without the write — then the write is at risk; otherwise
 * there is no replica to lose it to. Throws only on a Redis error (the caller bounds and records it).
 */
export async function checkReplication(
  redis: Redis,
  opts: { replicas: number; waitMs: number; generation: number; promotable?: () => Promise<number | null> },
): Promise<ReplicationCheck> {
  const role = (await redis.role()) as unknown[];
  if (role[0] !== "master")
    return { outcome: "unknown", acked: null, connected: null, waitedMs: 0, detail: `connected to a ${role[0]}` };
  const connected = Array.isArray(role[2]) ? role[2].length : 0;
  if (connectionGeneration(redis) !== opts.generation)
    return {
      outcome: "unknown",
      acked: null,
      connected,
      waitedMs: 0,
      detail: "the connection changed since the write",
    };
  if (connected === 0) {
    const promotable = opts.promotable ? await opts.promotable() : 0;
    if (promotable === 0)
      return { outcome: "no_replicas", acked: null, connected, waitedMs: 0, detail: "the primary has no replicas" };
    return {
      outcome: "not_replicated",
      acked: null,
      connected,
      waitedMs: 0,
      detail:
        promotable === null
          ? "no replica is connected to the primary and Sentinel could not be asked whether one could be promoted"
          : `no replica is connected to the primary, and Sentinel knows ${promotable} that could be promoted without it`,
    };
  }
  const t0 = Date.now();
  const acked = Number(await redis.wait(opts.replicas, opts.waitMs));
  const waitedMs = Date.now() - t0;
  if (connectionGeneration(redis) !== opts.generation)
    return {
      outcome: "unknown",
      acked: null,
      connected,
      waitedMs,
      detail: "the connection was re-established meanwhile: the answer may be another primary's",
    };
  return acked >= opts.replicas
    ? { outcome: "replicated", acked, connected, waitedMs, detail: `${acked} replica(s) acknowledged` }
    : {
        outcome: "not_replicated",
        acked,
        connected,
        waitedMs,
        detail: `${acked} of ${opts.replicas} replica(s) acknowledged within ${opts.waitMs} ms (${connected} connected)`,
      };
}
