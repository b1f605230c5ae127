// Key rotation (issue 12): two-person, tested, reversible. A request (role `rotate`) for a managed broker whose new key
// is staged PENDING needs `approvals.rotate` approvals from people in `approve`, never the requester. The last
// approval runs it, each step audited: test the PENDING key with one read-only call → promote it (PENDING → CURRENT,
// CURRENT → PREVIOUS) → publish `secrets:rotated` so every bot replica uses it for its next call → the old key: an
// open alert to revoke it at the venue (no venue tradeguard drives has a revocation API) until `secrets retire`.
// A refused test or any failed step leaves CURRENT as it was (a promotion is undone), pages, marks the request
// failed. Secret values are never printed, logged, audited or posted: only key ids.
import { randomBytes } from "node:crypto";
import { NotAuthorizedError, NotFoundError, TradeguardError, UsageError, UserInputError } from "../errors.js";
import { audit, type OpsDeps } from "./deps.js";
import { checkReason } from "./panic-report.js";
import { authorize } from "./roles.js";
import { type RotateRequest, RotateStore } from "./rotate-store.js";
import { ROTATE_STREAM, revokeKey, type SecretsOperation } from "./secrets.js";
import { message } from "./within.js";

export const SOP_ROTATE = "sop-rotate";

/** A rotation step failed: CURRENT is as it was; the CLI exits 1. */
export class RotationFailedError extends TradeguardError {
  constructor(msg: string) {
    super(msg, "rotation_failed");
  }
}

/** The approval outcome of a rotation request. */
export interface RotateApproval {
  request: RotateRequest;
  outcome: "recorded" | "rotated";
}

/** The rotation operation, shared by Slack, the CLI and the weekly job. */
export class RotateOperation {
  private readonly store: RotateStore;

  constructor(
    private readonly deps: OpsDeps,
    private readonly secrets: SecretsOperation,
  ) {
    this.store = new RotateStore(deps.redis, deps.keys);
  }

  /** Opens a rotation request for a managed broker (role `rotate`); refused without a staged PENDING key. */
  async request(
    actor: string,
    broker: string,
    reason: string,
    opts: { announce?: boolean } = {},
  ): Promise<RotateRequest> {
    const d = this.deps;
    await authorize(d, actor, "rotate", "rotate.request");
    const why = checkReason(reason === "" ? "scheduled key rotation" : reason);
    const { secret } = this.secrets.managed(broker);
    const versions = await d.secrets.versions(secret);
    const pending = versions.find((v) => v.state === "PENDING");
    if (!pending)
      throw new UserInputError(
        `No new key is staged for ${broker}: stage one first — \`tradeguard secrets stage ${broker} --key-id <ID>\` (the secret on standard input).`,
      );
    const now = d.now();
    const ttlMs = d.config.rotation.requestTtlMinutes * 60_000;
    const req: RotateRequest = {
      id: `r${now
        .toISOString()
        .replace(/[-:]/g, "")
        .replace(/\.\d+Z$/, "Z")}-${randomBytes(3).toString("hex")}`,
      broker,
      secret,
      requester: actor,
      reason: why,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      needed: d.config.approvals.rotate,
      approvals: [],
      state: "pending_approval",
      pendingKeyId: pending.keyId,
      currentKeyId: versions.find((v) => v.state === "CURRENT")?.keyId ?? null,
      decidedBy: null,
      decidedAt: null,
      detail: null,
    };
    const out = await this.store.create(req, ttlMs);
    if (out.kind === "pending")
      throw new UserInputError(`Rotation ${out.id} of ${broker} is already waiting for approval.`);
    await audit(d, {
      actor,
      action: "rotate.requested",
      details: {
        request_id: req.id,
        broker,
        pending_key_id: req.pendingKeyId,
        current_key_id: req.currentKeyId,
        reason: why,
      },
    });
    if (opts.announce !== false)
      await d.notifier.announce({
        text: `Key rotation of ${broker} requested by ${actor} (${req.id}): ${req.currentKeyId ?? "none"} → ${req.pendingKeyId}. Needs ${req.needed} approval(s) from someone else: \`tradeguard approve ${req.id}\` or the buttons in Slack.`,
        severity: "warn",
        sop: SOP_ROTATE,
      });
    return req;
  }

  /** One request (NotFoundError when unknown). */
  async get(id: string): Promise<RotateRequest> {
    const r = await this.store.get(id, this.deps.now());
    if (!r) throw new NotFoundError(`Rotation request ${id} does not exist.`);
    if ("problem" in r) throw new UserInputError(`Rotation request ${id} is unreadable: ${r.problem.problem}`);
    return r;
  }

  /** Approves (role `approve`, not the requester); the last approval runs the rotation. */
  async approve(actor: string, id: string): Promise<RotateApproval> {
    const d = this.deps;
    await authorize(d, actor, "approve", "rotate.approve");
    const req = await this.get(id);
    const out = await this.store.approve(req, actor, d.now());
    switch (out.kind) {
      case "self":
        await audit(d, { actor, action: "rotate.denied", details: { request_id: id, why: "self-approval" } });
        throw new NotAuthorizedError("You asked for this rotation; someone else has to approve it.");
      case "duplicate":
        throw new UserInputError("You have already approved this rotation.");
      case "missing":
        throw new NotFoundError(`Rotation request ${id} does not exist.`);
      case "state":
        await audit(d, {
          actor,
          action: "rotate.approve_refused",
          details: { request_id: id, reason: `request is ${out.state}` },
        });
        throw new UserInputError(`Rotation request ${id} is ${out.state}; nothing to approve.`);
      case "recorded": {
        const request = await this.get(id);
        await audit(d, {
          actor,
          action: "rotate.approval",
          details: { request_id: id, approvals: request.approvals, needed: request.needed },
        });
        return { request, outcome: "recorded" };
      }
    }
    await audit(d, {
      actor,
      action: "rotate.approved",
      details: { request_id: id, approvals: [...req.approvals, actor].sort() },
    });
    await this.execute(await this.get(id), actor);
    return { request: await this.get(id), outcome: "rotated" };
  }

  /** Rejects (role `approve`, or the requester withdrawing it); a closed request is refused and audited as such. */
  async reject(actor: string, id: string): Promise<RotateRequest> {
    const d = this.deps;
    const req = await this.get(id);
    if (actor !== req.requester) await authorize(d, actor, "approve", "rotate.reject");
    const out = await this.store.decide(req, "pending_approval", "rejected", actor, d.now(), "rejected");
    if (out.kind === "closed") {
      const why = `request is ${out.state}${out.decidedBy ? ` (by ${out.decidedBy})` : ""}`;
      await audit(d, { actor, action: "rotate.reject_refused", details: { request_id: id, reason: why } });
      throw new UserInputError(`Rotation request ${id} is already ${out.state}; nothing to reject.`);
    }
    await audit(d, {
      actor,
      action: "rotate.rejected",
      details: { request_id: id, withdrawn: actor === req.requester },
    });
    return this.get(id);
  }

  /** The steps of an approved rotation; any failure leaves CURRENT as it was and throws RotationFailedError. */
  private async execute(req: RotateRequest, actor: string): Promise<void> {
    const d = this.deps;
    const { broker } = this.secrets.managed(req.broker);
    let promoted = false;
    let step = "read the staged key";
    const old = await d.secrets.get(req.secret, "CURRENT");
    try {
      const pending = await d.secrets.get(req.secret, "PENDING");
      if (!pending || pending.keyId !== req.pendingKeyId)
        throw new Error(`the staged key changed since the request (now ${pending?.keyId ?? "none"})`);
      step = "test the new key";
      if (!broker.testCredentials) throw new Error(`${req.broker} cannot test a credential`);
      await broker.testCredentials({ keyId: pending.keyId, secret: pending.secret, password: pending.password });
      await audit(d, {
        actor: "tradeguard",
        action: "rotate.tested",
        details: { request_id: req.id, key_id: pending.keyId, ok: true },
      });
      step = "promote the new key";
      const p = await d.secrets.promote(req.secret);
      promoted = true;
      await audit(d, {
        actor: "tradeguard",
        action: "rotate.promoted",
        details: { request_id: req.id, key_id: p.current, previous: p.previous, dropped: p.dropped },
      });
      step = "tell every bot to use it";
      await this.secrets.announceRotated(req.broker, p.current);
      broker.setCredentials?.({ keyId: pending.keyId, secret: pending.secret, password: pending.password });
      // Done: the new key is CURRENT and every bot was told. What follows cannot undo that, only be reported.
      await this.finish(req, actor, p);
      void d.anchorNow().catch((err) => d.log.warn({ err }, "rotate: could not anchor the audit chain"));
    } catch (err) {
      await this.fail(req, step, message(err), promoted, old);
    }
  }

  /** After a successful rotation: the old keys' revoke alerts, the request closed, the announcement. Never throws. */
  private async finish(
    req: RotateRequest,
    actor: string,
    p: { current: string; previous: string | null; dropped: string | null },
  ) {
    const d = this.deps;
    const report = (err: unknown) =>
      d.log.error({ err, request_id: req.id }, "rotate: a step after the rotation failed");
    // The old key stays valid at the venue until it is revoked there (no venue tradeguard drives offers a revocation
    // API): an open alert until `tradeguard secrets retire`.
    for (const keyId of [p.previous, p.dropped].filter((k): k is string => k !== null))
      await d.alerts
        .raise(
          ROTATE_STREAM,
          {
            guard: "rotation",
            key: revokeKey(req.broker, keyId),
            severity: "warn",
            title: `Revoke key ${keyId} at ${req.broker}`,
            detail: `Key rotation ${req.id} replaced it with ${p.current}. Revoke ${keyId} in the venue's console, then \`tradeguard secrets retire ${req.broker} ${keyId}\`.`,
            sop: "sop-rotate-revoke",
          },
          d.now(),
        )
        .catch(report);
    await this.store
      .decide(req, "rotating", "done", actor, d.now(), `now ${p.current}; revoke ${p.previous ?? "nothing"}`)
      .catch(report);
    await d.alerts.resolve(ROTATE_STREAM, `failed:${req.broker}`, d.now()).catch(report);
    await d.alerts.resolve(ROTATE_STREAM, `due:${req.broker}`, d.now()).catch(report);
    await d.notifier
      .announce({
        text: `Key of ${req.broker} rotated (${req.id}): ${p.current} is CURRENT; revoke ${p.previous ?? "—"} at the venue, then \`tradeguard secrets retire ${req.broker} ${p.previous ?? "<key-id>"}\`.`,
        severity: "info",
        sop: "sop-rotate-revoke",
      })
      .catch(report);
  }

  /** Rolls a failed rotation back (CURRENT as it was), records and pages it, and throws. */
  private async fail(
    req: RotateRequest,
    step: string,
    why: string,
    promoted: boolean,
    old: { keyId: string; secret: string; password?: string } | null,
  ): Promise<never> {
    const d = this.deps;
    let rollback = "nothing to undo";
    if (promoted) {
      try {
        await d.secrets.demote(req.secret);
        if (old) this.secrets.managed(req.broker).broker.setCredentials?.(old);
        rollback = `promotion undone: ${req.currentKeyId ?? "the old key"} is CURRENT again`;
      } catch (err) {
        rollback = `COULD NOT UNDO THE PROMOTION (${message(err)}): check \`tradeguard secrets list\``;
      }
    }
    const detail = `${step} failed: ${why}; ${rollback}`;
    if (step === "test the new key")
      await audit(d, {
        actor: "tradeguard",
        action: "rotate.tested",
        details: { request_id: req.id, key_id: req.pendingKeyId, ok: false, error: why },
      }).catch(() => null);
    await this.store.decide(req, "rotating", "failed", "tradeguard", d.now(), detail).catch(() => null);
    await audit(d, {
      actor: "tradeguard",
      action: "rotate.failed",
      details: { request_id: req.id, broker: req.broker, step, error: why, rollback },
    }).catch((err) => d.log.error({ err }, "rotate: could not audit the failure"));
    await d.alerts
      .raise(
        ROTATE_STREAM,
        {
          guard: "rotation",
          key: `failed:${req.broker}`,
          severity: "critical",
          title: `Key rotation of ${req.broker} failed (${step})`,
          detail: `${req.id}: ${detail}`,
          sop: SOP_ROTATE,
        },
        d.now(),
      )
      .catch((err) => d.log.error({ err }, "rotate: could not raise the alert"));
    throw new RotationFailedError(`Rotation ${req.id} failed — ${detail}.`);
  }

  /**
   * The weekly check: every managed broker whose CURRENT key is older than rotation.max_age_days gets a warn alert
   * and, when a new key is staged, a rotation request (never rotated without an approval).
   */
  async dueCheck(): Promise<{ broker: string; ageDays: number | null; requested: string | null }[]> {
    const d = this.deps;
    const out: { broker: string; ageDays: number | null; requested: string | null }[] = [];
    for (const k of await this.secrets.list()) {
      const age = k.current?.ageDays ?? null;
      const key = `due:${k.broker}`;
      if (age !== null && age <= d.config.rotation.maxAgeDays) {
        await d.alerts.resolve(ROTATE_STREAM, key, d.now());
        out.push({ broker: k.broker, ageDays: age, requested: null });
        continue;
      }
      let requested: string | null = null;
      if (k.pending)
        requested = await this.request(
          "tradeguard",
          k.broker,
          "scheduled key rotation (key older than the limit)",
        ).then(
          (r) => r.id,
          (err: Error) => (err instanceof UserInputError ? null : Promise.reject(err)),
        );
      await d.alerts.raise(
        ROTATE_STREAM,
        {
          guard: "rotation",
          key,
          severity: "warn",
          title: `Key of ${k.broker} is due for rotation`,
          detail: `${age === null ? "No CURRENT key" : `CURRENT key ${k.current!.keyId} is ${age} days old`} (limit ${d.config.rotation.maxAgeDays}). ${
            requested
              ? `Rotation ${requested} waits for approval.`
              : `Stage a new key: \`tradeguard secrets stage ${k.broker} --key-id <ID>\`, then \`tradeguard rotate ${k.broker}\`.`
          }`,
          sop: SOP_ROTATE,
          value: age === null ? "none" : `${age} d`,
          threshold: `${d.config.rotation.maxAgeDays} d`,
        },
        d.now(),
      );
      out.push({ broker: k.broker, ageDays: age, requested });
    }
    return out;
  }
}

/** Validates a broker name argument (the CLI and Slack). */
export function brokerArg(s: string | undefined): string {
  const v = (s ?? "").trim();
  if (!/^[a-z0-9_-]+$/i.test(v)) throw new UsageError("give the managed broker's name: `/rotate <broker> [reason]`");
  return v;
}
