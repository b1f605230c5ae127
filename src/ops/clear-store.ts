// Resume (clear) requests in Redis. Approving is one script: it records the approval and, when enough distinct
// approvers (never the requester) have approved, moves halt → reduce_only and starts the soak in the same step,
// unless a panic is running. Double clicks and concurrent approvals therefore change the mode at most once.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";
import { MODE_LUA, modeEventJson } from "../state/mode.js";
import { type KeyProblem, readKeys } from "../state/validate.js";

export interface ClearRequest {
  id: string;
  requester: string;
  reason: string;
  createdAt: string;
  expiresAt: string;
  needed: number;
  approvals: string[];
  state: "pending" | "approved" | "rejected" | "expired";
  panicId: string | null;
  haltSince: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
}

// KEYS: clear:active, request hash, panic:active, mode. ARGV: id, ttlMs, then field/value pairs of the request.
const CREATE = `
if redis.call('GET', KEYS[3]) then return {'panic_running', redis.call('GET', KEYS[3])} end
local m = redis.call('GET', KEYS[4])
if m ~= 'halt' then return {'not_halted', m or 'active'} end
local cur = redis.call('GET', KEYS[1])
if cur then return {'pending', cur} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIRE', KEYS[2], 7 * 24 * 3600 * 1000)
return {'created', ARGV[1]}
`;

// KEYS: request hash, approvals set, clear:active, panic:active, mode, mode:meta, resume:soak
// ARGV: id, approver, nowMs, nowIso, channel, soakJson, reason, mode event JSON
const APPROVE = `${MODE_LUA}
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st ~= 'pending' then return {'state', st} end
if tonumber(redis.call('HGET', KEYS[1], 'expires_at_ms')) <= tonumber(ARGV[3]) or redis.call('GET', KEYS[3]) ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  return {'state', 'expired'}
end
if redis.call('HGET', KEYS[1], 'requester') == ARGV[2] then return {'self'} end
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return {'duplicate'} end
redis.call('PEXPIRE', KEYS[2], 7 * 24 * 3600 * 1000)
local n = redis.call('SCARD', KEYS[2])
if n < tonumber(redis.call('HGET', KEYS[1], 'needed')) then return {'recorded', tostring(n)} end
if redis.call('GET', KEYS[4]) then
  redis.call('SREM', KEYS[2], ARGV[2])
  return {'panic_running'}
end
if redis.call('GET', KEYS[5]) ~= 'halt' then
  redis.call('SREM', KEYS[2], ARGV[2])
  return {'not_halted', redis.call('GET', KEYS[5]) or 'active'}
end
redis.call('HSET', KEYS[1], 'state', 'approved', 'decided_by', ARGV[2], 'decided_at', ARGV[4])
redis.call('DEL', KEYS[3])
tg_set_mode(KEYS[5], KEYS[6], ARGV[5], 'reduce_only', ARGV[7], ARGV[2], ARGV[4], '', ARGV[8])
redis.call('SET', KEYS[7], ARGV[6])
return {'approved', tostring(n)}
`;

// KEYS: request hash, clear:active. ARGV: id, actor, nowIso, nowMs
// Returns {'rejected'} when this call rejected it, {'closed', state, decided_by} when it was already decided or has
// expired (nothing changes), {'missing'}.
const REJECT = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st == 'pending' and (tonumber(redis.call('HGET', KEYS[1], 'expires_at_ms')) or 0) <= tonumber(ARGV[4]) then
  st = 'expired'
end
if st ~= 'pending' then return {'closed', st, redis.call('HGET', KEYS[1], 'decided_by') or ''} end
redis.call('HSET', KEYS[1], 'state', 'rejected', 'decided_by', ARGV[2], 'decided_at', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return {'rejected'}
`;

// KEYS: resume:soak, mode, mode:meta. ARGV: soakJson (must match), channel, actor, nowIso, reason, mode event JSON
const FINISH_SOAK = `${MODE_LUA}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) ~= 'reduce_only' then return 0 end
tg_set_mode(KEYS[2], KEYS[3], ARGV[2], 'active', ARGV[5], ARGV[3], ARGV[4], '', ARGV[6])
return 1
`;

type Scripts = Redis & {
  tgClearCreate(...a: string[]): Promise<[string, string?]>;
  tgClearApprove(...a: string[]): Promise<[string, string?]>;
  tgClearReject(...a: string[]): Promise<[string, string?, string?]>;
  tgSoakFinish(...a: string[]): Promise<number>;
};

export type CreateOutcome =
  | { kind: "created"; id: string }
  | { kind: "pending"; id: string }
  | { kind: "panic_running"; id: string }
  | { kind: "not_halted"; mode: string };
export type ApproveOutcome =
  | { kind: "approved"; count: number }
  | { kind: "recorded"; count: number }
  | { kind: "missing" }
  | { kind: "state"; state: string }
  | { kind: "self" }
  | { kind: "duplicate" }
  | { kind: "panic_running" }
  | { kind: "not_halted"; mode: string };

export type RejectOutcome =
  | { kind: "rejected" }
  | { kind: "closed"; state: string; decidedBy: string | null }
  | { kind: "missing" };

/** Redis persistence of clear requests and the soak. */
export class ClearStore {
  private readonly r: Scripts;
  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    redis.defineCommand("tgClearCreate", { numberOfKeys: 4, lua: CREATE });
    redis.defineCommand("tgClearApprove", { numberOfKeys: 7, lua: APPROVE });
    redis.defineCommand("tgClearReject", { numberOfKeys: 2, lua: REJECT });
    redis.defineCommand("tgSoakFinish", { numberOfKeys: 3, lua: FINISH_SOAK });
    this.r = redis as Scripts;
  }

  /** Creates a request when trading is halted, no panic runs and no other request is pending. */
  async create(req: ClearRequest, ttlMs: number): Promise<CreateOutcome> {
    const k = this.keys;
    const fields = [
      ["id", req.id],
      ["requester", req.requester],
      ["reason", req.reason],
      ["created_at", req.createdAt],
      ["expires_at", req.expiresAt],
      ["expires_at_ms", String(Date.parse(req.expiresAt))],
      ["needed", String(req.needed)],
      ["state", "pending"],
      ["panic_id", req.panicId ?? ""],
      ["halt_since", req.haltSince ?? ""],
    ].flat();
    const [kind, v] = await this.r.tgClearCreate(
      k.clearActive,
      k.clearRequest(req.id),
      k.panicActive,
      k.mode,
      req.id,
      String(ttlMs),
      ...fields,
    );
    if (kind === "not_halted") return { kind, mode: v ?? "active" };
    return { kind: kind as "created" | "pending" | "panic_running", id: v ?? "" };
  }

  /** Records one approval; the last needed one also moves the mode to reduce_only (see APPROVE). */
  async approve(id: string, approver: string, now: Date, soakJson: string, reason: string): Promise<ApproveOutcome> {
    const k = this.keys;
    const [kind, v] = await this.r.tgClearApprove(
      k.clearRequest(id),
      k.clearApprovals(id),
      k.clearActive,
      k.panicActive,
      k.mode,
      k.modeMeta,
      k.resumeSoak,
      id,
      approver,
      String(now.getTime()),
      now.toISOString(),
      k.modeChannel,
      soakJson,
      reason,
      modeEventJson("reduce_only", reason, approver, now.toISOString()),
    );
    switch (kind) {
      case "approved":
      case "recorded":
        return { kind, count: Number(v) };
      case "state":
        return { kind, state: v ?? "unknown" };
      case "not_halted":
        return { kind, mode: v ?? "active" };
      default:
        return { kind: kind as "missing" | "self" | "duplicate" | "panic_running" };
    }
  }

  /** Rejects a pending request; a request already decided (or expired) is left as it is and reported closed. */
  async reject(id: string, actor: string, now: Date): Promise<RejectOutcome> {
    const [kind, state, by] = await this.r.tgClearReject(
      this.keys.clearRequest(id),
      this.keys.clearActive,
      id,
      actor,
      now.toISOString(),
      String(now.getTime()),
    );
    if (kind === "rejected") return { kind };
    if (kind === "closed") return { kind, state: state ?? "unknown", decidedBy: by || null };
    return { kind: "missing" };
  }

  /** Ends the soak: reduce_only → active, only if the soak recorded is still this one and nothing halted since. */
  async finishSoak(soakJson: string, actor: string, now: Date, reason: string): Promise<boolean> {
    const k = this.keys;
    return (
      (await this.r.tgSoakFinish(
        k.resumeSoak,
        k.mode,
        k.modeMeta,
        soakJson,
        k.modeChannel,
        actor,
        now.toISOString(),
        reason,
        modeEventJson("active", reason, actor, now.toISOString()),
      )) === 1
    );
  }

  /**
   * The soak in progress, as stored (raw JSON kept for the compare in finishSoak). A value that is not a soak record
   * (not JSON, `until` missing or not a time, …) is returned as `invalid` with the reason: it must never end a soak.
   */
  async soak(): Promise<
    { raw: string; requestId: string; until: string; untilMs: number } | { raw: string; invalid: string } | null
  > {
    const raw = await this.r.get(this.keys.resumeSoak);
    if (raw === null) return null;
    return parseSoak(raw);
  }

  /** The id of the pending request, if any. */
  pendingId(): Promise<string | null> {
    return this.r.get(this.keys.clearActive);
  }

  /** One request with its approvals; state reads `expired` once past its expiry. Null when unknown or unreadable. */
  async get(id: string, now = new Date()): Promise<ClearRequest | null> {
    const r = await this.readRequest(id, now);
    return r && "id" in r ? r : null;
  }

  /** One request; an unreadable one is reported with the reason instead of being dropped silently. */
  async readRequest(id: string, now = new Date()): Promise<ClearRequest | { problem: KeyProblem } | null> {
    const key = `clear:request:${id}`;
    const res = await readKeys(this.r, [
      { name: key, key: this.keys.clearRequest(id), cmd: "hgetall" },
      { name: `${key}:approvals`, key: this.keys.clearApprovals(id), cmd: "smembers" },
    ]);
    const hr = res.get(key)!;
    if (!hr.ok) return { problem: { key, problem: hr.problem } };
    const h = hr.value as Record<string, string>;
    if (Object.keys(h).length === 0) return null;
    const ar = res.get(`${key}:approvals`)!;
    if (!ar.ok) return { problem: { key: `${key}:approvals`, problem: ar.problem } };
    const parsed = requestFields.safeParse(h);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return { problem: { key, problem: `${i.path.join(".") || "value"}: ${i.message}` } };
    }
    const f = parsed.data;
    let state = f.state;
    if (state === "pending" && Number(f.expires_at_ms) <= now.getTime()) state = "expired";
    return {
      id: f.id,
      requester: f.requester,
      reason: f.reason,
      createdAt: f.created_at,
      expiresAt: f.expires_at,
      needed: Number(f.needed),
      approvals: (ar.value as string[]).sort(),
      state,
      panicId: f.panic_id || null,
      haltSince: f.halt_since || null,
      decidedBy: f.decided_by || null,
      decidedAt: f.decided_at || null,
    };
  }
}

/** The fields of a `clear:request:<id>` hash. */
const requestFields = z.object({
  id: z.string().min(1),
  requester: z.string().min(1),
  reason: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  expires_at_ms: z.string().regex(/^\d+$/, "epoch milliseconds"),
  needed: z.string().regex(/^\d+$/, "an integer"),
  state: z.enum(["pending", "approved", "rejected", "expired"]),
  panic_id: z.string().default(""),
  halt_since: z.string().default(""),
  decided_by: z.string().optional(),
  decided_at: z.string().optional(),
});

const soakSchema = z.object({
  request_id: z.string().min(1),
  until: z.iso.datetime({ offset: true }),
});

/** Parses a `resume:soak` value; garbage is reported with the reason, never read as "the soak is over". */
export function parseSoak(
  raw: string,
): { raw: string; requestId: string; until: string; untilMs: number } | { raw: string; invalid: string } {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { raw, invalid: `not JSON (${JSON.stringify(raw.slice(0, 60))})` };
  }
  const r = soakSchema.safeParse(json);
  if (!r.success) {
    const i = r.error.issues[0]!;
    return { raw, invalid: `${i.path.join(".") || "value"}: ${i.message}` };
  }
  const untilMs = Date.parse(r.data.until);
  if (!Number.isFinite(untilMs)) return { raw, invalid: `until: not a time (${JSON.stringify(r.data.until)})` };
  return { raw, requestId: r.data.request_id, until: r.data.until, untilMs };
}
