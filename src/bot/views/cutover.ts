// Block Kit for /status cutover: every gate of the go/no-go checklist with its verdict and evidence, each asset
// class's flag, and GO / NO-GO. Evidence comes from Redis, which other processes write: escaped and cut to size.
import type { CutoverCheck } from "../../ops/cutover.js";
import type { Verdict } from "../../ops/cutover-gates.js";
import { code, context, header, section, sopBlock, userText, who } from "./common.js";
import { type Block, fitMessage, type SlackMessage } from "./limits.js";

const ICON: Record<Verdict, string> = {
  pass: ":white_check_mark:",
  fail: ":x:",
  unknown: ":grey_question:",
  off: ":white_circle:",
};

/** The checklist message. */
export function cutoverView(c: CutoverCheck, runbookUrl?: string): SlackMessage {
  const blocks: Block[] = [
    header(`Cutover checklist: ${c.ok ? "GO" : "NO-GO"}`),
    section(
      c.gates
        .map(
          (g) =>
            `${ICON[g.verdict]} *${userText(g.gate, 40)}* ${userText(g.verdict, 10)} — ${userText(g.evidence, 400)}`,
        )
        .join("\n"),
    ),
  ];
  const classes = c.assetClasses.map((a) => {
    const state = a.enabled
      ? `:large_green_circle: *enabled* (${code(a.flag!.request_id, 40)}, approved by ${who(a.flag!.approved_by)} at ${userText(a.flag!.at, 40)})`
      : a.invalid
        ? `:warning: not enabled — ${userText(a.invalid, 200)}`
        : ":red_circle: not enabled";
    return `${userText(a.assetClass, 40)}: ${state}${a.pending ? ` · request ${code(a.pending, 40)} waiting for approval` : ""}`;
  });
  if (classes.length) blocks.push(section(classes.join("\n")));
  if (!c.ok) blocks.push(sopBlock(runbookUrl, "sop-cutover", "SOP: Cutover gates"));
  blocks.push(
    context(
      `Checked ${userText(c.at, 40)} · unknown never passes · \`tradeguard cutover enable <asset-class>\`, then someone else: \`tradeguard approve <g-id>\``,
    ),
  );
  return fitMessage({ text: `Cutover checklist: ${c.ok ? "GO" : "NO-GO"}`, blocks });
}
