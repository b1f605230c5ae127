// Cutover (go-live) requests in Redis (`cutover:request:<id>`, its approvals set, `cutover:pending:<asset_class>`): at
// most one open request per asset class. Approving is one script: it records the approval and, with enough distinct
// approvers (never the requester), marks the request approved, writes the flag the gate honours
// (`cutover:<asset_class>`) and publishes `flags` in the same step, so concurrent approvals enable it once.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";
import { MARKET_KEYS } from "../state/keys.js";
import { type KeyProblem, readKeys } from "../state/validate.js";

export type CutoverState = "pending_approval" | "approved" | "rejected" | "expired";

/** One cutover request as operations see it. */
export interface CutoverRequest {
  id: string;
  assetClass: string;
  requester: string;
  reason: string;
  createdAt: string;
  expiresAt: string;
  needed: number;
  approvals: string[];
  state: CutoverState;
  decidedBy: string | null;
  decidedAt: string | null;
}

/** The flag `cutover:<asset_class>` (the gate's contract). */
export const cutoverFlag = z.object({
  enabled: z.literal(true),
  request_id: z.string(),
  approved_by: z.string(),
  at: z.string(),
});
export type CutoverFlag = z.infer<typeof cutoverFlag>;

// KEYS: cutover:pending:<ac>, request hash. ARGV: id, ttlMs, then field/value pairs.
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

// KEYS: request hash, approvals set, cutover:pending:<ac>, cutover:<ac>, channel flags.
// ARGV: id, approver, nowMs, nowIso, flag JSON (written on the last needed approval).
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
redis.call('HSET', KEYS[1], 'state', 'approved', 'decided_by', ARGV[2], 'decided_at', ARGV[4])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[4], ARGV[5])
redis.call('PUBLISH', KEYS[5], 'cutover')
return {'approved', tostring(n)}
`;

// KEYS: request hash, cutover:pending:<ac>. ARGV: id, actor, nowIso, nowMs.
const REJECT = `
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return {'missing'} end
if st == 'pending_approval' and (tonumber(redis.call('HGET', KEYS[1], 'expires_at_ms')) or 0) <= tonumber(ARGV[4]) then
  st = 'expired'
end
if st ~= 'pending_approval' then return {'closed', st, redis.call('HGET', KEYS[1], 'decided_by') or ''} end
redis.call('HSET', KEYS[1], 'state', 'rejected', 'decided_by', ARGV[2], 'decided_at', ARGV[3])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return {'rejected'}
`;

// KEYS: cutover:<ac>, channel flags. Returns the flag it removed (false when there was none).
const DISABLE = `
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', KEYS[2], 'cutover')
return cur
`;

const fields = z.object({
  id: z.string().regex(/^g\d{8}T\d{6}Z-[0-9a-f]{6}$/),
  asset_class: z.string().min(1),
  requester: z.string().min(1),
  reason: z.string(),
  created_at: z.string(),
  expires_at: z.string(),
  expires_at_ms: z.string().regex(/^\d+$/),
  needed: z.string().regex(/^\d+$/),
  state: z.enum(["pending_approval", "approved", "rejected", "expired"]),
  decided_by: z.string().optional(),
  decided_at: z.string().optional(),
});

type Scripts = Redis & {
  tgCutoverCreate(...a: string[]): Promise<[string, string?]>;
  tgCutoverApprove(...a: string[]): Promise<[string, string?]>;
  tgCutoverReject(...a: string[]): Promise<[string, string?, string?]>;
  tgCutoverDisable(...a: string[]): Promise<string | null>;
};

export type ApproveCutover =
  | { kind: "approved" | "recorded"; count: number }
  | { kind: "missing" | "self" | "duplicate" }
  | { kind: "state"; state: string };

/** Redis persistence of cutover requests and the asset-class flags. */
export class CutoverStore {
  private readonly r: Scripts;
  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    redis.defineCommand("tgCutoverCreate", { numberOfKeys: 2, lua: CREATE });
    redis.defineCommand("tgCutoverApprove", { numberOfKeys: 5, lua: APPROVE });
    redis.defineCommand("tgCutoverReject", { numberOfKeys: 2, lua: REJECT });
    redis.defineCommand("tgCutoverDisable", { numberOfKeys: 2, lua: DISABLE });
    this.r = redis as Scripts;
  }

  /** Opens a request unless the asset class already has one open (then its id). */
  async create(req: CutoverRequest, ttlMs: number): Promise<{ kind: "created" | "pending"; id: string }> {
    const f = [
      ["id", req.id],
      ["asset_class", req.assetClass],
      ["requester", req.requester],
      ["reason", req.reason],
      ["created_at", req.createdAt],
      ["expires_at", req.expiresAt],
      ["expires_at_ms", String(Date.parse(req.expiresAt))],
      ["needed", String(req.needed)],
      ["state", "pending_approval"],
    ].flat();
    const [kind, id] = await this.r.tgCutoverCreate(
      this.keys.cutoverPending(req.assetClass),
      this.keys.cutoverRequest(req.id),
      req.id,
      String(ttlMs),
      ...f,
    );
    return { kind: kind as "created" | "pending", id: id ?? "" };
  }

  /** Records one approval; the last needed one writes the flag and publishes (see APPROVE). */
  async approve(req: CutoverRequest, approver: string, now: Date): Promise<ApproveCutover> {
    const flag: CutoverFlag = { enabled: true, request_id: req.id, approved_by: approver, at: now.toISOString() };
    const [kind, v] = await this.r.tgCutoverApprove(
      this.keys.cutoverRequest(req.id),
      this.keys.cutoverApprovals(req.id),
      this.keys.cutoverPending(req.assetClass),
      this.keys.raw(MARKET_KEYS.cutover(req.assetClass)),
      this.keys.raw(MARKET_KEYS.flagsChannel),
      req.id,
      approver,
      String(now.getTime()),
      now.toISOString(),
      JSON.stringify(flag),
    );
    if (kind === "approved" || kind === "recorded") return { kind, count: Number(v) };
    if (kind === "state") return { kind, state: v ?? "unknown" };
    return { kind: kind as "missing" | "self" | "duplicate" };
  }

  /** Rejects a pending request; one already decided (or expired) is left as it is and reported closed. */
  async reject(
    req: CutoverRequest,
    actor: string,
    now: Date,
  ): Promise<{ kind: "rejected" } | { kind: "closed"; state: string; decidedBy: string | null } | { kind: "missing" }> {
    const [kind, state, by] = await this.r.tgCutoverReject(
      this.keys.cutoverRequest(req.id),
      this.keys.cutoverPending(req.assetClass),
      req.id,
      actor,
      now.toISOString(),
      String(now.getTime()),
    );
    if (kind === "rejected") return { kind };
    if (kind === "closed") return { kind, state: state ?? "unknown", decidedBy: by || null };
    return { kind: "missing" };
  }

  /** Deletes the flag and publishes; returns the flag it removed (raw), null when the class was not enabled. */
  disable(assetClass: string): Promise<string | null> {
    return this.r.tgCutoverDisable(
      this.keys.raw(MARKET_KEYS.cutover(assetClass)),
      this.keys.raw(MARKET_KEYS.flagsChannel),
    );
  }

  /** The flag of each asset class (raw; null when absent) and the id of its open request. */
  async flags(classes: string[]): Promise<{ assetClass: string; raw: string | null; pending: string | null }[]> {
    if (classes.length === 0) return [];
    const vals = await this.r.mget(
      ...classes.flatMap((c) => [this.keys.raw(MARKET_KEYS.cutover(c)), this.keys.cutoverPending(c)]),
    );
    return classes.map((assetClass, i) => ({ assetClass, raw: vals[2 * i] ?? null, pending: vals[2 * i + 1] ?? null }));
  }

  /** One request; its state reads `expired` once past its expiry; an unreadable one is reported with the reason. */
  async get(id: string, now: Date): Promise<CutoverRequest | { problem: KeyProblem } | null> {
    const key = `cutover:request:${id}`;
    const res = await readKeys(this.r, [
      { name: key, key: this.keys.cutoverRequest(id), cmd: "hgetall" },
      { name: `${key}:approvals`, key: this.keys.cutoverApprovals(id), cmd: "smembers" },
    ]);
    const hr = res.get(key)!;
    if (!hr.ok) return { problem: { key, problem: hr.problem } };
    const h = hr.value as Record<string, string>;
    if (Object.keys(h).length === 0) return null;
    const ar = res.get(`${key}:approvals`)!;
    if (!ar.ok) return { problem: { key: `${key}:approvals`, problem: ar.problem } };
    const parsed = fields.safeParse(h);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return { problem: { key, problem: `${i.path.join(".") || "value"}: ${i.message}` } };
    }
    const f = parsed.data;
    const expired = f.state === "pending_approval" && Number(f.expires_at_ms) <= now.getTime();
    return {
      id: f.id,
      assetClass: f.asset_class,
      requester: f.requester,
      reason: f.reason,
      createdAt: f.created_at,
      expiresAt: f.expires_at,
      needed: Number(f.needed),
      approvals: (ar.value as string[]).sort(),
      state: expired ? "expired" : f.state,
      decidedBy: f.decided_by || null,
      decidedAt: f.decided_at || null,
    };
  }
}
