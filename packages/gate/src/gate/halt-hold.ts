// The gate's rule for a halt lost in a Redis failover (docs/gate.md, "Failover"). Replication is asynchronous, so a
// primary that dies right after taking `mode=halt` can be replaced by a replica that never had it: Redis then reads
// the mode from before the halt. A gate that saw the halt therefore loosens only to a mode that descends from it:
// one whose `mode:meta.last_halt` (the `since` of the latest halt in its history, written by the mode machine) is at
// or after the halt's `since` — for a meta written before `last_halt` existed, one whose `since` is later. The mode
// machine only leaves halt through an approved resume (reduce_only, which carries last_halt), so a legitimate resume
// always passes; the pre-halt mode on a promoted replica never does. Pure: the gate passes its clock in.
import type { ModeFields } from "./reads.js";

/** The halt a gate saw: its `since` (ms; the gate's clock when the halt had none), for the rule above. */
export interface HaltSeen {
  since: string | null;
  sinceMs: number;
  reason: string | null;
  actor: string | null;
}

const ms = (iso: string | null): number => (iso ? Date.parse(iso) : Number.NaN);

/** The halt `fields` shows, to be remembered (only a valid `halt`; an invalid mode is halt anyway, not remembered). */
export function haltOf(fields: Pick<ModeFields, "modeSince" | "modeReason" | "modeActor">, now: number): HaltSeen {
  const t = ms(fields.modeSince);
  return {
    since: fields.modeSince,
    sinceMs: Number.isFinite(t) ? t : now,
    reason: fields.modeReason,
    actor: fields.modeActor,
  };
}

/** True when the looser mode in `fields` descends from `halt` (it may then be applied). */
export function descendsFrom(fields: Pick<ModeFields, "modeSince" | "modeLastHalt">, halt: HaltSeen): boolean {
  if (fields.modeLastHalt !== null) return ms(fields.modeLastHalt) >= halt.sinceMs;
  return ms(fields.modeSince) > halt.sinceMs;
}

/**
 * Applies the rule to a read of the mode fields: returns the fields to use (halt held, with `modeHeld` saying why,
 * when Redis shows a looser mode that does not descend from the halt seen) and the halt to remember from now on.
 */
export function holdHalt(
  read: ModeFields,
  seen: HaltSeen | null,
  now: number,
): { fields: ModeFields; seen: HaltSeen | null } {
  if (read.modeInvalid) return { fields: read, seen };
  if (read.mode === "halt") return { fields: { ...read, modeHeld: null }, seen: haltOf(read, now) };
  if (!seen || descendsFrom(read, seen)) return { fields: read, seen: null };
  const shows = `${read.mode}${read.modeSince ? ` since ${read.modeSince}` : ""}`;
  const halt = seen.since ?? `${new Date(seen.sinceMs).toISOString()} (when this gate saw it)`;
  return {
    fields: {
      ...read,
      mode: "halt",
      modeReason: seen.reason,
      modeActor: seen.actor,
      modeHeld: `Redis shows ${shows}, which does not follow the halt this gate saw (since ${halt}): the halt may have been lost in a Redis failover; holding halt until a mode change made after it`,
    },
    seen,
  };
}
