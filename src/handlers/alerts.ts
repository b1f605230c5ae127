// The Acknowledge button on guard alerts: records who acked (audited) and updates the message.
import type { BlockAction, ButtonAction } from "@slack/bolt";
import type { SlackHandler } from "../bot/handler.js";
import { ids } from "../bot/ids.js";
import { userText, who } from "../bot/views/common.js";

export const alertsHandler: SlackHandler = {
  name: "alerts",
  register(app, rt) {
    app.action<BlockAction<ButtonAction>>(ids.alertAck, async ({ ack, body, action, respond }) => {
      await ack();
      const alert = await rt.ops.acknowledgeAlert(body.user.id, action.value ?? "");
      await respond({
        replace_original: false,
        response_type: "in_channel",
        // The title comes from Redis (other processes write alerts): escaped, so it cannot mention or link.
        text: `:eyes: ${who(body.user.id)} acknowledged: ${userText(alert.title, 300)}`,
      });
    });
    // The SOP button is a link; Slack still sends an interaction for it, which only needs an ack.
    app.action(ids.openSop, async ({ ack }) => ack());
    app.action(/^open_sop_/, async ({ ack }) => ack());
  },
};
