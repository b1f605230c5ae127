// Asking for a panic from Slack: the request (role check, reason, live blast radius, audit) issues a confirmation
// token (src/ops/panic-confirm.ts), and the click on it halts — once, only for the user it was shown to.
import { UserInputError } from "../errors.js";
import { type BlastRadius, blastRadius } from "./blast-radius.js";
import type { OpsDeps } from "./deps.js";
import type { HaltResult, PanicOperation } from "./panic.js";
import { checkConfirmation, claimConfirmation, issueConfirmation } from "./panic-confirm.js";
import { checkReason, type PanicReport } from "./panic-report.js";
import { authorize } from "./roles.js";

/** The request and confirmation steps before a halt (the CLI confirms on its terminal and skips the token). */
export class PanicRequests {
  constructor(
    private readonly deps: OpsDeps,
    private readonly panic: PanicOperation,
  ) {}

  /**
   * Someone asks for a panic (role `panic`): reads the blast radius (unless `radius: false`), audits the request and
   * issues the confirmation token a Slack confirm button carries. The audit is best-effort: it must not block a halt.
   */
  async prepare(
    actor: string,
    reason: string,
    opts: { radius?: boolean } = {},
  ): Promise<{ radius: BlastRadius | null; confirmation: string }> {
    await authorize(this.deps, actor, "panic", "panic");
    const why = checkReason(reason);
    const radius = opts.radius === false ? null : await blastRadius(this.deps);
    void this.panic.auditSafely({ actor, action: "panic.requested", details: { reason: why, blast_radius: radius } });
    return { radius, confirmation: issueConfirmation(this.deps.confirmKey, actor, why, this.deps.now().getTime()) };
  }

  /**
   * A click on a confirmation (Slack's danger button): halts only for a live token this bot issued to this user,
   * once; a later click on the same confirmation gets the report of the panic it started.
   */
  async confirm(input: {
    actor: string;
    token: string;
    onProgress?: (r: PanicReport) => void;
    /** Called once the click is accepted, right before the halt starts (e.g. to say "halting…"). */
    onAccepted?: () => void;
  }): Promise<HaltResult> {
    const d = this.deps;
    await authorize(d, input.actor, "panic", "panic");
    const now = d.now().getTime();
    const checked = checkConfirmation(d.confirmKey, input.token, input.actor, now);
    if (!checked.ok) {
      await this.panic.auditSafely({
        actor: input.actor,
        action: "panic.confirm_refused",
        details: { why: checked.why },
      });
      throw new UserInputError(`Not halting: ${checked.why}.`);
    }
    const c = checked.confirmation;
    const claim = await claimConfirmation(d.redis, d.keys, c, now);
    if (claim.kind === "used") {
      const id = claim.panicId ?? (await this.waitForConfirmationPanic(c.nonce));
      if (!id) throw new UserInputError("This confirmation was already used; its panic is starting (see /status).");
      return { report: await this.panic.join(id, input.onProgress), joined: true };
    }
    if (claim.kind === "unrecorded")
      d.log.error({ why: claim.why }, "panic: could not record the confirmation's use (Redis?); halting anyway");
    const halting = this.panic.halt({
      actor: input.actor,
      reason: c.reason,
      onProgress: input.onProgress,
      confirmation: c.nonce,
    });
    input.onAccepted?.();
    return halting;
  }

  /** A click raced the first one: wait briefly for the panic id it records. */
  private async waitForConfirmationPanic(nonce: string): Promise<string | null> {
    for (let i = 0; i < 25; i++) {
      const v = await this.deps.redis.get(this.deps.keys.panicConfirm(nonce)).catch(() => null);
      if (v && v !== "starting") return v;
      await new Promise((r) => setTimeout(r, 200));
    }
    return null;
  }
}
