// The panic's progress stream never blocks the event loop (review S9): writes go through a queue to an asynchronous
// writer, in order; while the terminal does not read, write() still returns at once, the queue stays bounded and
// live-line redraws are dropped before step lines; a failed descriptor ends the progress, not the process.
import { closeSync, openSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nonBlockingStream, Progress } from "../../src/cli/progress.js";

describe("nonBlockingStream", () => {
  it("writes in order through an asynchronous writer; a stuck writer never blocks write()", async () => {
    const written: string[] = [];
    let release: (() => void) | null = null;
    const stream = nonBlockingStream({ isTTY: true, columns: 80 }, 2, 4, (_fd, chunk, cb) => {
      written.push(chunk);
      release = () => cb(null); // the terminal reads again only when the test says so
    });
    stream.write("halt flag set ✓\n");
    for (let i = 0; i < 20; i++) stream.write(`\r\u001b[2Kcancelling… ${i}`);
    stream.write("alp: cancel ✓\n");
    // Nothing blocked: all calls returned, one chunk is with the writer, the queue is bounded.
    expect(written).toEqual(["halt flag set ✓\n"]);
    expect(stream.pending()).toBe(5);
    // Drain: the step line survived; only the newest redraws are left of the twenty.
    while (release) {
      const r: () => void = release;
      release = null;
      r();
    }
    expect(written[0]).toBe("halt flag set ✓\n");
    expect(written).toContain("alp: cancel ✓\n");
    expect(written.filter((c) => c.includes("cancelling"))).toEqual([
      "\r\u001b[2Kcancelling… 17",
      "\r\u001b[2Kcancelling… 18",
      "\r\u001b[2Kcancelling… 19",
    ]);
    expect(written.indexOf("alp: cancel ✓\n")).toBe(written.length - 1);
  });

  it("writes to a real descriptor, and drained() waits for it", async () => {
    const file = join(tmpdir(), `tg-progress-${process.pid}-${Date.now()}.txt`);
    const fd = openSync(file, "w");
    const stream = nonBlockingStream({ isTTY: false }, fd);
    const p = new Progress({ stream, env: { NO_COLOR: "1" } });
    p.step("halt flag set ✓ (3 ms)");
    p.step("alp: verify ✓ flat");
    await stream.drained(2_000);
    closeSync(fd);
    expect(readFileSync(file, "utf8")).toBe("halt flag set ✓ (3 ms)\nalp: verify ✓ flat\n");
  });

  it("a failing descriptor ends the progress quietly", async () => {
    const stream = nonBlockingStream({ isTTY: true }, 2, 8, (_fd, _c, cb) => cb(new Error("EPIPE")));
    const p = new Progress({ stream, env: {} });
    p.step("halt flag set ✓");
    await stream.drained(100);
    expect(stream.write("more")).toBe(false);
    p.step("still fine"); // no throw
    p.done();
  });
});
