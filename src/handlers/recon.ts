// /recon [YYYY-MM-DD]: acks at once, reconciles every broker that can supply its statement (default: the last closed
// trading day), updates the message as each finishes, and posts the summary to the alert channel.
import type { SlackHandler } from "../bot/handler.js";
import { type ReconLine, reconView } from "../bot/views/recon.js";
import { UsageError } from "../errors.js";
import { topMismatches } from "../recon/compare.js";

export const reconHandler: SlackHandler = {
  name: "recon",
  command: "/recon",
  role: "panic",
  onCommand:
    (rt) =>
    async ({ command, ack, respond }) => {
      const text = command.text.trim();
      if (text && !/^\d{4}-\d{2}-\d{2}$/.test(text))
        throw new UsageError("Usage: `/recon [YYYY-MM-DD]` (default: the last closed trading day).");
      const date = text || rt.ops.recon.defaultDate();
      const brokers = rt.ops.recon.statementBrokers();
      const lines: ReconLine[] = brokers.map((broker) => ({ broker, state: "running" }));
      const view = () => reconView(date, lines, (r) => topMismatches(r, 5), rt.config.runbookUrl);
      await ack({ response_type: "ephemeral", ...view() });
      for (const [i, broker] of brokers.entries()) {
        try {
          const { result } = await rt.ops.recon.run({ actor: command.user_id, date, broker });
          lines[i] = { broker, state: "done", result };
        } catch (err) {
          lines[i] = { broker, state: "failed", error: (err as Error).message };
        }
        await respond({ response_type: "ephemeral", replace_original: true, ...view() }).catch((err) =>
          rt.log.warn({ err }, "recon: message update failed"),
        );
      }
      const bad = lines.some((l) => l.state !== "done" || !l.result.ok);
      await rt.notifier.announce({ ...view(), severity: bad ? "critical" : "info", sop: "sop-recon" });
    },
};
