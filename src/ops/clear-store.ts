// Resume (clear) requests in Redis. Approving is one script: it records the approval and, when enough distinct
// approvers (never the requester) have approved, moves halt → reduce_only and starts the soak in the same step,
// unless a panic is running. Double clicks and concurrent approvals therefore change the mode at most once.
import type { Redis } from "ioredis";
import type { Keys } from "../state/keys.js";
import { MODE_LUA } from "../state/mode.js";

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
// ARGV: id, approver, nowMs, nowIso, channel, soakJson, reason
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
tg_set_mode(KEYS[5], KEYS[6], ARGV[5], 'reduce_only', ARGV[7], ARGV[2], ARGV[4], '')
redis.call('SET', KEYS[7], ARGV[6])
return {'approved', tostring(n)}
`;

// KEYS: request hash, clear:active. ARGV: id, actor, nowIso
const REJECT = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return 'missing' end
if st ~= 'pending' then return st end
redis.call('HSET', KEYS[1], 'state', 'rejected', 'decided_by', ARGV[2], 'decided_at', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 'rejected'
`;

// KEYS: resume:soak, mode, mode:meta. ARGV: soakJson (must match), channel, actor, nowIso, reason
const FINISH_SOAK = `${MODE_LUA}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) ~= 'reduce_only' then return 0 end
tg_set_mode(KEYS[2], KEYS[3], ARGV[2], 'active', ARGV[5], ARGV[3], ARGV[4], '')
return 1
`;

type Scripts = Redis & {
  tgClearCreate(...a: string[]): Promise<[string, string?]>;
  tgClearApprove(...a: string[]): Promise<[string, string?]>;
  tgClearReject(...a: string[]): Promise<string>;
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

  /** Rejects a pending request. Returns the state it ended in ("rejected", or what it already was, or "missing"). */
  reject(id: string, actor: string, now: Date): Promise<string> {
    return this.r.tgClearReject(this.keys.clearRequest(id), this.keys.clearActive, id, actor, now.toISOString());
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
      )) === 1
    );
  }

  /** The soak in progress, as stored (raw JSON kept for the compare in finishSoak). */
  async soak(): Promise<{ raw: string; requestId: string; until: string } | null> {
    const raw = await this.r.get(this.keys.resumeSoak);
    if (!raw) return null;
    try {
      const v = JSON.parse(raw) as { request_id?: unknown; until?: unknown };
      return { raw, requestId: String(v.request_id ?? ""), until: String(v.until ?? "") };
    } catch {
      return { raw, requestId: "", until: "" };
    }
  }

  /** The id of the pending request, if any. */
  pendingId(): Promise<string | null> {
    return this.r.get(this.keys.clearActive);
  }

  /** One request with its approvals; state reads `expired` once past its expiry. */
  async get(id: string, now = new Date()): Promise<ClearRequest | null> {
    const [[, h], [, approvals]] = (await this.r
      .multi()
      .hgetall(this.keys.clearRequest(id))
      .smembers(this.keys.clearApprovals(id))
      .exec()) as [[null, Record<string, string>], [null, string[]]];
    if (!h?.id) return null;
    let state = (
      ["pending", "approved", "rejected", "expired"].includes(h.state ?? "") ? h.state : "expired"
    ) as ClearRequest["state"];
    if (state === "pending" && Number(h.expires_at_ms) <= now.getTime()) state = "expired";
    return {
      id: h.id,
      requester: h.requester ?? "",
      reason: h.reason ?? "",
      createdAt: h.created_at ?? "",
      expiresAt: h.expires_at ?? "",
      needed: Number(h.needed ?? 1),
      approvals: (approvals ?? []).sort(),
      state,
      panicId: h.panic_id || null,
      haltSince: h.halt_since || null,
      decidedBy: h.decided_by || null,
      decidedAt: h.decided_at || null,
    };
  }
}
