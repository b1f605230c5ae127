// Panic state in Redis (`panic:<id>`, `panic:active`, `panic:last`): the start of a panic sets the halt flag and
// claims `panic:active` in one script, so the halt is published before any broker call and a second request joins
// the running panic instead of flattening twice. A lease lets another process (or a restarted bot) take over a
// panic whose owner died.
import type { Redis } from "ioredis";
import type { Keys } from "../state/keys.js";
import { MODE_LUA } from "../state/mode.js";
import { type PanicReport, panicReportSchema } from "./panic-report.js";

// KEYS: panic:active, panic:<id>, mode, mode:meta, resume:soak, clear:active
// ARGV: id, reason, actor, ts, channel, owner, leaseUntilMs, reportJson
const BEGIN = `${MODE_LUA}
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'state', 'running', 'owner', ARGV[6], 'lease', ARGV[7], 'report', ARGV[8], 'attempts', '1')
tg_set_mode(KEYS[3], KEYS[4], ARGV[5], 'halt', ARGV[2], ARGV[3], ARGV[4], ARGV[1])
redis.call('DEL', KEYS[5], KEYS[6])
return {1, ARGV[1]}
`;

// KEYS: panic:<id>. ARGV: owner, nowMs, leaseUntilMs, "takeover" | "renew".
// Renews this owner's lease, or takes over a running panic whose lease expired (or that this owner left unfinished):
// a takeover counts a new execution attempt. Returns the attempt number, or 0 when not claimed.
const CLAIM = `
if redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
local owner = redis.call('HGET', KEYS[1], 'owner')
local lease = tonumber(redis.call('HGET', KEYS[1], 'lease') or '0') or 0
if owner ~= ARGV[1] and lease > tonumber(ARGV[2]) then return 0 end
if ARGV[4] == 'renew' and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'lease', ARGV[3])
if ARGV[4] == 'takeover' then return redis.call('HINCRBY', KEYS[1], 'attempts', 1) end
return tonumber(redis.call('HGET', KEYS[1], 'attempts') or '1') or 1
`;

// KEYS: panic:<id>, panic:active, panic:last. ARGV: id, reportJson
const FINISH = `
redis.call('HSET', KEYS[1], 'state', 'done', 'report', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[1])
return 1
`;

type Scripts = Redis & {
  tgPanicBegin(...a: string[]): Promise<[number, string]>;
  tgPanicClaim(...a: string[]): Promise<number>;
  tgPanicFinish(...a: string[]): Promise<number>;
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
    this.r = redis as Scripts;
  }

  /** Sets mode=halt, publishes it and claims `panic:active` — or returns the id of the panic already running. */
  async begin(report: PanicReport, owner: string, leaseUntilMs: number): Promise<{ started: boolean; id: string }> {
    const k = this.keys;
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
      report.haltedAt ?? report.requestedAt,
      k.modeChannel,
      owner,
      String(leaseUntilMs),
      JSON.stringify(report),
    );
    return { started: started === 1, id };
  }

  /**
   * Takes over a running panic (its owner's lease lapsed, or it is this owner's own unfinished panic) and returns
   * the new attempt number (a takeover after a crash is attempt 2, ...); 0 when another live owner holds it or it
   * is done.
   */
  takeover(id: string, owner: string, nowMs: number, leaseUntilMs: number): Promise<number> {
    return this.r.tgPanicClaim(this.keys.panic(id), owner, String(nowMs), String(leaseUntilMs), "takeover");
  }

  /** Renews this owner's lease on a running panic; false when it lost it or the panic is done. */
  async renew(id: string, owner: string, nowMs: number, leaseUntilMs: number): Promise<boolean> {
    return (await this.r.tgPanicClaim(this.keys.panic(id), owner, String(nowMs), String(leaseUntilMs), "renew")) > 0;
  }

  /** Saves progress of a running panic. */
  async saveProgress(report: PanicReport): Promise<void> {
    await this.r.hset(this.keys.panic(report.id), "report", JSON.stringify(report));
  }

  /** Marks the panic done with its final report and releases `panic:active`. */
  async finish(report: PanicReport): Promise<void> {
    await this.r.tgPanicFinish(
      this.keys.panic(report.id),
      this.keys.panicActive,
      this.keys.panicLast,
      report.id,
      JSON.stringify(report),
    );
  }

  /** The id of the running panic, if any. */
  active(): Promise<string | null> {
    return this.r.get(this.keys.panicActive);
  }

  /** State and report of one panic (null when unknown or unreadable). */
  async get(
    id: string,
  ): Promise<{ state: "running" | "done"; owner: string | null; lease: number; report: PanicReport } | null> {
    const h = await this.r.hgetall(this.keys.panic(id));
    if (!h.report) return null;
    const parsed = panicReportSchema.safeParse(safeJson(h.report));
    if (!parsed.success) return null;
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
