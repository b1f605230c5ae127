// /rotate <broker> [reason]: posts a key rotation request in the alert channel; Approve / Reject buttons decide it
// (the last approval runs the rotation). The secret never passes through Slack: it is staged with the CLI.
import type { BlockAction, ButtonAction } from "@slack/bolt";
import type { SlackHandler } from "../bot/handler.js";
import { ids } from "../bot/ids.js";
import { channelRef, code } from "../bot/views/common.js";
import { rotateRequestView } from "../bot/views/rotate.js";
import { brokerArg, RotationFailedError } from "../ops/rotate.js";

export const rotateHandler: SlackHandler = {
  name: "rotate",
  command: "/rotate",
  role: "rotate",
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      await ack();
      const [broker, ...rest] = command.text.trim().split(/\s+/);
      const req = await rt.ops.rotate.request(command.user_id, brokerArg(broker), rest.join(" "), { announce: false });
      const posted = await rt.notifier.announce({ ...rotateRequestView(req, rt.config.runbookUrl), severity: "warn" });
      await respond({
        response_type: "ephemeral",
        text: `Rotation request ${code(req.id)} posted${posted ? ` in ${channelRef(posted.channel)}` : ""}. It needs ${req.needed} approval(s) from someone else.`,
      });
    },
  register(app, rt) {
    const show = async (id: string, respond: (m: object) => Promise<unknown>) =>
      respond({ replace_original: true, ...rotateRequestView(await rt.ops.rotate.get(id), rt.config.runbookUrl) });
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
        try {
          if (kind === "approve") await rt.ops.rotate.approve(body.user.id, id);
          else await rt.ops.rotate.reject(body.user.id, id);
        } catch (err) {
          // A failed rotation changed the request (FAILED, with why): the message shows it. A refused click (self-
          // approval, no role, already decided) changed nothing: only the clicker hears why, from the error reply.
          if (err instanceof RotationFailedError) await show(id, respond);
          throw err;
        }
        await show(id, respond);
      };
    app.action<BlockAction<ButtonAction>>(ids.rotateApprove, decide("approve"));
    app.action<BlockAction<ButtonAction>>(ids.rotateReject, decide("reject"));
  },
};
