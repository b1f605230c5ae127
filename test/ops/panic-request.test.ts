// A /panic confirmation is a token the bot issued: a click halts only for a live token of that user's confirmation,
// once; a late click gets the report of the panic it started; noise or a forged value never halts.
import { afterEach, describe, expect, it } from "vitest";
import { UserInputError } from "../../src/errors.js";
import { CONFIRM_TTL_MS, checkConfirmation, issueConfirmation } from "../../src/ops/panic-confirm.js";
import { FakeBroker } from "../support/fake-broker.js";
import { freePort } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});
let clock = new Date("2026-12-01T15:00:00.000Z");

async function runtime(env: Record<string, string> = {}): Promise<{ t: T; broker: FakeBroker }> {
  clock = new Date("2026-12-01T15:00:00.000Z");
  const t = await testRuntime({ yaml: "panic: { deadline_ms: 5000 }\n", now: () => clock, env });
  opened.push(t);
  const broker = new FakeBroker("venue").seed("AAPL", "10");
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, broker);
  return { t, broker };
}
async function actions(t: T) {
  return (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(
    (r) => JSON.parse(r[1][1]!) as { action: string; details: Record<string, unknown> },
  );
}

describe("panic confirmation tokens", () => {
  it("the token shown to a user halts once; a second click on it gets the same panic's report", async () => {
    const { t, broker } = await runtime();
    const { confirmation, radius } = await t.rt.ops.panicRequest.prepare("U1", "fat finger");
    expect(radius?.totals.positions).toBe(1);
    expect(confirmation.length).toBeLessThanOrEqual(2000);
    const first = await t.rt.ops.panicRequest.confirm({ actor: "U1", token: confirmation });
    expect(first).toMatchObject({ joined: false, report: { status: "HALT-VERIFIED", reason: "fat finger" } });
    broker.seed("MSFT", "3"); // exposure that appeared after: a late click must not flatten it
    const second = await t.rt.ops.panicRequest.confirm({ actor: "U1", token: confirmation });
    expect(second.joined).toBe(true);
    expect(second.report.id).toBe(first.report.id);
    expect(broker.calls.filter((c) => c.op === "close_all")).toHaveLength(1);
    expect(broker.positions.map((p) => p.symbol)).toEqual(["MSFT"]);
  });

  it.each([
    ["a value the bot never issued", () => '{"reason":"x"}', "not a confirmation this bot issued"],
    ["a forged signature", (tok: string) => `${tok.slice(0, -4)}AAAA`, "bad signature"],
    ["an id of a panic that never existed", () => "p20261201T000000Z-abcdef", "not a confirmation this bot issued"],
  ])("refuses %s, audits the refusal, changes nothing", async (_what, forge, why) => {
    const { t, broker } = await runtime();
    const { confirmation } = await t.rt.ops.panicRequest.prepare("U1", "x");
    const err = await t.rt.ops.panicRequest.confirm({ actor: "U1", token: forge(confirmation) }).catch((e) => e);
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.message).toMatch(why);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBeNull();
    expect(broker.calls.filter((c) => c.op === "cancel_all" || c.op === "close_all")).toEqual([]);
    expect((await actions(t)).at(-1)).toMatchObject({ action: "panic.confirm_refused" });
  });

  it("refuses another user's confirmation and an expired one", async () => {
    const { t, broker } = await runtime();
    const { confirmation } = await t.rt.ops.panicRequest.prepare("U1", "x");
    await expect(t.rt.ops.panicRequest.confirm({ actor: "U2", token: confirmation })).rejects.toThrow(/someone else/);
    clock = new Date(clock.getTime() + CONFIRM_TTL_MS + 1);
    await expect(t.rt.ops.panicRequest.confirm({ actor: "U1", token: confirmation })).rejects.toThrow(/expired/);
    expect(broker.calls.filter((c) => c.op === "cancel_all" || c.op === "close_all")).toEqual([]);
  });

  it("with Redis down, a signed confirmation still halts (the kill switch never fails closed)", async () => {
    const { t } = await runtime();
    const { confirmation } = await t.rt.ops.panicRequest.prepare("U1", "redis is down");
    const down = await testRuntime({ env: { REDIS_URL: `redis://127.0.0.1:${await freePort()}` }, now: () => clock });
    try {
      // Same audit key (so the same confirmation key) as the runtime that issued it: another replica.
      (down.rt.ops.deps as { confirmKey: Buffer }).confirmKey = t.rt.ops.deps.confirmKey;
      const broker = new FakeBroker("venue").seed("AAPL", "10");
      down.rt.ops.deps.brokers.splice(0, down.rt.ops.deps.brokers.length, broker);
      const { report } = await down.rt.ops.panicRequest.confirm({ actor: "U1", token: confirmation });
      expect(report).toMatchObject({ haltFlag: "not_set", reason: "redis is down" });
      expect(broker.positions).toEqual([]);
    } finally {
      await down.rt.close();
    }
  });

  it("the token is bound to its user, reason and expiry by the key (pure check)", () => {
    const key = Buffer.alloc(32, 7);
    const tok = issueConfirmation(key, "U1", "r", 1_000);
    expect(checkConfirmation(key, tok, "U1", 1_000)).toMatchObject({ ok: true, confirmation: { reason: "r" } });
    expect(checkConfirmation(Buffer.alloc(32, 8), tok, "U1", 1_000)).toMatchObject({ ok: false });
    expect(checkConfirmation(key, tok, "U1", 1_000 + CONFIRM_TTL_MS + 1)).toMatchObject({ ok: false });
    const long = issueConfirmation(key, "U1", "é".repeat(500), 0);
    expect(long.length).toBeLessThanOrEqual(2000);
  });
});
