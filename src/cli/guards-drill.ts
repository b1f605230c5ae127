// `tradeguard guards run --once --at <ISO-8601>` without --apply: a drill. The guards evaluate the live Redis state
// (the runner's own snapshot read, one pipelined round trip, the same validation) with the clock set to `at`, and
// nothing is written: no tick lock, no flag change, no guard state, no alert, no audit entry. What the guards would
// do is in the findings' `actions`. A guard whose probe needs the composition root's clients (it writes its own
// cursor or cache, or calls S3, Cost Explorer or a broker) is left out and listed as skipped; --apply runs it.
import type { Config } from "../config.js";
import { ConfigError, UsageError } from "../errors.js";
import type { Finding, Guard } from "../jobs/guard.js";
import { allGuards } from "../jobs/registry.js";
import { evaluateGuard } from "../jobs/runner/evaluate.js";
import { readSnapshot } from "../jobs/runner/snapshot.js";
import type { GuardRun } from "../jobs/runner.js";
import { bindGuards } from "../main.js";
import type { Runtime } from "../runtime.js";

/** What a drill found: the runner's result shape, plus the clock it ran with and what it left out. */
export interface DrillResult {
  at: string;
  applied: false;
  findings: Finding[];
  guards: GuardRun[];
  skipped: { name: string; why: string }[];
  unreadable: [];
}

// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
type AnyGuard = Guard<any, any, any>;

/** The guards a drill evaluates (`--guard`, or every enabled and configured one), as `runOnce` selects them. */
function select(config: Config, guard: string | undefined): AnyGuard[] {
  const settings = (g: AnyGuard) => config.guards[g.name];
  if (guard === undefined) return allGuards.filter((g) => settings(g)?.enabled && !settings(g)?.notConfigured);
  const g = allGuards.find((x) => x.name === guard);
  if (!g) throw new UsageError(`--guard ${guard}: unknown guard (known: ${allGuards.map((x) => x.name).join(", ")})`);
  const notConfigured = settings(g)?.notConfigured;
  if (notConfigured) throw new ConfigError(`guards.${guard}: ${notConfigured}`);
  return [g];
}

/** Evaluates the selected guards at `at` against the live Redis state; writes nothing. */
export async function drillGuards(rt: Runtime, at: Date, opts: { guard?: string } = {}): Promise<DrillResult> {
  const chosen = select(rt.config, opts.guard);
  const bound = bindGuards(allGuards, rt.config, { redis: rt.redis, keys: rt.keys, brokers: () => rt.brokers });
  const skipped = chosen
    .filter((g) => bound.find((b) => b.name === g.name) !== g)
    .map((g) => ({
      name: g.name,
      why: "its probe writes its own state or calls out (S3, Cost Explorer, ledger cursor, broker): not run in a drill; --apply runs it",
    }));
  const due = chosen
    .filter((g) => !skipped.some((s) => s.name === g.name))
    .map((g) => {
      const s = rt.config.guards[g.name]!;
      return { guard: g, settings: s.settings, timeoutMs: s.timeoutMs, reads: g.reads(s.settings) };
    });
  const snap = await readSnapshot(rt.redis, rt.keys, due);
  const runs = await Promise.all(due.map((e, i) => evaluateAt(e, snap.perGuard[i]!, at)));
  return {
    at: at.toISOString(),
    applied: false,
    findings: runs.flatMap((r) => r.findings),
    guards: runs.map((r) => r.run),
    skipped,
    unreadable: [],
  };
}

/** One guard at `at`, evaluated exactly as the runner evaluates it (runner/evaluate.ts), its actions not applied. */
async function evaluateAt(
  e: { guard: AnyGuard; settings: unknown; timeoutMs: number },
  read: { values: Record<string, unknown>; invalid: string[] },
  at: Date,
): Promise<{ run: GuardRun; findings: Finding[] }> {
  const r = await evaluateGuard({ guard: e.guard, config: e.settings, timeoutMs: e.timeoutMs }, read, at, {
    slot: null,
  });
  return {
    findings: r.findings,
    run: { name: e.guard.name, state: r.state, detail: r.detail, lastRun: at.toISOString(), durationMs: r.durationMs },
  };
}
