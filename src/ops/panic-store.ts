// Panic state in Redis (`panic:<id>`, `panic:active`, `panic:last`): the start of a panic sets the halt flag and
// claims `panic:active` in one script, so the halt is published before any broker call and a second request joins
// the running panic instead of flattening twice. A lease (in Redis's own clock, so hosts' clocks do not matter) lets
// another process (or a restarted bot) take over a panic whose owner died.
import type { Redis } from "ioredis";
import type { Keys } from "../state/keys.js";
import { MODE_LUA, modeEventJson } from "../state/mode.js";
import { type KeyProblem, readKeys } from "../state/validate.js";
import { type PanicReport, panicReportSchema } from "./panic-report.js";

/** Redis's clock in epoch ms, inside a script. */
const NOW_LUA = `
local function tg_now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// KEYS: panic:active, panic:<id>, mode, mode:meta, resume:soak, clear:active
// ARGV: id, reason, actor, ts, channel, owner, leaseMs, reportJson, mode event JSON, key prefix
// A `panic:active` naming a panic that is not running (its record missing, unreadable or done: a stale pointer) is
// replaced; one naming a running panic is joined — and the halt flag is (re)asserted if something changed it.
const BEGIN = `${MODE_LUA}${NOW_LUA}
local existing = redis.call('GET', KEYS[1])
if existing then
  local ok, st = pcall(redis.call, 'HGET', ARGV[10] .. 'panic:' .. existing, 'state')
  if ok and st == 'running' then
    if redis.call('GET', KEYS[3]) ~= 'halt' then
      tg_set_mode(KEYS[3], KEYS[4], ARGV[5], 'halt', ARGV[2], ARGV[3], ARGV[4], existing, ARGV[9])
    end
    return {0, existing}
  end
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'running', 'owner', ARGV[6], 'lease', tostring(tg_now_ms() + tonumber(ARGV[7])),
  'report', ARGV[8], 'attempts', '1')
tg_set_mode(KEYS[3], KEYS[4], ARGV[5], 'halt', ARGV[2], ARGV[3], ARGV[4], ARGV[1], ARGV[9])
redis.call('DEL', KEYS[5], KEYS[6])
return {1, ARGV[1]}
`;

// KEYS: panic:<id>. ARGV: owner, leaseMs, "takeover" | "renew".
// Renews this owner's lease, or takes over a running panic whose lease expired (or that this owner left unfinished):
// a takeover counts a new execution attempt. Returns the attempt number, 0 when not claimed, -1 when the record is
// missing (lost in a failover: nobody else holds it, and the halt keeper restores it).
const CLAIM = `${NOW_LUA}
local st = redis.call('HGET', KEYS[1], 'state')
if not st then return -1 end
if st ~= 'running' then return 0 end
local now = tg_now_ms()
local owner = redis.call('HGET', KEYS[1], 'owner')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') or 0
if owner ~= ARGV[1] and lease > now then return 0 end
if ARGV[3] == 'renew' and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease', tostring(now + tonumber(ARGV[2])))
if ARGV[3] == 'takeover' then return redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
return tonumber(redis.call('HGET', KEYS[1], 'attempts') or '1') or 1
`;

// KEYS: panic:<id>, panic:active, panic:last. ARGV: id, reportJson, owner.
// Only the owner records the result (a process whose panic another took over does not overwrite it); a panic that
// never had a record (flattened while Redis could not take the halt flag) gets one. Returns 1, or 0 when superseded.
const FINISH = `
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner and owner ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], 'state', 'done', 'report', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[1])
return 1
`;

// KEYS: mode, mode:meta, panic:active, panic:<id>, panic:last, resume:soak, clear:active
// ARGV: id, since (the halt's), reason, actor, channel, mode event JSON, owner, leaseMs, reportJson, nowIso,
//       finished ("1" | "0")
// Re-asserts a halt a failover may have lost, on whatever primary this runs on: `present` when mode is halt (this
// panic's or another's; `checked_at` is written so that a WAIT after it covers the halt); `superseded` when the mode is reduce_only/active and descends from this halt or a later one
// (mode:meta.last_halt ≥ the halt's since; for a meta without last_halt, its since later than the halt's): a resume
// is never undone; otherwise the halt was lost: set again as it was (same since, reason, actor, panic id), with
// `reasserted_at`, and — like BEGIN — the soak and a pending clear request go. The panic's own keys are restored where
// missing (they were lost with it): panic:active and a running record while it runs, the finished record after.
const REASSERT = `${MODE_LUA}${NOW_LUA}
local iso = '^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%dZ$'
local okm, cur = pcall(redis.call, 'GET', KEYS[1])
cur = okm and cur or false
if cur == 'halt' then
  local okp, pid = pcall(redis.call, 'HGET', KEYS[2], 'panic_id')
  -- A write, so that a WAIT after this script waits for the replicas to have everything up to the halt.
  if okp then redis.call('HSET', KEYS[2], 'checked_at', ARGV[10]) end
  return {'present', (okp and pid) or ''}
end
local okl, last = pcall(redis.call, 'HGET', KEYS[2], 'last_halt')
local oks, since = pcall(redis.call, 'HGET', KEYS[2], 'since')
last = okl and last or false
since = oks and since or false
local later = false
if last then later = string.match(last, iso) ~= nil and last >= ARGV[2]
elseif since then later = string.match(since, iso) ~= nil and since > ARGV[2] end
if later and (cur == 'reduce_only' or cur == 'active') then
  return {'superseded', cur, since or '', last or ''}
end
tg_set_mode(KEYS[1], KEYS[2], ARGV[5], 'halt', ARGV[3], ARGV[4], ARGV[2], ARGV[1], ARGV[6])
redis.call('HSET', KEYS[2], 'reasserted_at', ARGV[10])
redis.call('DEL', KEYS[6], KEYS[7])
local okr, st = pcall(redis.call, 'HGET', KEYS[4], 'state')
if okr and not st then
  if ARGV[11] == '0' then
    redis.call('HSET', KEYS[4], 'state', 'running', 'owner', ARGV[7], 'lease',
      tostring(tg_now_ms() + tonumber(ARGV[8])), 'report', ARGV[9], 'attempts', '1')
  else
    redis.call('HSET', KEYS[4], 'state', 'done', 'report', ARGV[9])
  end
end
local target = KEYS[3]
if ARGV[11] ~= '0' then target = KEYS[5] end
local oka, a = pcall(redis.call, 'GET', target)
if oka and not a then redis.call('SET', target, ARGV[1]) end
return {'reasserted', cur or ''}
`;

/** What a re-assertion found (PanicStore.reassert). */
export type ReassertOutcome =
  | { kind: "present"; panicId: string }
  | { kind: "superseded"; mode: string; since: string; lastHalt: string }
  | { kind: "reasserted"; previous: string };

type Scripts = Redis & {
  tgPanicBegin(...a: string[]): Promise<[number, string]>;
  tgPanicClaim(...a: string[]): Promise<number>;
  tgPanicFinish(...a: string[]): Promise<number>;
  tgPanicReassert(...a: string[]): Promise<string[]>;
};

/** Redis persistence of panics. */
export class PanicStore {
  private readonly r: Scripts;
  constructor(
    redis: Redis,
    private readonly keys: Keys,
  ) {
    redis.defineCommand("tgPanicBegin", { numberOfKeys: 6, lua: BEGIN });
    redis.defineCommand("tgPanicClaim", { numberOfKeys: 1, lua: CLAIM });
    redis.defineCommand("tgPanicFinish", { numberOfKeys: 3, lua: FINISH });
    redis.defineCommand("tgPanicReassert", { numberOfKeys: 7, lua: REASSERT });
    this.r = redis as Scripts;
  }

  /** Sets mode=halt, publishes it and claims `panic:active` — or returns the id of the panic already running. */
  async begin(report: PanicReport, owner: string, leaseMs: number): Promise<{ started: boolean; id: string }> {
    const k = this.keys;
    const since = report.haltedAt ?? report.requestedAt;
    const [started, id] = await this.r.tgPanicBegin(
      k.panicActive,
      k.panic(report.id),
      k.mode,
      k.modeMeta,
      k.resumeSoak,
      k.clearActive,
      report.id,
      report.reason,
      report.actor,
      since,
      k.modeChannel,
      owner,
      String(leaseMs),
      JSON.stringify(report),
      modeEventJson("halt", report.reason, report.actor, since),
      k.prefix,
    );
    return { started: started === 1, id };
  }

  /**
   * Takes over a running panic (its owner's lease lapsed, or it is this owner's own unfinished panic) and returns
   * the new attempt number (a takeover after a crash is attempt 2, ...); 0 when another live owner holds it or it
   * is done.
   */
  takeover(id: string, owner: string, leaseMs: number): Promise<number> {
    return this.r.tgPanicClaim(this.keys.panic(id), owner, String(leaseMs), "takeover");
  }

  /**
   * Renews this owner's lease on a running panic; false when it lost it (another process took over) or it is done.
   * A record that is missing (a failover lost it; the halt keeper restores it) is not lost to anyone: true.
   */
  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return (await this.r.tgPanicClaim(this.keys.panic(id), owner, String(leaseMs), "renew")) !== 0;
  }

  /**
   * Sets this panic's halt again where a failover lost it, unless the mode has moved on from it (see REASSERT):
   * run on whatever primary answers. `report.haltedAt` is the halt's since.
   */
  async reassert(report: PanicReport, owner: string, leaseMs: number, now: Date): Promise<ReassertOutcome> {
    const k = this.keys;
    const since = report.haltedAt ?? report.requestedAt;
    const r = await this.r.tgPanicReassert(
      k.mode,
      k.modeMeta,
      k.panicActive,
      k.panic(report.id),
      k.panicLast,
      k.resumeSoak,
      k.clearActive,
      report.id,
      since,
      report.reason,
      report.actor,
      k.modeChannel,
      modeEventJson("halt", report.reason, report.actor, since),
      owner,
      String(leaseMs),
      JSON.stringify(report),
      now.toISOString(),
      report.finishedAt ? "1" : "0",
    );
    if (r[0] === "present") return { kind: "present", panicId: r[1] ?? "" };
    if (r[0] === "superseded") return { kind: "superseded", mode: r[1] ?? "", since: r[2] ?? "", lastHalt: r[3] ?? "" };
    return { kind: "reasserted", previous: r[1] ?? "" };
  }

  /** Saves progress of a running panic. */
  async saveProgress(report: PanicReport): Promise<void> {
    await this.r.hset(this.keys.panic(report.id), "report", JSON.stringify(report));
  }

  /** Marks the panic done with its final report and releases `panic:active`; false when another owner took it over. */
  async finish(report: PanicReport, owner: string): Promise<boolean> {
    return (
      (await this.r.tgPanicFinish(
        this.keys.panic(report.id),
        this.keys.panicActive,
        this.keys.panicLast,
        report.id,
        JSON.stringify(report),
        owner,
      )) === 1
    );
  }

  /** The id of the running panic, if any. */
  active(): Promise<string | null> {
    return this.r.get(this.keys.panicActive);
  }

  /** State and report of one panic (null when unknown or unreadable; readRecord says why). */
  async get(
    id: string,
  ): Promise<{ state: "running" | "done"; owner: string | null; lease: number; report: PanicReport } | null> {
    const r = await this.readRecord(id);
    return r && "report" in r ? r : null;
  }

  /** One panic's record; an unreadable one is reported with the reason instead of being dropped silently. */
  async readRecord(
    id: string,
  ): Promise<
    | { state: "running" | "done"; owner: string | null; lease: number; report: PanicReport }
    | { problem: KeyProblem }
    | null
  > {
    const key = `panic:${id}`;
    const read = (await readKeys(this.r, [{ name: key, key: this.keys.panic(id), cmd: "hgetall" }])).get(key)!;
    if (!read.ok) return { problem: { key, problem: read.problem } };
    const h = read.value as Record<string, string>;
    if (Object.keys(h).length === 0) return null;
    if (!h.report) return { problem: { key, problem: "no report field" } };
    const parsed = panicReportSchema.safeParse(safeJson(h.report));
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      return { problem: { key, problem: `report unreadable (${i.path.join(".") || "value"}: ${i.message})` } };
    }
    return {
      state: h.state === "done" ? "done" : "running",
      owner: h.owner ?? null,
      lease: Number(h.lease ?? 0),
      report: parsed.data,
    };
  }

  /** The report of one panic. */
  async report(id: string): Promise<PanicReport | null> {
    return (await this.get(id))?.report ?? null;
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
