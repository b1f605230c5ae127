// Block Kit for /runbook: the list of SOPs, or one SOP. RUNBOOK.md is escaped like any other text: its `<reason>`
// placeholders would otherwise reach Slack as links.
import { esc, SLACK_LIMITS, sopLink, truncate } from "../../notify.js";
import type { Sop } from "../../ops/runbook.js";
import { code, context, link, section, sopBlock, userText } from "./common.js";
import { fitMessage, type SlackMessage } from "./limits.js";

/** Sections an SOP body is shown in at most; the rest is named with its size and left to the link. */
const MAX_CHUNKS = 12;
/** Room a chunk keeps for a code fence reopened at its start and closed at its end. */
const FENCE_ROOM = 8;

/** The list of SOPs with their topics. */
export function runbookListView(sops: Sop[], runbookUrl?: string): SlackMessage {
  const lines = sops.map(
    (s) =>
      `• ${runbookUrl ? link(sopLink(runbookUrl, s.anchor), s.title) : `*${userText(s.title, 300)}*`} — ${code(`/runbook ${s.anchor.replace(/^sop-/, "")}`)}`,
  );
  return fitMessage({ text: `Runbook: ${sops.length} SOPs`, blocks: [section(`*Runbook SOPs*\n${lines.join("\n")}`)] });
}

/** No SOP stands out for `topic`: the closest ones, each with the command that opens it. */
export function runbookSuggestView(topic: string, sops: Sop[], runbookUrl?: string): SlackMessage {
  const lines = sops.map(
    (s) =>
      `• ${runbookUrl ? link(sopLink(runbookUrl, s.anchor), s.title) : `*${userText(s.title, 300)}*`} — ${code(`/runbook ${s.anchor.replace(/^sop-/, "")}`)}`,
  );
  const head = `No SOP is called "${userText(topic, 100)}". Did you mean:`;
  return fitMessage({ text: head, blocks: [section(`${head}\n${lines.join("\n")}`)] });
}

/** `body` in pieces of at most `size` characters, cut between lines; a code block cut in two is closed and reopened. */
function chunks(body: string, size: number): string[] {
  const out: string[] = [];
  let cur = "";
  for (const line of body.split("\n")) {
    if (cur && cur.length + 1 + line.length > size) {
      out.push(cur);
      cur = "";
    }
    cur = cur ? `${cur}\n${line}` : line;
  }
  out.push(cur);
  let open = false;
  return out
    .filter((c) => c.trim())
    .map((c) => {
      const full = open ? `\`\`\`\n${c}` : c;
      open = full.split("```").length % 2 === 0;
      // A line longer than a section is cut (truncate closes its fence); otherwise an open fence is closed here.
      const text = truncate(full, size + FENCE_ROOM / 2);
      return text.split("```").length % 2 === 0 ? `${text}\n\`\`\`` : text;
    });
}

/**
 * One SOP, inline (title and steps: Slack mrkdwn is close enough to the runbook's markdown for steps and code), then
 * a button to it under runbook_url, or its place in the repository as `RUNBOOK.md#anchor`.
 */
export function runbookSopView(sop: Sop, runbookUrl?: string): SlackMessage {
  const body = esc(sop.body)
    .replace(/\*\*(.+?)\*\*/g, "*$1*")
    .replace(/^```\w*$/gm, "```")
    .replace(/\[([^\]]+)\]\(([^)]+)\)/g, "$1 ($2)");
  const all = chunks(body, SLACK_LIMITS.sectionText - 100 - FENCE_ROOM);
  const shown = all.slice(0, MAX_CHUNKS);
  const left = all.slice(MAX_CHUNKS).reduce((n, c) => n + c.length, 0);
  return fitMessage({
    text: `SOP: ${userText(sop.title, 300)}`,
    blocks: [
      section(`:blue_book: *SOP: ${userText(sop.title, 300)}*`),
      ...shown.map((c) => section(c)),
      ...(left
        ? [
            context(
              `… ${left.toLocaleString("en-US")} more characters of this SOP: ${runbookUrl ? "open it with the button below" : `read them in ${code(sopLink(undefined, sop.anchor), 300)}`}.`,
            ),
          ]
        : []),
      // With runbook_url, a button to the SOP; without it, where it is in the repository (it was shown inline).
      runbookUrl
        ? sopBlock(runbookUrl, sop.anchor, "Open in the runbook")
        : context(code(sopLink(undefined, sop.anchor), 300)),
    ],
  });
}
