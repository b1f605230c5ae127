// Resuming after a halt: a clear request needs approvals from distinct people in the `approve` role, none of them
// the requester; the last approval moves halt → reduce_only (atomically, see ClearStore), and after the soak the
// mode goes to active. A panic during the soak wins: it sets halt and the soak's compare-and-set then does nothing.
import { randomBytes } from "node:crypto";
import { NotAuthorizedError, NotFoundError, UserInputError } from "../errors.js";
import type { ReplicationCheck } from "../state/mode.js";
import { connectionGeneration } from "../state/redis.js";
import { extraApproverSlos } from "./budget.js";
import type { ClearRequest } from "./clear-store.js";
import { audit, type OpsDeps } from "./deps.js";
import { confirmWrite } from "./halt-keeper.js";
import { authorize } from "./roles.js";

export interface ApproveResult {
  request: ClearRequest;
  /** "approved": the mode moved to reduce_only; "recorded": more approvals are needed. */
  outcome: "approved" | "recorded";
  soakUntil: string | null;
  /** With "approved": whether the move to reduce_only reached the replicas (a lost one fails safe: still halted). */
  replication?: ReplicationCheck;
}

/** Resume operations, shared by Slack, the CLI and the bot's soak timer. Each checks the actor's role itself. */
export class ResumeOperation {
  /** Unreadable soak values already logged (once each, not every tick). */
  private readonly reportedSoak = new Set<string>();

  constructor(private readonly deps: OpsDeps) {}

  /**
   * Opens a clear request (role `clear`). `announce: false` when the caller posts its own richer message (the
   * Slack handler posts the request with its buttons).
   */
  async request(actor: string, reason: string, opts: { announce?: boolean } = {}): Promise<ClearRequest> {
    const d = this.deps;
    await authorize(d, actor, "clear", "clear.request");
    const why = reason.trim();
    if (!why) throw new UserInputError("Say why trading may resume: `/clear <reason>`.");
    if (why.length > 500) throw new UserInputError("The reason is longer than 500 characters.");
    const now = d.now();
    const mode = await d.mode.get();
    // Error budget policy `extra_approver`: while such a budget is spent, a resume needs one more approver.
    const budgets = await extraApproverSlos(d, actor);
    const ttlMs = d.config.resume.requestTtlMinutes * 60_000;
    const req: ClearRequest = {
      id: `c${now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`,
      requester: actor,
      reason: why,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      needed: d.config.approvals.clear + (budgets.length ? 1 : 0),
      approvals: [],
      state: "pending",
      panicId: mode.panicId,
      haltSince: mode.since,
      decidedBy: null,
      decidedAt: null,
    };
    const out = await d.clearStore.create(req, ttlMs);
    switch (out.kind) {
      case "panic_running":
        throw new UserInputError(`Panic ${out.id} is still running; wait for its report before asking to resume.`);
      case "not_halted":
        throw new UserInputError(`Trading is not halted (mode is ${out.mode}); there is nothing to clear.`);
      case "pending":
        throw new UserInputError(`Clear request ${out.id} is already waiting for approval.`);
    }
    await audit(d, {
      actor,
      action: "clear.requested",
      details: {
        request_id: req.id,
        reason: why,
        needed: req.needed,
        panic_id: req.panicId,
        expires_at: req.expiresAt,
        ...(budgets.length ? { extra_approver_for: budgets } : {}),
      },
    });
    if (opts.announce !== false) {
      await d.notifier.announce({
        text: `Resume requested by ${actor} (${req.id}): ${why}. Needs ${req.needed} approval(s) from someone else before ${req.expiresAt}${budgets.length ? ` (one more than usual: the error budget of ${budgets.join(", ")} is spent)` : ""}: /clear in Slack or \`tradeguard approve ${req.id}\`.`,
        severity: "warn",
        sop: "sop-resume",
      });
    }
    return req;
  }

  /** Approves a clear request (role `approve`, not the requester). */
  async approve(actor: string, requestId: string): Promise<ApproveResult> {
    const d = this.deps;
    await authorize(d, actor, "approve", "clear.approve");
    const existing = await d.clearStore.get(requestId, d.now());
    if (!existing) throw new NotFoundError(`Clear request ${requestId} does not exist.`);
    const now = d.now();
    const soakMs = d.config.resume.soakMinutes * 60_000;
    const soakUntil = new Date(now.getTime() + soakMs).toISOString();
    const reason = `resume approved (${requestId}): ${existing.reason}`;
    const generation = connectionGeneration(d.redis);
    const out = await d.clearStore.approve(
      requestId,
      actor,
      now,
      JSON.stringify({ request_id: requestId, until: soakUntil }),
      reason,
    );
    switch (out.kind) {
      case "self":
        await audit(d, { actor, action: "clear.denied", details: { request_id: requestId, why: "self-approval" } });
        throw new NotAuthorizedError("You asked for this resume; someone else has to approve it.");
      case "duplicate":
        throw new UserInputError("You have already approved this request.");
      case "missing":
        throw new NotFoundError(`Clear request ${requestId} does not exist.`);
      case "state":
        await audit(d, {
          actor,
          action: "clear.approve_refused",
          details: { request_id: requestId, reason: `request is ${out.state}` },
        });
        throw new UserInputError(`Clear request ${requestId} is ${out.state}; nothing to approve.`);
      case "panic_running":
        throw new UserInputError("A panic is running; the resume cannot be approved now.");
      case "not_halted":
        throw new UserInputError(`Trading is not halted (mode is ${out.mode}); the request no longer applies.`);
    }
    const request = (await d.clearStore.get(requestId, d.now()))!;
    if (out.kind === "recorded") {
      await audit(d, {
        actor,
        action: "clear.approval",
        details: { request_id: requestId, approvals: request.approvals, needed: request.needed },
      });
      return { request, outcome: "recorded", soakUntil: null };
    }
    const replication = await confirmWrite(d, generation);
    await audit(d, {
      actor,
      action: "clear.approved",
      details: { request_id: requestId, approvals: request.approvals },
    });
    await audit(d, {
      actor,
      action: "mode.set",
      details: {
        mode: "reduce_only",
        request_id: requestId,
        soak_until: soakUntil,
        ...replicationDetails(replication),
      },
    });
    await d.notifier.announce({
      text: `Resume approved by ${actor}: trading is reduce-only until ${soakUntil}, then active. (${requestId})${replicationNote(replication)}`,
      severity: "warn",
      sop: "sop-resume",
    });
    if (soakMs === 0) await this.soakTick();
    return { request, outcome: "approved", soakUntil, replication };
  }

  /** Rejects a pending request (role `approve`, or the requester withdrawing it). */
  async reject(actor: string, requestId: string): Promise<ClearRequest> {
    const d = this.deps;
    const req = await d.clearStore.get(requestId, d.now());
    if (!req) throw new NotFoundError(`Clear request ${requestId} does not exist.`);
    if (actor !== req.requester) await authorize(d, actor, "approve", "clear.reject");
    const out = await d.clearStore.reject(requestId, actor, d.now());
    if (out.kind === "missing") throw new NotFoundError(`Clear request ${requestId} does not exist.`);
    if (out.kind === "closed") {
      // A decision on a closed request changes nothing: recorded as a refused attempt, never as a rejection.
      const why = `request is ${out.state}${out.decidedBy ? ` (by ${out.decidedBy})` : ""}`;
      await audit(d, { actor, action: "clear.reject_refused", details: { request_id: requestId, reason: why } });
      throw new UserInputError(
        `Clear request ${requestId} is already ${out.state}${out.decidedBy ? ` by ${out.decidedBy}` : ""}; nothing to reject.`,
      );
    }
    await audit(d, {
      actor,
      action: "clear.rejected",
      details: { request_id: requestId, withdrawn: actor === req.requester },
    });
    await d.notifier.announce({
      text: `Resume request ${requestId} rejected by ${actor}; trading stays halted.`,
      severity: "info",
    });
    return (await d.clearStore.get(requestId, d.now()))!;
  }

  /** Ends a finished soak (reduce_only → active). Safe to call from any number of processes. */
  async soakTick(): Promise<boolean> {
    const d = this.deps;
    const soak = await d.clearStore.soak();
    if (!soak) return false;
    if ("invalid" in soak) {
      // Unreadable: trading stays reduce_only (the state_integrity guard pages about it), never "soak complete".
      if (!this.reportedSoak.has(soak.raw)) {
        this.reportedSoak.add(soak.raw);
        d.log.error({ key: "resume:soak", problem: soak.invalid }, "resume:soak is unreadable; the soak is not ended");
      }
      return false;
    }
    const now = d.now();
    if (soak.untilMs > now.getTime()) return false;
    const reason = `soak after ${soak.requestId || "resume"} complete`;
    const generation = connectionGeneration(d.redis);
    const changed = await d.clearStore.finishSoak(soak.raw, "tradeguard", now, reason);
    if (!changed) return false;
    const replication = await confirmWrite(d, generation);
    await audit(d, {
      actor: "tradeguard",
      action: "mode.set",
      details: { mode: "active", request_id: soak.requestId, reason, ...replicationDetails(replication) },
    });
    await d.notifier.announce({
      text: `Trading is active again (${reason}).${replicationNote(replication)}`,
      severity: "info",
    });
    void d.anchorNow().catch((err) => d.log.warn({ err }, "resume: could not anchor the audit chain"));
    return true;
  }
}

/** The audit fields of a mode change's replication check. */
function replicationDetails(r: ReplicationCheck) {
  return { replicated: r.outcome, replicas_acked: r.acked, replication_detail: r.detail };
}

/** What an announcement adds when a resume's mode change is not known to be on a replica (it fails safe if lost). */
function replicationNote(r: ReplicationCheck): string {
  if (r.outcome === "replicated" || r.outcome === "no_replicas") return "";
  return ` Not confirmed on a replica (${r.detail}): after a Redis failover the mode may read stricter again; check /status (RUNBOOK.md#sop-redis-failover).`;
}
