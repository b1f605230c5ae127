// /runbook [topic]: lists the SOPs or shows the one asked for, from RUNBOOK.md.
import type { App } from "@slack/bolt";
import { runbookListView, runbookSopView } from "../bot/views/runbook.js";
import { UserInputError } from "../errors.js";
import type { Runtime } from "../main.js";
import { findSop, loadRunbook } from "../ops/runbook.js";

/** Registers /runbook. */
export function register(app: App, rt: Runtime): void {
  app.command("/runbook", async ({ command, ack, respond }) => {
    await ack();
    const sops = loadRunbook();
    if (!command.text.trim())
      return void (await respond({ response_type: "ephemeral", ...runbookListView(sops, rt.config.runbookUrl) }));
    const sop = findSop(sops, command.text);
    if (!sop) throw new UserInputError(`No SOP matches "${command.text.trim()}". \`/runbook\` lists them.`);
    await respond({ response_type: "ephemeral", ...runbookSopView(sop, rt.config.runbookUrl) });
  });
}
