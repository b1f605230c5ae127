// The Acknowledge button on guard alerts: records who acked (audited) and updates the message.
import type { App, BlockAction, ButtonAction } from "@slack/bolt";
import { ids } from "../bot/ids.js";
import { NotFoundError } from "../errors.js";
import type { Runtime } from "../main.js";
import { audit } from "../ops/deps.js";

/** Registers the alert buttons. */
export function register(app: App, rt: Runtime): void {
  app.action<BlockAction<ButtonAction>>(ids.alertAck, async ({ ack, body, action, respond }) => {
    await ack();
    const field = action.value ?? "";
    const alert = await rt.alerts.acknowledge(field, body.user.id);
    if (!alert) throw new NotFoundError("This alert is no longer open (it resolved or was replaced).");
    await audit(rt.ops.deps, {
      actor: body.user.id,
      action: "alert.acknowledged",
      details: { alert: field, title: alert.title, severity: alert.severity },
    });
    await respond({
      replace_original: false,
      response_type: "in_channel",
      text: `:eyes: <@${body.user.id}> acknowledged: ${alert.title}`,
    });
  });
  // The SOP button is a link; Slack still sends an interaction for it, which only needs an ack.
  app.action(ids.openSop, async ({ ack }) => ack());
  app.action(/^open_sop_/, async ({ ack }) => ack());
}
