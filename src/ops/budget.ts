// Error budgets as operations see them (issue 14 §12): the budgets (`tradeguard budget`), lifting a spent budget's
// policy by command (a waiver the error_budget guard honours until the budget is back; audited), removing the state
// of an SLO no guard keeps any more (`budget clear`), and what /clear needs to know — whether a spent budget with the
// `extra_approver` policy asks for one more approver. The records of `error_budget:exhausted` and
// `error_budget:waivers` are defined here, once, for the guard (src/jobs/error-budget-policy.ts) and operations alike.
import { z } from "zod";
import { NotFoundError, UsageError, UserInputError } from "../errors.js";
import { MARKET_KEYS, SLO_KEYS } from "../state/keys.js";
import type { KeyProblem } from "../state/validate.js";
import { audit, type BudgetView, type OpsDeps } from "./deps.js";
import { checkReason } from "./panic-report.js";
import { authorize } from "./roles.js";

export const SOP_ERROR_BUDGET = "sop-error-budget";

/** A value of `error_budget:exhausted` (the guard writes it). */
export const exhaustedRecord = z.object({
  since: z.iso.datetime({ offset: true }),
  policy: z.enum(["none", "reduce_only", "extra_approver"]),
  /** False while a waiver lifts the policy (the budget is still spent). */
  enforced: z.boolean(),
  strategies: z.array(z.string()),
});
export type ExhaustedRecord = z.infer<typeof exhaustedRecord>;

/** A value of `error_budget:waivers`, as `tradeguard budget lift` writes it. Anything else is no waiver. */
export const waiverRecord = z.object({ by: z.string().min(1), reason: z.string(), at: z.string() });
export type WaiverRecord = z.infer<typeof waiverRecord>;

/** The `source` of a `strategy:reduce_only` entry the error_budget guard set for `slo`. */
export function reduceOnlySource(slo: string): string {
  return `error_budget:${slo}`;
}

/** What `budget clear` removed. */
export interface ClearedBudget {
  slo: string;
  exhausted: boolean;
  waiver: boolean;
  /** The strategies whose `strategy:reduce_only` entry this SLO had set. */
  reduceOnly: string[];
}

// KEYS: waivers. ARGV: slo, waiver JSON, the value read before ("" when absent). Sets the waiver unless someone else
// wrote one meanwhile (a value that is no waiver, as read, is replaced).
const LIFT = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

// KEYS: exhausted, waivers, strategy:reduce_only, flags channel. ARGV: slo, reduce-only source. Every read (which
// fails on a key of the wrong type) comes before the first write; a change of strategy:reduce_only is published.
const CLEAR = `
local all = redis.call('HGETALL', KEYS[3])
local ex = redis.call('HEXISTS', KEYS[1], ARGV[1])
local wv = redis.call('HEXISTS', KEYS[2], ARGV[1])
local removed = {}
for i = 1, #all, 2 do
  local ok, v = pcall(cjson.decode, all[i + 1])
  if ok and type(v) == 'table' and v.source == ARGV[2] then removed[#removed + 1] = all[i] end
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if #removed > 0 then
  redis.call('HDEL', KEYS[3], unpack(removed))
  redis.call('PUBLISH', KEYS[4], 'strategy:reduce_only')
end
return {ex, wv, removed}
`;

/**
 * SLOs whose spent budget asks `requester`'s /clear for one more approver now. A waiver counts only when it parses
 * and was set by someone else: lifting a policy and then asking to resume is not a way to need one approver fewer.
 * An unreadable exhausted record counts (fail safe), and so does an unreadable waiver hash.
 */
export async function extraApproverSlos(
  deps: Pick<OpsDeps, "redis" | "keys" | "log">,
  requester: string,
): Promise<string[]> {
  const [ex, wv] = await deps.redis
    .multi()
    .hgetall(deps.keys.raw(SLO_KEYS.exhausted))
    .hgetall(deps.keys.raw(SLO_KEYS.waivers))
    .exec()
    .then((r) => (r ?? []).map(([err, v]) => (err ? err : (v as Record<string, string>))));
  if (ex instanceof Error) {
    deps.log.error({ err: ex }, `${SLO_KEYS.exhausted} is unreadable: /clear asks for one more approver`);
    return [SLO_KEYS.exhausted];
  }
  const waivers = wv instanceof Error ? {} : (wv ?? {});
  const out: string[] = [];
  for (const [slo, raw] of Object.entries(ex ?? {})) {
    const r = exhaustedRecord.safeParse(safeJson(raw));
    const w = waivers[slo] === undefined ? null : waiverRecord.safeParse(safeJson(waivers[slo]!));
    const waived = w?.success === true && w.data.by !== requester;
    if (!r.success || (r.data.policy === "extra_approver" && !waived)) out.push(slo);
  }
  return out.sort();
}

/** Budget operations (`tradeguard budget status | lift | clear`). */
export class BudgetOperation {
  constructor(private readonly deps: OpsDeps) {}

  /** Every declared SLO's budget now; empty when error budgets are not configured. */
  async status(minLeftPct = 0): Promise<{ slos: BudgetView[]; unreadable: KeyProblem[] }> {
    const b = this.deps.budgets;
    return b ? b.read(this.deps.now(), minLeftPct) : { slos: [], unreadable: [] };
  }

  /**
   * Lifts the policy of a spent budget (role `approve`) until the budget is back: the guard then stops holding its
   * strategies reduce-only (at its next tick) and /clear needs no extra approver for it — except for a clear request
   * of the person who lifted it (extraApproverSlos). Audited `error_budget.lifted`.
   */
  async lift(
    actor: string,
    slo: string,
    reason: string,
  ): Promise<{ slo: string; policy: string; waiver: WaiverRecord }> {
    const d = this.deps;
    await authorize(d, actor, "approve", "error_budget.lift");
    if (!reason.trim()) throw new UserInputError("Say why the policy may be lifted (--reason).");
    const why = checkReason(reason);
    const known = this.kept();
    if (!known.includes(slo))
      throw new UsageError(
        `no SLO named ${slo} is kept by the error_budget guard (${known.length ? `declared: ${known.join(", ")}` : "it is off or declares no SLO"}); to remove the state it left behind: tradeguard budget clear ${slo} --reason "…"`,
      );
    const [raw, existing] = await Promise.all([
      d.redis.hget(d.keys.raw(SLO_KEYS.exhausted), slo),
      d.redis.hget(d.keys.raw(SLO_KEYS.waivers), slo),
    ]);
    if (raw === null) throw new NotFoundError(`The error budget of ${slo} is not spent: there is no policy to lift.`);
    const rec = exhaustedRecord.safeParse(safeJson(raw));
    if (rec.success && rec.data.policy === "none")
      throw new UserInputError(`The SLO ${slo} has no policy (alert only): there is nothing to lift.`);
    const current = existing === null ? null : waiverRecord.safeParse(safeJson(existing));
    if (current?.success)
      throw new UserInputError(`The policy of ${slo} is already lifted by ${current.data.by} at ${current.data.at}.`);
    const waiver: WaiverRecord = { by: actor, reason: why, at: d.now().toISOString() };
    const set = await d.redis.eval(LIFT, 1, d.keys.raw(SLO_KEYS.waivers), slo, JSON.stringify(waiver), existing ?? "");
    if (set !== 1) throw new UserInputError(`The policy of ${slo} was lifted by someone else just now.`);
    const policy = rec.success ? rec.data.policy : "unknown";
    await audit(d, {
      actor,
      action: "error_budget.lifted",
      details: { slo, policy, reason: why, spent_since: rec.success ? rec.data.since : null },
    });
    await d.notifier.announce({
      text: `Error budget policy of SLO ${slo} (${policy}) lifted by ${actor} until the budget is back: ${why}`,
      severity: "warn",
      sop: SOP_ERROR_BUDGET,
    });
    return { slo, policy, waiver };
  }

  /**
   * Removes what the error_budget guard left behind for an SLO it no longer keeps (role `approve`): the SLO taken out
   * of guards.error_budget.slos, or the whole section removed or disabled. Its `error_budget:exhausted` record and
   * waiver, and the `strategy:reduce_only` entries it set (published), go in one script. Audited
   * `error_budget.cleared`. An SLO the running guard keeps is refused: the guard owns its state (`budget lift`).
   */
  async clear(actor: string, slo: string, reason: string): Promise<ClearedBudget> {
    const d = this.deps;
    await authorize(d, actor, "approve", "error_budget.clear");
    if (!reason.trim()) throw new UserInputError("Say why the state may be removed (--reason).");
    const why = checkReason(reason);
    if (this.kept().includes(slo))
      throw new UsageError(
        `${slo} is declared and the error_budget guard keeps its state: tradeguard budget lift ${slo} lifts its policy; take it out of guards.error_budget.slos and the guard removes its state itself`,
      );
    const k = d.keys.raw;
    const [ex, wv, removed] = (await d.redis.eval(
      CLEAR,
      4,
      k(SLO_KEYS.exhausted),
      k(SLO_KEYS.waivers),
      k(MARKET_KEYS.strategyReduceOnly),
      k(MARKET_KEYS.flagsChannel),
      slo,
      reduceOnlySource(slo),
    )) as [number, number, string[]];
    const out: ClearedBudget = { slo, exhausted: ex === 1, waiver: wv === 1, reduceOnly: [...removed].sort() };
    if (!out.exhausted && !out.waiver && out.reduceOnly.length === 0)
      throw new NotFoundError(`No state of SLO ${slo} in Redis: nothing to clear.`);
    await audit(d, {
      actor,
      action: "error_budget.cleared",
      details: { slo, reason: why, exhausted: out.exhausted, waiver: out.waiver, reduce_only: out.reduceOnly },
    });
    await d.notifier.announce({
      text: `State of SLO ${slo}, which no error_budget guard keeps, removed by ${actor}${out.reduceOnly.length ? ` (reduce-only lifted for ${out.reduceOnly.join(", ")})` : ""}: ${why}`,
      severity: "warn",
      sop: SOP_ERROR_BUDGET,
    });
    return out;
  }

  /** The SLOs the error_budget guard keeps: declared, with the guard enabled and configured. */
  private kept(): string[] {
    return this.deps.budgets?.slos() ?? [];
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}
