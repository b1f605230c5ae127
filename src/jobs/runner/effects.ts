// The effect side of a guard tick: the flag changes guards ask for, applied atomically (one Lua script per guard)
// and audited when they changed something, and the release of the manual runs' locks. A change to a key the guard
// read is conditional on that key (or hash field) still holding what the guard read: a guard decided on its snapshot,
// and a writer that changed the value since (an operator's command, another replica's tick) is newer — the change is
// skipped, logged and audited as `flag.skipped`, and the next tick decides again on what is there now.
import type { Redis } from "ioredis";
import type { AuditLog } from "../../audit/log.js";
import type { Logger } from "../../log.js";
import type { Keys } from "../../state/keys.js";
import type { FlagChange } from "../guard.js";

// KEYS: the keys the ops touch. ARGV[1]: JSON ops [{op, k (KEYS index), expect?, ...}]; `expect` is the value the
// guard read (a string, or null: absent) for set/del, or field → value (null: absent) for hset/hdel. Every
// expectation is checked against the state before the script, then the ops that hold are applied in order. Returns
// JSON {changed: [op index], skipped: [{i, field?, actual}], failed: [{i, error}]} (cjson writes an empty list as {}).
const APPLY = `
local ops = cjson.decode(ARGV[1])
-- The fence (ARGV[2], JSON or ''): the tick's claim on its slot (a hash owned by it and still running) or its manual
-- lock (a string holding its owner). A tick that lost it — it stalled past its lease and another replica took over —
-- applies nothing.
if ARGV[2] ~= '' then
  local fence = cjson.decode(ARGV[2])
  local key = KEYS[fence.k]
  local ok, mine = pcall(function()
    if fence.kind == 'slot' then
      return redis.call('HGET', key, 'owner') == fence.owner and redis.call('HGET', key, 'state') == 'running'
    end
    return redis.call('GET', key) == fence.owner
  end)
  if not ok or not mine then return cjson.encode({lost = true}) end
end
local changed, skipped, stale = {}, {}, {}
local function same(actual, expected)
  if expected == cjson.null then return actual == false end
  return actual == expected
end
for i, o in ipairs(ops) do
  if o.expect ~= nil then
    local key = KEYS[o.k]
    if o.op == 'hset' or o.op == 'hdel' then
      for f, v in pairs(o.expect) do
        local ok, cur = pcall(redis.call, 'HGET', key, f)
        if not ok then cur = 'unreadable' end
        if not same(cur, v) then stale[i] = {i = i, field = f, actual = cur or cjson.null} break end
      end
    else
      local ok, cur = pcall(redis.call, 'GET', key)
      if not ok then cur = 'unreadable' end
      if not same(cur, o.expect) then stale[i] = {i = i, actual = cur or cjson.null} end
    end
  end
end
local failed = {}
local function apply(o, key)
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
  return c
end
for i, o in ipairs(ops) do
  if stale[i] then
    skipped[#skipped + 1] = stale[i]
  else
    -- One op that fails (WRONGTYPE on a key the guard never read) fails alone: the others still apply and are
    -- reported, instead of a half-applied script that reports nothing.
    local ok, c = pcall(apply, o, KEYS[o.k])
    if not ok then
      failed[#failed + 1] = {i = i, error = type(c) == 'table' and c.err or tostring(c)}
    elseif c then
      changed[#changed + 1] = i
    end
  end
end
return cjson.encode({changed = changed, skipped = skipped, failed = failed})
`;

/** What the guard read of the keys it declared (raw Redis values by `<type> <logical key>`): the expectations. */
export type ReadValues = ReadonlyMap<string, unknown>;

/** A flag change that did not apply because its key changed after the guard read it. */
export interface SkippedChange {
  action: FlagChange;
  field?: string;
  expected: string | null;
  actual: string | null;
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

type Scripts = {
  tgGuardApply(n: number, ...a: string[]): Promise<string>;
  tgGuardRelease(key: string, owner: string): Promise<number>;
};

/** The tick no longer holds its slot (or lock): another replica took it over; nothing was applied. */
export class LeaseLost extends Error {
  constructor(guard: string) {
    super(`guard ${guard}: the tick lost its slot to another replica before applying; nothing applied`);
  }
}

/** Applies guards' flag changes and releases tick locks. */
export class EffectRunner {
  constructor(private readonly deps: { redis: Redis; keys: Keys; audit: AuditLog; log: Logger }) {
    deps.redis.defineCommand("tgGuardApply", { lua: APPLY });
    deps.redis.defineCommand("tgGuardRelease", { numberOfKeys: 1, lua: RELEASE });
  }

  /**
   * Applies one guard's flag changes atomically and audits those that changed something. With `read` (the raw
   * values of the keys the guard declared), a set/del/hset/hdel of a key it read applies only if the key (the
   * fields) still hold what it read; the others are returned, logged and audited as `flag.skipped`.
   */
  async apply(
    guard: string,
    actions: FlagChange[],
    read: ReadValues = new Map(),
    fence?: { kind: "slot" | "lock"; key: string; owner: string },
  ): Promise<SkippedChange[]> {
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
    const expects = actions.map((a) => expectation(a, read));
    const ops = actions.map((a, i) => {
      const expect = expects[i];
      const cond = expect === undefined ? {} : { expect };
      switch (a.op) {
        case "set":
          return { op: a.op, k: idx(a.key), value: a.value, ttl: a.ttlMs ?? 0, ...cond };
        case "del":
          return { op: a.op, k: idx(a.key), ...cond };
        case "hset":
          return { op: a.op, k: idx(a.key), fields: a.fields, ...cond };
        case "hdel":
          return { op: a.op, k: idx(a.key), fields: a.fields, ...cond };
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
    let fenceArg = "";
    if (fence) {
      keyList.push(fence.key);
      fenceArg = JSON.stringify({ kind: fence.kind, k: keyList.length, owner: fence.owner });
    }
    const res = await (this.deps.redis as Redis & Scripts).tgGuardApply(
      keyList.length,
      ...keyList,
      JSON.stringify(ops),
      fenceArg,
    );
    if ((JSON.parse(res) as { lost?: boolean }).lost) throw new LeaseLost(guard);
    const out = JSON.parse(res) as {
      changed: number[] | object;
      skipped: Skip[] | object;
      failed?: { i: number; error: string }[] | object;
    };
    for (const f of Array.isArray(out.failed) ? out.failed : []) {
      const action = actions[f.i - 1]!;
      this.deps.log.error(
        { guard, action, error: f.error },
        "flag change failed in Redis; the guard's other changes applied",
      );
      await this.deps.audit
        .append({ actor: `guard:${guard}`, action: "flag.failed", details: { ...action, error: f.error } })
        .catch((err) => this.deps.log.error({ err }, "audit of a failed flag change failed"));
    }
    for (const i of Array.isArray(out.changed) ? out.changed : []) {
      const a = actions[i - 1]!;
      await this.deps.audit
        .append({ actor: `guard:${guard}`, action: "flag.changed", details: { ...a } })
        .catch((err) => this.deps.log.error({ err }, "audit of a flag change failed"));
    }
    const skipped: SkippedChange[] = [];
    for (const s of Array.isArray(out.skipped) ? out.skipped : []) {
      const action = actions[s.i - 1]!;
      const e = expects[s.i - 1];
      const expected = (e !== null && typeof e === "object" ? e[s.field ?? ""] : e) ?? null;
      const skip: SkippedChange = { action, expected, actual: s.actual ?? null };
      if (s.field !== undefined) skip.field = s.field;
      skipped.push(skip);
      this.deps.log.warn(
        { guard, ...skip, sop: "sop-guard-replicas" },
        "flag change skipped: the key changed after the guard read it",
      );
      await this.deps.audit
        .append({
          actor: `guard:${guard}`,
          action: "flag.skipped",
          details: { ...action, reason: "changed since read", field: skip.field, expected, actual: skip.actual },
        })
        .catch((err) => this.deps.log.error({ err }, "audit of a skipped flag change failed"));
    }
    return skipped;
  }

  /** Releases the guard locks this instance holds (in one round trip); a lock that fails to release expires. */
  async release(guards: string[], owner: string): Promise<void> {
    if (guards.length === 0) return;
    const p = this.deps.redis.pipeline() as unknown as Scripts & { exec(): Promise<unknown> };
    for (const g of guards) p.tgGuardRelease(this.deps.keys.guardLock(g), owner);
    await p.exec().catch((err) => this.deps.log.warn({ err }, "guard lock release failed (it expires)"));
  }
}

type Skip = { i: number; field?: string; actual?: string | null };

/** What the guard read of the key a change touches (undefined: it did not read it, so the change is unconditional). */
function expectation(a: FlagChange, read: ReadValues): string | null | Record<string, string | null> | undefined {
  if (a.op === "set" || a.op === "del") {
    const v = read.get(`string ${a.key}`);
    return v === undefined ? undefined : (v as string | null);
  }
  if (a.op === "hset" || a.op === "hdel") {
    const h = read.get(`hash ${a.key}`) as Record<string, string> | undefined;
    if (h === undefined) return undefined;
    const fields = a.op === "hset" ? Object.keys(a.fields) : a.fields;
    return Object.fromEntries(fields.map((f) => [f, Object.hasOwn(h, f) ? h[f]! : null]));
  }
  return undefined;
}

/** "2 flag change(s) skipped: changed since read (demo:book[AAPL], demo:flag)" for a guard's state detail. */
export function describeSkipped(skipped: SkippedChange[]): string {
  const names = skipped.map((s) => {
    const key = "key" in s.action ? s.action.key : s.action.channel;
    return s.field === undefined ? key : `${key}[${s.field}]`;
  });
  return `${skipped.length} flag change(s) skipped: changed since read (${names.join(", ")})`;
}
