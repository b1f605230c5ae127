// Keeping a halt through a Redis failover. Replication is asynchronous: a `mode=halt` a primary acknowledged can vanish
// with it when it dies before a replica has it, and the panic's own keys (`panic:active`, `panic:<id>`) go with it —
// they are written by the same script, so the process that set the halt is the only one that still knows about it.
// So that process checks: right after the halt script, on the same connection, the primary is asked for its replicas
// and — when it has some — WAITs for them (never when it has none: a single Redis does not slow the panic). When the
// halt is not confirmed, it re-asserts it on whatever primary answers next (PanicStore.reassert: never over a mode
// that has moved on from the halt, so a resume is never undone), and confirms that in turn. A panic waits for the
// outcome at its end (bounded by `redis.replication.confirm_ms`) and reports it; a long-running process keeps
// watching for `watch_ms` more. Resume transitions are WAITed for and recorded (a lost resume fails safe: the mode
// stays stricter), never re-asserted. docs/redis-keys.md "Failover"; RUNBOOK.md#sop-halt-not-replicated.
import { checkReplication, type ReplicationCheck } from "../state/mode.js";
import { connectionGeneration, connectionLost, promotableReplicas } from "../state/redis.js";
import type { OpsDeps } from "./deps.js";
import { auditFields, CONFIRMED, type HaltReplication, type PanicReport } from "./panic-report.js";
import type { PanicAuditor } from "./panic-run.js";
import { message, within } from "./within.js";

/** Pause between two attempts to reach a primary after the halt was not confirmed: doubled each time up to the max. */
const RETRY_MS = 250;
const MAX_RETRY_MS = 5_000;
/** How long the attempts stay quick: a Sentinel failover completes within seconds. */
const FAST_MS = 15_000;
/** Bound on one re-assertion or one ROLE (WAIT adds its own timeout). */
const STEP_MS = 2_000;
/** How long the panic's record, restored by a re-assertion, is leased (as panic-run's LEASE_MS). */
const LEASE_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** Checks the replication of the write just made on `deps.redis` (at `generation`); never throws. */
export async function confirmWrite(
  deps: Pick<OpsDeps, "redis" | "config">,
  generation: number,
): Promise<ReplicationCheck> {
  const r = deps.config.redis;
  try {
    if (connectionLost(deps.redis)) throw new Error(`Redis unreachable (connection ${deps.redis.status})`);
    return await within(
      checkReplication(deps.redis, {
        replicas: r.replication.replicas,
        waitMs: r.replication.waitMs,
        generation,
        ...(r.sentinel ? { promotable: () => promotableReplicas(r).catch(() => null) } : {}),
      }),
      r.replication.waitMs + STEP_MS,
      "Redis",
    );
  } catch (err) {
    return { outcome: "unknown", acked: null, connected: null, waitedMs: 0, detail: message(err) };
  }
}

/** The halts this process set and has not yet confirmed: one watch each, stopped on close(). */
export class HaltKeeper {
  private closed = false;
  private readonly watches = new Set<Promise<void>>();

  constructor(
    private readonly deps: OpsDeps,
    private readonly auditor: PanicAuditor,
  ) {}

  /**
   * Confirms the halt `report`'s panic set (its script was sent at connection `generation`) and resolves with what is
   * known once it is confirmed, or after `confirm_ms` (then not confirmed: the watch carries on for `watch_ms`,
   * re-asserting the halt where it was lost, until confirmed or close()).
   */
  keep(report: PanicReport, generation: number): Promise<HaltReplication> {
    const s = this.deps.config.redis.replication;
    const state: HaltReplication = {
      status: "unknown",
      acked: null,
      connected: null,
      waitedMs: 0,
      reassertedAt: null,
      detail: "not checked yet",
    };
    let confirm!: () => void;
    const confirmed = new Promise<void>((r) => {
      confirm = r;
    });
    const watch = this.watch(report, generation, state, confirm, Date.now() + s.confirmMs + s.watchMs);
    this.watches.add(watch);
    void watch.finally(() => this.watches.delete(watch));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((r) => {
      timer = setTimeout(r, s.confirmMs);
    });
    return Promise.race([confirmed, deadline]).then(() => {
      clearTimeout(timer);
      const at = { ...state };
      this.log(report, at);
      // In the report (and the panic.verified audit entry); confirmed later, it is audited and announced then.
      if (!CONFIRMED.has(at.status))
        void confirmed.then(() => {
          if (!CONFIRMED.has(state.status) || this.closed) return;
          this.log(report, state);
          void this.auditor.auditSafely({
            actor: "tradeguard",
            action: "panic.halt_replication",
            details: { panic_id: report.id, ...auditFields(state) },
          });
          void within(
            this.deps.notifier.announce({
              text: `Panic ${report.id}: the halt flag is now confirmed — ${state.status}: ${state.detail}`,
              severity: state.status === "reasserted" ? "critical" : "warn",
              sop: "sop-halt-not-replicated",
            }),
            10_000,
            "the alert channel",
          ).catch((err) => this.deps.log.error({ err }, "halt keeper: could not announce"));
        });
      return at;
    });
  }

  /** Stops every watch (the process is closing); a halt not confirmed by then stays reported as such. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.watches]);
  }

  private log(report: PanicReport, r: HaltReplication): void {
    const confirmed = CONFIRMED.has(r.status);
    this.deps.log[confirmed ? (r.status === "reasserted" ? "warn" : "info") : "error"](
      { panic_id: report.id, replication: r },
      confirmed
        ? `panic ${report.id}: halt flag ${r.status}`
        : `panic ${report.id}: THE HALT FLAG IS NOT CONFIRMED (${r.status}: ${r.detail}); a Redis failover may lose it`,
    );
  }

  private async watch(
    report: PanicReport,
    generation: number,
    state: HaltReplication,
    confirm: () => void,
    until: number,
  ): Promise<void> {
    const d = this.deps;
    const apply = (c: ReplicationCheck, first: boolean) => {
      state.acked = c.acked;
      state.connected = c.connected;
      if (first) state.waitedMs = c.waitedMs;
      state.detail = c.detail;
      if (c.outcome === "replicated" || c.outcome === "no_replicas") {
        state.status = state.reassertedAt ? "reasserted" : c.outcome;
        if (state.reassertedAt) state.detail = `re-asserted; then ${c.detail}`;
        return true;
      }
      state.status = c.outcome;
      return false;
    };
    // 1. On the connection the halt was written on: replicated, or nothing to replicate to?
    if (apply(await confirmWrite(d, generation), true)) return confirm();
    // 2. Not confirmed: whatever primary answers next gets the halt again where it was lost, until confirmed. Quickly
    // at first (a failover takes seconds), then backing off: each WAIT blocks the shared connection for wait_ms.
    const fastUntil = Date.now() + FAST_MS;
    let pause = RETRY_MS;
    while (!this.closed && Date.now() < until) {
      await sleep(pause);
      if (Date.now() > fastUntil) pause = Math.min(pause * 2, MAX_RETRY_MS);
      if (this.closed) return;
      if (d.redis.status === "end") d.redis.connect().catch(() => {}); // a CLI client gives up on its own: not here
      if (d.redis.status !== "ready") continue;
      const gen = connectionGeneration(d.redis);
      let found: Awaited<ReturnType<typeof d.panicStore.reassert>>;
      try {
        found = await within(d.panicStore.reassert(report, d.instanceId, LEASE_MS, d.now()), STEP_MS, "Redis");
      } catch (err) {
        state.detail = `could not reach a primary to check the halt: ${message(err)}`;
        continue;
      }
      if (found.kind === "superseded") {
        state.status = "superseded";
        state.detail = `the mode is ${found.mode} since ${found.since || "?"} (after a halt of ${found.lastHalt || found.since})`;
        return confirm();
      }
      if (found.kind === "reasserted") {
        state.reassertedAt = d.now().toISOString();
        d.log.warn(
          { panic_id: report.id, previous: found.previous || "absent" },
          `panic ${report.id}: the halt flag was lost (mode was ${found.previous || "absent"}); re-asserted`,
        );
        void this.auditor.auditSafely({
          actor: "tradeguard",
          action: "panic.halt_reasserted",
          details: {
            panic_id: report.id,
            since: report.haltedAt,
            found_mode: found.previous || null,
            at: state.reassertedAt,
          },
        });
      }
      if (apply(await confirmWrite(d, gen), false)) return confirm();
    }
  }
}
