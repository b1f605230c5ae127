// Chooses where announcements go: Slack's alert channel when a bot token and channel are configured, else the console.
import { webApi } from "@slack/bolt";
import { slackApiUrl } from "./bot/app.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { ConsoleNotifier, type Notifier, SlackNotifier } from "./notify.js";

/** The notifier for this config. */
export function createNotifier(config: Config, log: Logger, out?: (line: string) => void): Notifier {
  if (config.slack.botToken && config.slack.alertChannel) {
    const client = new webApi.WebClient(config.slack.botToken, {
      slackApiUrl: slackApiUrl(config.slack.apiUrl),
      retryConfig: { retries: 2 },
    });
    return new SlackNotifier(
      client,
      config.slack.alertChannel,
      log,
      new ConsoleNotifier(out, config.runbookUrl),
      config.runbookUrl,
    );
  }
  if (config.mode !== "local") log.warn("SLACK_ALERT_CHANNEL is not set: alerts go to the console");
  return new ConsoleNotifier(out, config.runbookUrl);
}
