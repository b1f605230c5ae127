// Who runs a guard's tick across bot replicas, as short leases renewed while the tick runs. A scheduled slot is
// claimed by the first replica (`guards:slot:<guard>:<slot>`, a hash: owner, state running → done) and leased
// (`guards:leases:<guard>`, a sorted set: slot → when its lease lapses, by Redis's clock). The holder renews the lease
// every third of it; a holder that dies stops renewing, and once its lease has lapsed the next replica to tick that
// guard takes the slot over and runs it. A done slot is never run again; a slot that crashed every holder it had
// (MAX_TAKEOVERS) is abandoned rather than taken over forever. Leases are per slot, not per guard, so a dead holder
// never holds up the slots after its own: it costs one slot, run late by at most the lease plus one interval. A manual
// run (`tradeguard guards run`) takes the guard's lock (`lock:guard:<guard>`) instead, leased the same way.
import type { Redis } from "ioredis";
import type { Logger } from "../../log.js";
import type { Keys } from "../../state/keys.js";

/** How long a slot's record is kept: within it, a done slot is never run again and a lapsed one can be taken over. */
export const SLOT_TTL_MS = 3_600_000;
/** RUNBOOK.md anchor of what the lease log lines mean. */
export const SOP = "sop-guard-replicas";
/** A slot taken over this many times (each holder died running it) is abandoned, not run by yet another replica. */
export const MAX_TAKEOVERS = 2;

const NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)";

// KEYS: slot hash, leases zset, the guard's manual lock. ARGV: owner, lease ms, slot, record ttl ms. Returns {claimed
// 0|1, a lapsed slot or ''}. A slot key of another type (a replica of an older version claimed it with SET NX) counts
// as claimed elsewhere. While a manual run holds the guard's lock the slot is left alone: that run is doing its work
// right now. The lease goes in first, so a leases key of the wrong type fails before a slot is claimed without one.
const CLAIM = `${NOW}
local claimed = 0
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'state', 'running', 'claimed_at', now)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  claimed = 1
end
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. now, 'LIMIT', 0, 1)
return {claimed, lapsed[1] or ''}`;

// KEYS: slot hash, leases zset. ARGV: owner, lease ms, slot, max takeovers, record ttl ms.
// Returns {1, previous owner} | {0, ''} (the lease is live again: someone took it first) | {-1, state} (not runnable).
const TAKEOVER = `${NOW}
local score = redis.call('ZSCORE', KEYS[2], ARGV[3])
if not score or tonumber(score) >= now then return {0, ''} end
local state = redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[1], 'state') or 'expired'
if state ~= 'running' then redis.call('ZREM', KEYS[2], ARGV[3]) return {-1, state} end
local from = redis.call('HGET', KEYS[1], 'owner') or ''
if tonumber(redis.call('HGET', KEYS[1], 'takeovers') or '0') >= tonumber(ARGV[4]) then
  redis.call('HSET', KEYS[1], 'state', 'abandoned', 'done_at', now)
  redis.call('ZREM', KEYS[2], ARGV[3])
  return {-1, 'abandoned'}
end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'taken_from', from, 'taken_at', now)
redis.call('HINCRBY', KEYS[1], 'takeovers', 1)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
return {1, from}`;

// KEYS: slot hash, leases zset. ARGV: owner, lease ms, slot, record ttl ms. 1 while the slot is still this owner's,
// else 0. The records' TTL is extended too: a run longer than it never loses its record.
const RENEW = `${NOW}
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'running' then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return 1
end
return 0`;

// KEYS: slot hash, leases zset. ARGV: owner, slot, final state (done | failed). 0 when another replica has it now.
const FINISH = `${NOW}
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'done_at', now)
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`;

// KEYS: the guard's manual lock, its leases zset. ARGV: owner, lease ms. 1 when taken; 0 when another manual run
// holds it or a scheduled tick of the guard is running (a live lease): the two never overlap.
const CLAIM_LOCK = `${NOW}
if redis.call('ZCOUNT', KEYS[2], now, '+inf') > 0 then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
return 0`;

// The manual run's guard lock: compare-and-pexpire (renew) and compare-and-delete (release, in effects.ts).
const RENEW_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;

type Scripts = {
  tgSlotClaim(
    slotKey: string,
    leases: string,
    lock: string,
    owner: string,
    ms: number,
    slot: string,
    ttl: number,
  ): Promise<unknown>;
  tgLockClaim(lock: string, leases: string, owner: string, ms: number): Promise<number>;
  tgSlotTakeover(
    slotKey: string,
    leases: string,
    owner: string,
    ms: number,
    slot: string,
    max: number,
    ttl: number,
  ): Promise<unknown>;
  tgSlotRenew(slotKey: string, leases: string, owner: string, ms: number, slot: string, ttl: number): Promise<number>;
  tgSlotFinish(slotKey: string, leases: string, owner: string, slot: string, state: string): Promise<number>;
  tgLockRenew(key: string, owner: string, ms: number): Promise<number>;
};
type Pipe = Scripts & { exec(): Promise<[Error | null, unknown][] | null> };

/** The sorted set of one guard's leased slots (slot → when its lease lapses, epoch ms of Redis's clock). */
export const leasesKey = (keys: Keys, guard: string) => keys.raw(`guards:leases:${guard}`);

/** A slot or a lock this instance holds while a tick runs. */
export type Held = { kind: "slot"; guard: string; slot: string } | { kind: "lock"; guard: string };

/** What a tick got: the guards whose slot (or lock) it holds, and per guard a lapsed slot it may try to take over. */
export interface Claim {
  mine: string[];
  lapsed: { guard: string; slot: string }[];
}

/** Leases of one tick: claims, takes over, renews every third of the lease while the tick runs, and finishes. */
export class TickLeases {
  private readonly held = new Map<string, Held>();
  private readonly lost = new Set<string>();
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<void>;

  constructor(
    private readonly deps: { redis: Redis; keys: Keys; log: Logger },
    private readonly owner: string,
    private readonly leaseMs: number,
    /** How long a guard's slot records live (renewals and takeovers extend them): at least its next tick. */
    private readonly ttlMs: (guard: string) => number = () => SLOT_TTL_MS,
  ) {
    defineScripts(deps.redis);
  }

  /** Claims `slot` of each guard (or, for a manual run, each guard's lock) in one round trip. */
  async claim(guards: string[], slot: string | null): Promise<Claim> {
    const { redis, keys } = this.deps;
    const p = redis.pipeline() as unknown as Pipe;
    for (const g of guards) {
      if (slot)
        p.tgSlotClaim(
          keys.guardSlot(g, slot),
          leasesKey(keys, g),
          keys.guardLock(g),
          this.owner,
          this.leaseMs,
          slot,
          this.ttlMs(g),
        );
      else p.tgLockClaim(keys.guardLock(g), leasesKey(keys, g), this.owner, this.leaseMs);
    }
    const replies = (await p.exec()) ?? [];
    const out: Claim = { mine: [], lapsed: [] };
    guards.forEach((g, i) => {
      const [err, reply] = replies[i] ?? [new Error("no reply"), null];
      if (err) throw err;
      if (!slot) {
        if (reply !== 1) return;
        this.hold({ kind: "lock", guard: g });
        out.mine.push(g);
        return;
      }
      const [claimed, lapsed] = reply as [number, string];
      if (claimed === 1) {
        this.hold({ kind: "slot", guard: g, slot });
        out.mine.push(g);
      }
      if (lapsed) out.lapsed.push({ guard: g, slot: lapsed });
    });
    return out;
  }

  /** Takes over a slot whose holder's lease lapsed; the previous owner, or null when it is not this instance's to run. */
  async takeOver(guard: string, slot: string): Promise<{ from: string } | null> {
    const { redis, keys, log } = this.deps;
    const [got, info] = (await (redis as Redis & Scripts).tgSlotTakeover(
      keys.guardSlot(guard, slot),
      leasesKey(keys, guard),
      this.owner,
      this.leaseMs,
      slot,
      MAX_TAKEOVERS,
      this.ttlMs(guard),
    )) as [number, string];
    if (got === 1) {
      this.hold({ kind: "slot", guard, slot });
      return { from: info };
    }
    if (got === -1 && info === "abandoned")
      log.error({ guard, slot, sop: SOP }, `guard slot abandoned: ${MAX_TAKEOVERS + 1} holders died running it`);
    else if (got === -1) log.warn({ guard, slot, state: info }, "lapsed guard slot not taken over (no longer running)");
    return null;
  }

  /** True when this instance no longer holds the guard's slot (or, slot null, its lock): another replica took it. */
  isLost(guard: string, slot: string | null): boolean {
    return this.lost.has(id(slot ? { kind: "slot", guard, slot } : { kind: "lock", guard }));
  }

  /** Starts renewing every third of the lease (idempotent). */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(
      () => {
        this.renewing ??= this.renew().finally(() => {
          this.renewing = undefined;
        });
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    this.timer.unref();
  }

  /**
   * After a run: marks each guard's slot done (or failed: the run threw; either way it is never run again) if it is
   * still this instance's. A slot lost meanwhile is left to the replica that took it over.
   */
  async settle(guards: string[], slot: string, state: "done" | "failed"): Promise<void> {
    const { redis, keys, log } = this.deps;
    const mine = guards.filter((g) => !this.isLost(g, slot));
    for (const g of guards) this.held.delete(id({ kind: "slot", guard: g, slot }));
    if (mine.length === 0) return;
    const p = redis.pipeline() as unknown as Pipe;
    for (const g of mine) p.tgSlotFinish(keys.guardSlot(g, slot), leasesKey(keys, g), this.owner, slot, state);
    const replies = await p.exec().catch((err: Error) => {
      log.warn({ err, slot }, "guard slot not marked done (its lease lapses and another replica runs it again)");
      return null;
    });
    mine.forEach((g, i) => {
      const [err, n] = replies?.[i] ?? [null, 1];
      if (!err && n === 0) log.warn({ guard: g, slot }, "guard slot was taken over while it ran: it ran twice");
    });
  }

  /** Stops renewing the guards' locks (a manual run's), which the caller then releases. */
  forgetLocks(guards: string[]): void {
    for (const g of guards) this.held.delete(id({ kind: "lock", guard: g }));
  }

  /** Stops renewing (the caller finishes its slots and releases its locks). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
  }

  private hold(h: Held): void {
    this.held.set(id(h), h);
  }

  private async renew(): Promise<void> {
    const { redis, keys, log } = this.deps;
    const held = [...this.held.values()];
    if (held.length === 0) return;
    const p = redis.pipeline() as unknown as Pipe;
    for (const h of held) {
      if (h.kind === "lock") p.tgLockRenew(keys.guardLock(h.guard), this.owner, this.leaseMs);
      else
        p.tgSlotRenew(
          keys.guardSlot(h.guard, h.slot),
          leasesKey(keys, h.guard),
          this.owner,
          this.leaseMs,
          h.slot,
          this.ttlMs(h.guard),
        );
    }
    const replies = await p.exec().catch((err: Error) => {
      log.warn({ err }, "guard lease renewal failed (retried at the next renewal)");
      return null;
    });
    held.forEach((h, i) => {
      const [err, n] = replies?.[i] ?? [null, 1];
      // A slot finished or a lock released while the renewal was on its way is no longer this tick's to lose.
      if (err || n !== 0 || this.lost.has(id(h)) || !this.held.has(id(h))) return;
      this.lost.add(id(h));
      log.warn({ ...h, sop: SOP }, "guard lease lost: another replica took this tick over");
    });
  }
}

const id = (h: Held) => (h.kind === "lock" ? `lock ${h.guard}` : `slot ${h.guard} ${h.slot}`);

const defined = new WeakSet<Redis>();
function defineScripts(redis: Redis): void {
  if (defined.has(redis)) return;
  defined.add(redis);
  redis.defineCommand("tgSlotClaim", { numberOfKeys: 3, lua: CLAIM });
  redis.defineCommand("tgLockClaim", { numberOfKeys: 2, lua: CLAIM_LOCK });
  redis.defineCommand("tgSlotTakeover", { numberOfKeys: 2, lua: TAKEOVER });
  redis.defineCommand("tgSlotRenew", { numberOfKeys: 2, lua: RENEW });
  redis.defineCommand("tgSlotFinish", { numberOfKeys: 2, lua: FINISH });
  redis.defineCommand("tgLockRenew", { numberOfKeys: 1, lua: RENEW_LOCK });
}
