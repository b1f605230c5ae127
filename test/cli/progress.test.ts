// The progress renderer (src/cli/progress.ts) against a recording stream and a hand-moved clock: on a terminal a live
// line redrawn in place (throttled, never wider than the terminal) under step lines that stay; anywhere else — a
// pipe, --json, TERM=dumb — one plain line per step and not a single escape code; colour only as style.ts allows.
import { EventEmitter } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { bar, countdown, duration, Progress, plural } from "../../src/cli/progress.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESC = /\u001b/;
const CLEAR = "\r\u001b[2K";
// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are taken out to compare the text
const COLOUR = /\u001b\[[0-9;]*m/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: a terminal's line controls, split out to replay them
const CONTROLS = /(\r|\n|\u001b\[2K)/;

/** A stream that records what was written. */
function recorder(isTTY: boolean, columns = 80) {
  const chunks: string[] = [];
  return {
    chunks,
    isTTY,
    columns,
    write(s: string) {
      chunks.push(s);
      return true;
    },
    get text() {
      return chunks.join("");
    },
  };
}

/** What a terminal shows after `text`: \r returns to the line start, ESC[2K erases the line. */
function screen(text: string): string[] {
  const lines: string[] = [""];
  for (const part of text.split(CONTROLS)) {
    if (part === "\r" || part === "\u001b[2K") lines[lines.length - 1] = part === "\r" ? lines.at(-1)! : "";
    else if (part === "\n") lines.push("");
    else lines[lines.length - 1] += part;
  }
  return lines;
}

afterEach(() => vi.useRealTimers());

describe("Progress off a terminal", () => {
  it("prints one plain line per step, ignores the live line, and writes no escape code", () => {
    const out = recorder(false);
    const p = new Progress({ stream: out, env: {} });
    expect(p.live).toBe(false);
    p.status("verifying 10 entries");
    p.tick(() => "elapsed");
    p.step(`halt flag set ${p.ok()} (2 ms)`);
    p.step(`b1: verify ${p.fail()} 1 order and 0 positions left (3 ms)`);
    p.done();
    p.step("after done: dropped");
    expect(out.text).toBe("halt flag set ✓ (2 ms)\nb1: verify ✗ 1 order and 0 positions left (3 ms)\n");
    expect(out.text).not.toMatch(ESC);
  });

  it("with --json on a terminal: still only plain step lines", () => {
    const out = recorder(true);
    const p = new Progress({ stream: out, env: { TERM: "xterm-256color" }, json: true });
    expect(p.live).toBe(false);
    p.status("a bar");
    p.step(`done ${p.ok()}`);
    p.done();
    expect(out.text).toBe("done ✓\n");
  });

  it("TERM=dumb (no cursor control) gets no live line", () => {
    const p = new Progress({ stream: recorder(true), env: { TERM: "dumb" } });
    expect(p.live).toBe(false);
  });

  it("FORCE_COLOR colours the marks even off a terminal; NO_COLOR keeps a terminal plain", () => {
    const piped = recorder(false);
    const forced = new Progress({ stream: piped, env: { FORCE_COLOR: "1" } });
    forced.step(`ok ${forced.ok()}`);
    expect(piped.text).toMatch(ESC);
    expect(piped.text.replace(COLOUR, "")).toBe("ok ✓\n");
    const tty = recorder(true);
    const plain = new Progress({ stream: tty, env: { NO_COLOR: "1", TERM: "xterm" } });
    plain.step(`ok ${plain.ok()} ${plain.fail()} ${plain.warn()}`);
    expect(tty.text).toBe(`ok ✓ ✗ !\n`); // no live line was drawn, so no clear either
  });
});

describe("Progress on a terminal", () => {
  it("redraws the live line in place and keeps step lines above it", () => {
    const out = recorder(true);
    let now = 0;
    const p = new Progress({ stream: out, env: { TERM: "xterm", NO_COLOR: "1" }, now: () => now });
    expect(p.live).toBe(true);
    p.status("halting · b1: cancelling orders");
    expect(out.chunks.at(-1)).toBe(`${CLEAR}halting · b1: cancelling orders`);
    now = 500;
    p.step("b1: cancel ✓ 3 orders (500 ms)");
    // The live line is cleared, the step printed, the live line drawn again below it.
    expect(screen(out.text)).toEqual(["b1: cancel ✓ 3 orders (500 ms)", "halting · b1: cancelling orders"]);
    now = 1000;
    p.status("halting · b1: closing positions");
    expect(screen(out.text)).toEqual(["b1: cancel ✓ 3 orders (500 ms)", "halting · b1: closing positions"]);
    p.done();
    expect(screen(out.text)).toEqual(["b1: cancel ✓ 3 orders (500 ms)", ""]);
    expect(out.text.endsWith(CLEAR)).toBe(true);
    p.status("after done");
    expect(screen(out.text).at(-1)).toBe("");
  });

  it("draws at most once per redrawMs; the latest state is drawn when that time is up", () => {
    vi.useFakeTimers();
    const out = recorder(true);
    let now = 0;
    const p = new Progress({ stream: out, env: { TERM: "xterm" }, now: () => now, redrawMs: 100 });
    p.status("1");
    now = 10;
    p.status("2");
    now = 20;
    p.status("3");
    expect(out.chunks).toEqual([`${CLEAR}1`]);
    now = 100;
    vi.advanceTimersByTime(100);
    expect(out.chunks).toEqual([`${CLEAR}1`, `${CLEAR}3`]);
    p.done();
  });

  it("never draws wider than the terminal (a wrapped line cannot be cleared in place)", () => {
    const out = recorder(true, 30);
    const p = new Progress({ stream: out, env: { TERM: "xterm" } });
    p.status("x".repeat(100));
    const drawn = out.chunks.at(-1)!.slice(CLEAR.length);
    expect([...drawn]).toHaveLength(29);
    expect(drawn.endsWith("…")).toBe(true);
    p.done();
  });

  it("tick() redraws from its render function with a spinner until done()", () => {
    vi.useFakeTimers();
    const out = recorder(true);
    let now = 0;
    let n = 0;
    const p = new Progress({ stream: out, env: { TERM: "xterm" }, now: () => now });
    p.tick(() => `soak: ${countdown(5_000 - 1_000 * n++)} left`, 1_000);
    for (let i = 0; i < 3; i++) {
      now += 1_000;
      vi.advanceTimersByTime(1_000);
    }
    expect(out.chunks.map((c) => c.slice(CLEAR.length))).toEqual([
      "⠋ soak: 0:05 left",
      "⠙ soak: 0:04 left",
      "⠹ soak: 0:03 left",
      "⠸ soak: 0:02 left",
    ]);
    p.done();
    vi.advanceTimersByTime(5_000);
    expect(out.chunks).toHaveLength(5); // the clear, and nothing after it
  });
});

describe("Progress: a step under a ticking live line", () => {
  it("redraws the live line from the render function at once, not the stale text of the last tick", () => {
    const out = recorder(true);
    let state = "setting the halt flag…";
    const p = new Progress({ stream: out, env: { TERM: "xterm", NO_COLOR: "1" }, redrawMs: 0 });
    p.tick(() => state, 60_000);
    state = "halting · b1: cancelling orders";
    p.step("halt flag set ✓ (2 ms)");
    expect(screen(out.text)).toEqual(["halt flag set ✓ (2 ms)", "⠋ halting · b1: cancelling orders"]);
    p.done();
  });
});

describe("formatting", () => {
  it("durations for people", () => {
    expect(duration(0.42)).toBe("0.4 ms");
    expect(duration(2)).toBe("2 ms");
    expect(duration(999.6)).toBe("1000 ms");
    expect(duration(4_160)).toBe("4.1 s");
    expect(duration(125_000)).toBe("2 m 05 s");
    expect(duration(3_720_000)).toBe("1 h 02 m");
    expect(duration(Number.NaN)).toBe("—");
  });

  it("countdowns round up and stop at 0:00", () => {
    expect(countdown(4_001)).toBe("0:05");
    expect(countdown(247_000)).toBe("4:07");
    expect(countdown(3_723_000)).toBe("1:02:03");
    expect(countdown(-5)).toBe("0:00");
  });

  it("a bar with percentage, counts, the rate and the ETA; without a total, the count and rate", () => {
    expect(bar(410_000, 1_000_000, 6_000, "entries")).toBe(
      "[████████░░░░░░░░░░░░]  41% 410,000/1,000,000 entries · 68,333/s · ETA 8.6 s",
    );
    expect(bar(1_000_000, 1_000_000, 9_000, "entries")).toMatch(/^\[█{20}\] 100% .* ETA 0 ms$/);
    expect(bar(0, 10, 0, "entries")).toBe("[░░░░░░░░░░░░░░░░░░░░]   0% 0/10 entries · —/s · ETA —");
    expect(bar(5_000, null, 1_000, "entries")).toBe("5,000 entries · 5,000/s");
    // More entries than the head said (written meanwhile): the bar stays full, the ETA at 0.
    expect(bar(12, 10, 1_000, "entries")).toMatch(/\[█{20}\] 100% 12\/10 entries · 12\/s · ETA 0 ms/);
  });

  it("plurals", () => {
    expect(plural(1, "order")).toBe("1 order");
    expect(plural(0, "position")).toBe("0 positions");
    expect(plural(1204, "key")).toBe("1,204 keys");
  });
});

describe("Progress on a failing stream", () => {
  it("a stream that errors (EPIPE) or throws ends the drawing, never the command", () => {
    const stream = Object.assign(new EventEmitter(), {
      isTTY: true,
      columns: 80,
      writes: 0,
      fail: false,
      write(_s: string) {
        if (this.fail) throw new Error("EBADF");
        this.writes++;
        return true;
      },
    });
    const p = new Progress({ stream, env: { TERM: "xterm" } });
    p.step("one");
    // Emitted with no listener of its own, this would be an uncaught exception.
    expect(() => stream.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }))).not.toThrow();
    p.step("two");
    p.status("three");
    expect(stream.writes).toBe(1);

    const q = new Progress({ stream, env: { TERM: "xterm" } });
    stream.fail = true;
    expect(() => q.step("four")).not.toThrow();
    stream.fail = false;
    q.step("five");
    expect(stream.writes).toBe(1);
  });
});
