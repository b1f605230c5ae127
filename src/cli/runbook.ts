// tradeguard runbook [topic] — the SOPs of RUNBOOK.md, as /runbook shows them: the list, or one SOP found by its
// anchor, title, a prefix or a near spelling; a topic that fits several lists the closest. Needs no Redis.
import type { Command } from "commander";
import { loadRunbook, searchSops } from "../ops/runbook.js";
import { CliExit, EXIT, printJson } from "./context.js";

/** Registers runbook. */
export function registerRunbook(program: Command): void {
  program
    .command("runbook [topic...]")
    .description("list the SOPs of RUNBOOK.md, or show the one for a topic (typos and prefixes are fine)")
    .option("--json", "print the SOP (or the list, or the suggestions) as JSON")
    .addHelpText("after", "\nExit codes: 0 shown, 2 no SOP stands out for the topic (the closest are listed).\n")
    .action((words: string[], opts: { json?: boolean }) => {
      const sops = loadRunbook();
      const topic = words.join(" ").trim();
      const brief = (s: { anchor: string; title: string }) => ({ anchor: s.anchor, title: s.title });
      if (!topic) {
        if (opts.json) return printJson(sops.map(brief));
        for (const s of sops) process.stdout.write(`${s.anchor.replace(/^sop-/, "").padEnd(28)} ${s.title}\n`);
        return;
      }
      const found = searchSops(sops, topic);
      if (found.sop) {
        if (opts.json) return printJson({ ...found.sop, match: found.match });
        return void process.stdout.write(
          `# SOP: ${found.sop.title}  (RUNBOOK.md#${found.sop.anchor})\n\n${found.sop.body}\n`,
        );
      }
      if (opts.json) printJson({ topic, sop: null, suggestions: found.suggestions.map(brief) });
      else if (found.suggestions.length)
        process.stdout.write(
          `No SOP is called "${topic}". Did you mean:\n${found.suggestions.map((s) => `  tradeguard runbook ${s.anchor.replace(/^sop-/, "")}   ${s.title}`).join("\n")}\n`,
        );
      throw new CliExit(
        EXIT.usage,
        found.suggestions.length ? "" : `no SOP matches "${topic}" (tradeguard runbook lists them)`,
      );
    });
}
