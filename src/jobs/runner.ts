// The guard runner. Per tick: claim the guard's slot (one replica per slot, leased; runner/lease.ts) → read every
// key the due guards declared in ONE pipelined round trip and validate it (runner/snapshot.ts: garbage becomes a
// "data invalid" finding, never a crash) → probe (I/O, with a timeout) → evaluate (pure) → apply flag changes
// atomically, conditional on what the guard read, and audit them (runner/effects.ts) → alerts → record state and
// metrics. A guard that throws or overruns is reported; the others keep running. Settings come parsed from the config (config.guards); a guard whose subject
// the desk has not declared yet is never run and shows as "not configured".
import type { Redis } from "ioredis";
import type { ScheduledTask } from "node-cron";
import type { Counter, Gauge, Histogram } from "prom-client";
import type { AuditLog } from "../audit/log.js";
import type { Config } from "../config.js";
import { ConfigError, UserInputError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { GuardState, GuardStatus } from "../ops/deps.js";
import type { Keys } from "../state/keys.js";
import { HASH_FIELD_CHECKS, type KeyProblem, readKeys } from "../state/validate.js";
import type { AlertPipeline } from "./alerts.js";
import type { Finding, Guard, KeyRead, ProbeContext } from "./guard.js";
import { describeSkipped, EffectRunner, LeaseLost } from "./runner/effects.js";
import { evaluateGuard } from "./runner/evaluate.js";
import { SOP as LEASE_SOP, SLOT_TTL_MS, TickLeases } from "./runner/lease.js";
import { intervalMs, scheduleTicks } from "./runner/schedule.js";
import { type GuardValues, readSnapshot } from "./runner/snapshot.js";

export const GUARD_STATE_VALUE: Record<Exclude<GuardState, "not_configured">, number> = {
  ok: 0,
  warn: 1,
  critical: 2,
  stale: 3,
  error: 4,
};

export interface GuardRun {
  name: string;
  state: GuardState;
  detail: string;
  lastRun: string;
  durationMs: number;
}

export interface RunOnceResult {
  findings: Finding[];
  guards: GuardRun[];
  /** Keys of the engine's own state that could not be read this tick (e.g. `alerts:open` of the wrong type). */
  unreadable: KeyProblem[];
  /** Scheduled slots this tick took over from a replica whose lease lapsed (they ran here, after the tick's own). */
  takeovers?: { guard: string; slot: string; from: string }[];
}

/** What a probe is given: the ProbeContext, and the scheduled slot the run is for (null: a manual run). */
export interface TickContext extends ProbeContext {
  slot: string | null;
}

interface Entry {
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
  guard: Guard<any, any, any>;
  config: unknown;
  schedule: string;
  enabled: boolean;
  /** Why the guard is off until configured (null: it may run). */
  notConfigured: string | null;
  timeoutMs: number;
  /** Time between two scheduled runs (for staleness). */
  intervalMs: number;
  reads: Record<string, KeyRead>;
  task?: ScheduledTask;
}

export interface RunnerDeps {
  redis: Redis;
  keys: Keys;
  config: Config;
  log: Logger;
  metrics: Metrics;
  // biome-ignore lint/suspicious/noExplicitAny: see Entry.guard
  guards: Guard<any, any, any>[];
  alerts: AlertPipeline;
  audit: AuditLog;
  instanceId: string;
  now?: () => Date;
}

/** Schedules guards, runs ticks, applies effects. */
export class GuardRunner {
  private readonly entries: Entry[];
  private readonly now: () => Date;
  private readonly effects: EffectRunner;
  private readonly stateGauge: Gauge;
  private readonly runs: Counter;
  private readonly durations: Histogram;
  /** Redis round trips of the last tick (reported by the benchmark). */
  lastTickRoundTrips = 0;
  /** Ticks started by this instance: each holds its leases under its own owner token. */
  private ticks = 0;

  constructor(private readonly deps: RunnerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.entries = deps.guards.map((guard) => {
      const s = deps.config.guards[guard.name];
      if (!s) throw new ConfigError(`guard ${guard.name}: its settings were not parsed with the configuration`);
      return {
        guard,
        config: s.settings,
        schedule: s.schedule,
        enabled: s.enabled,
        notConfigured: s.notConfigured,
        timeoutMs: s.timeoutMs,
        intervalMs: intervalMs(s.schedule),
        reads: guard.reads(s.settings),
      };
    });
    this.effects = new EffectRunner(deps);
    // Every metric comes from the catalog (src/metrics-catalog.ts); a guard declaring a gauge it lacks stops here.
    const m = deps.metrics;
    this.stateGauge = m.guardState;
    this.runs = m.guardRuns;
    this.durations = m.guardDuration;
    for (const e of this.entries) for (const g of e.guard.metrics ?? []) m.checkGuardGauge(g.name);
  }

  /** Guards with their schedules (for `tradeguard guards list`). */
  list(): { name: string; schedule: string; enabled: boolean; notConfigured: string | null; nextRun: string | null }[] {
    return this.entries.map((e) => {
      const next = e.task?.getNextRun() ?? null;
      return {
        name: e.guard.name,
        schedule: e.schedule,
        enabled: e.enabled,
        notConfigured: e.notConfigured,
        nextRun: next ? next.toISOString() : null,
      };
    });
  }

  /** Guards that stay off until the desk declares what they watch, with the setting that does it. */
  notConfigured(): { name: string; detail: string }[] {
    return this.entries
      .filter((e) => e.enabled && e.notConfigured)
      .map((e) => ({ name: e.guard.name, detail: e.notConfigured! }));
  }

  /**
   * The recorded state of every guard; `stale` when its last run is older than three of its intervals (or it never
   * ran while enabled and scheduled); `not_configured` while it waits for its subject to be declared.
   */
  async states(): Promise<GuardStatus[]> {
    return (await this.readStates()).guards;
  }

  /** The same, with what of `guards:state` could not be read (a guard whose record is garbage shows as such). */
  async readStates(): Promise<{ guards: GuardStatus[]; unreadable: KeyProblem[] }> {
    const read = (
      await readKeys(this.deps.redis, [{ name: "guards:state", key: this.deps.keys.guardsState, cmd: "hgetall" }])
    ).get("guards:state")!;
    const unreadable: KeyProblem[] = read.ok ? [] : [{ key: "guards:state", problem: read.problem }];
    const raw = read.ok ? (read.value as Record<string, string>) : {};
    const now = this.now().getTime();
    const guards = this.entries.map((e) => {
      let run: GuardRun = { name: e.guard.name, state: "stale", detail: "never ran", lastRun: "", durationMs: 0 };
      const rec = raw[e.guard.name];
      if (!read.ok) run.detail = `guards:state unreadable: ${read.problem}`;
      else if (rec !== undefined) {
        const problem = HASH_FIELD_CHECKS["guards:state"]!(rec);
        if (problem === null) run = JSON.parse(rec) as GuardRun;
        else {
          run.detail = `state record unreadable: ${problem}`;
          unreadable.push({ key: `guards:state[${e.guard.name}]`, problem });
        }
      }
      if (e.enabled && e.notConfigured) run = { ...run, state: "not_configured", detail: e.notConfigured };
      else if (e.enabled && run.lastRun && now - Date.parse(run.lastRun) > 3 * e.intervalMs) {
        run = { ...run, state: "stale", detail: `last ran ${run.lastRun} (${run.detail})` };
      }
      if (!e.enabled) run = { ...run, detail: `disabled${run.lastRun ? `; ${run.detail}` : ""}` };
      return { ...run, schedule: e.schedule, enabled: e.enabled };
    });
    return { guards, unreadable };
  }

  /** Starts the schedules (the bot). */
  start(): void {
    for (const e of this.entries) {
      if (!e.enabled || e.notConfigured || e.task) continue;
      e.task = scheduleTicks(
        `guard:${e.guard.name}`,
        e.schedule,
        (slot) => {
          void this.tick([e], slot).catch((err) =>
            this.deps.log.error({ err, guard: e.guard.name }, "guard tick failed"),
          );
        },
        {
          onDropped: (slot) => this.deps.log.warn({ guard: e.guard.name, slot }, "guard slot missed long ago: not run"),
        },
      );
    }
  }

  /** Stops the schedules. */
  async stop(): Promise<void> {
    for (const e of this.entries) {
      await e.task?.destroy();
      e.task = undefined;
    }
  }

  /** Runs one tick now (all enabled and configured guards, or the one named) through the same path as the schedule. */
  async runOnce(opts: { guard?: string } = {}): Promise<RunOnceResult> {
    const selected = opts.guard
      ? this.entries.filter((e) => e.guard.name === opts.guard)
      : this.entries.filter((e) => e.enabled && !e.notConfigured);
    if (opts.guard && selected.length === 0)
      throw new ConfigError(
        `--guard ${opts.guard}: unknown guard (known: ${this.entries.map((e) => e.guard.name).join(", ")})`,
      );
    if (opts.guard && selected[0]!.notConfigured)
      throw new ConfigError(`guards.${opts.guard}: ${selected[0]!.notConfigured}`);
    // A guard another run holds right now (a scheduled tick, another `guards run`) is waited for, not skipped: the
    // operator asked for its answer. Bounded by the longest guard budget and a lease.
    const deadline =
      Date.now() + Math.max(0, ...selected.map((e) => e.timeoutMs)) + this.deps.config.guardRunner.leaseMs;
    const out: RunOnceResult = { findings: [], guards: [], unreadable: [] };
    let pending = selected;
    for (;;) {
      const r = await this.tick(pending, null);
      out.findings.push(...r.findings);
      out.guards.push(...r.guards);
      out.unreadable.push(...r.unreadable.filter((u) => !out.unreadable.some((o) => o.key === u.key)));
      const ran = new Set(r.guards.map((g) => g.name));
      pending = pending.filter((e) => !ran.has(e.guard.name));
      if (pending.length === 0) return out;
      if (Date.now() > deadline)
        throw new UserInputError(
          `${pending.map((e) => e.guard.name).join(", ")}: being run by another process (a scheduled tick or another guards run) for longer than expected; try again`,
        );
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /**
   * One tick over `due` guards. `slot` (the scheduled time) makes a scheduled tick run on exactly one replica even
   * when several replicas fire for the same slot, and lets the replica take over a slot whose holder died (its lease
   * lapsed: runner/lease.ts); a manual run (slot null) takes the guard's lock instead.
   */
  async tick(due: Entry[], slot: string | null): Promise<RunOnceResult> {
    const owner = `${this.deps.instanceId}#${++this.ticks}`;
    const leaseMs = this.deps.config.guardRunner.leaseMs;
    // A slot's record outlives the next tick of its guard, so that tick can still take it over (an hourly or daily
    // guard included): twice the interval and the lease, and at least an hour.
    const ttl = new Map(due.map((e) => [e.guard.name, Math.max(SLOT_TTL_MS, 2 * e.intervalMs + leaseMs)]));
    const leases = new TickLeases(this.deps, owner, leaseMs, (g) => ttl.get(g) ?? SLOT_TTL_MS);
    const claim = await leases.claim(
      due.map((e) => e.guard.name),
      slot,
    );
    const mine = due.filter((e) => claim.mine.includes(e.guard.name));
    const takeovers: NonNullable<RunOnceResult["takeovers"]> = [];
    const empty: RunOnceResult = { findings: [], guards: [], unreadable: [] };
    if (mine.length === 0 && claim.lapsed.length === 0) return slot ? { ...empty, takeovers } : empty;
    leases.start();
    try {
      const result = mine.length ? await this.runHeld(mine, slot, leases, owner) : empty;
      if (slot) result.takeovers = takeovers;
      // A slot whose holder's lease lapsed (it died mid-tick) runs here, after this tick's own slot.
      for (const l of claim.lapsed) {
        const entry = due.find((e) => e.guard.name === l.guard)!;
        const got = await leases.takeOver(l.guard, l.slot);
        if (!got) continue;
        this.deps.log.warn(
          { guard: l.guard, slot: l.slot, from: got.from, sop: LEASE_SOP },
          "taking over a guard slot: its holder's lease lapsed",
        );
        takeovers.push({ guard: l.guard, slot: l.slot, from: got.from });
        const r = await this.runHeld([entry], l.slot, leases, owner);
        result.findings.push(...r.findings);
        result.guards.push(...r.guards);
      }
      return result;
    } finally {
      await leases.stop();
    }
  }

  /** Runs guards whose slot (or lock) `leases` holds, then finishes the slot (done, or failed) or releases the lock. */
  private async runHeld(mine: Entry[], slot: string | null, leases: TickLeases, owner: string): Promise<RunOnceResult> {
    const names = mine.map((e) => e.guard.name);
    let ok = false;
    try {
      const r = await this.run(mine, slot, (e) => !leases.isLost(e.guard.name, slot), owner);
      ok = true;
      return r;
    } finally {
      if (slot === null) {
        leases.forgetLocks(names);
        await this.effects.release(names, owner);
      } else await leases.settle(names, slot, ok ? "done" : "failed");
    }
  }

  /** The work of a tick: snapshot → probe/evaluate → effects → alerts → state. `live` drops a guard whose lease lapsed. */
  private async run(
    mine: Entry[],
    slot: string | null,
    live: (e: Entry) => boolean,
    owner: string,
  ): Promise<RunOnceResult> {
    const { redis, keys } = this.deps;
    let roundTrips = 1;
    const snap = await readSnapshot(redis, keys, mine);
    roundTrips += snap.roundTrips;
    const now = this.now();
    // Probes may wait on the network: guards evaluate concurrently.
    const evaluated = await Promise.all(mine.map((e, i) => this.evaluate(e, snap.perGuard[i]!, now, slot)));
    // A guard whose lease lapsed while it ran is another replica's now: it applies nothing and records nothing.
    const results = evaluated.filter((r) => live(r.entry));
    for (const r of evaluated)
      if (!live(r.entry)) this.deps.log.warn({ guard: r.entry.guard.name, slot }, "guard tick abandoned: lease lost");
    const findings: Finding[] = [];
    const runs: GuardRun[] = [];
    const record = redis.pipeline();
    const applied: typeof results = [];
    for (const r of results) {
      let detail = r.detail;
      if (r.actions.length) {
        roundTrips++;
        const g = r.entry.guard.name;
        // Fenced by the tick's claim: a tick that stalled past its lease (another replica runs the slot) applies
        // nothing — and, dropped here, records and alerts nothing either.
        const fence = slot
          ? { kind: "slot" as const, key: keys.guardSlot(g, slot), owner }
          : { kind: "lock" as const, key: keys.guardLock(g), owner };
        // One guard's changes failing (Redis away mid-tick) never stops the others' state and alerts.
        const skipped = await this.effects.apply(g, r.actions, r.read, fence).catch((err: Error) => {
          if (err instanceof LeaseLost) return null;
          this.deps.log.error({ err, guard: g }, "guard flag changes failed");
          detail += `; flag changes failed: ${err.message}`;
          return [];
        });
        if (skipped === null) {
          this.deps.log.warn({ guard: g, slot, sop: LEASE_SOP }, "guard tick abandoned: lease lost before applying");
          continue;
        }
        if (skipped.length) detail += `; ${describeSkipped(skipped)}`;
      }
      applied.push(r);
      findings.push(...r.findings);
      const run: GuardRun = {
        name: r.entry.guard.name,
        state: r.state,
        detail,
        lastRun: now.toISOString(),
        durationMs: r.durationMs,
      };
      runs.push(run);
      record.hset(keys.guardsState, run.name, JSON.stringify(run));
      if (run.state !== "not_configured") this.stateGauge.set({ guard: run.name }, GUARD_STATE_VALUE[run.state]);
      this.runs.inc({ guard: run.name, state: run.state });
      this.durations.observe({ guard: run.name }, run.durationMs / 1000);
    }
    const alerts = await this.deps.alerts.processTick(
      applied.map((r) => ({ stream: r.entry.guard.alertStream ?? r.entry.guard.name, findings: r.findings })),
      now,
    );
    roundTrips += 2;
    await record.exec();
    roundTrips++;
    this.lastTickRoundTrips = roundTrips + 1; // + the lock release or slot finish
    return { findings, guards: runs, unreadable: alerts.unreadable };
  }

  private async evaluate(e: Entry, got: GuardValues, now: Date, slot: string | null) {
    const name = e.guard.name;
    const ctx: Omit<TickContext, "signal" | "now"> = { slot };
    const r = await evaluateGuard(e, got, now, ctx);
    if (r.invalid.length) this.deps.log.warn({ guard: name, invalid: r.invalid }, "guard data invalid");
    else if (r.error) this.deps.log.error({ err: r.error, guard: name }, "guard failed");
    else if (r.durationMs > e.timeoutMs)
      this.deps.log.warn({ guard: name, durationMs: r.durationMs }, "guard overran its budget");
    if (r.snapshot)
      for (const m of e.guard.measure?.(r.snapshot, e.config) ?? [])
        this.deps.metrics.guardGauge(m.name).set(m.labels ?? {}, m.value);
    const { findings, actions, state, detail, durationMs } = r;
    return { entry: e, read: got.read, findings, actions, state: state as GuardState, detail, durationMs };
  }
}
