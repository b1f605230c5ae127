// The kill switch. halt(): (a) mode=halt set and published atomically — before any broker call; (b) every broker
// in parallel: cancel all, close all, with retries inside one deadline; (c) re-query: HALT-VERIFIED or HALT-PARTIAL
// with exactly what is left; (d) snapshot; (e) every step audited. A second request joins the running panic; an
// unfinished panic is taken over by the next process that looks at it once its owner's lease has lapsed.
import { randomBytes } from "node:crypto";
import { Decimal } from "decimal.js";
import type { Broker } from "../brokers/broker.js";
import { flattenBroker } from "../brokers/flatten.js";
import { UserInputError } from "../errors.js";
import { audit, type OpsDeps } from "./deps.js";
import { type BrokerOutcome, type PanicReport, reportText, verdict } from "./panic-report.js";
import { readStateForSnapshot, writeSnapshot } from "./snapshot.js";

const LEASE_MS = 10_000;
const LEASE_RENEW_MS = 3_000;

export interface HaltInput {
  actor: string;
  reason: string;
  /** Called with the report as it progresses (throttling is the caller's business). */
  onProgress?: (report: PanicReport) => void;
}

export interface HaltResult {
  report: PanicReport;
  /** True when this request joined a panic that was already running. */
  joined: boolean;
}

/** Order statuses a cancel request cannot act on right now. */
const NOT_CANCELLABLE = new Set(["pending_cancel", "pending_replace", "done_for_day", "calculated", "held"]);

export interface BlastRadius {
  readAt: string;
  brokers: {
    broker: string;
    kind: string;
    openOrders: number;
    positions: number;
    /** Sum of |market value| of positions plus the notional of priced open orders (decimal string). */
    grossNotional: string;
    notCancellable: { id: string; symbol: string; status: string }[];
    error: string | null;
  }[];
  totals: { openOrders: number; positions: number; grossNotional: string };
}

/** New panic id: sortable by time, unique across processes. */
export function newPanicId(now: Date): string {
  return `p${now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`;
}

/** The report of a panic that is starting; with the flag set it was halted at `now`. */
export function startingReport(
  actor: string,
  reason: string,
  now: Date,
  haltFlag: PanicReport["haltFlag"],
): PanicReport {
  return {
    id: newPanicId(now),
    status: "RUNNING",
    reason,
    actor,
    requestedAt: now.toISOString(),
    haltedAt: haltFlag === "set" ? now.toISOString() : null,
    finishedAt: null,
    durationMs: null,
    haltFlag,
    brokers: [],
    snapshot: null,
    attempts: haltFlag === "set" ? 0 : 1,
  };
}

/** Reads live what a panic would hit on each broker (bounded by `timeoutMs` per broker). */
export async function blastRadius(deps: Pick<OpsDeps, "brokers" | "now">, timeoutMs = 2_500): Promise<BlastRadius> {
  const per = await Promise.all(
    deps.brokers.map(async (b) => {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const [orders, positions] = await Promise.all([b.listOpenOrders({ signal }), b.listPositions({ signal })]);
        let gross = new Decimal(0);
        for (const p of positions) if (p.marketValue) gross = gross.add(new Decimal(p.marketValue).abs());
        for (const o of orders) {
          if (o.notional) gross = gross.add(new Decimal(o.notional).abs());
          else if (o.qty && o.limitPrice)
            gross = gross.add(
              new Decimal(o.qty)
                .sub(o.filledQty || "0")
                .mul(o.limitPrice)
                .abs(),
            );
        }
        return {
          broker: b.name,
          kind: b.kind,
          openOrders: orders.length,
          positions: positions.length,
          grossNotional: gross.toFixed(2),
          notCancellable: orders
            .filter((o) => NOT_CANCELLABLE.has(o.status))
            .map((o) => ({ id: o.id, symbol: o.symbol, status: o.status })),
          error: null,
        };
      } catch (err) {
        return {
          broker: b.name,
          kind: b.kind,
          openOrders: 0,
          positions: 0,
          grossNotional: "0.00",
          notCancellable: [],
          error: (err as Error).message,
        };
      }
    }),
  );
  const total = per.reduce((s, b) => s.add(b.grossNotional), new Decimal(0));
  return {
    readAt: deps.now().toISOString(),
    brokers: per,
    totals: {
      openOrders: per.reduce((s, b) => s + b.openOrders, 0),
      positions: per.reduce((s, b) => s + b.positions, 0),
      grossNotional: total.toFixed(2),
    },
  };
}

/** The kill switch operation, shared by Slack, the CLI and start-up recovery. */
export class PanicOperation {
  /** Panics this process is executing: joins within the process wait on the same promise. */
  private readonly running = new Map<string, Promise<PanicReport>>();

  constructor(private readonly deps: OpsDeps) {}

  /** Records that someone asked for a panic (before confirmation). Never throws: auditing must not block a halt. */
  async requested(actor: string, reason: string, radius?: BlastRadius): Promise<void> {
    await this.auditSafely({ actor, action: "panic.requested", details: { reason, blast_radius: radius ?? null } });
  }

  /** Audits a step; a failure is logged loudly but never stops the halt (the flag is set, the brokers come next). */
  private auditSafely(input: Parameters<typeof audit>[1]): Promise<void> {
    return audit(this.deps, input).then(
      () => {},
      (err) => this.deps.log.error({ err, action: input.action }, "panic: could not write an audit entry; carrying on"),
    );
  }

  /** Halts trading and flattens every broker; joins the running panic when there is one. */
  async halt(input: HaltInput): Promise<HaltResult> {
    const reason = input.reason.trim() || "no reason given";
    if (reason.length > 500) throw new UserInputError("The reason is longer than 500 characters.");
    const d = this.deps;
    if (!d.redisUp)
      return { report: await this.haltWithoutRedis(input.actor, reason, input.onProgress), joined: false };
    const now = d.now();
    const report = startingReport(input.actor, reason, now, "set");
    let begun: { started: boolean; id: string };
    try {
      begun = await d.panicStore.begin(
        report,
        { mode: "halt", reason, actor: input.actor, ts: report.haltedAt! },
        d.instanceId,
        Date.now() + LEASE_MS,
      );
    } catch (err) {
      d.log.error({ err }, "panic: Redis failed while setting the halt flag; flattening without it");
      return { report: await this.haltWithoutRedis(input.actor, reason, input.onProgress), joined: false };
    }
    if (!begun.started) {
      await this.auditSafely({ actor: input.actor, action: "panic.joined", details: { panic_id: begun.id, reason } });
      return { report: await this.join(begun.id, input.onProgress), joined: true };
    }
    // Registered before the first await, so a join from this process waits on it instead of running it again.
    const run = this.track(report.id, async () => {
      await this.auditSafely({
        actor: input.actor,
        action: "panic.confirmed",
        details: { panic_id: report.id, reason },
      });
      await this.auditSafely({
        actor: input.actor,
        action: "mode.set",
        details: { mode: "halt", panic_id: report.id, reason, at: report.haltedAt },
      });
      return this.execute(report, input.onProgress);
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
      if (await d.panicStore.claim(id, d.instanceId, Date.now(), Date.now() + LEASE_MS)) {
        await this.auditSafely({
          actor: "tradeguard",
          action: "panic.resumed",
          details: { panic_id: id, previous_owner: p.owner, instance: d.instanceId },
        });
        return this.track(id, () => this.execute(p.report, onProgress));
      }
      if (Date.now() > giveUpAt) return p.report;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** At start-up: resumes a panic left unfinished by a process that died. */
  async resumeUnfinished(): Promise<PanicReport | null> {
    const id = await this.deps.panicStore.active();
    return id ? this.join(id) : null;
  }

  private track(id: string, run: () => Promise<PanicReport>): Promise<PanicReport> {
    const p = run().finally(() => this.running.delete(id));
    this.running.set(id, p);
    return p;
  }

  private async execute(initial: PanicReport, onProgress?: (r: PanicReport) => void): Promise<PanicReport> {
    const d = this.deps;
    const started = Date.now();
    const report: PanicReport = { ...initial, brokers: [] };
    report.attempts = await d.panicStore.nextAttempt(report.id);
    const lease = setInterval(() => {
      d.panicStore
        .claim(report.id, d.instanceId, Date.now(), Date.now() + LEASE_MS)
        .catch((err) => d.log.warn({ err }, "panic: lease renewal failed"));
    }, LEASE_RENEW_MS);
    lease.unref();
    try {
      const outcomes = await this.flattenAll(report, d.brokers, onProgress);
      report.brokers = outcomes;
      return await this.conclude(report, started, onProgress);
    } finally {
      clearInterval(lease);
    }
  }

  private async flattenAll(
    report: PanicReport,
    brokers: Broker[],
    onProgress?: (r: PanicReport) => void,
  ): Promise<BrokerOutcome[]> {
    const d = this.deps;
    const deadline = Date.now() + d.config.panic.deadlineMs;
    const done: BrokerOutcome[] = [];
    return Promise.all(
      brokers.map(async (b) => {
        const outcome = await flattenBroker(b, {
          panicId: report.id,
          attempt: report.attempts || 1,
          deadline,
          onCall: (op, outcome) => d.metrics.brokerCalls.inc({ broker: b.name, op, outcome }),
          onStep: (step, detail) =>
            d.log.info({ panic_id: report.id, step, ...detail }, `panic ${report.id}: ${b.name} ${step}`),
        });
        await this.auditSafely({
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
        await d.panicStore.saveProgress(progress).catch(() => {});
        onProgress?.(progress);
        return outcome;
      }),
    );
  }

  private async conclude(
    report: PanicReport,
    started: number,
    onProgress?: (r: PanicReport) => void,
  ): Promise<PanicReport> {
    const d = this.deps;
    report.status = verdict(report.haltFlag, report.brokers);
    report.finishedAt = d.now().toISOString();
    report.durationMs = Date.now() - started;
    await this.auditSafely({
      actor: "tradeguard",
      action: "panic.verified",
      details: {
        panic_id: report.id,
        status: report.status,
        brokers: report.brokers.map((b) => ({ broker: b.broker, verified: b.verified, remaining: b.remaining })),
      },
    });
    let snapshotError = "";
    try {
      const state = await readStateForSnapshot(d.redisUp ? d.redis : null, d.keys);
      report.snapshot = await writeSnapshot(d.config, `${report.finishedAt.replace(/[:.]/g, "-")}-${report.id}.json`, {
        taken_at: report.finishedAt,
        panic: report,
        redis: state,
        positions_seen: report.brokers.map((b) => ({ broker: b.broker, closed: b.closed, remaining: b.remaining })),
      });
    } catch (err) {
      snapshotError = (err as Error).message;
      d.log.error({ err }, "panic: snapshot failed");
    }
    await this.auditSafely(
      report.snapshot
        ? { actor: "tradeguard", action: "panic.snapshot", details: { panic_id: report.id, location: report.snapshot } }
        : {
            actor: "tradeguard",
            action: "panic.snapshot_failed",
            details: { panic_id: report.id, error: snapshotError },
          },
    );
    // If this fails the panic stays active in Redis and the next process takes it over (flattening again is safe).
    if (d.redisUp)
      await d.panicStore
        .finish(report)
        .catch((err) => d.log.error({ err }, "panic: could not record the finished panic"));
    d.metrics.panics.inc({ outcome: report.status });
    d.metrics.panicDuration.observe(report.durationMs / 1000);
    onProgress?.(report);
    await d.notifier
      .announce({
        text: reportText(report),
        severity: report.status === "HALT-VERIFIED" ? "warn" : "critical",
        sop: report.status === "HALT-VERIFIED" ? "sop-panic" : "sop-halt-partial",
      })
      .catch(() => null);
    return report;
  }

  /** Redis is unreachable: flatten through the brokers anyway, audit to the local file, and say the flag is not set. */
  private async haltWithoutRedis(
    actor: string,
    reason: string,
    onProgress?: (r: PanicReport) => void,
  ): Promise<PanicReport> {
    const d = this.deps;
    const now = d.now();
    const report = startingReport(actor, reason, now, "not_set");
    d.log.fatal(
      { panic_id: report.id },
      "REDIS UNREACHABLE: the halt flag could NOT be set; trading processes are not told to stop. Flattening through the brokers anyway.",
    );
    await this.auditSafely({
      actor,
      action: "panic.confirmed",
      details: { panic_id: report.id, reason, halt_flag: "not_set", redis: "unreachable" },
    });
    const started = Date.now();
    report.brokers = await this.flattenAll(report, d.brokers, onProgress);
    return this.conclude(report, started, onProgress);
  }
}
