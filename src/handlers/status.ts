// /status: the one-screen summary; `/status cutover`: the go/no-go checklist with its evidence.
import type { SlackHandler } from "../bot/handler.js";
import { cutoverView } from "../bot/views/cutover.js";
import { statusView } from "../bot/views/status.js";

export const statusHandler: SlackHandler = {
  name: "status",
  command: "/status",
  role: null,
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      await ack();
      const cutover = command.text.trim().toLowerCase() === "cutover";
      const view = cutover
        ? cutoverView(await rt.ops.cutover.check(), rt.config.runbookUrl)
        : statusView(await rt.ops.status());
      await respond({ response_type: "ephemeral", ...view });
    },
};
