// Spent-budget policies through the operations: `extra_approver` makes /clear need one more approver, lifting a
// policy by command is a role-checked, audited waiver the guard honours (reduce-only lifted at once) until the budget
// is back, and the budgets as `tradeguard budget status` reads them.
import { afterEach, describe, expect, it } from "vitest";
import { NotAuthorizedError, NotFoundError, UsageError, UserInputError } from "../../src/errors.js";
import { errorBudget } from "../../src/jobs/error-budget.js";
import { recordSloEvents } from "../../src/jobs/error-budget-math.js";
import { MARKET_KEYS, SLO_KEYS } from "../../src/state/keys.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

const NOW = new Date("2026-11-25T15:00:30.000Z");
const ROLES = "roles: { clear: [UREQ, UBOSS], approve: [UA, UB, UBOSS] }\n";

async function desk(policy: string, strategies = "[]") {
  let clock = NOW;
  const t = await testRuntime({
    yaml: `${ROLES}guards:\n  error_budget:\n    slos:\n      - { name: fills, target: 99, period_days: 1, policy: ${policy}, strategies: ${strategies} }\n      - { name: acks, target: 99.9 }\n`,
    guards: [errorBudget],
    now: () => clock,
  });
  opened.push(t);
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, new FakeBroker("a"));
  const events = (good: number, total: number) =>
    recordSloEvents(t.rt.redis, t.rt.keys.prefix, "fills", { good, total, atMs: NOW.getTime() - 3_600_000 });
  const tick = async (ms = 60_000) => {
    clock = new Date(clock.getTime() + ms);
    return t.rt.guards.runOnce({ guard: "error_budget" });
  };
  return { t, events, tick };
}
const actions = async (t: T) =>
  (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(
    (e) => JSON.parse(e[1][1]!) as { action: string; details: Record<string, unknown> },
  );

describe("policy extra_approver", () => {
  it("while the budget is spent, a clear request needs one more approval; not once it is back", async () => {
    const { t, events, tick } = await desk("extra_approver");
    await events(990, 1_000); // 10 bad of 1,000 at 99%: spent
    await tick();
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "drill" });
    const req = await t.rt.ops.resume.request("UREQ", "flat, checked");
    expect(req.needed).toBe(2);
    expect(t.notifier.messages.at(-1)!.text).toMatch(
      /Needs 2 approval\(s\).*one more than usual: the error budget of fills is spent/,
    );
    expect((await actions(t)).find((a) => a.action === "clear.requested")!.details.extra_approver_for).toEqual([
      "fills",
    ]);
    expect((await t.rt.ops.resume.approve("UA", req.id)).outcome).toBe("recorded");
    expect((await t.rt.ops.resume.approve("UB", req.id)).outcome).toBe("approved");

    await events(1_000, 1_000); // 10 bad of 2,000: half the budget back
    await tick();
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "again" });
    expect((await t.rt.ops.resume.request("UREQ", "ok")).needed).toBe(1);
  });

  it("an unreadable exhausted record fails safe: one more approver", async () => {
    const { t } = await desk("extra_approver");
    await t.rt.redis.hset(t.rt.keys.raw(SLO_KEYS.exhausted), "fills", "{garbage");
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "drill" });
    expect((await t.rt.ops.resume.request("UREQ", "x")).needed).toBe(2);
  });
});

describe("what counts as a waiver for /clear", () => {
  it("a value in error_budget:waivers that is not a waiver is none: the extra approver stays", async () => {
    const { t, events, tick } = await desk("extra_approver");
    await events(990, 1_000);
    await tick();
    await t.rt.redis.hset(t.rt.keys.raw(SLO_KEYS.waivers), "fills", "garbage");
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "drill" });
    expect((await t.rt.ops.resume.request("UREQ", "x")).needed).toBe(2);
    // So is a waiver without its author.
    await t.rt.ops.resume.reject("UREQ", (await t.rt.ops.deps.clearStore.pendingId())!);
    await t.rt.redis.hset(t.rt.keys.raw(SLO_KEYS.waivers), "fills", JSON.stringify({ reason: "r", at: "x" }));
    expect((await t.rt.ops.resume.request("UREQ", "x")).needed).toBe(2);
  });

  it("a waiver never drops the extra approver of its own author's clear request", async () => {
    const { t, events, tick } = await desk("extra_approver");
    await events(990, 1_000);
    await tick();
    // UBOSS holds clear and approve: lifting and then asking to resume leaves the request at two approvals.
    await t.rt.ops.budget.lift("UBOSS", "fills", "vendor outage");
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "drill" });
    const own = await t.rt.ops.resume.request("UBOSS", "flat");
    expect(own.needed).toBe(2);
    expect((await actions(t)).find((a) => a.action === "clear.requested")!.details.extra_approver_for).toEqual([
      "fills",
    ]);
    await t.rt.ops.resume.reject("UBOSS", own.id);
    // Someone else's request: UBOSS's decision to lift it stands.
    expect((await t.rt.ops.resume.request("UREQ", "flat")).needed).toBe(1);
  });
});

describe("lifting a spent budget's policy by command", () => {
  it("is refused without the role, a reason, a spent budget or a known SLO", async () => {
    const { t, events, tick } = await desk("reduce_only", "[momo]");
    await expect(t.rt.ops.budget.lift("UREQ", "fills", "x")).rejects.toBeInstanceOf(NotAuthorizedError);
    await expect(t.rt.ops.budget.lift("UBOSS", "nope", "x")).rejects.toBeInstanceOf(UsageError);
    await expect(t.rt.ops.budget.lift("UBOSS", "fills", "x")).rejects.toBeInstanceOf(NotFoundError);
    await events(990, 1_000);
    await tick();
    await expect(t.rt.ops.budget.lift("UBOSS", "fills", "  ")).rejects.toBeInstanceOf(UserInputError);
  });

  it("lifts reduce-only (audited twice: the waiver and the guard's change) and ends when the budget is back", async () => {
    const { t, events, tick } = await desk("reduce_only", "[momo]");
    await events(990, 1_000);
    await tick();
    const ro = () => t.rt.redis.hgetall(t.rt.keys.raw(MARKET_KEYS.strategyReduceOnly));
    expect(Object.keys(await ro())).toEqual(["momo"]);
    const r = await t.rt.ops.budget.lift("UBOSS", "fills", "vendor outage, not ours");
    expect(r).toMatchObject({
      slo: "fills",
      policy: "reduce_only",
      waiver: { by: "UBOSS", reason: "vendor outage, not ours" },
    });
    await expect(t.rt.ops.budget.lift("UA", "fills", "again")).rejects.toThrow(/already lifted by UBOSS/);
    await tick();
    expect(await ro()).toEqual({});
    const exhausted = JSON.parse((await t.rt.redis.hget(t.rt.keys.raw(SLO_KEYS.exhausted), "fills"))!);
    expect(exhausted).toMatchObject({ policy: "reduce_only", enforced: false });
    const log = await actions(t);
    expect(log.find((a) => a.action === "error_budget.lifted")!.details).toMatchObject({
      slo: "fills",
      policy: "reduce_only",
    });
    expect(
      log
        .filter((a) => a.action === "flag.changed" && a.details.key === MARKET_KEYS.strategyReduceOnly)
        .map((a) => a.details.op),
    ).toEqual(["hset", "hdel"]);
    // Budget back: the episode (and its waiver) ends; a new spend applies the policy again.
    await events(1_000, 1_000);
    await tick();
    expect(await t.rt.redis.hgetall(t.rt.keys.raw(SLO_KEYS.waivers))).toEqual({});
    await events(0, 30);
    await tick();
    expect(Object.keys(await ro())).toEqual(["momo"]);
  });
});

describe("the state of an SLO the guard no longer keeps (budget clear)", () => {
  it("with guards.error_budget removed: clear removes its exhausted record, waiver and reduce-only entries, audited", async () => {
    const { t, events, tick } = await desk("reduce_only", "[momo, mr]");
    await events(990, 1_000);
    await tick();
    const ro = t.rt.keys.raw(MARKET_KEYS.strategyReduceOnly);
    // Another writer's entry stays: only what the guard wrote for this SLO is removed.
    await t.rt.redis.hset(ro, "arb", JSON.stringify({ reason: "r", source: "error_budget:acks", since: "x" }));
    await t.rt.ops.budget.lift("UBOSS", "fills", "vendor outage");
    // The desk takes the error_budget section out of the config: no guard maintains that state any more.
    const off = await testRuntime({ yaml: ROLES, env: { REDIS_PREFIX: t.rt.keys.prefix }, now: () => NOW });
    opened.push(off);
    await expect(off.rt.ops.budget.lift("UBOSS", "fills", "x")).rejects.toThrow(/tradeguard budget clear fills/);
    await expect(off.rt.ops.budget.clear("UREQ", "fills", "retired")).rejects.toBeInstanceOf(NotAuthorizedError);
    await expect(off.rt.ops.budget.clear("UBOSS", "fills", " ")).rejects.toBeInstanceOf(UserInputError);
    const sub = t.rt.redis.duplicate();
    const published: string[] = [];
    sub.on("message", (_c, m) => published.push(m));
    await sub.subscribe(t.rt.keys.raw("flags"));

    const r = await off.rt.ops.budget.clear("UBOSS", "fills", "SLO retired with the guard");
    expect(r).toEqual({ slo: "fills", exhausted: true, waiver: true, reduceOnly: ["momo", "mr"] });
    expect(await t.rt.redis.hgetall(t.rt.keys.raw(SLO_KEYS.exhausted))).toEqual({});
    expect(await t.rt.redis.hgetall(t.rt.keys.raw(SLO_KEYS.waivers))).toEqual({});
    expect(Object.keys(await t.rt.redis.hgetall(ro))).toEqual(["arb"]);
    await new Promise((res) => setTimeout(res, 50));
    expect(published).toEqual(["strategy:reduce_only"]);
    sub.disconnect();
    expect((await actions(off)).find((a) => a.action === "error_budget.cleared")!.details).toEqual({
      slo: "fills",
      reason: "SLO retired with the guard",
      exhausted: true,
      waiver: true,
      reduce_only: ["momo", "mr"],
    });
    await expect(off.rt.ops.budget.clear("UBOSS", "fills", "again")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("refuses an SLO the running guard still keeps; a disabled guard keeps nothing", async () => {
    const { t, events, tick } = await desk("extra_approver");
    await events(990, 1_000);
    await tick();
    await expect(t.rt.ops.budget.clear("UBOSS", "fills", "x")).rejects.toThrow(
      /fills is declared and the error_budget guard keeps its state: tradeguard budget lift fills/,
    );
    const disabled = await testRuntime({
      yaml: `${ROLES}guards:\n  error_budget: { enabled: false, slos: [{ name: fills, target: 99 }] }\n`,
      env: { REDIS_PREFIX: t.rt.keys.prefix },
      now: () => NOW,
    });
    opened.push(disabled);
    expect(await disabled.rt.ops.budget.clear("UBOSS", "fills", "guard off for good")).toEqual({
      slo: "fills",
      exhausted: true,
      waiver: false,
      reduceOnly: [],
    });
    // Its extra approver is gone with it.
    await disabled.rt.ops.panic.halt({ actor: "UOPS", reason: "drill" });
    expect((await disabled.rt.ops.resume.request("UREQ", "x")).needed).toBe(1);
  });
});

describe("budget status", () => {
  it("shows each SLO: budget left, burn windows, no events", async () => {
    const { t, events } = await desk("none");
    await events(995, 1_000);
    const { slos, unreadable } = await t.rt.ops.budget.status();
    expect(unreadable).toEqual([]);
    expect(slos.map((s) => [s.slo, s.state, s.leftPct, s.spent])).toEqual([
      ["fills", "ok", "50.0%", false],
      ["acks", "no_data", null, false],
    ]);
    // The events are 60 minutes old: the 1 h window is the current minute and the 59 before, so it has none.
    expect(slos[0]!.rules.map((r) => r.windows)).toEqual([
      "1h — / 5m — (> 14.4×)",
      "6h 0.50× / 30m — (> 6×)",
      "3d 0.50× / 6h 0.50× (> 1×)",
    ]);
  });
});
