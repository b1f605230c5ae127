// The panic's step hook (src/ops/panic-steps.ts, passed through PanicOperation.halt): the halt step comes before the
// first broker call, each broker reports cancel → close → verify in that order as it happens, a broker left with
// exposure says what is left, a joined panic says it joined, and a progress callback that throws changes nothing.
import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../../src/brokers/broker.js";
import { brokerStep, type PanicStep } from "../../src/ops/panic-steps.js";
import { FakeBroker } from "../support/fake-broker.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
async function runtime(brokers: Broker[], deadlineMs = 3000): Promise<T> {
  const t = await testRuntime({ yaml: `panic: { deadline_ms: ${deadlineMs} }\n` });
  opened.push(t);
  t.rt.ops.deps.brokers.splice(0, t.rt.ops.deps.brokers.length, ...brokers);
  return t;
}
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

describe("panic steps", () => {
  it("the halt step comes first, before any broker call; then cancel → close → verify per broker", async () => {
    const a = new FakeBroker("a").seed("AAPL", "10").seed("MSFT", "-3");
    const b = new FakeBroker("b").seed("BTCUSDT", "0.5");
    const t = await runtime([a, b]);
    const events: string[] = [];
    for (const x of [a, b]) x.beforeCall = (op) => void events.push(`call ${x.name} ${op}`);
    const steps: PanicStep[] = [];
    const { report } = await t.rt.ops.panic.halt({
      actor: "U1",
      reason: "steps",
      onStep: (s) => {
        steps.push(s);
        events.push(`step ${s.step}${"broker" in s ? ` ${s.broker}` : ""}`);
      },
    });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(events[0]).toBe("step halt");
    expect(steps[0]).toEqual({ step: "halt", haltFlag: "set", ms: expect.any(Number) });
    // The flag was really set when the step said so.
    expect((await t.rt.mode.get()).mode).toBe("halt");
    for (const name of ["a", "b"]) {
      const mine = steps.filter((s) => "broker" in s && s.broker === name).map((s) => s.step);
      expect(mine).toEqual(["cancelled", "closed", "verified"]);
    }
    expect(steps).toContainEqual({ step: "cancelled", broker: "a", round: 1, ok: 2, failed: 0 });
    expect(steps).toContainEqual({ step: "closed", broker: "a", round: 1, ok: 2, failed: 0 });
    expect(steps).toContainEqual({ step: "verified", broker: "b", round: 1, flat: true, orders: 0, positions: 0 });
    // Each step is told as it happens: b's cancel step comes after b's cancel call and before its close call.
    const at = (e: string) => events.indexOf(e);
    expect(at("step cancelled b")).toBeGreaterThan(at("call b cancel_all"));
    expect(at("step cancelled b")).toBeLessThan(at("call b close_all"));
  });

  it("a broker that cannot be flattened: the failed close and what is left, round by round", async () => {
    const a = new FakeBroker("a").seed("AAPL", "10");
    a.refuseClose.add("AAPL");
    const t = await runtime([a], 1000); // the least deadline: the rounds end with it
    const steps: PanicStep[] = [];
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "stuck", onStep: (s) => steps.push(s) });
    expect(report.status).toBe("HALT-PARTIAL");
    expect(steps).toContainEqual({ step: "closed", broker: "a", round: 1, ok: 0, failed: 1 });
    expect(steps).toContainEqual({ step: "verified", broker: "a", round: 1, flat: false, orders: 0, positions: 1 });
    const rounds = steps.filter((s) => s.step === "verified").map((s) => ("round" in s ? s.round : 0));
    expect(rounds).toEqual([...Array(report.brokers[0]!.rounds).keys()].map((i) => i + 1));
  });

  it("a progress callback that throws never stops or changes the panic", async () => {
    const a = new FakeBroker("a").seed("AAPL", "10");
    const t = await runtime([a]);
    let calls = 0;
    const { report } = await t.rt.ops.panic.halt({
      actor: "U1",
      reason: "bad callback",
      onStep: () => {
        calls++;
        throw new Error("stderr is gone");
      },
    });
    expect(report.status).toBe("HALT-VERIFIED");
    expect(calls).toBe(4); // halt, cancelled, closed, verified
    expect(a.positions).toEqual([]);
  });

  it("a second request joins the running panic and says so", async () => {
    const a = new FakeBroker("a").seed("AAPL", "10");
    a.delayMs = 200;
    const t = await runtime([a]);
    const first = t.rt.ops.panic.halt({ actor: "U1", reason: "first" });
    const steps: PanicStep[] = [];
    // Wait until the first one is flattening (its halt flag is set), then ask again.
    while ((await t.rt.mode.get()).mode !== "halt") await new Promise((r) => setTimeout(r, 5));
    const second = await t.rt.ops.panic.halt({ actor: "U2", reason: "second", onStep: (s) => steps.push(s) });
    const { report } = await first;
    expect(second.joined).toBe(true);
    expect(steps).toEqual([{ step: "joined", panicId: report.id }]);
  });
});

describe("brokerStep", () => {
  it("maps flattenBroker's steps and drops the ones it does not know", () => {
    expect(brokerStep("x", "retry", { op: "cancel_all", attempt: 2, waitMs: 500, error: "503" })).toEqual({
      step: "retry",
      broker: "x",
      op: "cancel_all",
      attempt: 2,
      waitMs: 500,
      error: "503",
    });
    expect(brokerStep("x", "verified", { round: 1, flat: false, remaining: null })).toEqual({
      step: "verified",
      broker: "x",
      round: 1,
      flat: false,
      orders: null,
      positions: null,
    });
    expect(brokerStep("x", "something-new", {})).toBeNull();
  });
});
