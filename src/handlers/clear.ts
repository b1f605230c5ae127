// /clear [reason]: posts an approval request in the alert channel; Approve / Reject buttons decide it.
import type { BlockAction, ButtonAction } from "@slack/bolt";
import type { SlackHandler } from "../bot/handler.js";
import { ids } from "../bot/ids.js";
import { clearRequestView } from "../bot/views/clear.js";
import { channelRef, code } from "../bot/views/common.js";

export const clearHandler: SlackHandler = {
  name: "clear",
  command: "/clear",
  role: "clear",
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      await ack();
      const req = await rt.ops.resume.request(command.user_id, command.text, { announce: false });
      const status = await rt.ops.status();
      const posted = await rt.notifier.announce({
        ...clearRequestView(req, status.lastPanic, rt.now(), rt.config.runbookUrl),
        severity: "warn",
      });
      await respond({
        response_type: "ephemeral",
        text: `Resume request ${code(req.id)} posted${posted ? ` in ${channelRef(posted.channel)}` : ""}. It needs ${req.needed} approval(s) from someone else.`,
      });
    },
  register(app, rt) {
    const decide =
      (kind: "approve" | "reject") =>
      async ({
        ack,
        body,
        action,
        respond,
      }: {
        ack: () => Promise<void>;
        body: BlockAction;
        action: ButtonAction;
        respond: (m: object) => Promise<unknown>;
      }) => {
        await ack();
        const id = action.value ?? "";
        const request =
          kind === "approve"
            ? (await rt.ops.resume.approve(body.user.id, id)).request
            : await rt.ops.resume.reject(body.user.id, id);
        const status = await rt.ops.status();
        await respond({
          replace_original: true,
          ...clearRequestView(request, status.lastPanic, rt.now(), rt.config.runbookUrl),
        });
      };
    app.action<BlockAction<ButtonAction>>(ids.clearApprove, decide("approve"));
    app.action<BlockAction<ButtonAction>>(ids.clearReject, decide("reject"));
  },
};
