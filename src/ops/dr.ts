// DR restore rehearsal (issue 14 §13): take the latest state snapshot a panic wrote (the snapshot store's local
// directory, or a file named with --snapshot: snapshots kept in S3 are downloaded first), restore it into a scratch
// Redis (`dr.scratch_url`: another instance or DB — refused when it is the live keyspace), read every key back and
// compare it with the snapshot, time the restore, and record the outcome: `dr:last_rehearsal` ({"ts","ok","keys","ms"};
// `dr:last_success` too when it succeeded), the audit entry `dr.rehearsed`, and a post to the alert channel. A
// rehearsal that cannot restore is a failed rehearsal, recorded as such; only a scratch that is the live keyspace (or
// none configured) refuses to run at all.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { Config } from "../config.js";
import { ConfigError, StateUnavailableError, UsageError } from "../errors.js";
import { bucketOf, s3Of } from "../s3/config.js";
import { DR_KEYS } from "../state/keys.js";
import { createRedis, type Redis } from "../state/redis.js";
import { audit, type OpsDeps } from "./deps.js";
import { authorize } from "./roles.js";
import { message, within } from "./within.js";

export const SOP_DR = "sop-dr-rehearsal";
const DAY_MS = 86_400_000;

/** The record of one rehearsal, as `dr:last_rehearsal` and `dr:last_success` hold it. */
export const rehearsalRecord = z
  .object({
    ts: z.iso.datetime({ offset: true }),
    ok: z.boolean(),
    keys: z.number().int().min(0),
    ms: z.number().min(0),
  })
  .strict();
export type RehearsalRecord = z.infer<typeof rehearsalRecord>;

/** Parses a stored rehearsal record: null when absent, `{invalid}` with the reason when unreadable. */
export function parseRehearsal(raw: string | null): RehearsalRecord | null | { invalid: string } {
  if (raw === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { invalid: `not JSON (${JSON.stringify(raw.slice(0, 60))})` };
  }
  const r = rehearsalRecord.safeParse(json);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  return { invalid: `${i.path.join(".") || "value"}: ${i.message}` };
}

/** A rehearsal time further ahead of this host's clock than this is not believed (clock skew): dr_freshness's default. */
export const DR_FUTURE_TOLERANCE_MS = 60_000;

/** The two records as they can be believed at one instant (see judgeRehearsals). */
export interface RehearsalJudgement {
  /** The latest rehearsal, when readable and not in the future. */
  last: RehearsalRecord | null;
  /** The last successful one: `dr:last_success`, else the latest when it succeeded (readable, not in the future). */
  success: RehearsalRecord | null;
  /** Records that do not parse: their key and why. */
  invalid: { key: string; problem: string }[];
  /** Records dated more than `toleranceMs` ahead of `nowMs`: never taken as fresh. */
  future: { key: string; ts: string }[];
}

/**
 * Judges `dr:last_rehearsal` and `dr:last_success` (raw values) at `nowMs`: the one rule the dr_freshness guard, the
 * cutover gate and `dr status` share. A record dated more than `toleranceMs` ahead of this host's clock is set apart
 * (a negative age would read as the freshest rehearsal there is). Pure.
 */
export function judgeRehearsals(
  raw: { last: string | null; success: string | null },
  nowMs: number,
  toleranceMs: number = DR_FUTURE_TOLERANCE_MS,
): RehearsalJudgement {
  const out: RehearsalJudgement = { last: null, success: null, invalid: [], future: [] };
  const believe = (key: string, value: string | null): RehearsalRecord | null => {
    const v = parseRehearsal(value);
    if (v !== null && "invalid" in v) out.invalid.push({ key, problem: v.invalid });
    else if (v !== null && Date.parse(v.ts) - nowMs > toleranceMs) out.future.push({ key, ts: v.ts });
    else return v;
    return null;
  };
  out.last = believe(DR_KEYS.lastRehearsal, raw.last);
  out.success = believe(DR_KEYS.lastSuccess, raw.success) ?? (out.last?.ok ? out.last : null);
  return out;
}

/** The future tolerance the desk configured for the dr_freshness guard (its default when unset). */
export function drFutureTolerance(config: Pick<Config, "guards">): number {
  const s = config.guards.dr_freshness?.settings as { future_tolerance_ms?: unknown } | undefined;
  return typeof s?.future_tolerance_ms === "number" ? s.future_tolerance_ms : DR_FUTURE_TOLERANCE_MS;
}

/** What one rehearsal did: the recorded four fields, and the evidence behind them. */
export interface DrRehearsal extends RehearsalRecord {
  /** Where the restored snapshot came from (a file path), and when it was taken. */
  snapshot: string | null;
  takenAt: string | null;
  /** The scratch Redis (credentials redacted). */
  scratch: string;
  /** The logical keys restored and compared. */
  restored: string[];
  mismatches: { key: string; expected: unknown; got: unknown }[];
  /** Snapshot entries that hold no restorable value (recorded unreadable at snapshot time). */
  skipped: { key: string; why: string }[];
  /** Why the rehearsal failed before or while restoring; null when it ran through. */
  error: string | null;
}

/** A rehearsal's steps as they happen (the CLI's progress): the scratch Redis checked, the snapshot read, restored. */
export type DrStep =
  | { step: "scratch"; scratch: string }
  | { step: "snapshot"; path: string; takenAt: string; keys: number }
  | { step: "restored"; keys: number; ms: number };

/** A snapshot's `redis` entries: values as read at snapshot time (string, hash, or absent). */
const snapshotSchema = z.object({
  taken_at: z.string(),
  redis: z.record(z.string(), z.union([z.string(), z.null(), z.record(z.string(), z.string())])),
});
type SnapshotValue = string | null | Record<string, string>;

/** Snapshot entry names that are not the key's logical name (panic snapshots write `mode_meta`). */
const KEY_OF: Record<string, string> = { mode_meta: "mode:meta" };
/** Panic snapshot file names start with the time they were taken (src/ops/panic-run.ts). */
const SNAPSHOT_FILE = /^\d{4}-\d{2}-\d{2}T[\w-]+\.json$/;

const redact = (url: string) => url.replace(/\/\/[^@/]*@/, "//[redacted]@");

/** The DR operation: rehearse a restore, read the last outcome, remind. */
export class DrOperation {
  constructor(
    private readonly deps: OpsDeps,
    private readonly connect: (url: string) => Redis = (url) =>
      createRedis(url, { interactive: true, name: "tradeguard-dr" }),
  ) {}

  /** The last rehearsal and the last successful one, as recorded (unreadable records are returned as such). */
  async last(): Promise<{
    last: ReturnType<typeof parseRehearsal>;
    success: ReturnType<typeof parseRehearsal>;
    ageDays: number | null;
  }> {
    const d = this.deps;
    const [l, s] = await d.redis.mget(d.keys.raw(DR_KEYS.lastRehearsal), d.keys.raw(DR_KEYS.lastSuccess));
    const now = d.now().getTime();
    const ok = judgeRehearsals({ last: l ?? null, success: s ?? null }, now, drFutureTolerance(d.config)).success;
    const ageDays = ok ? Math.max(0, now - Date.parse(ok.ts)) / DAY_MS : null;
    return { last: parseRehearsal(l ?? null), success: parseRehearsal(s ?? null), ageDays };
  }

  /** Restores the latest snapshot (or `snapshot`) into the scratch Redis and records the outcome (role `panic`). */
  async rehearse(actor: string, opts: { snapshot?: string; onStep?: (s: DrStep) => void } = {}): Promise<DrRehearsal> {
    const d = this.deps;
    await authorize(d, actor, "panic", "dr.rehearse");
    const url = d.config.dr.scratchUrl;
    if (!url) throw new UsageError("no scratch Redis: set dr.scratch_url (another instance, or another DB) first");
    if (url === d.config.redis.url)
      throw new ConfigError("dr.scratch_url is REDIS_URL: a rehearsal never restores into the live keyspace");
    const started = d.now();
    const run: DrRehearsal = {
      ts: started.toISOString(),
      ok: false,
      keys: 0,
      ms: 0,
      snapshot: null,
      takenAt: null,
      scratch: redact(url),
      restored: [],
      mismatches: [],
      skipped: [],
      error: null,
    };
    const scratch = this.connect(url);
    try {
      await this.refuseLive(scratch);
      opts.onStep?.({ step: "scratch", scratch: run.scratch });
      await within(
        this.restoreAndCompare(scratch, run, opts.snapshot, opts.onStep),
        d.config.dr.timeoutMs,
        "the rehearsal",
      );
    } catch (err) {
      if (err instanceof ConfigError || err instanceof StateUnavailableError) throw err;
      run.error ??= message(err);
    } finally {
      scratch.disconnect();
    }
    run.ok = run.error === null && run.mismatches.length === 0 && run.skipped.length === 0 && run.keys > 0;
    await this.record(actor, run);
    return run;
  }

  /** Posts the monthly reminder: when the last successful rehearsal was, and the command that runs one. */
  async remind(): Promise<void> {
    const { ageDays } = await this.last();
    const when =
      ageDays === null
        ? "No successful rehearsal is recorded"
        : `The last successful one was ${ageDays.toFixed(1)} days ago`;
    await this.deps.notifier.announce({
      text: `Monthly DR restore rehearsal is due: run \`tradeguard dr rehearse\` (restores the latest snapshot into the scratch Redis and compares it key by key). ${when}.`,
      severity: ageDays === null ? "warn" : "info",
      sop: SOP_DR,
    });
  }

  /** Refuses a scratch Redis that is the live keyspace: the same server (run_id) and the same DB. */
  private async refuseLive(scratch: Redis): Promise<void> {
    const d = this.deps;
    const id = async (r: Redis) => /run_id:(\w+)/.exec(await r.info("server"))?.[1] ?? null;
    const [live, other] = await Promise.all([
      id(d.redis).catch((err) => {
        throw new StateUnavailableError(
          `cannot tell the scratch Redis from the live one: the live Redis does not answer (${message(err)})`,
        );
      }),
      id(scratch),
    ]);
    // Without a run_id (a proxy or a managed Redis hiding INFO server) the two cannot be told apart: a restore could
    // overwrite the live keyspace, so refuse rather than guess.
    if (live === null || other === null)
      throw new ConfigError(
        `cannot tell dr.scratch_url (${redact(d.config.dr.scratchUrl!)}) from the live Redis: ${live === null ? "the live" : "the scratch"} Redis reports no run_id in INFO server`,
      );
    if (live === other && (d.redis.options.db ?? 0) === (scratch.options.db ?? 0))
      throw new ConfigError(
        `dr.scratch_url (${redact(d.config.dr.scratchUrl!)}) is the live keyspace (server ${live}, DB ${scratch.options.db ?? 0}): point it at another instance or DB`,
      );
  }

  private async restoreAndCompare(
    scratch: Redis,
    run: DrRehearsal,
    file?: string,
    onStep?: (s: DrStep) => void,
  ): Promise<void> {
    const d = this.deps;
    const remote = bucketOf(s3Of(d.config), "snapshots")?.name ?? d.config.panic.s3?.bucket;
    if (!file && remote)
      throw new Error(
        `snapshots are written to S3 (bucket ${remote}), not ${d.config.panic.snapshotDir}: download the newest and pass --snapshot FILE`,
      );
    const snap = file ? readSnapshot(file) : latestSnapshot(d.config.panic.snapshotDir);
    run.snapshot = snap.path;
    run.takenAt = snap.takenAt;
    const entries: [string, SnapshotValue][] = [];
    for (const [name, value] of Object.entries(snap.redis)) {
      // A panic that could not read Redis writes {"redis": "unreachable"} (or "unreadable (…)") instead of the keys.
      if (name === "redis" && typeof value === "string") {
        run.skipped.push({ key: "(every key)", why: `Redis was ${value} when the snapshot was taken` });
        continue;
      }
      const key = KEY_OF[name] ?? name;
      if (typeof value === "string" && value.startsWith("unreadable")) run.skipped.push({ key, why: value });
      else entries.push([key, value]);
    }
    if (entries.length === 0)
      throw new Error(
        `the snapshot holds no Redis state to restore${run.skipped.length ? ` (${run.skipped[0]!.why})` : ""}`,
      );
    onStep?.({ step: "snapshot", path: snap.path, takenAt: snap.takenAt, keys: entries.length });
    const restore = scratch.multi();
    for (const [key, value] of entries) {
      const k = d.keys.raw(key);
      restore.del(k);
      if (typeof value === "string") restore.set(k, value);
      else if (value && Object.keys(value).length) restore.hset(k, value);
    }
    const t0 = performance.now();
    const res = await restore.exec();
    run.ms = Math.round((performance.now() - t0) * 100) / 100;
    const failed = (res ?? []).find(([err]) => err);
    if (!res || failed) throw new Error(`the restore failed: ${failed?.[0]?.message ?? "transaction discarded"}`);
    run.restored = entries.map(([k]) => k);
    onStep?.({ step: "restored", keys: entries.length, ms: run.ms });
    const read = scratch.pipeline();
    for (const [key] of entries) read.type(d.keys.raw(key)).get(d.keys.raw(key)).hgetall(d.keys.raw(key));
    const back = (await read.exec()) ?? [];
    entries.forEach(([key, expected], i) => {
      const type = back[i * 3]?.[1] as string;
      const got =
        type === "string"
          ? back[i * 3 + 1]?.[1]
          : type === "hash"
            ? back[i * 3 + 2]?.[1]
            : type === "none"
              ? null
              : `(${type})`;
      const want = expected && typeof expected === "object" && Object.keys(expected).length === 0 ? null : expected;
      if (!same(want, got as SnapshotValue)) run.mismatches.push({ key, expected: want, got });
    });
    run.keys = entries.length;
    if (!d.config.dr.keepRestored) await scratch.del(...entries.map(([k]) => d.keys.raw(k)));
  }

  private async record(actor: string, run: DrRehearsal): Promise<void> {
    const d = this.deps;
    const rec = JSON.stringify({ ts: run.ts, ok: run.ok, keys: run.keys, ms: run.ms });
    const tx = d.redis.multi().set(d.keys.raw(DR_KEYS.lastRehearsal), rec);
    if (run.ok) tx.set(d.keys.raw(DR_KEYS.lastSuccess), rec);
    // A record that cannot be written is reported (the CLI exits 3), after the audit entry and the post.
    const recorded = await tx.exec().then(
      () => null,
      (err: unknown) => err,
    );
    await audit(d, {
      actor,
      action: "dr.rehearsed",
      details: {
        ok: run.ok,
        keys: run.keys,
        ms: run.ms,
        snapshot: run.snapshot,
        taken_at: run.takenAt,
        scratch: run.scratch,
        mismatches: run.mismatches.map((m) => m.key),
        skipped: run.skipped.map((s) => s.key),
        error: run.error,
      },
    });
    await d.notifier
      .announce({
        text: run.ok
          ? `DR rehearsal ok: restored ${run.keys} keys of the snapshot taken ${run.takenAt} into the scratch Redis in ${run.ms} ms; every key matches.`
          : `DR rehearsal FAILED: ${run.error ?? [...run.mismatches.map((m) => `${m.key} differs`), ...run.skipped.map((s) => `${s.key} not in the snapshot (${s.why})`)].join("; ")}.`,
        severity: run.ok ? "info" : "warn",
        sop: SOP_DR,
      })
      .catch((err) => d.log.warn({ err }, "dr: could not post the rehearsal's result"));
    if (recorded) throw recorded;
  }
}

function same(a: SnapshotValue, b: SnapshotValue): boolean {
  if (a === null || b === null || typeof a === "string" || typeof b === "string") return a === b;
  const ka = Object.keys(a).sort();
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Reads and validates one snapshot file. */
export function readSnapshot(path: string): { path: string; takenAt: string; redis: Record<string, SnapshotValue> } {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the snapshot ${path}: ${message(err)}`);
  }
  const r = snapshotSchema.safeParse(json);
  if (!r.success) throw new Error(`${path} is not a state snapshot (no taken_at and redis state)`);
  return { path, takenAt: r.data.taken_at, redis: r.data.redis };
}

/** The newest state snapshot in the snapshot directory (names start with the time; other files are passed over). */
export function latestSnapshot(dir: string): ReturnType<typeof readSnapshot> {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => SNAPSHOT_FILE.test(n));
  } catch (err) {
    throw new Error(`no snapshot to restore: cannot list ${dir} (${message(err)})`);
  }
  const problems: string[] = [];
  for (const name of names.sort().reverse()) {
    try {
      return readSnapshot(join(dir, name));
    } catch (err) {
      problems.push(message(err));
    }
  }
  throw new Error(`no snapshot to restore in ${dir}${problems.length ? ` (${problems.slice(0, 2).join("; ")})` : ""}`);
}
