// Chooses where announcements go: Slack's alert channel when a bot token and channel are configured, else the console.
import { webApi } from "@slack/bolt";
import { boltLogger, slackClientOptions } from "./bot/app.js";
import type { Config } from "./config.js";
import type { Logger } from "./log.js";
import { ConsoleNotifier, type Notifier, SlackNotifier } from "./notify.js";

/** The notifier for this config; `timeoutMs` bounds each attempt of a post (the transport's default otherwise). */
export function createNotifier(
  config: Config,
  log: Logger,
  out?: (line: string) => void,
  opts: { timeoutMs?: number } = {},
): Notifier {
  if (config.slack.botToken && config.slack.alertChannel) {
    const client = new webApi.WebClient(config.slack.botToken, {
      ...slackClientOptions(config.slack.apiUrl, opts.timeoutMs),
      logger: boltLogger(log),
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
