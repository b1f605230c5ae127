// Block Kit for /rotate: the rotation request in the alert channel (key ids only, never a secret) and its outcome.
import type { RotateRequest } from "../../ops/rotate-store.js";
import { ids } from "../ids.js";
import { code, context, section, sopBlock, userText, who } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";

/** The request: broker, old → new key id, who asked and why, Approve (primary) / Reject while it waits. */
export function rotateRequestView(req: RotateRequest, runbookUrl?: string): SlackMessage {
  const blocks: Block[] = [
    section(
      `:key: *Key rotation requested* for *${userText(req.broker, 64)}* by ${who(req.requester)}: _${userText(req.reason, 1000)}_\n${code(req.currentKeyId ?? "no current key", 128)} → ${code(req.pendingKeyId, 128)}`,
    ),
    context(
      `The new key is tested with one read-only call before it is used; a failed step leaves the current key in place. Needs ${req.needed} approval(s) from someone other than the requester · so far: ${req.approvals.map((a) => who(a)).join(", ") || "none"} · expires ${userText(req.expiresAt, 64)} · ${code(req.id)}`,
    ),
  ];
  if (req.state === "pending_approval")
    blocks.push({
      type: "actions",
      block_id: "rotate_actions",
      elements: [
        {
          type: "button",
          action_id: ids.rotateApprove,
          style: "primary",
          text: { type: "plain_text", text: "Approve rotation" },
          value: req.id,
        },
        { type: "button", action_id: ids.rotateReject, text: { type: "plain_text", text: "Reject" }, value: req.id },
      ],
    });
  else
    blocks.push(
      section(
        `*${userText(req.state.toUpperCase().replace("_", " "), 40)}*${req.decidedBy ? ` by ${who(req.decidedBy)}` : ""}${req.detail ? `: ${userText(req.detail, 1500)}` : ""}`,
      ),
    );
  blocks.push(sopBlock(runbookUrl, "sop-rotate", "SOP: Key rotation"));
  return fitMessage({
    text: `Key rotation of ${userText(req.broker, 64)} requested by ${userText(req.requester, 64)} (${userText(req.id, 64)}): ${req.state}`,
    blocks,
  });
}
