// The signature and timestamp check of the guarded receiver, on its own: Slack's v0 HMAC-SHA256, and a clock that is
// passed in (both directions refused beyond 5 minutes; Bolt's own check only refuses the past).
import { describe, expect, it } from "vitest";
import { verifySlackSignature } from "../../src/bot/receiver.js";
import { slackSignature } from "../support/slack.js";

const SECRET = "test-signing-secret";

describe("the signature check", () => {
  const body = Buffer.from("a=1");
  const at = 1_700_000_000;
  const check = (ts: number, nowMs: number, secret = SECRET) =>
    verifySlackSignature({
      secret: SECRET,
      body,
      timestamp: String(ts),
      signature: slackSignature(secret, ts, body.toString()),
      nowMs,
    });

  it("uses the clock it is given, both ways", () => {
    expect(check(at, at * 1000)).toEqual({ ok: true });
    expect(check(at, (at + 300) * 1000)).toEqual({ ok: true });
    expect(check(at, (at - 300) * 1000)).toEqual({ ok: true });
    expect(check(at, (at + 301) * 1000)).toMatchObject({ ok: false });
    expect(check(at, (at - 301) * 1000)).toMatchObject({ ok: false });
    expect(check(at, at * 1000, "other")).toMatchObject({ ok: false });
  });
});
