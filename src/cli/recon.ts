// tradeguard recon — the day's broker statement against our ledger, to the penny (the same operation as /recon).
import type { Command } from "commander";
import { cliActor } from "../config.js";
import { CliExit, EXIT, printJson, withRuntime } from "./context.js";
import { dateArg } from "./options.js";
import { duration, Progress } from "./progress.js";

/** Registers recon. */
export function registerRecon(program: Command): void {
  program
    .command("recon")
    .description("reconcile a trade date: the broker's statement against our FIFO ledger, exact to the cent")
    .requiredOption("--date <YYYY-MM-DD>", "the trade date (America/New_York)", dateArg)
    .option("--broker <name>", "only this broker's fills; without --statement, fetch its statement live (alpaca)")
    .option("--statement <file>", "a saved statement: Alpaca activities JSON, or a generic CSV (docs/recon.md)")
    .option("--positions <file>", "with an Alpaca --statement: the positions JSON of the date's close")
    .option("--ledger <file>", "a JSONL ledger instead of the Redis stream ledger:fills")
    .option("--json", "print the result object")
    .addHelpText(
      "after",
      "\nExit codes: 0 everything matches, 1 a mismatch or inputs that could not be reconciled, 2 usage, 3 Redis unreachable.\nExamples:\n  tradeguard recon --date 2026-12-01 --broker alpaca-live\n  tradeguard recon --date 2026-12-01 --statement activities.json --positions positions.json --ledger fills.jsonl --json\n",
    )
    .action(
      async (opts: {
        date: string;
        broker?: string;
        statement?: string;
        positions?: string;
        ledger?: string;
        json?: boolean;
      }) => {
        if (opts.positions && !opts.statement) throw new CliExit(EXIT.usage, "--positions needs --statement");
        // Progress on stderr: the phase and its rows live on a terminal; one line per finished phase elsewhere.
        const p = new Progress({ json: opts.json });
        const started = Date.now();
        let phase: { name: string; rows: number; at: number } | null = null;
        const finishPhase = () => {
          if (!phase) return;
          const { name, rows, at } = phase;
          p.step(
            `recon ${opts.date}: ${name} ${p.ok()} ${rows.toLocaleString("en-US")} rows (${duration(Date.now() - at)})`,
          );
        };
        await withRuntime(async (rt) => {
          const { result, saved } = await rt.ops.recon
            .run({
              actor: cliActor(),
              date: opts.date,
              broker: opts.broker,
              statement: opts.statement ? { file: opts.statement, positions: opts.positions } : undefined,
              ledger: opts.ledger,
              onProgress: (at) => {
                if (phase?.name !== at.phase) {
                  finishPhase();
                  phase = { name: at.phase, rows: at.rows, at: Date.now() };
                }
                phase.rows = at.rows;
                p.status(
                  `recon ${opts.date}: ${at.phase} ${at.rows.toLocaleString("en-US")} rows… ${duration(Date.now() - started)}`,
                );
              },
            })
            .then((run) => {
              finishPhase();
              return run;
            })
            .finally(() => p.done());
          if (opts.json) {
            const { broker: _broker, ...contract } = result;
            printJson(contract);
          } else {
            const head = result.errors.length
              ? `COULD NOT RECONCILE ${result.date}: ${result.errors.length} input row(s) unreadable`
              : result.ok
                ? `OK ${result.date}: ${result.rows} rows, everything matches`
                : `MISMATCH ${result.date}: ${result.mismatches.length} difference(s)`;
            const lines = [head];
            for (const e of result.errors.slice(0, 20)) lines.push(`  error ${e.where}: ${e.reason}`);
            for (const m of result.mismatches.slice(0, 50))
              lines.push(
                `  ${m.kind.padEnd(20)} ${(m.symbol ?? "").padEnd(10)} ${m.order_id ?? ""} ours ${m.ours ?? "—"} theirs ${m.theirs ?? "—"}${m.diff ? ` diff ${m.diff}` : ""}`,
              );
            for (const s of result.symbols)
              lines.push(`  ${s.symbol.padEnd(10)} position ${s.qty}  realized ${s.realized_pnl}  fees ${s.fees}`);
            if (saved) lines.push(`saved: ${saved}`);
            process.stdout.write(`${lines.join("\n")}\n`);
          }
          if (!result.ok) throw new CliExit(EXIT.failed);
        });
      },
    );
}
