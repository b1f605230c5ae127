// tradeguard guards run --once | list
import type { Command } from "commander";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";

/** Registers the guards command group and runbook. */
export function registerGuards(program: Command): void {
  const guards = program.command("guards").description("the scheduled guards");
  guards
    .command("run")
    .description("run one tick now (same runner, same effects as the schedule)")
    .requiredOption("--once", "run once and exit")
    .option("--guard <name>", "only this guard")
    .option("--json", "print {findings, guards} as JSON")
    .action(async (opts: { guard?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "guards run");
        const res = await rt.guards.runOnce({ guard: opts.guard });
        if (opts.json) printJson(res);
        else {
          for (const g of res.guards)
            process.stdout.write(
              `${g.name}: ${g.state} (${g.durationMs} ms)${g.detail !== "ok" ? ` — ${g.detail}` : ""}\n`,
            );
          for (const f of res.findings)
            process.stdout.write(
              `  ${f.severity} ${f.title}${f.value ? ` [${f.value}${f.threshold ? ` vs ${f.threshold}` : ""}]` : ""} → RUNBOOK.md#${f.sop}\n`,
            );
          if (res.guards.length === 0)
            process.stdout.write("no guard ran (none enabled, or another replica holds their locks)\n");
        }
        for (const u of res.unreadable) process.stderr.write(`tradeguard: ${u.key}: ${u.problem}\n`);
        // Give queued alert posts (paced ~1/s) time to go out before the process exits.
        await rt.alerts.drained();
        if (res.unreadable.length) throw new CliExit(EXIT.failed);
      });
    });
  guards
    .command("list")
    .description("guards, schedules and their last state")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const list = rt.guards.list();
        const states = await rt.guards.states().catch((err) => {
          process.stderr.write(`tradeguard: guard states not read (${(err as Error).message})\n`);
          return [];
        });
        const rows = list.map((g) => ({ ...g, ...(states.find((s) => s.name === g.name) ?? {}) }));
        if (opts.json) return printJson(rows);
        if (rows.length === 0) process.stdout.write("no guards registered\n");
        for (const r of rows)
          process.stdout.write(
            `${r.name.padEnd(20)} ${r.schedule.padEnd(16)} ${r.enabled ? "enabled " : "disabled"} ${"state" in r ? `${r.state} ${r.state === "not_configured" ? (r.notConfigured ?? "") : (r.lastRun ?? "")}` : (r.notConfigured ?? "")}\n`,
          );
      });
    });
}
