// tradeguard cutover check | enable | disable — the go/no-go checklist and enabling an asset class (approved with
// `tradeguard approve <g…>` by someone else, like a /clear).
import type { Command } from "commander";
import { cliActor } from "../config.js";
import { type CutoverCheck, CutoverRefusedError } from "../ops/cutover.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";

/** The checklist as the terminal shows it. */
export function checkText(c: CutoverCheck): string {
  const lines = c.gates.map((g) => `${g.verdict.toUpperCase().padEnd(8)} ${g.gate.padEnd(14)} ${g.evidence}`);
  for (const a of c.assetClasses)
    lines.push(
      `${a.assetClass}: ${a.enabled ? `ENABLED (${a.flag!.request_id}, approved by ${a.flag!.approved_by} at ${a.flag!.at})` : a.invalid ? `not enabled — ${a.invalid}` : "not enabled"}${a.pending ? `; request ${a.pending} waiting for approval` : ""}`,
    );
  lines.push(c.ok ? "GO: every gate passes" : "NO-GO: a gate does not pass (unknown never passes)");
  return lines.join("\n");
}

/** Registers the cutover group. */
export function registerCutover(program: Command): void {
  const cutover = program
    .command("cutover")
    .description("go/no-go checklist and the two-person enabling of an asset class");
  cutover
    .command("check")
    .description("every gate of the checklist with its evidence: exit 0 when all pass, 1 otherwise")
    .option("--json", "print {at, ok, gates, assetClasses} as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "cutover check");
        const c = await rt.ops.cutover.check();
        if (opts.json) printJson(c);
        else process.stdout.write(`${checkText(c)}\n`);
        if (!c.ok) throw new CliExit(EXIT.failed);
      });
    });
  cutover
    .command("enable <assetClass>")
    .description("ask to enable an asset class (refused unless every gate passes; needs someone else's approval)")
    .option("--reason <reason>", "why now", "")
    .option("--json", "print the request as JSON")
    .action(async (assetClass: string, opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "cutover enable");
        try {
          const { request } = await rt.ops.cutover.enable(cliActor(), assetClass, opts.reason);
          if (opts.json) return printJson(request);
          process.stdout.write(
            `Cutover ${request.id} of ${request.assetClass}: every gate passes; it needs ${request.needed} approval(s) from someone other than ${request.requester}: tradeguard approve ${request.id}\n`,
          );
        } catch (err) {
          if (!(err instanceof CutoverRefusedError)) throw err;
          if (opts.json) printJson({ refused: true, ...err.check });
          else process.stdout.write(`${checkText(err.check)}\n`);
          throw new CliExit(EXIT.failed, `cutover of ${assetClass} refused: ${err.userMessage}`);
        }
      });
    });
  cutover
    .command("disable <assetClass>")
    .description("disable an asset class now: trading processes refuse its orders (audited)")
    .requiredOption("--reason <reason>", "why")
    .option("--json", 'print {"asset_class","enabled":false} as JSON')
    .action(async (assetClass: string, opts: { reason: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "cutover disable");
        await rt.ops.cutover.disable(cliActor(), assetClass, opts.reason);
        if (opts.json) return printJson({ asset_class: assetClass, enabled: false });
        process.stdout.write(`${assetClass} disabled.\n`);
      });
    });
}
