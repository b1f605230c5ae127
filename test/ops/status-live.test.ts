// liveStatus coalesces concurrent reads but never answers from before the request: a caller arriving during a read
// gets the next one (shared by everyone who arrived meanwhile), so a halt set just before asking is always seen.
import { describe, expect, it } from "vitest";
import { NextRead } from "../../src/ops/status-live.js";

/** A read whose completion the test controls; each call returns the state at the moment it started. */
function controlled() {
  let state = 0;
  const pending: (() => void)[] = [];
  let started = 0;
  const read = () => {
    started++;
    const seen = state;
    return new Promise<number>((resolve) => pending.push(() => resolve(seen)));
  };
  return {
    read,
    set: (v: number) => {
      state = v;
    },
    started: () => started,
    finishAll: () => {
      for (const f of pending.splice(0)) f();
    },
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("NextRead", () => {
  it("callers during a read share the next read, which starts after the current one and sees later state", async () => {
    const c = controlled();
    const shared = new NextRead(c.read);
    const first = shared.get();
    c.set(1); // e.g. the halt is set after the first read started
    const late = Array.from({ length: 10 }, () => shared.get());
    expect(c.started()).toBe(1);
    c.finishAll();
    expect(await first).toBe(0);
    await tick();
    expect(c.started()).toBe(2); // one more read for all ten
    c.finishAll();
    expect(await Promise.all(late)).toEqual(Array(10).fill(1));
  });

  it("a failed read is not shared with those who came later, and the next read is fresh", async () => {
    let n = 0;
    const shared = new NextRead(async () => {
      n++;
      if (n === 1) throw new Error("Connection is closed.");
      return n;
    });
    const a = shared.get();
    const b = shared.get();
    await expect(a).rejects.toThrow(/closed/);
    expect(await b).toBe(2);
    expect(await shared.get()).toBe(3);
  });
});
