// /panic [reason]: ephemeral confirmation with the live blast radius; the danger button halts and the message then
// follows the panic to its HALT-VERIFIED / HALT-PARTIAL report.
import type { SlackHandler } from "../bot/handler.js";
import { ids } from "../bot/ids.js";
import { panicConfirmView, panicReportView } from "../bot/views/panic.js";
import type { PanicReport } from "../ops/panic-report.js";

export const panicHandler: SlackHandler = {
  name: "panic",
  command: "/panic",
  role: "panic",
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      await ack({ response_type: "ephemeral", text: ":hourglass: Reading the blast radius from every broker…" });
      const reason = command.text.trim() || "no reason given";
      const { radius, confirmation } = await rt.ops.panicRequest.prepare(command.user_id, reason);
      await respond({
        response_type: "ephemeral",
        replace_original: true,
        ...panicConfirmView(radius!, reason, confirmation, rt.config.runbookUrl),
      });
    },
  register(app, rt) {
    app.action(ids.panicConfirm, async ({ ack, body, action, respond }) => {
      await ack();
      // The button carries the confirmation token the bot issued with this user's /panic (checked by the operation).
      const token = "value" in action && typeof action.value === "string" ? action.value : "";
      const update = (message: object) =>
        respond({ replace_original: true, ...message }).catch((err) =>
          rt.log.warn({ err }, "panic: message update failed"),
        );
      let lastSent = 0;
      const progress = (r: PanicReport) => {
        const now = Date.now();
        if (r.status === "RUNNING" && now - lastSent < 1000) return;
        lastSent = now;
        void update(panicReportView(r, rt.config.runbookUrl));
      };
      const { report } = await rt.ops.panicRequest.confirm({
        actor: body.user.id,
        token,
        onProgress: progress,
        // The halt has started (it never waits on Slack: a slow or failing response_url cannot delay it).
        onAccepted: () =>
          void update({
            text: ":rotating_light: Halting: setting mode=halt, then cancelling and flattening every broker…",
          }),
      });
      await update(panicReportView(report, rt.config.runbookUrl));
    });

    app.action(ids.panicCancel, async ({ ack, respond }) => {
      await ack();
      await respond({ replace_original: true, text: "Panic cancelled. Nothing was changed." });
    });
  },
};
