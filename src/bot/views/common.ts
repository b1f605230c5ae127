// Small Block Kit helpers shared by the views. Text from users, from Redis or from brokers reaches Slack only through
// esc(): userText() and code() for pieces of a line, who() and channelRef() for mentions. The builders cut their
// text to Slack's limits (src/notify.ts), with a visible note, so no view can send a block Slack would refuse. Slack's
// escaping rule, esc(), is in src/notify.ts too: SlackNotifier needs it for what operations announce.
import type { ActionsBlock, ContextBlock, DividerBlock, HeaderBlock, SectionBlock } from "@slack/types";
import { esc, SLACK_LIMITS as LIMITS, sopLink, truncate } from "../../notify.js";

/** A mrkdwn section (text cut to 3,000 characters; Slack also wants at least one). */
export const section = (text: string): SectionBlock => ({
  type: "section",
  text: { type: "mrkdwn", text: truncate(text, LIMITS.sectionText) || " " },
});
/** A context line (cut to 2,000 characters). */
export const context = (text: string): ContextBlock => ({
  type: "context",
  elements: [{ type: "mrkdwn", text: truncate(text, LIMITS.contextText) || " " }],
});
/** A divider. */
export const divider = (): DividerBlock => ({ type: "divider" });
/** A header (plain text, cut to 150 characters). */
export const header = (text: string): HeaderBlock => ({
  type: "header",
  text: { type: "plain_text", text: truncate(text, LIMITS.headerText), emoji: true },
});

/** Untrusted text for a place in a line: escaped, then cut to `max` characters with a visible note. */
export function userText(s: unknown, max = 500): string {
  return truncate(esc(String(s ?? "")), max);
}

/** Untrusted text as inline code (ids, keys, locks): escaped, backticks neutralised so it cannot close the span. */
export function code(s: unknown, max = 200): string {
  return `\`${userText(String(s ?? "").replace(/`/g, "ʹ"), max)}\``;
}

/** A Slack user id we can mention: U… or W… and a few upper-case letters and digits, nothing else. */
const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
/** A Slack conversation id: C… (channel), G… (private) or D… (DM). */
const SLACK_CHANNEL_ID = /^[CGD][A-Z0-9]{2,20}$/;

/** A mention for a well-formed Slack user id; anything else (cli:alice, garbage) as escaped inline code. */
export function who(actor: string | null | undefined): string {
  if (!actor) return "unknown";
  return SLACK_USER_ID.test(actor) ? `<@${actor}>` : code(actor, 100);
}

/** A channel link for a well-formed Slack channel id; anything else as escaped inline code. */
export function channelRef(id: string): string {
  return SLACK_CHANNEL_ID.test(id) ? `<#${id}>` : code(id, 100);
}

/** A mrkdwn link: the URL cannot break out of <…|…> and the label is escaped. */
export function link(url: string, label: string): string {
  return `<${url.replace(/[<>|]/g, encodeURIComponent)}|${userText(label, 300)}>`;
}

/**
 * An SOP reference for a line of mrkdwn: a link under `runbook_url` when one is configured, else the anchor as
 * `RUNBOOK.md#anchor` with the `/runbook` command that shows the SOP inline (the repo is not at hand in Slack).
 */
export function sopRef(runbookUrl: string | undefined, anchor: string, label: string): string {
  if (runbookUrl) return link(sopLink(runbookUrl, anchor), label);
  return `${userText(label, 200)} → ${code(sopLink(undefined, anchor), 200)} · ${code(`/runbook ${anchor.replace(/^sop-/, "")}`, 200)} shows it here`;
}

/** A link button to an SOP (falls back to text and the /runbook command when no runbook URL is configured). */
export function sopBlock(runbookUrl: string | undefined, anchor: string, label: string): ActionsBlock | ContextBlock {
  if (runbookUrl) {
    return {
      type: "actions",
      elements: [
        {
          type: "button",
          action_id: `open_sop_${anchor}`.slice(0, LIMITS.actionId),
          text: { type: "plain_text", text: truncate(label, LIMITS.buttonText) },
          url: sopLink(runbookUrl, anchor),
        },
      ],
    };
  }
  return context(sopRef(undefined, anchor, label));
}
