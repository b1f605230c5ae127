// Block Kit for /clear: the approval request in the alert channel and its outcome. Every text from the request or the
// panic report (stored in Redis, typed by users) is escaped; only who() makes mentions.
import type { ClearRequest } from "../../ops/clear-store.js";
import type { PanicReport } from "../../ops/panic-report.js";
import { ids } from "../ids.js";
import { code, context, section, sopBlock, userText, who } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";

/** Human duration between two instants ("2h 5m"). */
export function humanDuration(fromIso: string | null, to: Date): string {
  if (!fromIso) return "unknown";
  const ms = Math.max(0, to.getTime() - Date.parse(fromIso));
  const m = Math.floor(ms / 60_000);
  return m >= 60 ? `${Math.floor(m / 60)}h ${m % 60}m` : m >= 1 ? `${m}m` : `${Math.floor(ms / 1000)}s`;
}

/** The approval request: who asked, halt duration, last panic report, Approve (primary) and Reject. */
export function clearRequestView(
  req: ClearRequest,
  lastPanic: PanicReport | null,
  now: Date,
  runbookUrl?: string,
): SlackMessage {
  const extra = req.approvals.length - 10;
  const approvals =
    req.approvals
      .slice(0, 10)
      .map((a) => who(a))
      .join(", ") + (extra > 0 ? ` and ${extra} more` : "");
  const blocks: Block[] = [
    section(`:vertical_traffic_light: *Resume requested* by ${who(req.requester)}: _${userText(req.reason, 1500)}_`),
    section(
      `Halted for *${humanDuration(req.haltSince, now)}*` +
        (lastPanic
          ? `\nLast panic ${code(lastPanic.id)}: *${userText(lastPanic.status, 40)}* (${userText(lastPanic.reason, 1000)})`
          : "\nNo panic report on record.") +
        (lastPanic?.brokers.some((b) => !b.verified)
          ? "\n:warning: Not every broker was verified flat: check before approving."
          : ""),
    ),
    context(
      `Needs ${req.needed} approval(s) from someone other than the requester · approvals so far: ${approvals || "none"} · expires ${userText(req.expiresAt, 64)} · ${code(req.id)}`,
    ),
  ];
  if (req.state === "pending") {
    blocks.push({
      type: "actions",
      block_id: "clear_actions",
      elements: [
        {
          type: "button",
          action_id: ids.clearApprove,
          style: "primary",
          text: { type: "plain_text", text: "Approve resume" },
          value: req.id,
        },
        { type: "button", action_id: ids.clearReject, text: { type: "plain_text", text: "Reject" }, value: req.id },
      ],
    });
  } else {
    blocks.push(
      section(
        `*${userText(req.state.toUpperCase(), 40)}*${req.decidedBy ? ` by ${who(req.decidedBy)}` : ""}${req.decidedAt ? ` at ${userText(req.decidedAt, 64)}` : ""}`,
      ),
    );
  }
  blocks.push(sopBlock(runbookUrl, "sop-resume", "SOP: Resume"));
  const text = `Resume requested by ${userText(req.requester, 100)}: ${userText(req.reason, 1000)} (${userText(req.id, 100)})`;
  return fitMessage({ text, blocks });
}
