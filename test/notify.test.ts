import type { KnownBlock } from "@slack/types";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SlackHandler } from "../src/bot/handler.js";
import { ids } from "../src/bot/ids.js";
import { clearRequestView } from "../src/bot/views/clear.js";
import { alertsHandler } from "../src/handlers/alerts.js";
import { clearHandler } from "../src/handlers/clear.js";
import type { Logger } from "../src/log.js";
import { ConsoleNotifier, SlackNotifier, truncate } from "../src/notify.js";
import type { ClearRequest } from "../src/ops/clear-store.js";

type Post = { channel: string; text: string; blocks?: Record<string, unknown>[] };

/** A WebClient stand-in that records every chat.postMessage call. */
function fakeSlack() {
  const posts: Post[] = [];
  const client = {
    chat: {
      postMessage: async (args: Post) => {
        posts.push(args);
        return { ok: true, channel: args.channel, ts: "1700000000.000100" };
      },
    },
  };
  const log = { error: () => {}, warn: () => {}, info: () => {} } as unknown as Logger;
  const notifier = new SlackNotifier(client as never, "C0ALERTS", log, undefined, "https://git.example.com/RUNBOOK.md");
  return { posts, notifier };
}

/** Every string in a post that Slack renders (top-level text and each text in the blocks). */
function rendered(p: Post): string[] {
  const out = [p.text];
  JSON.stringify(p.blocks, (k, v) => {
    if (k === "text" && typeof v === "string") out.push(v);
    return v;
  });
  return out;
}

/** Raw `<` that is not one of the control sequences the bot means to send (our SOP link, who() mentions). */
const OURS = /<https:\/\/git\.example\.com\/RUNBOOK\.md#[\w-]+\|Open the SOP>|<@U0(?:OPS|CLEAR)>|<#C0ALERTS>/g;
const stray = (strings: string[]) => strings.flatMap((s) => s.replace(OURS, "").match(/<.{0,12}/gs) ?? []);
const HOSTILE = ["<!channel>", "<!here>", "<!everyone>", "<@U0EVIL>", "<#C0EVIL>", "<https://evil.example|click>"];
const EVIL = HOSTILE.join(" & ");

/** Slack's limits for what SlackNotifier posts: text 40,000; ≤ 50 blocks; section 3,000; context element 2,000. */
function withinLimits(p: Post) {
  expect(p.text.length).toBeLessThanOrEqual(40_000);
  expect(p.blocks?.length ?? 0).toBeLessThanOrEqual(50);
  for (const b of p.blocks ?? []) {
    const texts = b.type === "section" ? [b.text] : ((b.elements as unknown[] | undefined) ?? []);
    const max = b.type === "section" ? 3000 : 2000;
    for (const t of texts) expect((t as { text?: string }).text?.length ?? 0).toBeLessThanOrEqual(max);
  }
}

describe("truncate", () => {
  it("truncate() counts what it cut and never splits a mention, a link, an entity or a code span", () => {
    const token = `${"a".repeat(50)}<@U0TRADER> <https://x.example|y> &amp; &lt; ${"b".repeat(99)}`;
    for (const s of [token, `\`\`\`${"c".repeat(200)}`, `\`${"d".repeat(200)}`, "😀".repeat(99)])
      for (let max = 40; max < 160; max++) {
        const out = truncate(s, max);
        const m = /… \(([\d,]+) more characters\)$/.exec(out)!;
        const kept = out.slice(0, m.index).replace(/\n```$|`$/, "");
        expect(out.length).toBeLessThanOrEqual(max);
        expect(s.startsWith(kept) && kept.length + Number(m[1]!.replace(/,/g, ""))).toBe(s.length);
        expect(out.split("<").length, out).toBe(out.split(">").length);
        expect(out, out).not.toMatch(/&(?!amp;|lt;|gt;)|[\ud800-\udbff](?![\udc00-\udfff])/);
        expect(out.split("```").length % 2, out).toBe(1);
        expect(out.replace(/```/g, "").split("`").length % 2, out).toBe(1);
      }
  });
});

describe("SlackNotifier", () => {
  it("escapes what operations announce, in the text and in the SOP code block", async () => {
    const { posts, notifier } = fakeSlack();
    await notifier.announce({ text: `Resume requested by ${EVIL}: broker said ${EVIL}`, sop: "sop-resume" });
    const p = posts[0]!;
    expect(stray(rendered(p))).toEqual([]);
    for (const h of HOSTILE) expect(rendered(p).join("\n")).not.toContain(h);
    expect(p.text).toContain("&lt;!channel&gt; &amp; &lt;!here&gt;");
    expect(JSON.stringify(p.blocks)).toContain("<https://git.example.com/RUNBOOK.md#sop-resume|Open the SOP>");
  });

  it("cuts a 1 MB announcement to Slack's limits, says so, and closes the code block", async () => {
    const { posts, notifier } = fakeSlack();
    await notifier.announce({ text: `broker error: \`\`\`${"x".repeat(1 << 20)}`, sop: "sop-panic" });
    const p = posts[0]!;
    withinLimits(p);
    expect(p.text).toMatch(/… \([\d,]+ more characters\)$/);
    const code = (p.blocks![0]!.text as { text: string }).text;
    expect(code).toMatch(/^```/);
    expect(code.split("```").length % 2).toBe(1); // every fence closed, the inner one neutralised
    expect(code).toMatch(/more characters\)/);
  });

  it("passes a view's already escaped text and its mentions through unchanged, within the block limit", async () => {
    const { posts, notifier } = fakeSlack();
    const req: ClearRequest = {
      ...{ id: "c1", requester: "U0CLEAR", reason: "<algo> & co", createdAt: "x", expiresAt: "y", needed: 2 },
      ...{ approvals: [], state: "pending", panicId: null, haltSince: null, decidedBy: null, decidedAt: null },
    };
    const view = clearRequestView(req, null, new Date());
    await notifier.announce(view);
    expect(posts[0]!.text).toContain("&lt;algo&gt; &amp; co");
    expect(posts[0]!.text).not.toContain("&amp;lt;");
    expect(posts[0]!.blocks).toEqual(view.blocks);
    const section = (i: number): KnownBlock => ({ type: "section", text: { type: "mrkdwn", text: `block ${i}` } });
    await notifier.announce({ text: "many", blocks: Array.from({ length: 80 }, (_, i) => section(i)) });
    withinLimits(posts[1]!);
    expect(JSON.stringify(posts[1]!.blocks)).toMatch(/31 more blocks/);
  });

  it("property: whatever the text, the post fits and carries no raw control sequence", async () => {
    const fragment = fc.oneof(fc.constantFrom(...HOSTILE, "<", ">", "&", "&lt;", "`", "```", "\n"), fc.string());
    const text = fc.oneof(
      fc.array(fragment, { maxLength: 40 }).map((a) => a.join("")),
      fc
        .tuple(fc.constantFrom(...HOSTILE, "```"), fc.integer({ min: 3_000, max: 100_000 }))
        .map(([h, n]) => h.repeat(n)),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.boolean(), async (t, sop) => {
        const { posts, notifier } = fakeSlack();
        await notifier.announce({ text: t, ...(sop ? { sop: "sop-panic" } : {}) });
        withinLimits(posts[0]!);
        expect(stray(rendered(posts[0]!))).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});

describe("ConsoleNotifier", () => {
  it("prints a view's escaped text as people wrote it", async () => {
    const lines: string[] = [];
    await new ConsoleNotifier((l) => lines.push(l)).announce({ text: "runaway &lt;algo&gt; &amp; co" });
    expect(lines[0]).toContain("runaway <algo> & co");
  });
});

/** Registers a handler on a stand-in Bolt app and returns its listeners by action id or command. */
function listeners(h: SlackHandler, rt: unknown) {
  const map = new Map<string, (args: unknown) => Promise<void>>();
  const on = (id: unknown, fn: (args: unknown) => Promise<void>) => typeof id === "string" && map.set(id, fn);
  h.register?.({ action: on, command: on } as never, rt as never);
  if (h.command && h.onCommand) map.set(h.command, h.onCommand(rt as never) as never);
  return map;
}

describe("plain replies the handlers post (the Acknowledge and /clear replies)", () => {
  it("escape what they echo and keep the intended mentions", async () => {
    const replies: string[] = [];
    const respond = async (m: { text: string }) => void replies.push(m.text);
    const ack = async () => {};
    let channel = EVIL;
    const request = { id: EVIL, requester: "U0CLEAR", reason: EVIL, needed: 2, approvals: [], state: "pending" };
    const rt = {
      ops: {
        acknowledgeAlert: async () => ({ title: EVIL }),
        resume: { request: async () => request },
        status: async () => ({ lastPanic: null }),
      },
      notifier: { announce: async () => ({ channel, ts: "1.2" }) },
      now: () => new Date(),
      config: {},
    };
    const body = { user: { id: "U0OPS" } };
    await listeners(alertsHandler, rt).get(ids.alertAck)!({ ack, body, action: {}, respond });
    const clear = listeners(clearHandler, rt).get("/clear")!;
    await clear({ ack, command: { user_id: "U0CLEAR", text: EVIL }, respond });
    channel = "C0ALERTS";
    await clear({ ack, command: { user_id: "U0CLEAR", text: "ok" }, respond });
    expect(replies).toHaveLength(3);
    expect(stray(replies)).toEqual([]);
    expect(replies[0]).toMatch(/^:eyes: <@U0OPS> acknowledged: &lt;!channel&gt;/);
    expect(replies[2]).toContain("in <#C0ALERTS>");
  });
});
