// Where announcements go: the Slack alert channel, or the console in local mode. Operations and jobs depend on this
// interface only, never on Slack. Slack's text rules (escaping, size limits, cutting with a visible note) live here
// too, at the bottom layer, because SlackNotifier must apply them to what operations announce; the Block Kit views
// build on them (src/bot/views/limits.ts).
import type { webApi } from "@slack/bolt";
import type { ContextBlock, KnownBlock } from "@slack/types";
import type { Logger } from "./log.js";

/** A message for people: `text` is the plain fallback; `blocks` the Block Kit rendering. */
export interface Announcement {
  /**
   * Plain text as an operation wrote it (actor ids, reasons, broker errors: SlackNotifier escapes it), or a view's
   * text, already escaped for Slack (SlackNotifier leaves its &amp; &lt; &gt; alone; the console decodes them).
   */
  text: string;
  /** A view's Block Kit, already escaped and fitted to Slack's limits by the view (fitMessage). */
  blocks?: KnownBlock[];
  severity?: "info" | "warn" | "critical";
  /** RUNBOOK.md anchor of the SOP to follow (e.g. "sop-panic"); rendered as a link. */
  sop?: string;
}

/**
 * Slack's limits, in characters (UTF-16 code units, which never undercount Slack's characters):
 * - messageText: "The `text` field accepts up to 40,000 characters", for chat.postMessage, chat.postEphemeral and
 *   response URLs alike (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
 * - sectionText 3,000 (and at least 1), sectionFields 10, fieldText 2,000, blockId 255:
 *   https://docs.slack.dev/reference/block-kit/blocks/section-block
 * - headerText 150: https://docs.slack.dev/reference/block-kit/blocks/header-block
 * - contextElements 10: https://docs.slack.dev/reference/block-kit/blocks/context-block. contextText 2,000 is our own,
 *   stricter cap (the context page gives no per-element length; text objects elsewhere allow 3,000).
 * - actionsElements 25: "There is a maximum of 25 elements in each action block"
 *   (https://api.slack.com/reference/messaging/blocks, actions block).
 * - buttonText 75, actionId 255, buttonValue 2,000, buttonUrl 3,000: the button element reference
 *   (https://docs.slack.dev/reference/block-kit/block-elements/button-element).
 * - messageBlocks 50, surfaceBlocks 100: "up to 50 blocks in each message, and 100 blocks in modals or Home tabs"
 *   (https://docs.slack.dev/reference/block-kit/blocks).
 */
export const SLACK_LIMITS = {
  messageText: 40_000,
  sectionText: 3_000,
  sectionFields: 10,
  fieldText: 2_000,
  headerText: 150,
  contextElements: 10,
  contextText: 2_000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2_000,
  buttonUrl: 3_000,
  actionId: 255,
  blockId: 255,
  messageBlocks: 50,
  surfaceBlocks: 100,
} as const;

/**
 * Escapes text for mrkdwn and for a message's `text`. Slack parses &, < and > as control characters (mentions such
 * as <!channel> and <@U…>, links <url|label>), so text that is not meant as one must carry them as &amp; &lt; &gt;,
 * and only those: Slack decodes no other entity ("Escaping text",
 * https://api.slack.com/reference/surfaces/formatting#escaping).
 */
export function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** esc() for text that may be escaped already (a view's): an existing &amp; &lt; &gt; stays, nothing is doubled. */
export function escOnce(s: string): string {
  return s
    .replace(/&(?!(?:amp|lt|gt);)/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");
}

const FENCE = "```";
/** Room a cut keeps for what it appends besides the note: a closing "\n```" or "`". */
const CLOSER_ROOM = 4;

/** The visible note that stands for what a cut left out. */
const cutNote = (n: number) => `… (${n.toLocaleString("en-US")} more characters)`;

/** Where to cut `s` at or before `at` so that no <…> token, &entity; or surrogate pair is split. */
function safeCut(s: string, at: number): number {
  let cut = Math.max(0, Math.min(at, s.length));
  for (let moved = true; moved && cut > 0; ) {
    moved = false;
    const open = s.lastIndexOf("<", cut - 1);
    if (open >= 0 && s.lastIndexOf(">", cut - 1) < open) [cut, moved] = [open, true];
    const amp = s.lastIndexOf("&", cut - 1);
    if (amp >= 0 && cut - amp < 6 && s.lastIndexOf(";", cut - 1) < amp) [cut, moved] = [amp, true];
    const c = s.charCodeAt(cut - 1);
    if (c >= 0xd800 && c <= 0xdbff) [cut, moved] = [cut - 1, true];
  }
  return cut;
}

/** What closes the code a cut left open: an odd number of ``` fences, else an odd number of inline backticks. */
function closer(kept: string): string {
  const parts = kept.split(FENCE);
  if (parts.length % 2 === 0) return kept.endsWith("\n") ? FENCE : `\n${FENCE}`;
  const ticks =
    parts
      .filter((_, i) => i % 2 === 0)
      .join("")
      .split("`").length - 1;
  return ticks % 2 === 1 ? "`" : "";
}

/** Cuts mrkdwn or plain text to `max` characters with a visible "… (N more characters)"; never splits a token. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const room = cutNote(text.length).length + CLOSER_ROOM;
  if (room >= max) return text.slice(0, safeCut(text, max));
  const cut = safeCut(text, max - room);
  const kept = text.slice(0, cut);
  return `${kept}${closer(kept)}${cutNote(text.length - cut)}`;
}

/** At most `max` blocks: the first ones, a context line naming how many were left out, and the last (the SOP). */
export function capBlocks(blocks: KnownBlock[], max: number): KnownBlock[] {
  if (blocks.length <= max) return blocks;
  const note: ContextBlock = {
    type: "context",
    elements: [
      {
        type: "mrkdwn",
        text: `… ${blocks.length - (max - 1)} more blocks not shown (\`tradeguard status --json\` has it all)`,
      },
    ],
  };
  return [...blocks.slice(0, max - 2), note, blocks[blocks.length - 1]!];
}

/** Where an SOP anchor lives: the configured runbook URL, or RUNBOOK.md in the repository. */
export function sopLink(runbookUrl: string | undefined, anchor: string): string {
  return `${runbookUrl ?? "RUNBOOK.md"}#${anchor}`;
}

export interface Notifier {
  /** Posts to the alert channel; resolves with a reference to the posted message (or null on the console). */
  announce(msg: Announcement): Promise<{ channel: string; ts: string } | null>;
}

/** Prints announcements readably (local mode, or Slack unavailable). */
export class ConsoleNotifier implements Notifier {
  constructor(
    private readonly out: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
    private readonly runbookUrl?: string,
  ) {}

  async announce(msg: Announcement) {
    const icon = msg.severity === "critical" ? "🛑" : msg.severity === "warn" ? "⚠️ " : "ℹ️ ";
    const bar = "─".repeat(72);
    const sop = msg.sop ? `\nSOP: ${sopLink(this.runbookUrl, msg.sop)}` : "";
    this.out(`${bar}\n${icon} ${decodeEntities(msg.text)}${sop}\n${bar}`);
    return null;
  }
}

/** Posts to the configured Slack channel; falls back to the console (and logs) when Slack refuses or is down. */
export class SlackNotifier implements Notifier {
  constructor(
    private readonly client: webApi.WebClient,
    private readonly channel: string,
    private readonly log: Logger,
    private readonly fallback: Notifier = new ConsoleNotifier(),
    private readonly runbookUrl?: string,
  ) {}

  /** Block Kit for an announcement (`text` escaped): a view's blocks, capped in number, or the text as code. */
  private render(msg: Announcement, text: string): KnownBlock[] | undefined {
    if (msg.blocks) return capBlocks(msg.blocks, SLACK_LIMITS.messageBlocks);
    if (!msg.sop) return undefined;
    const url = sopLink(this.runbookUrl, msg.sop).replace(/[<>|]/g, encodeURIComponent);
    // Backticks in a row inside the text would end the code block early: a zero-width space goes between them.
    const code = `\`\`\`${text.replace(/`(?=`)/g, "`\u200b")}\`\`\``;
    return [
      { type: "section", text: { type: "mrkdwn", text: truncate(code, SLACK_LIMITS.sectionText) } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: this.runbookUrl ? `<${url}|Open the SOP>` : `SOP: ${esc(url)}` }],
      },
    ];
  }

  async announce(msg: Announcement) {
    try {
      // Announcements carry actor ids, reasons and broker errors: escaped, so none of it can mention or link.
      const text = escOnce(msg.text);
      const res = await this.client.chat.postMessage({
        channel: this.channel,
        text: truncate(text, SLACK_LIMITS.messageText),
        blocks: this.render(msg, text),
        unfurl_links: false,
      });
      return { channel: String(res.channel ?? this.channel), ts: String(res.ts ?? "") };
    } catch (err) {
      this.log.error({ err, channel: this.channel }, "could not post to the Slack alert channel; printing instead");
      return this.fallback.announce(msg);
    }
  }
}

/** Slack's three entities decoded, for the console: a view's text reads as people typed it. */
function decodeEntities(s: string): string {
  return s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}
