// State integrity guard: the keys tradeguard itself keeps (the mode, the panic and resume records, the engine's
// own hashes) checked for garbage every tick — one "unreadable" finding per bad key, naming the key and why, so a
// value no reader can use is paged instead of being silently skipped. Readers already fail safe on their own
// (garbage in `mode` is halt; an unreadable `resume:soak` never ends a soak): this guard makes sure someone knows.
import { z } from "zod";
import { HASH_FIELD_CHECKS, STRING_CHECKS } from "../state/validate.js";
import { defineGuard, type Finding, type KeyRead, ReadFailure } from "./guard.js";

export const SOP_STATE_INTEGRITY = "sop-state-integrity";

/** Keys whose garbage stops or misleads the kill switch: paged as critical. The others are warnings. */
const CRITICAL = new Set(["mode", "panic:active", "clear:active", "resume:soak", "alerts:open"]);

const STRINGS = ["mode", "panic:active", "panic:last", "clear:active", "resume:soak", "risk:event_lock"] as const;
const HASHES = ["mode:meta", "guards:state", "alerts:open", "luld:paused", "ssr:active"] as const;

const anyString = z.string().nullable();
const anyHash = z.record(z.string(), z.string());

type Values = Record<string, string | null | Record<string, string> | ReadFailure>;

/** The guard (YAML `guards.state_integrity`). */
export const stateIntegrity = defineGuard<Record<string, never>, Values>({
  name: "state_integrity",
  schedule: "*/15 * * * * *",
  config: z.object({}).strict(),
  reads: () => {
    const reads: Record<string, KeyRead> = {};
    for (const k of STRINGS) reads[k] = { key: k, type: "string", schema: anyString, onError: "value" };
    for (const k of HASHES) reads[k] = { key: k, type: "hash", schema: anyHash, onError: "value" };
    return reads as Record<keyof Values & string, KeyRead>;
  },
  evaluate(snapshot) {
    const problems: { key: string; problem: string }[] = [];
    for (const [key, v] of Object.entries(snapshot.values)) {
      if (v instanceof ReadFailure) problems.push({ key, problem: v.message });
      else if (typeof v === "string") {
        const p = STRING_CHECKS[key]?.(v) ?? null;
        if (p) problems.push({ key, problem: p });
      } else if (v && typeof v === "object") {
        const check = HASH_FIELD_CHECKS[key];
        if (!check) continue;
        const bad = Object.entries(v).flatMap(([field, raw]) => {
          const p = check(raw);
          return p ? [`${field}: ${p}`] : [];
        });
        if (bad.length)
          problems.push({
            key,
            problem: `${bad.length} unreadable entr${bad.length === 1 ? "y" : "ies"} (${bad.slice(0, 3).join("; ")}${bad.length > 3 ? "; …" : ""})`,
          });
      }
    }
    return problems.map(
      (p): Finding => ({
        guard: "state_integrity",
        key: `unreadable:${p.key}`,
        severity: CRITICAL.has(p.key) ? "critical" : "warn",
        title: `${p.key}: unreadable — ${p.problem}`,
        detail: `Redis key ${p.key} holds a value tradeguard cannot read: ${p.problem}. Readers fail safe and name it; repair or remove it (RUNBOOK).`,
        sop: SOP_STATE_INTEGRITY,
      }),
    );
  },
});
