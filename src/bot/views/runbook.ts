// Block Kit for /runbook: the list of SOPs, or one SOP.
import { sopLink } from "../../notify.js";
import type { Sop } from "../../ops/runbook.js";
import { type Block, context, esc, section } from "./common.js";

/** The list of SOPs with their topics. */
export function runbookListView(sops: Sop[], runbookUrl?: string): { text: string; blocks: Block[] } {
  const lines = sops.map(
    (s) =>
      `• ${runbookUrl ? `<${sopLink(runbookUrl, s.anchor)}|${esc(s.title)}>` : `*${esc(s.title)}*`} — \`/runbook ${s.anchor.replace(/^sop-/, "")}\``,
  );
  return { text: `Runbook: ${sops.length} SOPs`, blocks: [section(`*Runbook SOPs*\n${lines.join("\n")}`)] };
}

/** One SOP: title, steps, link. Slack mrkdwn is close enough to the runbook's markdown for steps and code. */
export function runbookSopView(sop: Sop, runbookUrl?: string): { text: string; blocks: Block[] } {
  const body = sop.body
    .replace(/\*\*(.+?)\*\*/g, "*$1*")
    .replace(/^```\w*$/gm, "```")
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, "$1 ($2)");
  const chunks: string[] = [];
  for (let i = 0; i < body.length; i += 2900) chunks.push(body.slice(i, i + 2900));
  return {
    text: `SOP: ${sop.title}`,
    blocks: [
      section(`:blue_book: *SOP: ${esc(sop.title)}*`),
      ...chunks.slice(0, 12).map((c) => section(c)),
      context(sopLink(runbookUrl, sop.anchor)),
    ],
  };
}
