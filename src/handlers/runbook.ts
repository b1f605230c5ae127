// /runbook [topic]: lists the SOPs or shows the one asked for, from RUNBOOK.md.
import type { SlackHandler } from "../bot/handler.js";
import { runbookListView, runbookSopView } from "../bot/views/runbook.js";
import { UserInputError } from "../errors.js";
import { findSop, loadRunbook } from "../ops/runbook.js";

export const runbookHandler: SlackHandler = {
  name: "runbook",
  command: "/runbook",
  role: null,
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      await ack();
      const sops = loadRunbook();
      if (!command.text.trim())
        return void (await respond({ response_type: "ephemeral", ...runbookListView(sops, rt.config.runbookUrl) }));
      const sop = findSop(sops, command.text);
      if (!sop) throw new UserInputError(`No SOP matches "${command.text.trim()}". \`/runbook\` lists them.`);
      await respond({ response_type: "ephemeral", ...runbookSopView(sop, rt.config.runbookUrl) });
    },
};
