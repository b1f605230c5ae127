// Rule module of the gate's decision: the effective mode. The strictest of the `mode` key, Redis reachability and the
// dead-man's switch (`heartbeat:bot`): halt refuses everything, reduce-only refuses every order that is not reducing.
import type { Mode } from "../state/keys.js";
import type { CheckResult, Connectivity, DecideOptions } from "./decide-types.js";
import type { GateFlags } from "./flags.js";

/** Default of DecideOptions.heartbeatMaxSkewMs / GateOptions.heartbeatMaxSkewMs: the clock skew a heartbeat may show. */
export const HEARTBEAT_MAX_SKEW_MS = 5_000;

/**
 * The mode check() applies, and the dead-man's switch (shared by decide() and the gate's view()). The switch trips
 * when `heartbeat:bot` is absent or unreadable, older than `heartbeatMaxAgeMs`, or more than `heartbeatMaxSkewMs` in
 * the future: a heartbeat from the future proves no bot is alive now (issue 10: a year-2100 value must not keep the
 * switch open forever). Written so that a NaN limit trips it too.
 */
export function effectiveMode(
  flags: GateFlags,
  conn: Connectivity,
  now: number,
  heartbeatMaxAgeMs: number,
  heartbeatMaxSkewMs: number = HEARTBEAT_MAX_SKEW_MS,
): { mode: Mode; beforeDeadMansSwitch: Mode; hbAge: number | null; deadMansSwitch: boolean } {
  const hbAge = flags.heartbeatMs === null ? null : now - flags.heartbeatMs;
  const deadMansSwitch = hbAge === null || !(hbAge <= heartbeatMaxAgeMs && hbAge >= -heartbeatMaxSkewMs);
  let m: Mode = !conn.loaded || flags.modeInvalid ? "halt" : flags.mode;
  if (conn.down) m = conn.downMode === "halt" || m === "halt" ? "halt" : "reduce_only";
  return { mode: deadMansSwitch && m === "active" ? "reduce_only" : m, beforeDeadMansSwitch: m, hbAge, deadMansSwitch };
}

/** "5.001 s", "42 s", "2304 days": how far a heartbeat is off, for the dead_mans_switch reason. */
function fmtSpan(ms: number): string {
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(3))} s`;
  if (ms < 86_400_000) return `${Math.round(ms / 1000)} s`;
  return `${Math.floor(ms / 86_400_000)} days`;
}

/** Why the dead-man's switch tripped (only called when it did, so no string is built on the allowing path). */
function deadMansSwitchReason(flags: GateFlags, hbAge: number | null, maxAgeMs: number, maxSkewMs: number): string {
  const tail = "failing safe to reduce-only";
  if (hbAge === null) {
    return flags.heartbeatInvalid
      ? `dead_mans_switch: heartbeat:bot is unreadable (${flags.heartbeatInvalid}); ${tail}`
      : `dead_mans_switch: heartbeat:bot is absent (no tradeguard bot has run); ${tail}`;
  }
  if (hbAge < 0) {
    return `dead_mans_switch: heartbeat:bot is ${fmtSpan(-hbAge)} in the future (more than the ${fmtSpan(maxSkewMs)} allowed clock skew); ${tail}`;
  }
  return `dead_mans_switch: heartbeat:bot is ${Math.round(hbAge / 1000)} s old (limit ${Math.round(maxAgeMs / 1000)} s); ${tail}`;
}

/**
 * The mode rules: a refusal of everything (halt, a halt held after a failover lost it, Redis unreachable under
 * "halt", an invalid mode) is returned as the answer; reduce-only and the dead-man's switch add their reason for a non-reducing order and return null.
 */
export function modeRules(
  flags: GateFlags,
  now: number,
  opts: DecideOptions,
  conn: Connectivity,
  reducing: boolean,
  reasons: string[],
): CheckResult | null {
  const maxSkewMs = opts.heartbeatMaxSkewMs ?? HEARTBEAT_MAX_SKEW_MS;
  const eff = effectiveMode(flags, conn, now, opts.heartbeatMaxAgeMs, maxSkewMs);
  if (conn.down && conn.downMode === "halt") {
    return { allow: false, reasons: [`${conn.downCode ?? "redis_unreachable"}: ${conn.down}; treating as halt`] };
  }
  if (flags.modeInvalid) {
    return { allow: false, reasons: [`mode_invalid: ${flags.modeInvalid}; treating as halt`] };
  }
  if (flags.modeHeld) return { allow: false, reasons: [`mode_halt_held: ${flags.modeHeld}`] };
  if (eff.mode === "halt") {
    return {
      allow: false,
      reasons: [
        `mode_halt: trading is halted${flags.modeReason ? ` (${flags.modeReason}${flags.modeActor ? ` — ${flags.modeActor}` : ""})` : ""}`,
      ],
    };
  }
  if (eff.beforeDeadMansSwitch === "reduce_only" && !reducing) {
    reasons.push(
      conn.down
        ? `mode_reduce_only: ${conn.downCode === "flags_stale" ? "flags stale" : "Redis unreachable"} (${conn.down}); only reduce-only orders`
        : `mode_reduce_only: only reduce-only orders${flags.modeReason ? ` (${flags.modeReason})` : ""}`,
    );
  }
  if (eff.deadMansSwitch && !reducing) {
    reasons.push(deadMansSwitchReason(flags, eff.hbAge, opts.heartbeatMaxAgeMs, maxSkewMs));
  }
  return null;
}
