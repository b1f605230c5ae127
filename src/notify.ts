// Where announcements go: the Slack alert channel, or the console in local mode. Operations and jobs depend on this
// interface only, never on Slack.
import type { webApi } from "@slack/bolt";
import type { Logger } from "./log.js";

/** A message for people: `text` is the plain fallback; `blocks` the Block Kit rendering. */
export interface Announcement {
  text: string;
  blocks?: unknown[];
  severity?: "info" | "warn" | "critical";
  /** RUNBOOK.md anchor of the SOP to follow (e.g. "sop-panic"); rendered as a link. */
  sop?: string;
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
    this.out(`${bar}\n${icon} ${msg.text}${sop}\n${bar}`);
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

  /** Block Kit for a plain announcement: the text, and the SOP as a link. */
  private render(msg: Announcement): unknown[] | undefined {
    if (msg.blocks) return msg.blocks;
    if (!msg.sop) return undefined;
    const url = sopLink(this.runbookUrl, msg.sop);
    return [
      { type: "section", text: { type: "mrkdwn", text: `\`\`\`${msg.text.slice(0, 2900)}\`\`\`` } },
      {
        type: "context",
        elements: [{ type: "mrkdwn", text: this.runbookUrl ? `<${url}|Open the SOP>` : `SOP: ${url}` }],
      },
    ];
  }

  async announce(msg: Announcement) {
    try {
      const res = await this.client.chat.postMessage({
        channel: this.channel,
        text: msg.text,
        blocks: this.render(msg) as never,
        unfurl_links: false,
      });
      return { channel: String(res.channel ?? this.channel), ts: String(res.ts ?? "") };
    } catch (err) {
      this.log.error({ err, channel: this.channel }, "could not post to the Slack alert channel; printing instead");
      return this.fallback.announce(msg);
    }
  }
}
