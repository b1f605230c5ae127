// Slack's external upload flow against a local Slack speaking its wire format (test/support/slack.ts):
// files.getUploadURLExternal (form: filename, length, alt_txt) → POST the bytes to upload_url → one
// files.completeUploadExternal (files JSON [{id, title}], channel_id, initial_comment) for all the files.

import { webApi } from "@slack/bolt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { slackClientOptions } from "../../src/bot/app.js";
import { createFileUploader, SlackFileUploader } from "../../src/bot/files.js";
import { loadConfig } from "../../src/config.js";
import { silentLog } from "../support/log.js";
import { startFakeSlack } from "../support/slack.js";

let slack: Awaited<ReturnType<typeof startFakeSlack>>;
beforeAll(async () => {
  slack = await startFakeSlack();
});
afterAll(() => slack.close());

const config = () =>
  loadConfig(
    {
      SLACK_BOT_TOKEN: "xoxb-test",
      SLACK_SIGNING_SECRET: "s3cret",
      SLACK_API_URL: slack.apiUrl,
      SLACK_ALERT_CHANNEL: "C0ALERTS",
      TRADEGUARD_HOME: "/tmp/tg-files-test",
    },
    [],
  );

const png = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7) % 256));

describe("Slack file uploads", () => {
  it("reserves a URL per file, posts the bytes, and completes them all in one message to the alert channel", async () => {
    const uploader = createFileUploader(config(), silentLog)!;
    const before = slack.calls.length;
    const files = [
      { filename: "weekly-a.png", title: "Alerts", altText: "alerts per guard", bytes: png(3000) },
      { filename: "weekly-b.png", title: "Halts", altText: "halts", bytes: png(1234) },
    ];
    const r = await uploader.upload({ files, comment: "*Weekly health report* & more" });
    const calls = slack.calls.slice(before);
    expect(calls.map((c) => c.path.replace(/\/upload\/F\d+/, "/upload/<id>"))).toEqual([
      "/api/files.getUploadURLExternal",
      "/upload/<id>",
      "/api/files.getUploadURLExternal",
      "/upload/<id>",
      "/api/files.completeUploadExternal",
    ]);
    expect(calls[0]!.body).toMatchObject({ filename: "weekly-a.png", length: "3000", alt_txt: "alerts per guard" });
    expect(calls[0]!.contentType).toMatch(/application\/x-www-form-urlencoded/);
    expect(r.channel).toBe("C0ALERTS");
    expect(r.fileIds).toHaveLength(2);
    for (const [i, id] of r.fileIds.entries()) expect(slack.uploads.get(id)!.bytes!.equals(files[i]!.bytes)).toBe(true);
    expect(calls[1]!.contentType).toBe("application/octet-stream");
    expect(calls[4]!.body).toEqual({
      files: [
        { id: r.fileIds[0], title: "Alerts" },
        { id: r.fileIds[1], title: "Halts" },
      ],
      channel_id: "C0ALERTS",
      initial_comment: "*Weekly health report* & more",
    });
  });

  it("a failed upload is an error naming the file, and nothing is completed", async () => {
    const uploader = createFileUploader(config(), silentLog)!;
    slack.uploadStatus = 500;
    const before = slack.calls.length;
    try {
      await expect(
        uploader.upload({ files: [{ filename: "x.png", title: "X", altText: "x", bytes: png(10) }], comment: "c" }),
      ).rejects.toThrow("upload of x.png: HTTP 500 from the upload URL");
    } finally {
      slack.uploadStatus = 200;
    }
    expect(slack.calls.slice(before).some((c) => c.path.includes("completeUploadExternal"))).toBe(false);
  });

  it("refuses a plain-http upload URL unless the Slack API itself is a local plain-http one", async () => {
    const client = new webApi.WebClient("xoxb-test", slackClientOptions(slack.apiUrl));
    const before = slack.calls.length;
    await expect(
      new SlackFileUploader(client, "C1").upload({
        files: [{ filename: "y.png", title: "Y", altText: "y", bytes: png(5) }],
        comment: "c",
      }),
    ).rejects.toThrow("refusing a non-https upload URL");
    expect(slack.calls.slice(before).map((c) => c.path)).toEqual(["/api/files.getUploadURLExternal"]);
  });

  it("there is no uploader without a bot token and an alert channel", () => {
    expect(createFileUploader(loadConfig({ TRADEGUARD_HOME: "/tmp/tg-files-test" }, []), silentLog)).toBeNull();
  });
});
