// Key rotation requests in Redis (`rotate:request:<id>`, its approvals set, `rotate:active:<broker>`): at most one
// open request per managed broker. Approving is one script: it records the approval and, with enough distinct
// approvers (never the requester), moves the request to `rotating` in the same step — so concurrent approvals start
// the rotation once. The rotation's steps then run in the approving process and record the outcome.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";
import { type KeyProblem, readKeys } from "../state/validate.js";

export type RotateState = "pending_approval" | "rotating" | "done" | "failed" | "rejected" | "expired";

/** One rotation request as operations see it. */
export interface RotateRequest {
  id: string;
  broker: string;
  /** The secret store name of the broker's credential. */
  secret: string;
  requester: string;
  reason: string;
  createdAt: string;
  expiresAt: string;
  needed: number;
  approvals: string[];
  state: RotateState;
  /** The key id staged as PENDING when the request was made (never the secret). */
  pendingKeyId: string;
  /** The key id that was CURRENT then. */
  currentKeyId: string | null;
  decidedBy: string | null;
  decidedAt: string | null;
  /** Why it failed, or what needs doing (e.g. the old key to revoke). */
  detail: string | null;
}

// KEYS: rotate:active:<broker>, request hash. ARGV: id, ttlMs, then field/value pairs.
const CREATE = `
local cur = redis.call('GET', KEYS[1])
if cur then return {'pending', cur} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('PEXPIRE', KEYS[2], 30 * 24 * 3600 * 1000)
return {'created', ARGV[1]}
`;

// KEYS: request hash, approvals set, rotate:active:<broker>. ARGV: id, approver, nowMs, nowIso.
const APPROVE = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st ~= 'pending_approval' then return {'state', st} end
if (tonumber(redis.call('HGET', KEYS[1], 'expires_at_ms')) or 0) <= tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
  return {'state', 'expired'}
end
if redis.call('HGET', KEYS[1], 'requester') == ARGV[2] then return {'self'} end
if redis.call('SADD', KEYS[2], ARGV[2]) == 0 then return {'duplicate'} end
redis.call('PEXPIRE', KEYS[2], 30 * 24 * 3600 * 1000)
local n = redis.call('SCARD', KEYS[2])
if n < tonumber(redis.call('HGET', KEYS[1], 'needed')) then return {'recorded', tostring(n)} end
redis.call('HSET', KEYS[1], 'state', 'rotating', 'decided_by', ARGV[2], 'decided_at', ARGV[4])
return {'approved', tostring(n)}
`;

// KEYS: request hash, rotate:active:<broker>. ARGV: id, newState, actor, nowIso, detail, fromState.
const DECIDE = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st ~= ARGV[6] then return {'closed', st, redis.call('HGET', KEYS[1], 'decided_by') or ''} end
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'decided_by', ARGV[3], 'decided_at', ARGV[4], 'detail', ARGV[5])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return {'ok'}
`;

const fields = z.object({
  id: z.string().regex(/^r\d{8}T\d{6}Z-[0-9a-f]{6}$/),
  broker: z.string().min(1),
  secret: z.string().min(1),
  requester: z.string().min(1),
  reason: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  expires_at_ms: z.string().regex(/^\d+$/),
  needed: z.string().regex(/^\d+$/),
  state: z.enum(["pending_approval", "rotating", "done", "failed", "rejected", "expired"]),
  pending_key_id: z.string().min(1),
  current_key_id: z.string().default(""),
  decided_by: z.string().optional(),
  decided_at: z.string().optional(),
  detail: z.string().optional(),
});

type Scripts = Redis & {
  tgRotateCreate(...a: string[]): Promise<[string, string?]>;
  tgRotateApprove(...a: string[]): Promise<[string, string?]>;
  tgRotateDecide(...a: string[]): Promise<[string, string?, string?]>;
};

export type ApproveRotation =
  | { kind: "approved" | "recorded"; count: number }
  | { kind: "missing" | "self" | "duplicate" }
  | { kind: "state"; state: string };

/** Redis persistence of rotation requests. */
export class RotateStore {
  private readonly r: Scripts;
  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    redis.defineCommand("tgRotateCreate", { numberOfKeys: 2, lua: CREATE });
    redis.defineCommand("tgRotateApprove", { numberOfKeys: 3, lua: APPROVE });
    redis.defineCommand("tgRotateDecide", { numberOfKeys: 2, lua: DECIDE });
    this.r = redis as Scripts;
  }

  /** Opens a request unless the broker already has one open (then its id). */
  async create(req: RotateRequest, ttlMs: number): Promise<{ kind: "created" | "pending"; id: string }> {
    const f = [
      ["id", req.id],
      ["broker", req.broker],
      ["secret", req.secret],
      ["requester", req.requester],
      ["reason", req.reason],
      ["created_at", req.createdAt],
      ["expires_at", req.expiresAt],
      ["expires_at_ms", String(Date.parse(req.expiresAt))],
      ["needed", String(req.needed)],
      ["state", "pending_approval"],
      ["pending_key_id", req.pendingKeyId],
      ["current_key_id", req.currentKeyId ?? ""],
    ].flat();
    const [kind, id] = await this.r.tgRotateCreate(
      this.keys.rotateActive(req.broker),
      this.keys.rotateRequest(req.id),
      req.id,
      String(ttlMs),
      ...f,
    );
    return { kind: kind as "created" | "pending", id: id ?? "" };
  }

  /** Records one approval; the last needed one moves the request to `rotating` (see APPROVE). */
  async approve(req: RotateRequest, approver: string, now: Date): Promise<ApproveRotation> {
    const [kind, v] = await this.r.tgRotateApprove(
      this.keys.rotateRequest(req.id),
      this.keys.rotateApprovals(req.id),
      this.keys.rotateActive(req.broker),
      req.id,
      approver,
      String(now.getTime()),
      now.toISOString(),
    );
    if (kind === "approved" || kind === "recorded") return { kind, count: Number(v) };
    if (kind === "state") return { kind, state: v ?? "unknown" };
    return { kind: kind as "missing" | "self" | "duplicate" };
  }

  /** Moves a request from `from` to its outcome; a request no longer in `from` is reported closed, unchanged. */
  async decide(
    req: RotateRequest,
    from: RotateState,
    to: RotateState,
    actor: string,
    now: Date,
    detail: string,
  ): Promise<{ kind: "ok" | "missing" } | { kind: "closed"; state: string; decidedBy: string | null }> {
    const [kind, state, by] = await this.r.tgRotateDecide(
      this.keys.rotateRequest(req.id),
      this.keys.rotateActive(req.broker),
      req.id,
      to,
      actor,
      now.toISOString(),
      detail,
      from,
    );
    if (kind === "closed") return { kind, state: state ?? "unknown", decidedBy: by || null };
    return { kind: kind as "ok" | "missing" };
  }

  /** The open request of a broker, if any. */
  activeId(broker: string): Promise<string | null> {
    return this.r.get(this.keys.rotateActive(broker));
  }

  /** One request with its approvals (null when unknown); an unreadable one is reported instead of dropped. */
  async get(id: string, now: Date): Promise<RotateRequest | { problem: KeyProblem } | null> {
    const key = `rotate:request:${id}`;
    const res = await readKeys(this.r, [
      { name: key, key: this.keys.rotateRequest(id), cmd: "hgetall" },
      { name: `${key}:approvals`, key: this.keys.rotateApprovals(id), cmd: "smembers" },
    ]);
    const h = res.get(key)!;
    if (!h.ok) return { problem: { key, problem: h.problem } };
    if (Object.keys(h.value as object).length === 0) return null;
    const a = res.get(`${key}:approvals`)!;
    const parsed = fields.safeParse(h.value);
    if (!parsed.success || !a.ok) {
      const why = parsed.success ? (a.ok ? "" : a.problem) : parsed.error.issues[0]!.message;
      return { problem: { key, problem: why } };
    }
    const f = parsed.data;
    const expired = f.state === "pending_approval" && Number(f.expires_at_ms) <= now.getTime();
    return {
      id: f.id,
      broker: f.broker,
      secret: f.secret,
      requester: f.requester,
      reason: f.reason,
      createdAt: f.created_at,
      expiresAt: f.expires_at,
      needed: Number(f.needed),
      approvals: (a.value as string[]).sort(),
      state: expired ? "expired" : f.state,
      pendingKeyId: f.pending_key_id,
      currentKeyId: f.current_key_id || null,
      decidedBy: f.decided_by || null,
      decidedAt: f.decided_at || null,
      detail: f.detail || null,
    };
  }
}
