// One execution of a panic: every broker flattened in parallel (cancel → close → re-query, within one deadline),
// then the verdict, the snapshot, the record in Redis and the announcement. Redis is best-effort here: every Redis
// step is bounded, skipped at once while the connection is known lost, and listed in the report's `redisErrors`;
// a slow S3 or Slack is bounded too, so the report never waits on them.

import type { AuditInput } from "../audit/log.js";
import type { BrokerOutcome } from "../brokers/broker.js";
import { flattenBroker } from "../brokers/flatten.js";
import { connectionLost } from "../state/redis.js";
import type { OpsDeps } from "./deps.js";
import { auditFields, type HaltReplication, type PanicReport, reportText, verdict } from "./panic-report.js";
import { brokerStep, emitStep, type PanicStep } from "./panic-steps.js";
import { readStateForSnapshot, writeSnapshot } from "./snapshot.js";
import { message, within } from "./within.js";

export const LEASE_MS = 10_000;
const LEASE_RENEW_MS = 3_000;
/** Longest a best-effort Redis step after the halt may hold up the panic. */
const STEP_TIMEOUT_MS = 2_000;
/** Longest the snapshot (a local file, or S3) and the announcement (Slack) may take. */
const IO_TIMEOUT_MS = 10_000;

/** How a run audits: queued without holding it up, settled (bounded) at its end. */
export interface PanicAuditor {
  auditSafely(input: AuditInput): Promise<void>;
  settleAudits(panicId: string): Promise<void>;
}

export interface RunOptions {
  onProgress?: (r: PanicReport) => void;
  /** Each broker's cancel / close / verify (and retries, failovers) as they happen (src/ops/panic-steps.ts). */
  onStep?: (s: PanicStep) => void;
  announce: boolean;
  /** Whether the halt this run's process set is confirmed (src/ops/halt-keeper.ts); awaited before the verdict. */
  halt?: Promise<HaltReplication | null>;
}

/** Runs a best-effort Redis step; a failure or a hang is recorded in `report.redisErrors`, never thrown. */
export async function redisStep<T>(
  deps: Pick<OpsDeps, "redis" | "log">,
  report: PanicReport,
  step: string,
  fn: () => Promise<T>,
  fallback: T,
): Promise<T> {
  try {
    // Once the connection is lost, each command would wait for a reconnect attempt to fail: skip it at once.
    if (connectionLost(deps.redis)) throw new Error(`Redis unreachable (connection ${deps.redis.status})`);
    return await within(fn(), STEP_TIMEOUT_MS, "Redis");
  } catch (err) {
    if (!report.redisErrors.some((e) => e.startsWith(`${step}:`))) report.redisErrors.push(`${step}: ${message(err)}`);
    deps.log.error({ err, panic_id: report.id, step }, `panic: Redis step failed (${step}); carrying on`);
    return fallback;
  }
}

/** Executes `report`'s panic once and returns the final report (the same object, completed). */
export async function runPanic(
  deps: OpsDeps,
  auditor: PanicAuditor,
  report: PanicReport,
  opts: RunOptions,
): Promise<PanicReport> {
  const started = Date.now();
  let finished = false;
  const lease = setInterval(() => {
    // Only a panic whose halt flag is set has a record in Redis to hold (it may have been set late).
    if (report.haltFlag !== "set" || finished) return;
    void redisStep(
      deps,
      report,
      "renew the panic lease",
      () => deps.panicStore.renew(report.id, deps.instanceId, LEASE_MS),
      true,
    ).then((held) => {
      if (held || finished) return;
      deps.log.error({ panic_id: report.id }, "panic: lost the lease (another process took this panic over)");
      if (!report.redisErrors.some((e) => e.startsWith("renew the panic lease:")))
        report.redisErrors.push("renew the panic lease: another process took this panic over");
    });
  }, LEASE_RENEW_MS);
  lease.unref();
  try {
    report.brokers = await flattenAll(deps, auditor, report, opts);
    finished = true;
    return await conclude(deps, auditor, report, started, opts);
  } finally {
    finished = true;
    clearInterval(lease);
  }
}

function flattenAll(
  deps: OpsDeps,
  auditor: PanicAuditor,
  report: PanicReport,
  opts: RunOptions,
): Promise<BrokerOutcome[]> {
  const deadline = Date.now() + deps.config.panic.deadlineMs;
  const done: BrokerOutcome[] = [];
  return Promise.all(
    deps.brokers.map(async (b) => {
      const outcome = await flattenBroker(b, {
        panicId: report.id,
        attempt: report.attempts || 1,
        deadline,
        onCall: (op, o) => deps.metrics.brokerCalls.inc({ broker: b.name, op, outcome: o }),
        onStep: (step, detail) => {
          // A failover (the active endpoint failed mid-panic) is worth a warning; every other step is routine.
          deps.log[step === "failover" ? "warn" : "info"](
            { panic_id: report.id, step, ...detail },
            `panic ${report.id}: ${b.name} ${step}`,
          );
          if (opts.onStep) emitStep(opts.onStep, brokerStep(b.name, step, detail), deps.log);
        },
      });
      void auditor.auditSafely({
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
          // With several endpoints: the ones used, in order (more than one: the flatten failed over).
          ...(outcome.endpoints ? { endpoints: outcome.endpoints } : {}),
        },
      });
      done.push(outcome);
      const progress = { ...report, brokers: [...done] };
      if (report.haltFlag === "set")
        await redisStep(
          deps,
          report,
          "save the panic's progress",
          () => deps.panicStore.saveProgress(progress),
          undefined,
        );
      opts.onProgress?.(progress);
      return outcome;
    }),
  );
}

async function conclude(
  deps: OpsDeps,
  auditor: PanicAuditor,
  report: PanicReport,
  started: number,
  opts: RunOptions,
): Promise<PanicReport> {
  if (opts.halt && report.haltFlag === "set") {
    const r = deps.config.redis.replication;
    const bound = r.confirmMs + r.waitMs + STEP_TIMEOUT_MS;
    report.haltReplication = await within(opts.halt, bound, "the halt's replication check").catch(() => null);
  }
  report.status = verdict(report.haltFlag, report.brokers, report.haltReplication);
  report.finishedAt = deps.now().toISOString();
  report.durationMs = Date.now() - started;
  void auditor.auditSafely({
    actor: "tradeguard",
    action: "panic.verified",
    details: {
      panic_id: report.id,
      status: report.status,
      halt_replication: report.haltReplication ? auditFields(report.haltReplication) : null,
      brokers: report.brokers.map((b) => ({ broker: b.broker, verified: b.verified, remaining: b.remaining })),
    },
  });
  let state: Record<string, unknown> = { redis: "unreachable" };
  if (report.haltFlag === "set")
    state = await redisStep(
      deps,
      report,
      "read the state for the snapshot",
      () => readStateForSnapshot(deps.redis, deps.keys),
      { redis: "unreadable (see the report's redisErrors)" },
    );
  try {
    report.snapshot = await within(
      writeSnapshot(deps.config, `${report.finishedAt.replace(/[:.]/g, "-")}-${report.id}.json`, {
        taken_at: report.finishedAt,
        panic: report,
        redis: state,
        positions_seen: report.brokers.map((b) => ({ broker: b.broker, closed: b.closed, remaining: b.remaining })),
      }),
      IO_TIMEOUT_MS,
      "the snapshot store",
    );
  } catch (err) {
    report.snapshotError = message(err);
    deps.log.error({ err }, "panic: snapshot failed");
  }
  void auditor.auditSafely(
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
  // A panic flattened without the halt flag is recorded too when Redis answers again by now (status shows it).
  const recorded = await redisStep(
    deps,
    report,
    "record the finished panic",
    () => deps.panicStore.finish(report, deps.instanceId),
    true,
  );
  if (!recorded) deps.log.warn({ panic_id: report.id }, "panic: another process took this panic over; it records it");
  deps.metrics.panics.inc({ outcome: report.status });
  deps.metrics.panicDuration.observe(report.durationMs / 1000);
  opts.onProgress?.(report);
  if (opts.announce)
    await within(
      deps.notifier.announce({
        text: reportText(report),
        severity: report.status === "HALT-VERIFIED" && report.redisErrors.length === 0 ? "warn" : "critical",
        sop: report.status === "HALT-VERIFIED" ? "sop-panic" : "sop-halt-partial",
      }),
      IO_TIMEOUT_MS,
      "the alert channel",
    ).catch((err) => deps.log.error({ err }, "panic: could not announce the report"));
  await auditor.settleAudits(report.id);
  // A panic is anchored at once: its entries cannot be quietly removed from the chain afterwards.
  void deps.anchorNow().catch((err) => deps.log.warn({ err }, "panic: could not anchor the audit chain"));
  return report;
}
