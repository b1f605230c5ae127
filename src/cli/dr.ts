// tradeguard dr rehearse | status — the DR restore rehearsal (the same operation the monthly reminder asks for).
import type { Command } from "commander";
import { cliActor } from "../config.js";
import type { DrRehearsal } from "../ops/dr.js";
import { CliExit, EXIT, printJson, requireRedis, withRuntime } from "./context.js";
import { duration, Progress, plural } from "./progress.js";

/** The human report of one rehearsal. */
export function rehearsalText(r: DrRehearsal): string {
  const lines = [
    r.ok
      ? `OK: restored ${r.keys} keys into ${r.scratch} in ${r.ms} ms; every key matches the snapshot.`
      : `FAILED: ${r.error ?? `${r.mismatches.length} key(s) differ, ${r.skipped.length} not restorable`}`,
  ];
  if (r.snapshot) lines.push(`snapshot: ${r.snapshot} (taken ${r.takenAt})`);
  for (const m of r.mismatches)
    lines.push(`  differs ${m.key}: snapshot ${JSON.stringify(m.expected)}, restored ${JSON.stringify(m.got)}`);
  for (const s of r.skipped) lines.push(`  not restorable ${s.key}: ${s.why}`);
  lines.push(`recorded in dr:last_rehearsal at ${r.ts}`);
  return lines.join("\n");
}

/** Registers the dr group. */
export function registerDr(program: Command): void {
  const dr = program
    .command("dr")
    .description("DR restore rehearsals: restore the latest snapshot into a scratch Redis");
  dr.command("rehearse")
    .description("restore the latest panic snapshot into dr.scratch_url, compare it key by key, time it, record it")
    .option("--snapshot <file>", "restore this snapshot file instead of the newest in the snapshot directory")
    .option("--json", "print the rehearsal as JSON")
    .addHelpText(
      "after",
      "\nExit codes: 0 every key restored and matching, 1 the rehearsal failed (recorded as failed), 2 no scratch Redis or it is the live keyspace, 3 Redis unreachable.\n",
    )
    .action(async (opts: { snapshot?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "dr rehearse");
        // Progress on stderr: each step as it finishes (a live line of the one under way on a terminal).
        const p = new Progress({ json: opts.json });
        p.tick(() => "checking the scratch Redis is not the live one…");
        const r = await rt.ops.dr
          .rehearse(cliActor(), {
            snapshot: opts.snapshot,
            onStep: (s) => {
              if (s.step === "scratch") {
                p.step(`scratch Redis ${s.scratch} is not the live keyspace ${p.ok()}`);
                p.tick(() => "reading the snapshot…");
              } else if (s.step === "snapshot") {
                p.step(`snapshot ${s.path} (taken ${s.takenAt}): ${plural(s.keys, "key")} ${p.ok()}`);
                p.tick(() => `restoring ${plural(s.keys, "key")} and comparing…`);
              } else {
                p.step(`restored ${plural(s.keys, "key")} ${p.ok()} (${duration(s.ms)})`);
                p.tick(() => "comparing key by key and recording the rehearsal…");
              }
            },
          })
          .finally(() => p.done());
        if (opts.json) printJson(r);
        else process.stdout.write(`${rehearsalText(r)}\n`);
        if (!r.ok) throw new CliExit(EXIT.failed);
      });
    });
  dr.command("status")
    .description("the last rehearsal and the last successful one")
    .option("--json", "print as JSON")
    .action(async (opts: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        await requireRedis(rt, "dr status");
        const s = await rt.ops.dr.last();
        if (opts.json) return printJson(s);
        const show = (v: typeof s.last) =>
          v === null
            ? "none"
            : "invalid" in v
              ? `UNREADABLE (${v.invalid})`
              : `${v.ts} ${v.ok ? "ok" : "FAILED"}, ${v.keys} keys, ${v.ms} ms`;
        process.stdout.write(
          `last rehearsal: ${show(s.last)}\nlast successful: ${show(s.success)}${s.ageDays === null ? "" : ` (${s.ageDays.toFixed(1)} days ago)`}\n`,
        );
      });
    });
}
