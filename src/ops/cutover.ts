// Equities cutover (issue 14 §15): a go/no-go checklist over live state (cutover-gates.ts) and the two-person flow
// that enables an asset class. `check` shows every gate with its evidence; `enable` is refused unless every gate on
// the checklist passes, then opens a request that someone else in `approve` must approve (never the requester, like
// /clear); the gates are checked again at each approval, and the last one writes `cutover:<asset_class>` — the flag
// the gate library honours — and publishes `flags` in one script. `disable` (role `panic`: the safe direction)
// deletes the flag. Every step is audited.
import { randomBytes } from "node:crypto";
import { NotAuthorizedError, NotFoundError, TradeguardError, UsageError, UserInputError } from "../errors.js";
import { type GateResult, runGates } from "./cutover-gates.js";
import { type CutoverFlag, type CutoverRequest, CutoverStore, cutoverFlag } from "./cutover-store.js";
import { audit, type OpsDeps } from "./deps.js";
import { checkReason } from "./panic-report.js";
import { authorize } from "./roles.js";

export const SOP_CUTOVER = "sop-cutover";

/** One asset class: enabled (with its flag), or not; and its open request. */
export interface AssetClassState {
  assetClass: string;
  enabled: boolean;
  flag: CutoverFlag | null;
  /** Set when `cutover:<asset_class>` holds something that is not the flag (the gate reads it as not enabled). */
  invalid: string | null;
  pending: string | null;
}

/** The checklist now. `ok` only when every gate on it passes. */
export interface CutoverCheck {
  at: string;
  ok: boolean;
  gates: GateResult[];
  assetClasses: AssetClassState[];
}

/** Refused: a gate does not pass. Carries the check (the CLI prints it, exit 1). */
export class CutoverRefusedError extends TradeguardError {
  constructor(
    msg: string,
    readonly check: CutoverCheck,
  ) {
    super(msg, "cutover_refused");
  }
}

const blocking = (c: CutoverCheck) => c.gates.filter((g) => g.verdict === "fail" || g.verdict === "unknown");

/** The cutover operation, shared by Slack (/status cutover) and the CLI. */
export class CutoverOperation {
  private readonly store: CutoverStore;

  constructor(private readonly deps: OpsDeps) {
    this.store = new CutoverStore(deps.redis, deps.keys);
  }

  /** Runs the checklist now and reads each asset class's flag (no role: it changes nothing). */
  async check(): Promise<CutoverCheck> {
    const d = this.deps;
    const now = d.now();
    const [gates, flags] = await Promise.all([runGates(d, now), this.store.flags(d.config.cutover.assetClasses)]);
    const on = gates.filter((g) => g.verdict !== "off");
    return {
      at: now.toISOString(),
      ok: on.length > 0 && on.every((g) => g.verdict === "pass"),
      gates,
      assetClasses: flags.map(({ assetClass, raw, pending }) => {
        let flag: CutoverFlag | null = null;
        let invalid: string | null = null;
        if (raw !== null) {
          const p = cutoverFlag.safeParse(safeJson(raw));
          if (p.success) flag = p.data;
          else invalid = `not a cutover flag: ${raw.slice(0, 80)}`;
        }
        return { assetClass, enabled: flag !== null, flag, invalid, pending };
      }),
    };
  }

  /** Asks to enable an asset class (role `clear`); refused unless every gate passes. */
  async enable(
    actor: string,
    assetClass: string,
    reason: string,
  ): Promise<{ request: CutoverRequest; check: CutoverCheck }> {
    const d = this.deps;
    await authorize(d, actor, "clear", "cutover.enable");
    this.assetClass(assetClass);
    const why = checkReason(reason);
    const check = await this.check();
    const state = check.assetClasses.find((a) => a.assetClass === assetClass)!;
    if (state.enabled) throw new UserInputError(`${assetClass} is already enabled (${state.flag!.request_id}).`);
    await this.refuseUnlessReady(actor, "cutover.refused", { asset_class: assetClass }, check);
    const now = d.now();
    const ttlMs = d.config.cutover.requestTtlMinutes * 60_000;
    const request: CutoverRequest = {
      id: `g${now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`,
      assetClass,
      requester: actor,
      reason: why,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      needed: d.config.cutover.approvals,
      approvals: [],
      state: "pending_approval",
      decidedBy: null,
      decidedAt: null,
    };
    const out = await this.store.create(request, ttlMs);
    if (out.kind === "pending")
      throw new UserInputError(`Cutover ${out.id} of ${assetClass} is already waiting for approval.`);
    await audit(d, {
      actor,
      action: "cutover.requested",
      details: {
        request_id: request.id,
        asset_class: assetClass,
        reason: why,
        needed: request.needed,
        gates: verdicts(check),
      },
    });
    await d.notifier.announce({
      text: `Cutover of ${assetClass} requested by ${actor} (${request.id}): ${why}. Every gate passes; needs ${request.needed} approval(s) from someone else before ${request.expiresAt}: \`tradeguard approve ${request.id}\`.`,
      severity: "warn",
      sop: SOP_CUTOVER,
    });
    return { request, check };
  }

  /** Approves (role `approve`, not the requester); the gates must still pass; the last approval enables the class. */
  async approve(actor: string, id: string): Promise<{ request: CutoverRequest; outcome: "recorded" | "enabled" }> {
    const d = this.deps;
    await authorize(d, actor, "approve", "cutover.approve");
    const req = await this.get(id);
    if (req.requester === actor) {
      await audit(d, { actor, action: "cutover.denied", details: { request_id: id, why: "self-approval" } });
      throw new NotAuthorizedError("You asked for this cutover; someone else has to approve it.");
    }
    if (req.state === "pending_approval")
      await this.refuseUnlessReady(actor, "cutover.approve_refused", { request_id: id, asset_class: req.assetClass });
    const out = await this.store.approve(req, actor, d.now());
    switch (out.kind) {
      case "self":
        throw new NotAuthorizedError("You asked for this cutover; someone else has to approve it.");
      case "duplicate":
        throw new UserInputError("You have already approved this cutover.");
      case "missing":
        throw new NotFoundError(`Cutover request ${id} does not exist.`);
      case "state":
        await audit(d, {
          actor,
          action: "cutover.approve_refused",
          details: { request_id: id, reason: `request is ${out.state}` },
        });
        throw new UserInputError(`Cutover request ${id} is ${out.state}; nothing to approve.`);
      case "recorded": {
        const request = await this.get(id);
        await audit(d, {
          actor,
          action: "cutover.approval",
          details: { request_id: id, approvals: request.approvals, needed: request.needed },
        });
        return { request, outcome: "recorded" };
      }
    }
    const request = await this.get(id);
    await audit(d, {
      actor,
      action: "cutover.enabled",
      details: { request_id: id, asset_class: req.assetClass, approvals: request.approvals, requester: req.requester },
    });
    await d.notifier.announce({
      text: `${req.assetClass} is enabled (cutover ${id}, requested by ${req.requester}, approved by ${request.approvals.join(", ")}). Trading processes may now send ${req.assetClass} orders.`,
      severity: "warn",
      sop: SOP_CUTOVER,
    });
    return { request, outcome: "enabled" };
  }

  /** Rejects (role `approve`, or the requester withdrawing it); a closed request is refused and audited as such. */
  async reject(actor: string, id: string): Promise<CutoverRequest> {
    const d = this.deps;
    const req = await this.get(id);
    if (actor !== req.requester) await authorize(d, actor, "approve", "cutover.reject");
    const out = await this.store.reject(req, actor, d.now());
    if (out.kind === "missing") throw new NotFoundError(`Cutover request ${id} does not exist.`);
    if (out.kind === "closed") {
      await audit(d, {
        actor,
        action: "cutover.reject_refused",
        details: { request_id: id, reason: `request is ${out.state}` },
      });
      throw new UserInputError(`Cutover request ${id} is already ${out.state}; nothing to reject.`);
    }
    await audit(d, {
      actor,
      action: "cutover.rejected",
      details: { request_id: id, withdrawn: actor === req.requester },
    });
    return this.get(id);
  }

  /** Disables an asset class (role `panic`: refusing its orders is the safe direction); audited. */
  async disable(actor: string, assetClass: string, reason: string): Promise<{ removed: string | null }> {
    const d = this.deps;
    await authorize(d, actor, "panic", "cutover.disable");
    this.assetClass(assetClass);
    if (!reason.trim()) throw new UserInputError("Say why the asset class is disabled (--reason).");
    const why = checkReason(reason);
    const removed = await this.store.disable(assetClass);
    if (removed === null) throw new UserInputError(`${assetClass} is not enabled; nothing to disable.`);
    await audit(d, {
      actor,
      action: "cutover.disabled",
      details: { asset_class: assetClass, reason: why, flag: removed },
    });
    await d.notifier.announce({
      text: `${assetClass} disabled by ${actor}: ${why}. Trading processes refuse ${assetClass} orders from now on.`,
      severity: "warn",
      sop: SOP_CUTOVER,
    });
    return { removed };
  }

  /** One request (NotFoundError when unknown). */
  async get(id: string): Promise<CutoverRequest> {
    const r = await this.store.get(id, this.deps.now());
    if (!r) throw new NotFoundError(`Cutover request ${id} does not exist.`);
    if ("problem" in r) throw new UserInputError(`Cutover request ${id} is unreadable: ${r.problem.problem}`);
    return r;
  }

  private assetClass(name: string): void {
    const known = this.deps.config.cutover.assetClasses;
    if (!known.includes(name))
      throw new UsageError(`unknown asset class ${name} (cutover.asset_classes: ${known.join(", ")})`);
  }

  /** Throws CutoverRefusedError (audited as `action`) unless every gate on the checklist passes. */
  private async refuseUnlessReady(
    actor: string,
    action: string,
    details: Record<string, unknown>,
    given?: CutoverCheck,
  ): Promise<void> {
    const check = given ?? (await this.check());
    if (check.ok) return;
    const bad = blocking(check);
    await audit(this.deps, { actor, action, details: { ...details, gates: verdicts(check) } });
    throw new CutoverRefusedError(
      bad.length
        ? `Refused: ${bad.map((g) => `${g.gate} ${g.verdict} (${g.evidence})`).join("; ")}.`
        : "Refused: every gate is off the checklist (cutover.gates).",
      check,
    );
  }
}

/** gate → verdict, for the audit log. */
function verdicts(c: CutoverCheck): Record<string, string> {
  return Object.fromEntries(c.gates.map((g) => [g.gate, g.verdict]));
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
