// /runbook [topic]: lists the SOPs or shows the one asked for, from RUNBOOK.md; a topic with typos or only a prefix
// still finds its SOP, and one that fits several lists the closest instead of "not found".
import type { SlackHandler } from "../bot/handler.js";
import { runbookListView, runbookSopView, runbookSuggestView } from "../bot/views/runbook.js";
import { UserInputError } from "../errors.js";
import { loadRunbook, searchSops } from "../ops/runbook.js";

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
      const found = searchSops(sops, command.text);
      if (found.sop)
        return void (await respond({ response_type: "ephemeral", ...runbookSopView(found.sop, rt.config.runbookUrl) }));
      if (found.suggestions.length)
        return void (await respond({
          response_type: "ephemeral",
          ...runbookSuggestView(command.text.trim(), found.suggestions, rt.config.runbookUrl),
        }));
      throw new UserInputError(`No SOP matches "${command.text.trim()}". \`/runbook\` lists them.`);
    },
};
