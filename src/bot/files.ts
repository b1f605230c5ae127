// Files into the alert channel with Slack's external upload flow (files.upload is retired):
//   1. files.getUploadURLExternal {filename, length, alt_txt} → {upload_url, file_id}, once per file;
//   2. POST the raw bytes to upload_url (Slack answers 200; no token: the URL is the credential);
//   3. files.completeUploadExternal {files: [{id, title}], channel_id, initial_comment} shares them all in one message.
// Steps 1 and 3 go through the Web API client (retries, rate limits, the timeout of every Slack call); replies are
// validated. https://docs.slack.dev/reference/methods/files.getUploadURLExternal and …/files.completeUploadExternal
import { webApi } from "@slack/bolt";
import { z } from "zod";
import type { Config } from "../config.js";
import type { Logger } from "../log.js";
import { SLACK_LIMITS, truncate } from "../notify.js";
import type { ChartUploader, UploadFile } from "../reports/publish.js";
import { boltLogger, SLACK_HTTP_TIMEOUT_MS, slackClientOptions } from "./app.js";

const urlReply = z.object({ ok: z.literal(true), upload_url: z.url(), file_id: z.string().min(1) });
const completeReply = z.object({ ok: z.literal(true), files: z.array(z.object({ id: z.string() })).optional() });

/** Step 2 moves the file itself: more time than a Web API call. */
const UPLOAD_TIMEOUT_MS = 30_000;
/** Slack's limit on a file's alt text (the method reference: "Description of image for screen-reader"). */
const ALT_TEXT_MAX = 1_000;

/** Uploads files to one channel; an error names the step and the file that failed. */
export class SlackFileUploader implements ChartUploader {
  constructor(
    private readonly client: webApi.WebClient,
    private readonly channel: string,
    private readonly opts: { timeoutMs?: number; allowHttp?: boolean } = {},
  ) {}

  async upload(input: { files: UploadFile[]; comment: string }): Promise<{ channel: string; fileIds: string[] }> {
    if (input.files.length === 0) throw new Error("nothing to upload");
    const ids: string[] = [];
    for (const f of input.files) {
      const reply = urlReply.safeParse(
        await this.client.apiCall("files.getUploadURLExternal", {
          filename: f.filename,
          length: f.bytes.byteLength,
          alt_txt: truncate(f.altText, ALT_TEXT_MAX),
        }),
      );
      if (!reply.success) throw new Error(`files.getUploadURLExternal (${f.filename}): unexpected reply`);
      await this.post(reply.data.upload_url, f);
      ids.push(reply.data.file_id);
    }
    const done = completeReply.safeParse(
      await this.client.apiCall("files.completeUploadExternal", {
        files: input.files.map((f, i) => ({ id: ids[i]!, title: f.title })),
        channel_id: this.channel,
        initial_comment: truncate(input.comment, SLACK_LIMITS.messageText),
      }),
    );
    if (!done.success) throw new Error("files.completeUploadExternal: unexpected reply");
    return { channel: this.channel, fileIds: ids };
  }

  /** Step 2: the bytes to the upload URL (https only, unless a local Slack API URL is configured). */
  private async post(url: string, f: UploadFile): Promise<void> {
    const u = new URL(url);
    if (u.protocol !== "https:" && !(this.opts.allowHttp && u.protocol === "http:"))
      throw new Error(`files.getUploadURLExternal (${f.filename}): refusing a non-https upload URL`);
    const res = await fetch(u, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: f.bytes,
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? SLACK_HTTP_TIMEOUT_MS),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (res.status !== 200) throw new Error(`upload of ${f.filename}: HTTP ${res.status} from the upload URL`);
  }
}

/** The uploader for the config's alert channel, or null without a bot token and channel (console mode). */
export function createFileUploader(config: Config, log: Logger): SlackFileUploader | null {
  if (!config.slack.botToken || !config.slack.alertChannel) return null;
  const client = new webApi.WebClient(config.slack.botToken, {
    ...slackClientOptions(config.slack.apiUrl),
    logger: boltLogger(log),
  });
  // A plain-http upload URL is only accepted from a Slack API that is itself plain http (a local test server).
  return new SlackFileUploader(client, config.slack.alertChannel, {
    allowHttp: config.slack.apiUrl?.startsWith("http://") ?? false,
    timeoutMs: UPLOAD_TIMEOUT_MS,
  });
}
