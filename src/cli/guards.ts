// tradeguard guards run --once [--at ISO [--apply]] | list
import type { Command } from "commander";
import type { Finding } from "../jobs/guard.js";
import type { GuardRun, GuardRunner } from "../jobs/runner.js";
import { sopLink } from "../notify.js";
import type { GuardStatus } from "../ops/deps.js";
import { redisReachable } from "../state/redis.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";
import { drillGuards } from "./guards-drill.js";
import { instantArg } from "./options.js";
import { paint, table } from "./style.js";

const SEVERITY_STYLE = { critical: "red", warn: "yellow", info: "dim" } as const;
const STATE_STYLE: Record<string, Parameters<typeof paint>[0]> = {
  ok: "green",
  warn: "yellow",
  critical: "red",
  error: "red",
  stale: "yellow",
  not_configured: "dim",
};

/** Exit 1 when a finding is warn or worse (README): the tick found something a person must look at. */
export function findingsExit(findings: Finding[]): boolean {
  return findings.some((f) => f.severity === "warn" || f.severity === "critical");
}

function printRun(res: { guards: GuardRun[]; findings: Finding[] }, runbookUrl: string | undefined): void {
  for (const g of res.guards)
    process.stdout.write(
      `${g.name}: ${paint(STATE_STYLE[g.state] ?? "reset", g.state)} (${g.durationMs} ms)${g.detail !== "ok" ? ` — ${g.detail}` : ""}\n`,
    );
  for (const f of res.findings)
    process.stdout.write(
      `  ${paint(SEVERITY_STYLE[f.severity], f.severity)} ${f.title}${f.value ? ` [${f.value}${f.threshold ? ` vs ${f.threshold}` : ""}]` : ""} → ${sopLink(runbookUrl, f.sop)}\n`,
    );
}

type ListRow = ReturnType<GuardRunner["list"]>[number] & Partial<GuardStatus>;

/** `guards list` as a table: guard, schedule, enabled, last run, state (with the detail when it says more). */
function printList(rows: ListRow[]): void {
  const cells = rows.map((r) => {
    const state = r.state ?? (r.notConfigured ? "not_configured" : "unknown");
    const detail = r.detail && r.detail !== "ok" ? r.detail : (r.notConfigured ?? "");
    return [
      r.name,
      r.schedule,
      r.enabled ? "yes" : paint("dim", "no"),
      r.lastRun || "—",
      `${paint(STATE_STYLE[state] ?? "reset", state)}${detail ? ` ${detail}` : ""}`,
    ];
  });
  process.stdout.write(`${table(["guard", "schedule", "enabled", "last run", "state"], cells)}\n`);
}

/** Registers the guards command group. */
export function registerGuards(program: Command): void {
  const guards = program.command("guards").description("the scheduled guards");
  guards
    .command("run")
    .description("run one tick now (same runner, same effects as the schedule), or a drill at another time (--at)")
    .requiredOption("--once", "run once and exit")
    .option("--guard <name>", "only this guard")
    .option(
      "--at <iso>",
      "a drill: evaluate with the clock at this ISO-8601 instant (no offset: New York) and change nothing",
      instantArg,
    )
    .option("--apply", "with --at: apply what the guards decide (flags, alerts, audit) as a scheduled tick would")
    .option("--json", "print {findings, guards, unreadable} (a drill adds at, applied, skipped) as JSON")
    .addHelpText(
      "after",
      [
        "",
        "A drill (--at without --apply) reads the live Redis state and writes nothing: no flag, no alert, no audit",
        "entry, no guard state; each finding's `actions` are the changes a tick would make. Guards whose probe writes",
        "or calls out (cost, slippage, s3_drift, endpoint_latency) are listed as skipped.",
        "Exit codes: 0 nothing at warn or worse, 1 a finding at warn or worse (or an unreadable key), 2 usage or",
        "configuration (unknown guard, bad --at), 3 Redis unreachable.",
        "Examples:",
        "  tradeguard guards run --once --json",
        "  tradeguard guards run --once --guard economic_events --at 2026-12-09T13:50:00-05:00 --json",
        "",
      ].join("\n"),
    )
    .action(async (opts: { guard?: string; at?: Date; apply?: boolean; json?: boolean }) => {
      if (opts.apply && !opts.at) throw new CliExit(EXIT.usage, "--apply goes with --at (a plain run applies anyway)");
      const at = opts.at;
      await withRuntime(
        async (rt) => {
          await requireRedis(rt, "guards run");
          if (at && !opts.apply) {
            const drill = await drillGuards(rt, at, { guard: opts.guard });
            if (opts.json) printJson(drill);
            else {
              process.stdout.write(`drill at ${drill.at} (nothing applied):\n`);
              printRun(drill, rt.config.runbookUrl);
              for (const s of drill.skipped) process.stdout.write(`${s.name}: skipped — ${s.why}\n`);
            }
            if (findingsExit(drill.findings)) throw new CliExit(EXIT.failed);
            return;
          }
          const res = await rt.guards.runOnce({ guard: opts.guard });
          if (opts.json) printJson(at ? { at: at.toISOString(), applied: true, ...res } : res);
          else {
            printRun(res, rt.config.runbookUrl);
            if (res.guards.length === 0)
              process.stdout.write("no guard ran (none enabled, or another replica holds their locks)\n");
          }
          for (const u of res.unreadable) process.stderr.write(`tradeguard: ${u.key}: ${u.problem}\n`);
          // Give queued alert posts (paced ~1/s) time to go out before the process exits.
          await rt.alerts.drained();
          if (res.unreadable.length || findingsExit(res.findings)) throw new CliExit(EXIT.failed);
        },
        // --apply: the whole runtime runs on the drill's clock (the tick, its alerts, its guard state).
        at && opts.apply ? { now: () => new Date(at) } : {},
      );
    });
  guards
    .command("list")
    .description("guards, schedules and their last state")
    .option("--json", "print [{name, schedule, enabled, notConfigured, nextRun, state, detail, lastRun}] as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const list = rt.guards.list();
        // Without Redis the schedules are still shown (from the config), and the exit code says the states are not.
        const unreachable = !(await redisReachable(rt.redis, 2_000));
        if (unreachable) process.stderr.write("tradeguard: Redis is unreachable: guard states not read\n");
        const states = unreachable
          ? []
          : await rt.guards.states().catch((err) => {
              process.stderr.write(`tradeguard: guard states not read (${(err as Error).message})\n`);
              return [];
            });
        const rows: ListRow[] = list.map((g) => ({ ...g, ...(states.find((s) => s.name === g.name) ?? {}) }));
        if (opts.json) printJson(rows);
        else if (rows.length === 0) process.stdout.write("no guards registered\n");
        else printList(rows);
        if (unreachable) throw new CliExit(EXIT.unavailable);
      });
    });
}
