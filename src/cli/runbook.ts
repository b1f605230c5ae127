// tradeguard runbook [topic] — the SOPs of RUNBOOK.md, as /runbook shows them: the list, or one SOP found by its
// anchor, title, a prefix or a near spelling; a topic that fits several lists the closest. Needs no Redis. Every link
// is `<runbook_url>#<anchor>` when the config sets runbook_url, else `RUNBOOK.md#<anchor>`; the SOP is shown inline.
import type { Command } from "commander";
import { sopLink } from "../notify.js";
import { loadRunbook, searchSops } from "../ops/runbook.js";
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";
import { paint, table } from "./style.js";

/** The configured runbook_url; a configuration that cannot be read must not keep an SOP from being shown. */
function runbookBase(): string | undefined {
  try {
    return cliConfig().runbookUrl;
  } catch (err) {
    process.stderr.write(
      `tradeguard: configuration unreadable (${(err as Error).message.replace(/\s*\n\s*/g, "; ")}); links are relative to RUNBOOK.md\n`,
    );
    return undefined;
  }
}

/** Registers runbook. */
export function registerRunbook(program: Command): void {
  program
    .command("runbook [topic...]")
    .description("list the SOPs of RUNBOOK.md, or show the one for a topic (typos and prefixes are fine)")
    .option("--json", "print the SOP {anchor,title,body,url,match} (or the list, or the suggestions) as JSON")
    .addHelpText(
      "after",
      "\nLinks use runbook_url from the configuration (TRADEGUARD_CONFIG) when it is set, else RUNBOOK.md#<anchor>.\n" +
        "Exit codes: 0 shown, 2 no SOP stands out for the topic (the closest are listed).\n" +
        "Examples:\n  tradeguard runbook\n  tradeguard runbook halt\n  tradeguard runbook pnaic --json\n",
    )
    .action((words: string[], opts: { json?: boolean }) => {
      const sops = loadRunbook();
      const base = runbookBase();
      const topic = words.join(" ").trim();
      const brief = (s: { anchor: string; title: string }) => ({
        anchor: s.anchor,
        title: s.title,
        url: sopLink(base, s.anchor),
      });
      if (!topic) {
        if (opts.json) return printJson(sops.map(brief));
        process.stdout.write(
          `${table(
            ["topic", "SOP", "link"],
            sops.map((s) => [s.anchor.replace(/^sop-/, ""), s.title, paint("dim", sopLink(base, s.anchor))]),
          )}\n`,
        );
        return;
      }
      const found = searchSops(sops, topic);
      if (found.sop) {
        if (opts.json) return printJson({ ...found.sop, url: sopLink(base, found.sop.anchor), match: found.match });
        return void process.stdout.write(
          `${paint("bold", `# SOP: ${found.sop.title}`)}  (${sopLink(base, found.sop.anchor)})\n\n${found.sop.body}\n`,
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
