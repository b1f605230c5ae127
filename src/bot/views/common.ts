// Small Block Kit helpers shared by the views.
export type Block = Record<string, unknown>;

/** A mrkdwn section. */
export const section = (text: string): Block => ({
  type: "section",
  text: { type: "mrkdwn", text: text.slice(0, 3000) },
});
/** A context line. */
export const context = (text: string): Block => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: text.slice(0, 3000) }],
});
export const divider = (): Block => ({ type: "divider" });
/** A header. */
export const header = (text: string): Block => ({
  type: "header",
  text: { type: "plain_text", text: text.slice(0, 150), emoji: true },
});

/** Escapes user text for mrkdwn (&, <, >). */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A Slack mention for a Slack user id, or the id verbatim (cli:alice). */
export function who(actor: string | null): string {
  if (!actor) return "unknown";
  return /^[UW][A-Z0-9]+$/.test(actor) ? `<@${actor}>` : `\`${esc(actor)}\``;
}

/** The URL of a runbook SOP anchor; relative when no runbook_url is configured. */
export function sopUrl(runbookUrl: string | undefined, anchor: string): string {
  return `${runbookUrl ?? "RUNBOOK.md"}#${anchor}`;
}

/** A link button to an SOP (falls back to text when no absolute runbook URL is configured). */
export function sopBlock(runbookUrl: string | undefined, anchor: string, label: string): Block {
  if (runbookUrl) {
    return {
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: `open_sop_${anchor}`.slice(0, 255),
          text: { type: "plain_text", text: label },
          url: sopUrl(runbookUrl, anchor),
        },
      ],
    };
  }
  return context(`SOP: RUNBOOK.md → ${label} (#${anchor})`);
}
