// The kill switch. halt(): (a) mode=halt set and published atomically — before any broker call; (b) every broker
// in parallel: cancel all, close all, with retries inside one deadline; (c) re-query: HALT-VERIFIED or HALT-PARTIAL
// with exactly what is left; (d) snapshot; (e) every step audited. A second request joins the running panic; an
// unfinished panic is taken over by the next process that looks at it once its owner's lease has lapsed.
//
// Redis is the shared state, not a precondition: if it cannot take the halt flag, the brokers are flattened anyway
// and the report says the flag is not set; every Redis step after the halt is best-effort and bounded in time, so a
// Redis that dies or hangs mid-panic never stops the flatten — the report lists the steps Redis missed, and the
// panic's record in Redis lets a running bot finish it once Redis is back.
import { flattenBroker } from "../brokers/flatten.js";
import { UserInputError } from "../errors.js";
import { connectionLost } from "../state/redis.js";
import type { BlastRadius } from "./blast-radius.js";
import { blastRadius } from "./blast-radius.js";
import { audit, type OpsDeps } from "./deps.js";
import { type BrokerOutcome, type PanicReport, reportText, startingReport, verdict } from "./panic-report.js";
import { authorize } from "./roles.js";
import { readStateForSnapshot, writeSnapshot } from "./snapshot.js";

const LEASE_MS = 10_000;
const LEASE_RENEW_MS = 3_000;
/** Longest a best-effort Redis step after the halt may hold up the panic. */
const STEP_TIMEOUT_MS = 2_000;
/** Longest the halt flag may take before the brokers are flattened without waiting for it. */
const HALT_FLAG_TIMEOUT_MS = 3_000;

export interface HaltInput {
  actor: string;
  reason: string;
  /** Called with the report as it progresses (throttling is the caller's business). */
  onProgress?: (report: PanicReport) => void;
  /** Post the final report to the alert channel (default true; a CLI on the console prints it itself). */
  announce?: boolean;
}

export interface HaltResult {
  report: PanicReport;
  /** True when this request joined a panic that was already running. */
  joined: boolean;
}

/** Rejects with a timeout error when `p` takes longer than `ms` (the underlying call may still complete). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: Redis did not answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const message = (err: unknown) => String((err as Error)?.message ?? err);

/** The kill switch operation, shared by Slack, the CLI and recovery. Checks the `panic` role itself. */
export class PanicOperation {
  /** Panics this process is executing: joins within the process wait on the same promise. */
  private readonly running = new Map<string, Promise<PanicReport>>();
  /** Audit entries written and not yet committed. */
  private readonly pendingAudits = new Set<Promise<void>>();
  /** Unknown panic ids already reported by resumeUnfinished (reported once, not on every poll). */
  private readonly reportedUnknown = new Set<string>();

  constructor(private readonly deps: OpsDeps) {}

  /**
   * Someone asks for a panic (role `panic`): reads the blast radius (unless `radius: false`) and audits the request.
   * The audit is best-effort: it must not block a halt.
   */
  async prepare(actor: string, reason: string, opts: { radius?: boolean } = {}): Promise<BlastRadius | null> {
    await authorize(this.deps, actor, "panic", "panic");
    const radius = opts.radius === false ? null : await blastRadius(this.deps);
    void this.auditSafely({ actor, action: "panic.requested", details: { reason, blast_radius: radius } });
    return radius;
  }

  /**
   * Audits a step without holding up the panic: entries keep their order (the audit log queues them), a failure is
   * logged loudly, and a Redis that hangs delays only the audit (which then falls back to the local file). The
   * panic waits for its entries only at the end, and only for so long (settleAudits).
   */
  private auditSafely(input: Parameters<typeof audit>[1]): Promise<void> {
    const p = audit(this.deps, input).then(
      () => {},
      (err) => this.deps.log.error({ err, action: input.action }, "panic: could not write an audit entry; carrying on"),
    );
    this.pendingAudits.add(p);
    void p.finally(() => this.pendingAudits.delete(p));
    return p;
  }

  /** Waits (bounded) for the audit entries written so far; a slow audit is logged, not waited on. */
  private async settleAudits(panicId: string): Promise<void> {
    const pending = [...this.pendingAudits];
    if (pending.length === 0) return;
    await within(Promise.all(pending), STEP_TIMEOUT_MS, "audit").catch(() =>
      this.deps.log.error(
        { panic_id: panicId },
        "panic: audit entries are still being written (Redis slow?); they stay queued",
      ),
    );
  }

  /** Runs a best-effort Redis step after the halt; a failure or a hang is recorded in the report, never thrown. */
  private async redisStep<T>(report: PanicReport, step: string, fn: () => Promise<T>, fallback: T): Promise<T> {
    try {
      // Once the connection is lost, each command would wait for a reconnect attempt to fail: skip it at once.
      if (connectionLost(this.deps.redis)) throw new Error(`Redis unreachable (connection ${this.deps.redis.status})`);
      return await within(fn(), STEP_TIMEOUT_MS, step);
    } catch (err) {
      const line = `${step}: ${message(err)}`;
      if (!report.redisErrors.some((e) => e.startsWith(`${step}:`))) report.redisErrors.push(line);
      this.deps.log.error({ err, panic_id: report.id, step }, `panic: Redis step failed (${step}); carrying on`);
      return fallback;
    }
  }

  /** Halts trading and flattens every broker (role `panic`); joins the running panic when there is one. */
  async halt(input: HaltInput): Promise<HaltResult> {
    const d = this.deps;
    await authorize(d, input.actor, "panic", "panic");
    const reason = input.reason.trim() || "no reason given";
    if (reason.length > 500) throw new UserInputError("The reason is longer than 500 characters.");
    const report = startingReport(input.actor, reason, d.now(), "set");
    let begun: { started: boolean; id: string };
    try {
      begun = await within(
        d.panicStore.begin(report, d.instanceId, Date.now() + LEASE_MS),
        HALT_FLAG_TIMEOUT_MS,
        "set the halt flag",
      );
    } catch (err) {
      d.log.error({ err }, "panic: Redis failed while setting the halt flag; flattening without it");
      return { report: await this.haltWithoutRedis(input, reason, message(err)), joined: false };
    }
    if (!begun.started) {
      void this.auditSafely({ actor: input.actor, action: "panic.joined", details: { panic_id: begun.id, reason } });
      try {
        return { report: await this.join(begun.id, input.onProgress), joined: true };
      } catch (err) {
        // The panic to join cannot be followed (Redis failed): this request flattens the brokers itself.
        d.log.error({ err, panic_id: begun.id }, "panic: could not follow the running panic; flattening here");
        return { report: await this.haltWithoutRedis(input, reason, message(err)), joined: false };
      }
    }
    // Registered before the first await, so a join from this process waits on it instead of running it again.
    const run = this.track(report.id, async () => {
      void this.auditSafely({
        actor: input.actor,
        action: "panic.confirmed",
        details: { panic_id: report.id, reason },
      });
      void this.auditSafely({
        actor: input.actor,
        action: "mode.set",
        details: { mode: "halt", panic_id: report.id, reason, at: report.haltedAt },
      });
      return this.execute(report, input.onProgress, input.announce !== false);
    });
    return { report: await run, joined: false };
  }

  /** Waits for a panic to finish; takes it over if its owner stopped renewing its lease (crash, restart). */
  async join(id: string, onProgress?: (r: PanicReport) => void): Promise<PanicReport> {
    const local = this.running.get(id);
    if (local) return local;
    const d = this.deps;
    const giveUpAt = Date.now() + d.config.panic.deadlineMs + 2 * LEASE_MS;
    let lastSeen: PanicReport | null = null;
    while (true) {
      const p = await d.panicStore.get(id);
      if (!p) throw new UserInputError(`Panic ${id} is unknown.`);
      if (p.state === "done") return p.report;
      if (JSON.stringify(p.report) !== JSON.stringify(lastSeen)) {
        lastSeen = p.report;
        onProgress?.(p.report);
      }
      const attempt = await d.panicStore.takeover(id, d.instanceId, Date.now(), Date.now() + LEASE_MS);
      if (attempt > 0) {
        void this.auditSafely({
          actor: "tradeguard",
          action: "panic.resumed",
          details: { panic_id: id, previous_owner: p.owner, instance: d.instanceId, attempt },
        });
        return this.track(id, () => this.execute({ ...p.report, attempts: attempt }, onProgress, true));
      }
      if (Date.now() > giveUpAt) return p.report;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * Resumes a panic left unfinished (its process died, or Redis failed before it was recorded): called at start-up
   * and whenever the bot (re)connects to Redis. Null when there is none (or it cannot be read: reported once).
   */
  async resumeUnfinished(): Promise<PanicReport | null> {
    const id = await this.deps.panicStore.active();
    if (!id) return null;
    try {
      return await this.join(id);
    } catch (err) {
      if (!(err instanceof UserInputError)) throw err;
      if (!this.reportedUnknown.has(id)) {
        this.reportedUnknown.add(id);
        this.deps.log.error({ panic_id: id }, "panic:active names a panic whose record is missing or unreadable");
      }
      return null;
    }
  }

  private track(id: string, run: () => Promise<PanicReport>): Promise<PanicReport> {
    const p = run().finally(() => this.running.delete(id));
    this.running.set(id, p);
    return p;
  }

  private async execute(
    initial: PanicReport,
    onProgress: ((r: PanicReport) => void) | undefined,
    announce: boolean,
  ): Promise<PanicReport> {
    const d = this.deps;
    const started = Date.now();
    const report: PanicReport = { ...initial, brokers: [], redisErrors: [], snapshotError: null, snapshot: null };
    const lease = setInterval(() => {
      void this.redisStep(
        report,
        "renew the panic lease",
        () => d.panicStore.renew(report.id, d.instanceId, Date.now(), Date.now() + LEASE_MS),
        false,
      );
    }, LEASE_RENEW_MS);
    lease.unref();
    try {
      report.brokers = await this.flattenAll(report, onProgress, true);
      return await this.conclude(report, started, onProgress, announce);
    } finally {
      clearInterval(lease);
    }
  }

  private flattenAll(
    report: PanicReport,
    onProgress: ((r: PanicReport) => void) | undefined,
    saveProgress: boolean,
  ): Promise<BrokerOutcome[]> {
    const d = this.deps;
    const deadline = Date.now() + d.config.panic.deadlineMs;
    const done: BrokerOutcome[] = [];
    return Promise.all(
      d.brokers.map(async (b) => {
        const outcome = await flattenBroker(b, {
          panicId: report.id,
          attempt: report.attempts || 1,
          deadline,
          onCall: (op, outcome) => d.metrics.brokerCalls.inc({ broker: b.name, op, outcome }),
          onStep: (step, detail) =>
            d.log.info({ panic_id: report.id, step, ...detail }, `panic ${report.id}: ${b.name} ${step}`),
        });
        void this.auditSafely({
          actor: "tradeguard",
          action: "panic.broker_result",
          details: {
            panic_id: report.id,
            broker: b.name,
            verified: outcome.verified,
            cancelled: outcome.cancelled,
            closed: outcome.closed,
            remaining: outcome.remaining,
            errors: outcome.errors,
            rounds: outcome.rounds,
          },
        });
        done.push(outcome);
        const progress = { ...report, brokers: [...done] };
        if (saveProgress)
          await this.redisStep(
            report,
            "save the panic's progress",
            () => d.panicStore.saveProgress(progress),
            undefined,
          );
        onProgress?.(progress);
        return outcome;
      }),
    );
  }

  private async conclude(
    report: PanicReport,
    started: number,
    onProgress: ((r: PanicReport) => void) | undefined,
    announce: boolean,
  ): Promise<PanicReport> {
    const d = this.deps;
    report.status = verdict(report.haltFlag, report.brokers);
    report.finishedAt = d.now().toISOString();
    report.durationMs = Date.now() - started;
    void this.auditSafely({
      actor: "tradeguard",
      action: "panic.verified",
      details: {
        panic_id: report.id,
        status: report.status,
        brokers: report.brokers.map((b) => ({ broker: b.broker, verified: b.verified, remaining: b.remaining })),
      },
    });
    const state =
      report.haltFlag === "set"
        ? await this.redisStep(report, "read the state for the snapshot", () => readStateForSnapshot(d.redis, d.keys), {
            redis: "unreadable",
          })
        : { redis: "unreachable" };
    try {
      report.snapshot = await writeSnapshot(d.config, `${report.finishedAt.replace(/[:.]/g, "-")}-${report.id}.json`, {
        taken_at: report.finishedAt,
        panic: report,
        redis: state,
        positions_seen: report.brokers.map((b) => ({ broker: b.broker, closed: b.closed, remaining: b.remaining })),
      });
    } catch (err) {
      report.snapshotError = message(err);
      d.log.error({ err }, "panic: snapshot failed");
    }
    void this.auditSafely(
      report.snapshot
        ? { actor: "tradeguard", action: "panic.snapshot", details: { panic_id: report.id, location: report.snapshot } }
        : {
            actor: "tradeguard",
            action: "panic.snapshot_failed",
            details: { panic_id: report.id, error: report.snapshotError },
          },
    );
    // If this fails the panic stays active in Redis and the next process (or this one, once Redis is back) takes it
    // over: flattening again is safe, and it records the result.
    if (report.haltFlag === "set")
      await this.redisStep(report, "record the finished panic", () => d.panicStore.finish(report), undefined);
    d.metrics.panics.inc({ outcome: report.status });
    d.metrics.panicDuration.observe(report.durationMs / 1000);
    onProgress?.(report);
    if (announce)
      await d.notifier
        .announce({
          text: reportText(report),
          severity: report.status === "HALT-VERIFIED" && report.redisErrors.length === 0 ? "warn" : "critical",
          sop: report.status === "HALT-VERIFIED" ? "sop-panic" : "sop-halt-partial",
        })
        .catch((err) => d.log.error({ err }, "panic: could not announce the report"));
    await this.settleAudits(report.id);
    return report;
  }

  /** Redis could not take the halt flag: flatten through the brokers anyway, audit to the local file, say so. */
  private async haltWithoutRedis(input: HaltInput, reason: string, why: string): Promise<PanicReport> {
    const d = this.deps;
    const report = startingReport(input.actor, reason, d.now(), "not_set");
    report.redisErrors.push(`set the halt flag: ${why}`);
    d.log.fatal(
      { panic_id: report.id, why },
      "REDIS UNREACHABLE: the halt flag could NOT be set; trading processes are not told to stop. Flattening through the brokers anyway.",
    );
    void this.auditSafely({
      actor: input.actor,
      action: "panic.confirmed",
      details: { panic_id: report.id, reason, halt_flag: "not_set", redis: "unreachable" },
    });
    const started = Date.now();
    report.brokers = await this.flattenAll(report, input.onProgress, false);
    return this.conclude(report, started, input.onProgress, input.announce !== false);
  }
}
