// The effect side of a guard tick: the flag changes guards ask for, applied atomically (one Lua script per guard)
// and audited when they changed something, and the release of the tick's locks.
import type { Redis } from "ioredis";
import type { AuditLog } from "../../audit/log.js";
import type { Logger } from "../../log.js";
import type { Keys } from "../../state/keys.js";
import type { FlagChange } from "../guard.js";

// KEYS: the keys the ops touch. ARGV[1]: JSON ops [{op, k (KEYS index), ...}]. Returns JSON of the changed op indexes.
const APPLY = `
local ops = cjson.decode(ARGV[1])
local changed = {}
for i, o in ipairs(ops) do
  local key = KEYS[o.k]
  local c = false
  if o.op == 'set' then
    if redis.call('GET', key) ~= o.value then c = true end
    if o.ttl and o.ttl > 0 then redis.call('SET', key, o.value, 'PX', o.ttl) else redis.call('SET', key, o.value) end
  elseif o.op == 'del' then
    c = redis.call('DEL', key) == 1
  elseif o.op == 'hset' then
    for f, v in pairs(o.fields) do
      if redis.call('HGET', key, f) ~= v then c = true; redis.call('HSET', key, f, v) end
    end
  elseif o.op == 'hdel' then
    for _, f in ipairs(o.fields) do if redis.call('HDEL', key, f) == 1 then c = true end end
  elseif o.op == 'sadd' then
    for _, m in ipairs(o.members) do if redis.call('SADD', key, m) == 1 then c = true end end
  elseif o.op == 'srem' then
    for _, m in ipairs(o.members) do if redis.call('SREM', key, m) == 1 then c = true end end
  elseif o.op == 'zremrangebyscore' then
    c = redis.call('ZREMRANGEBYSCORE', key, o.min, o.max) > 0
  elseif o.op == 'publish' then
    redis.call('PUBLISH', key, o.message)
  end
  if c then changed[#changed + 1] = i end
end
return cjson.encode(changed)
`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Scripts = {
  tgGuardApply(n: number, ...a: string[]): Promise<string>;
  tgGuardRelease(key: string, owner: string): Promise<number>;
};

/** Applies guards' flag changes and releases tick locks. */
export class EffectRunner {
  constructor(private readonly deps: { redis: Redis; keys: Keys; audit: AuditLog; log: Logger }) {
    deps.redis.defineCommand("tgGuardApply", { lua: APPLY });
    deps.redis.defineCommand("tgGuardRelease", { numberOfKeys: 1, lua: RELEASE });
  }

  /** Applies one guard's flag changes atomically and audits those that changed something. */
  async apply(guard: string, actions: FlagChange[]): Promise<void> {
    const keyIndex = new Map<string, number>();
    const keyList: string[] = [];
    const idx = (logical: string) => {
      const k = this.deps.keys.raw(logical);
      if (!keyIndex.has(k)) {
        keyList.push(k);
        keyIndex.set(k, keyList.length);
      }
      return keyIndex.get(k)!;
    };
    const ops = actions.map((a) => {
      switch (a.op) {
        case "set":
          return { op: a.op, k: idx(a.key), value: a.value, ttl: a.ttlMs ?? 0 };
        case "del":
          return { op: a.op, k: idx(a.key) };
        case "hset":
          return { op: a.op, k: idx(a.key), fields: a.fields };
        case "hdel":
          return { op: a.op, k: idx(a.key), fields: a.fields };
        case "sadd":
        case "srem":
          return { op: a.op, k: idx(a.key), members: a.members };
        case "zremrangebyscore":
          return { op: a.op, k: idx(a.key), min: a.min, max: a.max };
        case "publish":
          return { op: a.op, k: idx(a.channel), message: a.message };
        default:
          throw new Error(`guard ${guard}: unknown flag change ${JSON.stringify(a)}`);
      }
    });
    const res = await (this.deps.redis as Redis & Scripts).tgGuardApply(
      keyList.length,
      ...keyList,
      JSON.stringify(ops),
    );
    // cjson encodes an empty Lua table as {} rather than [].
    const changed = JSON.parse(res) as number[] | Record<string, never>;
    for (const i of Array.isArray(changed) ? changed : []) {
      const a = actions[i - 1]!;
      await this.deps.audit
        .append({ actor: `guard:${guard}`, action: "flag.changed", details: { ...a } })
        .catch((err) => this.deps.log.error({ err }, "audit of a flag change failed"));
    }
  }

  /** Releases the tick locks this instance holds (in one round trip); a lock that fails to release expires. */
  async release(guards: string[], owner: string): Promise<void> {
    if (guards.length === 0) return;
    const p = this.deps.redis.pipeline() as unknown as Scripts & { exec(): Promise<unknown> };
    for (const g of guards) p.tgGuardRelease(this.deps.keys.guardLock(g), owner);
    await p.exec().catch((err) => this.deps.log.warn({ err }, "guard lock release failed (it expires)"));
  }
}
