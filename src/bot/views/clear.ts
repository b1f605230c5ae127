// Block Kit for /clear: the approval request in the alert channel and its outcome.
import type { ClearRequest } from "../../ops/clear-store.js";
import type { PanicReport } from "../../ops/panic-report.js";
import { ids } from "../ids.js";
import { type Block, context, esc, section, sopBlock, who } from "./common.js";

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
): { text: string; blocks: Block[] } {
  const blocks: Block[] = [
    section(`:vertical_traffic_light: *Resume requested* by ${who(req.requester)}: _${esc(req.reason)}_`),
    section(
      `Halted for *${humanDuration(req.haltSince, now)}*` +
        (lastPanic
          ? `\nLast panic \`${lastPanic.id}\`: *${lastPanic.status}* (${esc(lastPanic.reason)})`
          : "\nNo panic report on record.") +
        (lastPanic?.brokers.some((b) => !b.verified)
          ? "\n:warning: Not every broker was verified flat: check before approving."
          : ""),
    ),
    context(
      `Needs ${req.needed} approval(s) from someone other than the requester · approvals so far: ${req.approvals.map(who).join(", ") || "none"} · expires ${req.expiresAt} · \`${req.id}\``,
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
        `*${req.state.toUpperCase()}*${req.decidedBy ? ` by ${who(req.decidedBy)}` : ""}${req.decidedAt ? ` at ${req.decidedAt}` : ""}`,
      ),
    );
  }
  blocks.push(sopBlock(runbookUrl, "sop-resume", "SOP: Resume"));
  return { text: `Resume requested by ${req.requester}: ${req.reason} (${req.id})`, blocks };
}
