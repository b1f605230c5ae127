// tradeguard budget status | lift | clear — the SLOs' error budgets, lifting a spent budget's policy by command, and
// removing the state of an SLO no error_budget guard keeps any more.
import type { Command } from "commander";
import { cliActor } from "../config.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";

/** Registers the budget group. */
export function registerBudget(program: Command): void {
  const budget = program.command("budget").description("error budgets of the SLOs (guards.error_budget)");
  budget
    .command("status")
    .description("each SLO's budget left over its period and its burn-rate windows")
    .option("--json", "print {slos, unreadable} as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "budget status");
        const s = await rt.ops.budget.status();
        if (opts.json) printJson(s);
        else if (s.slos.length === 0) process.stdout.write("no SLOs declared (guards.error_budget.slos)\n");
        else
          for (const b of s.slos) {
            const head = `${b.slo} ${b.target}% over ${b.periodDays} d: ${b.state === "ok" ? `${b.leftPct} of the budget left` : b.state === "no_data" ? "no events" : `UNREADABLE (${b.problems[0]})`}${b.spent ? ` — SPENT (policy ${b.policy})` : ""}`;
            process.stdout.write(
              `${head}\n${b.rules.map((r) => `  ${r.firing ? "BURNING" : "ok     "} ${r.name} ${r.windows}`).join("\n")}\n`,
            );
          }
        for (const u of s.unreadable) process.stderr.write(`tradeguard: ${u.key}: ${u.problem}\n`);
        if (s.unreadable.length) throw new CliExit(EXIT.failed);
      });
    });
  budget
    .command("lift <slo>")
    .description(
      "lift a spent budget's policy until the budget is back (reduce-only strategies, the extra /clear approver)",
    )
    .requiredOption("--reason <reason>", "why (audited)")
    .option("--json", "print the waiver as JSON")
    .action(async (slo: string, opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "budget lift");
        const r = await rt.ops.budget.lift(cliActor(), slo, opts.reason);
        // Apply it now rather than at the guard's next tick (same runner, same audited effects).
        const g = rt.config.guards.error_budget;
        if (g?.enabled && !g.notConfigured) await rt.guards.runOnce({ guard: "error_budget" });
        if (opts.json) return printJson(r);
        process.stdout.write(`Policy ${r.policy} of ${r.slo} lifted until its budget is back.\n`);
      });
    });
  budget
    .command("clear <slo>")
    .description(
      "remove the state of an SLO the error_budget guard no longer keeps (taken out of the config, or the guard off): its spent record, waiver and reduce-only entries",
    )
    .requiredOption("--reason <reason>", "why (audited)")
    .option("--json", "print what was removed as JSON")
    .action(async (slo: string, opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "budget clear");
        const r = await rt.ops.budget.clear(cliActor(), slo, opts.reason);
        if (opts.json) return printJson(r);
        const what = [
          ...(r.exhausted ? ["its spent record"] : []),
          ...(r.waiver ? ["its waiver"] : []),
          ...(r.reduceOnly.length ? [`reduce-only of ${r.reduceOnly.join(", ")}`] : []),
        ];
        process.stdout.write(`Removed the state of SLO ${r.slo}: ${what.join(", ")}.\n`);
      });
    });
}
