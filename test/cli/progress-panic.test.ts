// The panic's progress lines (src/cli/progress-panic.ts) from the operation's steps: the halt line first, each
// broker's cancel / close / verify with its counts and when it happened, failures marked, what is left said; the live
// line names what each broker is still doing; a joined panic is followed through its report, one line per broker.
import { describe, expect, it } from "vitest";
import { Progress } from "../../src/cli/progress.js";
import { PanicProgress } from "../../src/cli/progress-panic.js";
import { type PanicReport, startingReport } from "../../src/ops/panic-report.js";

function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, isTTY, columns: 200, write: (s: string) => chunks.push(s) > 0, text: () => chunks.join("") };
}

function follow(isTTY: boolean, brokers = ["alpaca", "binance"]) {
  const out = recorder(isTTY);
  let now = 1_000;
  const p = new Progress({ stream: out, env: { TERM: "xterm", NO_COLOR: "1" }, now: () => now, redrawMs: 0 });
  const panic = new PanicProgress(p, brokers, () => now);
  panic.start();
  return { out, panic, at: (ms: number) => (now = 1_000 + ms) };
}

describe("PanicProgress off a terminal", () => {
  it("one plain line per step, in the order they happen", () => {
    const { out, panic, at } = follow(false);
    at(2);
    panic.onStep({ step: "halt", haltFlag: "set", ms: 1.6 });
    at(900);
    panic.onStep({ step: "cancelled", broker: "alpaca", round: 1, ok: 3, failed: 0 });
    at(1_400);
    panic.onStep({ step: "retry", broker: "binance", op: "cancel_all", attempt: 2, waitMs: 500, error: "HTTP 503" });
    panic.onStep({
      step: "failover",
      broker: "binance",
      op: "cancel_all",
      from: "https://a",
      to: "https://b",
      error: "HTTP 503",
    });
    at(2_100);
    panic.onStep({ step: "closed", broker: "alpaca", round: 1, ok: 1, failed: 1 });
    at(4_200);
    panic.onStep({ step: "verified", broker: "alpaca", round: 1, flat: false, orders: 0, positions: 1 });
    panic.onStep({ step: "verified", broker: "binance", round: 2, flat: true, orders: 0, positions: 0 });
    panic.onStep({ step: "verified", broker: "alpaca", round: 2, flat: false, orders: null, positions: null });
    panic.done();
    expect(out.text()).toBe(
      [
        "halt flag set ✓ (1.6 ms)",
        "alpaca: cancel ✓ 3 orders (900 ms)",
        "binance: cancel_all failed (HTTP 503) ! retry 2 in 500 ms (1.4 s)",
        "binance: endpoint https://a failed (HTTP 503) ! now on https://b (1.4 s)",
        "alpaca: close 1 position, 1 failed ✗ (2.1 s)",
        "alpaca: verify ✗ 0 orders and 1 position left (4.2 s)",
        "binance: verify ✓ flat (4.2 s, round 2)",
        "alpaca: verify ✗ could not re-query (4.2 s, round 2)",
        "",
      ].join("\n"),
    );
  });

  it("Redis did not take the flag: says so loudly, and the flatten goes on", () => {
    const { out, panic } = follow(false, ["alpaca"]);
    panic.onStep({ step: "halt", haltFlag: "not_set", ms: 3_000, error: "Redis did not answer within 3000 ms" });
    panic.onStep({ step: "halt", haltFlag: "set", ms: 3_400, late: true });
    expect(out.text()).toBe(
      "halt flag NOT set ✗ (3.0 s): Redis did not answer within 3000 ms; flattening through the brokers anyway\nhalt flag set late ✓ (3.4 s)\n",
    );
  });

  it("a joined panic: one line per broker as its report shows it done, once each; own reports are ignored", () => {
    const own = follow(false, ["alpaca"]);
    own.panic.onProgress(withBrokers(true));
    expect(own.out.text()).toBe("");

    const { out, panic } = follow(false, ["alpaca", "binance"]);
    panic.onStep({ step: "joined", panicId: "p123" });
    panic.onProgress(withBrokers(true));
    panic.onProgress(withBrokers(true, false));
    expect(out.text()).toBe(
      [
        "a panic is already running (p123): following it",
        "alpaca: verified flat ✓ (1 order cancelled, 2 positions closed)",
        "binance: NOT verified flat ✗ (0 orders cancelled, 0 positions closed; deadline reached)",
        "",
      ].join("\n"),
    );
  });
});

describe("PanicProgress on a terminal", () => {
  it("the live line says what is pending: the flag, then what each broker is doing, and for how long", () => {
    const { panic, at } = follow(true);
    at(1);
    expect(panic.line()).toBe("setting the halt flag… 1 ms");
    panic.onStep({ step: "halt", haltFlag: "set", ms: 1 });
    at(1_500);
    expect(panic.line()).toBe("halting · alpaca: cancelling orders · binance: cancelling orders · 1.5 s");
    panic.onStep({ step: "cancelled", broker: "alpaca", round: 1, ok: 0, failed: 0 });
    panic.onStep({ step: "closed", broker: "binance", round: 1, ok: 2, failed: 0 });
    expect(panic.line()).toBe("halting · alpaca: closing positions · binance: verifying · 1.5 s");
    panic.onStep({ step: "verified", broker: "binance", round: 1, flat: true, orders: 0, positions: 0 });
    panic.onStep({ step: "retry", broker: "alpaca", op: "close_all", attempt: 1, waitMs: 100, error: "timeout" });
    expect(panic.line()).toBe("halting · alpaca: retrying close_all · 1.5 s");
    panic.done();
  });

  it("step lines stay above the live line, which is cleared at the end", () => {
    const { out, panic } = follow(true, ["alpaca"]);
    panic.onStep({ step: "halt", haltFlag: "set", ms: 2 });
    panic.done();
    const text = out.text();
    expect(text).toContain("halt flag set ✓ (2 ms)\n");
    expect(text.indexOf("setting the halt flag…")).toBeLessThan(text.indexOf("halt flag set"));
    expect(text.endsWith("\r\u001b[2K")).toBe(true);
  });
});

function withBrokers(...verified: boolean[]): PanicReport {
  const r = startingReport("U1", "x", new Date(0), "set");
  const names = ["alpaca", "binance"];
  r.brokers = verified.map((v, i) => ({
    broker: names[i]!,
    kind: "alpaca" as const,
    verified: v,
    cancelled: v ? [{ ref: "o1", ok: true }] : [],
    closed: v
      ? [
          { ref: "AAPL", ok: true },
          { ref: "MSFT", ok: true },
        ]
      : [],
    remaining: v ? { orders: [], positions: [] } : null,
    errors: v ? [] : ["deadline reached"],
    rounds: 1,
    durationMs: 10,
  }));
  return r;
}
