import { afterEach, describe, expect, it } from "vitest";
import { NotAuthorizedError, NotFoundError, UserInputError } from "../../src/errors.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
let clock = new Date("2026-11-25T15:00:00.000Z");
const tick = (ms: number) => {
  clock = new Date(clock.getTime() + ms);
};

async function halted(yaml: string): Promise<T> {
  clock = new Date("2026-11-25T15:00:00.000Z");
  const t = await testRuntime({ yaml, now: () => clock });
  opened.push(t);
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, new FakeBroker("a"));
  await t.rt.ops.panic.halt({ actor: "UTRADER", reason: "drill" });
  return t;
}
const ROLES = "roles: { clear: [UREQ, UREQ2], approve: [UA, UB, UC, UREQ] }\n";
async function actions(t: T) {
  return (await t.rt.redis.xrange(t.rt.keys.auditLog, "-", "+")).map(
    (r) => JSON.parse(r[1][1]!) as { action: string; actor: string; details: Record<string, unknown> },
  );
}

afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

describe("resume (clear → approve → reduce_only → soak → active)", () => {
  it("needs a halt to clear and a reason", async () => {
    const t = await testRuntime({ yaml: ROLES });
    opened.push(t);
    await expect(t.rt.ops.resume.request("UREQ", "go")).rejects.toThrow(/not halted/);
    await t.rt.mode.set("halt", { reason: "x", actor: "y" });
    await expect(t.rt.ops.resume.request("UREQ", "   ")).rejects.toBeInstanceOf(UserInputError);
  });

  it("refuses requesters outside the clear role and audits it", async () => {
    const t = await halted(ROLES);
    await expect(t.rt.ops.resume.request("UMALLORY", "let me trade")).rejects.toBeInstanceOf(NotAuthorizedError);
    expect((await actions(t)).at(-1)).toMatchObject({
      actor: "UMALLORY",
      action: "auth.denied",
      details: { role: "clear" },
    });
  });

  it("refuses self-approval (even for someone in the approve role) and audits it", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await expect(t.rt.ops.resume.approve("UREQ", req.id)).rejects.toThrow(/someone else/);
    expect((await actions(t)).at(-1)).toMatchObject({ action: "clear.denied", details: { why: "self-approval" } });
    expect((await t.rt.mode.get()).mode).toBe("halt");
  });

  it("refuses approvers outside the approve role", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await expect(t.rt.ops.resume.approve("UREQ2", req.id)).rejects.toBeInstanceOf(NotAuthorizedError);
    expect((await t.rt.mode.get()).mode).toBe("halt");
  });

  it("needs approvals.clear distinct approvers; a repeated approval does not count", async () => {
    const t = await halted(`${ROLES}approvals: { clear: 2 }\n`);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    expect((await t.rt.ops.resume.approve("UA", req.id)).outcome).toBe("recorded");
    await expect(t.rt.ops.resume.approve("UA", req.id)).rejects.toThrow(/already approved/);
    expect((await t.rt.mode.get()).mode).toBe("halt");
    const res = await t.rt.ops.resume.approve("UB", req.id);
    expect(res.outcome).toBe("approved");
    expect(res.request.approvals).toEqual(["UA", "UB"]);
    expect(await t.rt.mode.get()).toMatchObject({ mode: "reduce_only", actor: "UB" });
    expect(res.soakUntil).toBe("2026-11-25T15:05:00.000Z");
  });

  it("expires requests after the TTL", async () => {
    const t = await halted(`${ROLES}resume: { request_ttl_minutes: 15 }\n`);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    tick(15 * 60_000 + 1);
    await expect(t.rt.ops.resume.approve("UA", req.id)).rejects.toThrow(/expired/);
    expect((await t.rt.mode.get()).mode).toBe("halt");
    await expect(t.rt.ops.resume.approve("UA", "c-nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("moves to active after the soak, not before", async () => {
    const t = await halted(`${ROLES}resume: { soak_minutes: 5 }\n`);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await t.rt.ops.resume.approve("UA", req.id);
    tick(4 * 60_000);
    expect(await t.rt.ops.resume.soakTick()).toBe(false);
    expect((await t.rt.mode.get()).mode).toBe("reduce_only");
    tick(60_000);
    expect(await t.rt.ops.resume.soakTick()).toBe(true);
    expect(await t.rt.ops.resume.soakTick()).toBe(false);
    expect((await t.rt.mode.get()).mode).toBe("active");
    const modes = (await actions(t)).filter((e) => e.action === "mode.set").map((e) => e.details.mode);
    expect(modes).toEqual(["halt", "reduce_only", "active"]);
  });

  it("with soak_minutes 0 goes straight through reduce_only to active", async () => {
    const t = await halted(`${ROLES}resume: { soak_minutes: 0 }\n`);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await t.rt.ops.resume.approve("UA", req.id);
    expect((await t.rt.mode.get()).mode).toBe("active");
  });

  it("a panic during the soak wins: the soak never turns it back to active", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await t.rt.ops.resume.approve("UA", req.id);
    expect((await t.rt.mode.get()).mode).toBe("reduce_only");
    await t.rt.ops.panic.halt({ actor: "UTRADER", reason: "again" });
    tick(10 * 60_000);
    expect(await t.rt.ops.resume.soakTick()).toBe(false);
    expect(await t.rt.mode.get()).toMatchObject({ mode: "halt", reason: "again" });
  });

  it("concurrent approvals (double click, two approvers) change the mode once", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    const results = await Promise.allSettled([
      t.rt.ops.resume.approve("UA", req.id),
      t.rt.ops.resume.approve("UB", req.id),
      t.rt.ops.resume.approve("UA", req.id),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect((await actions(t)).filter((e) => e.action === "mode.set" && e.details.mode === "reduce_only")).toHaveLength(
      1,
    );
  });

  it("refuses a second request while one is pending, and any while a panic runs", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await expect(t.rt.ops.resume.request("UREQ2", "me too")).rejects.toThrow(
      new RegExp(`${req.id} is already waiting`),
    );
    await t.rt.redis.set(t.rt.keys.panicActive, "p-running");
    await t.rt.ops.resume.reject("UREQ", req.id);
    await expect(t.rt.ops.resume.request("UREQ", "now")).rejects.toThrow(/Panic p-running is still running/);
  });

  it("a rejected request cannot be approved", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    expect((await t.rt.ops.resume.reject("UB", req.id)).state).toBe("rejected");
    await expect(t.rt.ops.resume.approve("UA", req.id)).rejects.toThrow(/is rejected/);
    expect((await actions(t)).slice(-2)).toMatchObject([
      { action: "clear.rejected", actor: "UB" },
      { action: "clear.approve_refused", actor: "UA", details: { request_id: req.id, reason: "request is rejected" } },
    ]);
  });

  it("a decision on a request its requester withdrew is refused and audited as refused, never as a rejection", async () => {
    const t = await halted(ROLES);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await t.rt.ops.resume.reject("UREQ", req.id); // the requester withdraws it
    const announced = t.notifier.messages.length;
    await expect(t.rt.ops.resume.reject("UB", req.id)).rejects.toThrow(/already rejected by UREQ/);
    const after = await actions(t);
    expect(after.filter((e) => e.action === "clear.rejected")).toEqual([
      expect.objectContaining({ actor: "UREQ", details: { request_id: req.id, withdrawn: true } }),
    ]);
    expect(after.at(-1)).toMatchObject({
      action: "clear.reject_refused",
      actor: "UB",
      details: { request_id: req.id, reason: "request is rejected (by UREQ)" },
    });
    expect(
      t.notifier.messages
        .slice(announced)
        .map((m) => m.text)
        .join("\n"),
    ).not.toMatch(/rejected by UB/);
    expect((await t.rt.ops.deps.clearStore.get(req.id))?.decidedBy).toBe("UREQ");
  });

  it.each([
    ['{"request_id":"c1","until":', "truncated JSON"],
    ['{"request_id":"c1"}', "until missing"],
    ['{"request_id":"c1","until":"NaN"}', "until NaN"],
    ["", "empty"],
  ])("an unreadable resume:soak (%s: %s) keeps reduce_only, never ends the soak", async (raw) => {
    const t = await halted(`${ROLES}resume: { soak_minutes: 1 }\n`);
    const req = await t.rt.ops.resume.request("UREQ", "fixed");
    await t.rt.ops.resume.approve("UA", req.id);
    await t.rt.redis.set(t.rt.keys.resumeSoak, raw);
    tick(3_600_000);
    expect(await t.rt.ops.resume.soakTick()).toBe(false);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("reduce_only");
    expect((await actions(t)).some((e) => e.action === "mode.set" && e.details.mode === "active")).toBe(false);
    expect(await t.rt.redis.get(t.rt.keys.resumeSoak)).toBe(raw);
  });
});
