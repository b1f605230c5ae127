// Property test of the Slack HTTP edge (issue 10): thousands of arbitrary bodies, each signed exactly as Slack signs
// it, through the real Bolt receiver. Slash-command forms (missing, repeated and prototype-named keys, huge and
// unicode values), interaction payloads and Events API bodies, from noise to almost-valid. Whatever arrives: never a
// 5xx, the bot stays up, nothing halts (noise never makes a valid confirmation token), /healthz answers afterwards.
// Deterministic (fixed seeds); batches are posted concurrently to keep the run short.
import type { AddressInfo } from "node:net";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ids } from "../../src/bot/ids.js";
import type { PaperBroker } from "../../src/brokers/paper.js";
import { type RunningBot, startBot } from "../../src/services.js";
import { freePort } from "../support/global-setup.js";
import { captureLog } from "../support/log.js";
import { testRuntime } from "../support/runtime.js";
import { postSigned, startFakeSlack } from "../support/slack.js";

const SECRET = "test-signing-secret";
const BATCH = 20;
const FORM = "application/x-www-form-urlencoded";

/** Strings a hostile or broken sender would try: prototype names, Slack syntax, unicode, control characters, huge. */
const nasty = fc.oneof(
  fc.constantFrom(
    "",
    "constructor",
    "__proto__",
    "toString",
    "hasOwnProperty",
    "prototype",
    "null",
    "undefined",
    "<!channel>",
    "<@UALICE>",
    "&amp;",
    "v1.e30.AAAA",
    "1",
    "true",
    "💥",
    "\u0000",
    "\u202e",
    "T0001",
    "UALICE",
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.integer({ min: 1_000, max: 60_000 }).map((n) => "x".repeat(n)),
);

const COMMAND_KEYS = [
  "token",
  "team_id",
  "team_domain",
  "enterprise_id",
  "channel_id",
  "channel_name",
  "user_id",
  "user_name",
  "command",
  "text",
  "api_app_id",
  "is_enterprise_install",
  "response_url",
  "trigger_id",
];
const SNEAKY_KEYS = ["event", "payload", "ssl_check", "type", "actions", "name", "view", "function_data", "__proto__"];
const COMMANDS = ["/panic", "/clear", "/status", "/runbook", "/recon", "/rotate", "/unknown", "panic", "/"];
const ACTION_IDS = [...Object.values(ids), "nope", ""];
const TYPES = [
  "block_actions",
  "interactive_message",
  "view_submission",
  "view_closed",
  "shortcut",
  "block_suggestion",
];

/** Usually `valid`, sometimes one of the broken alternatives: most bodies get past the gate to Bolt and the handlers. */
function mostly<T>(valid: fc.Arbitrary<T>, ...broken: fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> {
  return fc.oneof({ weight: 20, arbitrary: valid }, ...broken.map((b) => ({ weight: 1, arbitrary: b })));
}

/** Drops some keys of an object (none most of the time), so required fields go missing too. */
function dropSome(o: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(o, fc.oneof({ weight: 3, arbitrary: fc.constant<number[]>([]) }, fc.array(fc.nat(12), { maxLength: 2 })))
    .map(([v, drop]) => Object.fromEntries(Object.entries(v).filter((_, i) => !drop.includes(i))));
}

const anyJson = fc.jsonValue({ maxDepth: 3 });

/** An id that is (almost always) fresh, so the delivery de-dup does not drop the case before a handler sees it. */
const uniqueId = (prefix: string) => fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${prefix}.${a}.${b}`);

/** The response_urls the bot may call: the fake Slack (never the internet) or nothing useful. */
const responseUrl = (base: string) =>
  mostly(fc.constant(`${base}/response/fuzz`), fc.constant("http://127.0.0.1:1/refused"), nasty);

/** A slash-command form body: a valid one with fields dropped, replaced, repeated or added, or pure noise. */
function slashBody(base: string): fc.Arbitrary<string> {
  const valid = fc.record({
    token: fc.constant("deprecated"),
    team_id: mostly(fc.constantFrom("T0001", "E0001"), fc.constant("constructor"), nasty),
    channel_id: mostly(fc.constant("C0OPS"), nasty),
    user_id: mostly(fc.constantFrom("UALICE", "UCLEAR", "UTRADER"), fc.constant("__proto__"), nasty),
    user_name: mostly(fc.constant("alice"), nasty),
    command: fc.constantFrom(...COMMANDS),
    text: mostly(fc.string({ maxLength: 200 }), nasty),
    response_url: responseUrl(base),
    trigger_id: mostly(uniqueId("trig"), nasty),
  });
  const key = fc.oneof(fc.constantFrom(...COMMAND_KEYS, ...SNEAKY_KEYS), fc.string({ maxLength: 12 }));
  const extra = fc.oneof(fc.constant([]), fc.array(fc.tuple(key, nasty), { maxLength: 3 }));
  const mutated = fc
    .tuple(dropSome(valid), extra)
    .map(([v, add]) =>
      new URLSearchParams([
        ...Object.entries(v).map(([k, x]) => [k, String(x)] as [string, string]),
        ...add,
      ]).toString(),
    );
  const noise = fc.array(fc.tuple(key, nasty), { maxLength: 8 }).map((p) => new URLSearchParams(p).toString());
  return fc.oneof({ weight: 6, arbitrary: mutated }, { weight: 1, arbitrary: noise }, { weight: 1, arbitrary: nasty });
}

/** An interaction payload (`payload=<JSON>`): almost valid, with parts broken, or any JSON at all. */
function interactionBody(base: string): fc.Arbitrary<string> {
  const action = dropSome(
    fc.record({
      action_id: mostly(fc.constantFrom(...ACTION_IDS), nasty, anyJson),
      block_id: fc.constant("b1"),
      type: fc.constantFrom("button", "static_select"),
      value: fc.oneof(nasty, fc.constant(JSON.stringify({ reason: "fuzz" })), fc.constant("v1.e30.AAAA")),
      action_ts: mostly(uniqueId("1700000000"), nasty),
    }),
  );
  const payload = dropSome(
    fc.record({
      type: mostly(fc.constantFrom(...TYPES), nasty),
      user: mostly(fc.record({ id: fc.constantFrom("UTRADER", "UCLEAR", "UALICE") }), fc.constant(null), anyJson),
      team: mostly(fc.record({ id: fc.constant("T0001") }), fc.constant(null), fc.constant({ id: "constructor" })),
      channel: mostly(fc.record({ id: fc.constant("C0OPS") }), fc.constant(null), anyJson),
      enterprise: mostly(fc.constant(null), fc.record({ id: nasty })),
      actions: mostly(fc.array(action, { minLength: 1, maxLength: 2 }), fc.constant([]), anyJson),
      view: mostly(fc.record({ id: nasty, callback_id: nasty, state: anyJson }), anyJson),
      response_url: responseUrl(base),
      trigger_id: mostly(uniqueId("trig"), nasty),
      container: anyJson,
    }),
  );
  const extra = fc.dictionary(
    fc.constantFrom("name", "response_urls", "function_data", "message", "state", "__proto__", "constructor"),
    anyJson,
    { maxKeys: 2 },
  );
  const full = fc.tuple(payload, fc.oneof(fc.constant({}), extra)).map(([p, x]) => JSON.stringify({ ...p, ...x }));
  const json = fc.oneof(
    { weight: 6, arbitrary: full },
    { weight: 1, arbitrary: anyJson.map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: nasty },
  );
  return json.map((j) => new URLSearchParams({ payload: j }).toString());
}

/** An Events API body: event_callback / url_verification with broken parts, or any JSON, or not JSON. */
function eventBody(): fc.Arbitrary<string> {
  const event = dropSome(
    fc.record({
      type: mostly(fc.constantFrom("app_home_opened", "message", "app_mention", "function_executed"), nasty),
      user: mostly(fc.constant("UALICE"), fc.record({ id: nasty }), fc.constant(null), anyJson),
      channel: mostly(fc.constant("D0HOME"), fc.record({ id: nasty }), fc.constant(null), anyJson),
      tab: fc.constantFrom("home", "messages"),
      item: mostly(fc.record({ channel: nasty }), anyJson),
      subteam: mostly(fc.record({ created_by: nasty }), anyJson),
      ts: anyJson,
    }),
  );
  const body = dropSome(
    fc.record({
      type: mostly(fc.constantFrom("event_callback", "url_verification", "app_rate_limited"), nasty),
      team_id: mostly(fc.constant("T0001"), fc.constantFrom("constructor", "__proto__"), nasty),
      enterprise_id: mostly(fc.constant(null), nasty),
      event_id: mostly(uniqueId("Ev"), nasty),
      challenge: mostly(fc.constant("abc"), anyJson),
      event: mostly(event, anyJson),
      authorizations: mostly(
        fc.array(fc.record({ team_id: mostly(fc.constant("T0001"), fc.constant(null), nasty) }), { maxLength: 2 }),
        anyJson,
      ),
    }),
  );
  return fc.oneof(
    { weight: 6, arbitrary: body.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: anyJson.map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: nasty },
  );
}

describe("fuzzing the Slack HTTP edge through the real receiver", () => {
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  let t: Awaited<ReturnType<typeof testRuntime>>;
  let bot: RunningBot;
  let base: string;
  const seen = { requests: 0, byStatus: new Map<string, number>() };
  const logs = captureLog("warn");

  beforeAll(async () => {
    slack = await startFakeSlack();
    const port = await freePort();
    t = await testRuntime({
      env: {
        SLACK_BOT_TOKEN: "xoxb-fake",
        SLACK_SIGNING_SECRET: SECRET,
        SLACK_API_URL: slack.apiUrl,
        HOST: "127.0.0.1",
        PORT: String(port),
      },
      yaml: "roles: { panic: ['*'], clear: [UCLEAR], approve: [UCLEAR] }\n",
      log: logs.log,
    });
    await (t.rt.ops.deps.brokers[0] as PaperBroker).setPosition("AAPL", "10", "190.25");
    bot = await startBot(t.rt);
    base = `http://127.0.0.1:${(bot.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await bot?.stop();
    await t?.cleanup();
    await slack?.close();
  });

  /** Posts a batch concurrently; every answer must be below 500. */
  async function postAll(bodies: string[], contentType: string, kind: string): Promise<void> {
    const results = await Promise.all(
      bodies.map((b) => postSigned(`${base}/slack/events`, SECRET, b, { contentType }).then((r) => [b, r] as const)),
    );
    for (const [body, r] of results) {
      seen.requests++;
      const k = `${kind} ${r.status}`;
      seen.byStatus.set(k, (seen.byStatus.get(k) ?? 0) + 1);
      if (r.status >= 500) throw new Error(`answered ${r.status} to ${body.slice(0, 300)}`);
    }
  }

  const run = (kind: string, arb: fc.Arbitrary<string>, contentType: string, batches: number, seed: number) =>
    fc.assert(
      fc.asyncProperty(fc.array(arb, { minLength: BATCH, maxLength: BATCH }), (bodies) =>
        postAll(bodies, contentType, kind),
      ),
      { seed, numRuns: batches, endOnFailure: true },
    );

  it(`2,000 slash-command form bodies`, async () => {
    await run("slash", slashBody(slack.url), FORM, 2_000 / BATCH, 1001);
  }, 60_000);

  it(`1,000 interaction payloads`, async () => {
    await run("interaction", interactionBody(slack.url), FORM, 1_000 / BATCH, 2002);
  }, 60_000);

  it(`1,000 Events API bodies`, async () => {
    await run("event", eventBody(), "application/json", 1_000 / BATCH, 3003);
  }, 60_000);

  it("afterwards: a fair share reached Bolt, none failed inside it, nothing halted, /healthz answers", async () => {
    expect(seen.requests).toBe(4_000);
    // The test has teeth only if many bodies get past the gate to Bolt and the handlers.
    for (const kind of ["slash", "interaction", "event"])
      expect(seen.byStatus.get(`${kind} 200`) ?? 0, kind).toBeGreaterThan(200);
    // Whatever passed the gate, Bolt could process (its processEvent never threw).
    expect(logs.lines.filter((l) => l.includes("Bolt failed on a Slack request"))).toEqual([]);
    expect((await t.rt.mode.get()).mode).toBe("active");
    expect(await (t.rt.ops.deps.brokers[0] as PaperBroker).listPositions()).toHaveLength(1);
    const h = await fetch(`${base}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ ok: true, mode: "active" });
    console.log(`fuzz: ${seen.requests} requests; by kind and status: ${JSON.stringify([...seen.byStatus].sort())}`);
  });
});
