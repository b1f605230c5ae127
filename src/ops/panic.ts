// The kill switch. halt(): (a) mode=halt set and published atomically — before any broker call; (b) every broker
// in parallel: cancel all, close all, with retries inside one deadline; (c) re-query: HALT-VERIFIED or HALT-PARTIAL
// with exactly what is left; (d) snapshot; (e) every step audited (src/ops/panic-run.ts). A second request joins
// the running panic; an unfinished panic is taken over by the next process that looks at it once its owner's lease
// has lapsed.
//
// Redis is the shared state, not a precondition: if it cannot take the halt flag in time, the brokers are flattened
// anyway and the report says the flag is not set — and if the flag is set late (the script ran after all), the same
// panic (same id, this process) is what Redis records. Every Redis step after the halt is best-effort and bounded,
// so a Redis that dies or hangs mid-panic never stops the flatten, and a running bot finishes the panic's record
// once Redis is back.
import type { AuditInput } from "../audit/log.js";
import { UserInputError } from "../errors.js";
import { connectionGeneration, isConnectionError } from "../state/redis.js";
import { audit, type OpsDeps } from "./deps.js";
import { HaltKeeper } from "./halt-keeper.js";
import { recordConfirmationPanic } from "./panic-confirm.js";
import { checkReason, type HaltReplication, type PanicReport, startingReport } from "./panic-report.js";
import { LEASE_MS, type PanicAuditor, runPanic } from "./panic-run.js";
import { emitStep, type PanicStep } from "./panic-steps.js";
import { authorize } from "./roles.js";
import { message, within } from "./within.js";

/** Longest the halt flag may take before the brokers are flattened without waiting for it. */
const HALT_FLAG_TIMEOUT_MS = 3_000;
/** Longest the panic waits for its audit entries at the end (they stay queued after that). */
const AUDIT_SETTLE_MS = 2_000;

export interface HaltInput {
  actor: string;
  reason: string;
  /** Called with the report as it progresses (throttling is the caller's business). */
  onProgress?: (report: PanicReport) => void;
  /** Called with each step as it happens: the halt flag first, then every broker's cancel / close / verify. */
  onStep?: (step: PanicStep) => void;
  /** Post the final report to the alert channel (default true; a CLI on the console prints it itself). */
  announce?: boolean;
  /** The nonce of the Slack confirmation that asked for it (its late clicks then get this panic's report). */
  confirmation?: string;
}

export interface HaltResult {
  report: PanicReport;
  /** True when this request joined a panic that was already running. */
  joined: boolean;
}

/** The kill switch operation, shared by Slack, the CLI and recovery. Checks the `panic` role itself. */
export class PanicOperation implements PanicAuditor {
  /** Panics this process is executing: joins and recovery in this process wait on the same promise. */
  private readonly running = new Map<string, Promise<PanicReport>>();
  /** Audit entries written and not yet committed. */
  private readonly pendingAudits = new Set<Promise<void>>();
  /** Unknown panic ids already reported by resumeUnfinished (reported once, not on every poll). */
  private readonly reportedUnknown = new Set<string>();
  /** Confirms the halts this process sets survive a Redis failover (and re-asserts them where they did not). */
  private readonly keeper: HaltKeeper;

  constructor(private readonly deps: OpsDeps) {
    this.keeper = new HaltKeeper(deps, this);
  }

  /** Stops watching this process's unconfirmed halts (the runtime is closing). */
  close(): Promise<void> {
    return this.keeper.close();
  }

  /**
   * Audits a step without holding up the panic: entries keep their order (the audit log queues them), a failure is
   * logged loudly, and a Redis that hangs delays only the audit (which then falls back to the local file).
   */
  auditSafely(input: AuditInput): Promise<void> {
    const p = audit(this.deps, input).then(
      () => {},
      (err) => this.deps.log.error({ err, action: input.action }, "panic: could not write an audit entry; carrying on"),
    );
    this.pendingAudits.add(p);
    void p.finally(() => this.pendingAudits.delete(p));
    return p;
  }

  /** Waits (bounded) for the audit entries written so far; a slow audit is logged, not waited on. */
  async settleAudits(panicId: string): Promise<void> {
    const pending = [...this.pendingAudits];
    if (pending.length === 0) return;
    await within(Promise.all(pending), AUDIT_SETTLE_MS, "the audit log").catch(() =>
      this.deps.log.error({ panic_id: panicId }, "panic: audit entries are still being written; they stay queued"),
    );
  }

  /** Halts trading and flattens every broker (role `panic`); joins the running panic when there is one. */
  async halt(input: HaltInput): Promise<HaltResult> {
    const d = this.deps;
    await authorize(d, input.actor, "panic", "panic");
    const reason = checkReason(input.reason);
    const report = startingReport(input.actor, reason, d.now(), "set");
    // Registered before the halt script is even sent: a recovery or join in this process — even one that reads
    // `panic:active` in the same instant — waits on this execution instead of running the same panic again.
    let start!: (run: Promise<PanicReport>) => void;
    const execution = new Promise<PanicReport>((resolve, reject) => {
      start = (run) => run.then(resolve, reject);
    });
    this.running.set(report.id, execution);
    void execution.then(
      () => this.running.delete(report.id),
      () => this.running.delete(report.id),
    );
    // A WAIT's answer is trusted only for the connection the halt script went out on.
    const generation = connectionGeneration(d.redis);
    // The `since` the halt script writes: a late halt must keep it, because the halt keeper compares an approved
    // resume's mode:meta.last_halt with it (a later value would read the resume as older than the halt and undo it).
    const since = report.haltedAt ?? report.requestedAt;
    const begin = d.panicStore.begin(report, d.instanceId, LEASE_MS);
    const sent = performance.now();
    const took = () => Math.round((performance.now() - sent) * 10) / 10;
    let begun: { started: boolean; id: string };
    try {
      begun = await within(begin, HALT_FLAG_TIMEOUT_MS, "Redis");
    } catch (err) {
      emitStep(input.onStep, { step: "halt", haltFlag: "not_set", ms: took(), error: message(err) }, d.log);
      d.log.error({ err }, "panic: Redis did not take the halt flag; flattening without it");
      // The script may still run (a frozen Redis that wakes up): then this very panic is the one Redis records.
      begin.then(
        (late) => {
          if (!late.started || report.finishedAt) return;
          report.haltFlag = "set";
          report.haltedAt = since;
          report.redisErrors.push("set the halt flag: Redis took it late; it is set now");
          d.log.warn({ panic_id: report.id }, "panic: the halt flag was set late");
          emitStep(input.onStep, { step: "halt", haltFlag: "set", ms: took(), late: true }, d.log);
        },
        () => {},
      );
      const late = begin.then(
        (l): Promise<HaltReplication | null> | null =>
          l.started && !report.finishedAt ? this.keeper.keep(report, generation) : null,
        () => null,
      );
      start(this.withoutFlag(input, report, message(err), late));
      return { report: await execution, joined: false };
    }
    if (input.confirmation)
      void recordConfirmationPanic(d.redis, d.keys, input.confirmation, begun.id).catch((err) =>
        d.log.warn({ err }, "panic: could not record which panic the confirmation started"),
      );
    emitStep(
      input.onStep,
      begun.started ? { step: "halt", haltFlag: "set", ms: took() } : { step: "joined", panicId: begun.id },
      d.log,
    );
    if (!begun.started) {
      this.running.delete(report.id);
      start(Promise.resolve(report)); // nobody waits on this id: it never started
      void this.auditSafely({ actor: input.actor, action: "panic.joined", details: { panic_id: begun.id, reason } });
      try {
        return { report: await this.join(begun.id, input.onProgress), joined: true };
      } catch (err) {
        if (!isConnectionError(err)) throw err;
        // The panic to join cannot be followed (Redis failed): this request flattens the brokers itself.
        d.log.error({ err, panic_id: begun.id }, "panic: could not follow the running panic; flattening here");
        const own = startingReport(input.actor, reason, d.now(), "set");
        return { report: await runPanic(d, this, own, this.runOpts(input)), joined: false };
      }
    }
    void this.auditSafely({ actor: input.actor, action: "panic.confirmed", details: { panic_id: report.id, reason } });
    void this.auditSafely({
      actor: input.actor,
      action: "mode.set",
      details: { mode: "halt", panic_id: report.id, reason, at: report.haltedAt },
    });
    const halt = this.keeper.keep(report, generation);
    start(runPanic(d, this, report, { ...this.runOpts(input), halt }));
    return { report: await execution, joined: false };
  }

  private runOpts(input: HaltInput, halt?: Promise<HaltReplication | null>) {
    return {
      onProgress: input.onProgress,
      onStep: input.onStep,
      announce: input.announce !== false,
      ...(halt ? { halt } : {}),
    };
  }

  /** Waits for a panic to finish; takes it over if its owner stopped renewing its lease (crash, restart). */
  async join(id: string, onProgress?: (r: PanicReport) => void): Promise<PanicReport> {
    const d = this.deps;
    const giveUpAt = Date.now() + d.config.panic.deadlineMs + 2 * LEASE_MS;
    let lastSeen: PanicReport | null = null;
    while (true) {
      // Checked on every round: this process may have started executing it meanwhile.
      const local = this.running.get(id);
      if (local) return local;
      const p = await d.panicStore.get(id);
      if (!p) throw new UserInputError(`Panic ${id} is unknown.`);
      if (p.state === "done") return p.report;
      if (JSON.stringify(p.report) !== JSON.stringify(lastSeen)) {
        lastSeen = p.report;
        onProgress?.(p.report);
      }
      if (this.running.has(id)) continue;
      const attempt = await d.panicStore.takeover(id, d.instanceId, LEASE_MS);
      if (attempt > 0) {
        void this.auditSafely({
          actor: "tradeguard",
          action: "panic.resumed",
          details: { panic_id: id, previous_owner: p.owner, instance: d.instanceId, attempt },
        });
        const report: PanicReport = {
          ...p.report,
          attempts: attempt,
          brokers: [],
          redisErrors: [],
          snapshotError: null,
          snapshot: null,
        };
        const run = runPanic(d, this, report, { onProgress, announce: true });
        this.running.set(id, run);
        void run.then(
          () => this.running.delete(id),
          () => this.running.delete(id),
        );
        return run;
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

  /** Redis did not take the halt flag: flatten through the brokers anyway, audit to the local file, say so. */
  private withoutFlag(
    input: HaltInput,
    report: PanicReport,
    why: string,
    late: Promise<HaltReplication | null>,
  ): Promise<PanicReport> {
    const d = this.deps;
    report.haltFlag = "not_set";
    report.haltedAt = null;
    report.redisErrors.push(`set the halt flag: ${why}`);
    d.log.fatal(
      { panic_id: report.id, why },
      "REDIS UNREACHABLE: the halt flag could NOT be set; trading processes are not told to stop. Flattening through the brokers anyway.",
    );
    void this.auditSafely({
      actor: input.actor,
      action: "panic.confirmed",
      details: { panic_id: report.id, reason: report.reason, halt_flag: "not_set", redis: "unreachable" },
    });
    return runPanic(d, this, report, this.runOpts(input, late));
  }
}
