// /status: the one-screen summary.
import type { SlackHandler } from "../bot/handler.js";
import { statusView } from "../bot/views/status.js";

export const statusHandler: SlackHandler = {
  name: "status",
  command: "/status",
  role: null,
  onCommand:
    (rt) =>
    async ({ ack, respond }) => {
      await ack();
      await respond({ response_type: "ephemeral", ...statusView(await rt.ops.status()) });
    },
};
