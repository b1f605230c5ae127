// The guard runner. Per tick: take the guard's lock (one replica per tick; the lock expires, so a replica that dies
// mid-tick does not block the next one) → read every key the due guards declared in ONE pipelined round trip →
// validate each value with the guard's zod schema (garbage becomes a "data invalid" finding, never a crash) → probe
// (I/O, with a timeout) → evaluate (pure) → apply flag changes atomically (one script per guard, changes audited) →
// alerts → record state and metrics. A guard that throws or overruns is reported; the others keep running.

import type { Redis } from "ioredis";
import cron, { type ScheduledTask } from "node-cron";
import { Counter, Gauge, Histogram } from "prom-client";
import type { AuditLog } from "../audit/log.js";
import type { Config } from "../config.js";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import type { Metrics } from "../metrics.js";
import type { Keys } from "../state/keys.js";
import type { AlertPipeline } from "./alerts.js";
import { type Finding, type FlagChange, type Guard, type KeyRead, ReadFailure, type Snapshot } from "./guard.js";

export type GuardState = "ok" | "warn" | "critical" | "stale" | "error";
export const GUARD_STATE_VALUE: Record<GuardState, number> = { ok: 0, warn: 1, critical: 2, stale: 3, error: 4 };

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
}

interface Entry {
  // biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
  guard: Guard<any, any, any>;
  config: unknown;
  schedule: string;
  enabled: boolean;
  timeoutMs: number;
  /** Time between two scheduled runs (for staleness). */
  intervalMs: number;
  reads: Record<string, KeyRead>;
  task?: ScheduledTask;
}

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
  private readonly gauges = new Map<string, Gauge>();
  private readonly stateGauge: Gauge;
  private readonly runs: Counter;
  private readonly durations: Histogram;
  /** Redis round trips of the last tick (reported by the benchmark). */
  lastTickRoundTrips = 0;

  constructor(private readonly deps: RunnerDeps) {
    this.now = deps.now ?? (() => new Date());
    const known = new Set(deps.guards.map((g) => g.name));
    for (const name of Object.keys(deps.config.guards)) {
      if (!known.has(name)) throw new ConfigError(`guards.${name}: unknown guard (known: ${[...known].join(", ")})`);
    }
    this.entries = deps.guards.map((guard) => this.entry(guard));
    const reg = deps.metrics.registry;
    const existing = <T>(name: string) => reg.getSingleMetric(name) as T | undefined;
    this.stateGauge =
      existing<Gauge>("tradeguard_guard_state") ??
      new Gauge({
        name: "tradeguard_guard_state",
        help: "Guard state: 0 ok, 1 warn, 2 critical, 3 stale, 4 error",
        labelNames: ["guard"],
        registers: [reg],
      });
    this.runs =
      existing<Counter>("tradeguard_guard_runs_total") ??
      new Counter({
        name: "tradeguard_guard_runs_total",
        help: "Guard runs by outcome",
        labelNames: ["guard", "state"],
        registers: [reg],
      });
    this.durations =
      existing<Histogram>("tradeguard_guard_duration_seconds") ??
      new Histogram({
        name: "tradeguard_guard_duration_seconds",
        help: "Guard run duration (probe + evaluate)",
        labelNames: ["guard"],
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
        registers: [reg],
      });
    for (const e of this.entries) {
      for (const m of e.guard.metrics ?? []) {
        if (this.gauges.has(m.name)) continue;
        this.gauges.set(
          m.name,
          existing<Gauge>(m.name) ??
            new Gauge({ name: m.name, help: m.help, labelNames: m.labelNames ?? [], registers: [reg] }),
        );
      }
    }
    deps.redis.defineCommand("tgGuardApply", { lua: APPLY });
    deps.redis.defineCommand("tgGuardRelease", { numberOfKeys: 1, lua: RELEASE });
  }

  private entry(guard: Guard): Entry {
    const raw = (this.deps.config.guards[guard.name] ?? {}) as Record<string, unknown>;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw new ConfigError(`guards.${guard.name}: expected a mapping`);
    const { enabled = true, schedule = guard.schedule, timeout_ms = 10_000, ...own } = raw;
    if (typeof enabled !== "boolean") throw new ConfigError(`guards.${guard.name}.enabled: expected true or false`);
    if (typeof schedule !== "string" || !cron.validate(schedule))
      throw new ConfigError(
        `guards.${guard.name}.schedule: expected a cron expression, got ${JSON.stringify(schedule)}`,
      );
    if (typeof timeout_ms !== "number" || timeout_ms < 10)
      throw new ConfigError(`guards.${guard.name}.timeout_ms: expected a number of milliseconds ≥ 10`);
    const parsed = guard.config.safeParse(own);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new ConfigError(`guards.${guard.name}${i.path.length ? `.${i.path.join(".")}` : ""}: ${i.message}`);
    }
    return {
      guard,
      config: parsed.data,
      schedule,
      enabled,
      timeoutMs: timeout_ms,
      intervalMs: intervalMs(schedule),
      reads: guard.reads(parsed.data),
    };
  }

  /** Guards with their schedules (for `tradeguard guards list`). */
  list(): { name: string; schedule: string; enabled: boolean; nextRun: string | null }[] {
    return this.entries.map((e) => {
      const next = e.task?.getNextRun() ?? null;
      return {
        name: e.guard.name,
        schedule: e.schedule,
        enabled: e.enabled,
        nextRun: next ? next.toISOString() : null,
      };
    });
  }

  /**
   * The recorded state of every guard; `stale` when its last run is older than three of its intervals (or it never
   * ran while enabled and scheduled).
   */
  async states(): Promise<(GuardRun & { schedule: string; enabled: boolean })[]> {
    const raw = await this.deps.redis.hgetall(this.deps.keys.guardsState);
    const now = this.now().getTime();
    return this.entries.map((e) => {
      let run: GuardRun = { name: e.guard.name, state: "stale", detail: "never ran", lastRun: "", durationMs: 0 };
      try {
        if (raw[e.guard.name]) run = JSON.parse(raw[e.guard.name]!) as GuardRun;
      } catch {
        run.detail = "state record unreadable";
      }
      if (e.enabled && run.lastRun && now - Date.parse(run.lastRun) > 3 * e.intervalMs) {
        run = { ...run, state: "stale", detail: `last ran ${run.lastRun} (${run.detail})` };
      }
      if (!e.enabled) run = { ...run, detail: `disabled${run.lastRun ? `; ${run.detail}` : ""}` };
      return { ...run, schedule: e.schedule, enabled: e.enabled };
    });
  }

  /** Starts the schedules (the bot). */
  start(): void {
    for (const e of this.entries) {
      if (!e.enabled || e.task) continue;
      e.task = cron.schedule(
        e.schedule,
        (ctx) => {
          const slot = (ctx?.date ?? new Date()).toISOString();
          void this.tick([e], slot).catch((err) =>
            this.deps.log.error({ err, guard: e.guard.name }, "guard tick failed"),
          );
        },
        { name: `guard:${e.guard.name}`, noOverlap: true },
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

  /** Runs one tick now (all enabled guards, or the one named) through the same path as the schedule. */
  async runOnce(opts: { guard?: string } = {}): Promise<RunOnceResult> {
    const selected = opts.guard
      ? this.entries.filter((e) => e.guard.name === opts.guard)
      : this.entries.filter((e) => e.enabled);
    if (opts.guard && selected.length === 0)
      throw new ConfigError(
        `--guard ${opts.guard}: unknown guard (known: ${this.entries.map((e) => e.guard.name).join(", ")})`,
      );
    return this.tick(selected, null);
  }

  /**
   * One tick over `due` guards. `slot` (the scheduled time) makes a scheduled tick run on exactly one replica even
   * when several replicas fire for the same slot; a manual run (slot null) only takes the lock.
   */
  async tick(due: Entry[], slot: string | null): Promise<RunOnceResult> {
    const { redis, keys } = this.deps;
    let roundTrips = 0;
    // 1. Locks (and slots) for every due guard, in one round trip.
    const lockMs = Math.max(...due.map((e) => e.timeoutMs), 1000) + 5_000;
    const claim = redis.pipeline();
    for (const e of due) {
      if (slot) claim.set(keys.guardSlot(e.guard.name, slot), this.deps.instanceId, "PX", 3_600_000, "NX");
      claim.set(keys.guardLock(e.guard.name), this.deps.instanceId, "PX", lockMs, "NX");
    }
    const claimed = (await claim.exec()) ?? [];
    roundTrips++;
    const mine: Entry[] = [];
    due.forEach((e, i) => {
      const step = slot ? 2 : 1;
      const slotOk = slot ? claimed[i * step]?.[1] === "OK" : true;
      const lockOk = claimed[i * step + step - 1]?.[1] === "OK";
      if (slotOk && lockOk) mine.push(e);
      else if (lockOk)
        void (redis as Redis & { tgGuardRelease(k: string, v: string): Promise<number> }).tgGuardRelease(
          keys.guardLock(e.guard.name),
          this.deps.instanceId,
        );
    });
    if (mine.length === 0) return { findings: [], guards: [] };
    try {
      // 2. One pipelined read of every declared key; a key several guards declare is read once.
      const read = redis.pipeline();
      const layout: { entry: Entry; name: string; read: KeyRead; slot: number }[] = [];
      const slots = new Map<string, number>();
      for (const e of mine) {
        for (const [name, r] of Object.entries(e.reads)) {
          const id = `${r.type} ${r.key}`;
          let slot = slots.get(id);
          if (slot === undefined) {
            slot = slots.size;
            slots.set(id, slot);
            const key = keys.raw(r.key);
            if (r.type === "string") read.get(key);
            else if (r.type === "hash") read.hgetall(key);
            else if (r.type === "set") read.smembers(key);
            else if (r.type === "zset") read.zrange(key, "0", "-1", "WITHSCORES");
            else read.lrange(key, 0, -1);
          }
          layout.push({ entry: e, name, read: r, slot });
        }
      }
      const raw = slots.size ? ((await read.exec()) ?? []) : [];
      if (slots.size) roundTrips++;
      // 3. Validate, probe, evaluate, per guard (concurrently: probes may wait on the network).
      const now = this.now();
      const results = await Promise.all(
        mine.map(async (e) => {
          const values: Record<string, unknown> = {};
          const invalid: string[] = [];
          for (const l of layout) {
            if (l.entry !== e) continue;
            const [err, v] = raw[l.slot] ?? [new Error("no reply"), null];
            let problem: string | null = null;
            if (err) problem = err.message;
            else {
              const value = l.read.type === "zset" ? pairs(v as string[]) : v;
              const parsed = l.read.schema.safeParse(value);
              if (parsed.success) values[l.name] = parsed.data;
              else problem = `${parsed.error.issues[0]?.message ?? "invalid"} (got ${preview(value)})`;
            }
            if (problem === null) continue;
            if (l.read.onError === "value") values[l.name] = new ReadFailure(l.read.key, problem);
            else invalid.push(`${l.read.key}: ${problem}`);
          }
          return this.evaluate(e, values, invalid, now);
        }),
      );
      // 4. Effects: flag changes (one script per guard), alerts, state — the writes of all guards in one round trip
      //    for the state record; flag scripts and alert persistence are per guard that has something to write.
      const findings: Finding[] = [];
      const runs: GuardRun[] = [];
      const record = redis.pipeline();
      for (const r of results) {
        findings.push(...r.findings);
        if (r.actions.length) {
          roundTrips++;
          await this.apply(r.entry.guard.name, r.actions);
        }
        const run: GuardRun = {
          name: r.entry.guard.name,
          state: r.state,
          detail: r.detail,
          lastRun: now.toISOString(),
          durationMs: r.durationMs,
        };
        runs.push(run);
        record.hset(keys.guardsState, run.name, JSON.stringify(run));
        this.stateGauge.set({ guard: run.name }, GUARD_STATE_VALUE[run.state]);
        this.runs.inc({ guard: run.name, state: run.state });
        this.durations.observe({ guard: run.name }, run.durationMs / 1000);
      }
      await this.deps.alerts.processTick(
        results.map((r) => ({ stream: r.entry.guard.alertStream ?? r.entry.guard.name, findings: r.findings })),
        now,
      );
      roundTrips += 2;
      await record.exec();
      roundTrips++;
      this.lastTickRoundTrips = roundTrips + 1; // + lock release below
      return { findings, guards: runs };
    } finally {
      const release = redis.pipeline();
      for (const e of mine)
        (release as unknown as { tgGuardRelease(k: string, v: string): void }).tgGuardRelease(
          keys.guardLock(e.guard.name),
          this.deps.instanceId,
        );
      await release.exec().catch((err) => this.deps.log.warn({ err }, "guard lock release failed (it expires)"));
    }
  }

  private async evaluate(e: Entry, values: Record<string, unknown>, invalid: string[], now: Date) {
    const name = e.guard.name;
    const started = performance.now();
    const base = { entry: e, actions: [] as FlagChange[] };
    const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
    if (invalid.length) {
      const f: Finding = {
        guard: name,
        key: `${name}:data_invalid`,
        severity: "warn",
        title: `${name}: data invalid`,
        detail: `Redis holds values this guard cannot read, so it did not evaluate: ${invalid.join("; ")}`,
        sop: "sop-guard-data-invalid",
      };
      this.deps.log.warn({ guard: name, invalid }, "guard data invalid");
      return { ...base, findings: [f], state: "error" as GuardState, detail: f.detail, durationMs: elapsed() };
    }
    try {
      const snapshot: Snapshot = { values };
      if (e.guard.probe) {
        const signal = AbortSignal.timeout(e.timeoutMs);
        snapshot.probe = await Promise.race([
          e.guard.probe(e.config, { signal, now }),
          new Promise<never>((_, reject) =>
            signal.addEventListener("abort", () => reject(new Error(`probe overran its ${e.timeoutMs} ms budget`))),
          ),
        ]);
      }
      const findings = e.guard.evaluate(snapshot, now, e.config).map((f) => ({ ...f, guard: f.guard || name }));
      for (const m of e.guard.measure?.(snapshot, e.config) ?? [])
        this.gauges.get(m.name)?.set(m.labels ?? {}, m.value);
      const durationMs = elapsed();
      const worst = findings.some((f) => f.severity === "critical")
        ? "critical"
        : findings.some((f) => f.severity === "warn")
          ? "warn"
          : "ok";
      let detail =
        findings
          .filter((f) => f.severity !== "info")
          .map((f) => f.title)
          .join("; ") || "ok";
      if (durationMs > e.timeoutMs) {
        detail = `overran its ${e.timeoutMs} ms budget (${durationMs} ms); ${detail}`;
        this.deps.log.warn({ guard: name, durationMs }, "guard overran its budget");
      }
      return {
        ...base,
        actions: findings.flatMap((f) => f.actions ?? []),
        findings,
        state: worst as GuardState,
        detail,
        durationMs,
      };
    } catch (err) {
      const msg = (err as Error)?.message ?? String(err);
      this.deps.log.error({ err, guard: name }, "guard failed");
      const f: Finding = {
        guard: name,
        key: `${name}:error`,
        severity: "warn",
        title: `${name}: guard failed`,
        detail: msg,
        sop: "sop-guard-error",
      };
      return { ...base, findings: [f], state: "error" as GuardState, detail: msg, durationMs: elapsed() };
    }
  }

  /** Applies one guard's flag changes atomically and audits those that changed something. */
  private async apply(guard: string, actions: FlagChange[]): Promise<void> {
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
        case "sadd":
        case "srem":
          return { op: a.op, k: idx(a.key), ...(a.op === "hdel" ? { fields: a.fields } : { members: a.members }) };
        case "zremrangebyscore":
          return { op: a.op, k: idx(a.key), min: a.min, max: a.max };
        case "publish":
          return { op: a.op, k: idx(a.channel), message: a.message };
        default:
          throw new Error(`guard ${guard}: unknown flag change ${JSON.stringify(a)}`);
      }
    });
    const res = (await (
      this.deps.redis as Redis & { tgGuardApply(n: number, ...a: string[]): Promise<string> }
    ).tgGuardApply(keyList.length, ...keyList, JSON.stringify(ops))) as string;
    const changed = (JSON.parse(res) as number[] | Record<string, never>) ?? [];
    const changedIdx = Array.isArray(changed) ? changed : [];
    for (const i of changedIdx) {
      const a = actions[i - 1]!;
      await this.deps.audit
        .append({ actor: `guard:${guard}`, action: "flag.changed", details: { ...a } })
        .catch((err) => this.deps.log.error({ err }, "audit of a flag change failed"));
    }
  }
}

/** The interval between the next two runs of a cron schedule. */
export function intervalMs(schedule: string): number {
  const t = cron.createTask(schedule, () => {});
  try {
    const [a, b] = t.getNextRuns(2);
    return a && b ? b.getTime() - a.getTime() : 60_000;
  } finally {
    void t.destroy();
  }
}

function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

function preview(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
