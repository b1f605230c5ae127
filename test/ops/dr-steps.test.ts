// The DR rehearsal's step hook (DrOperation.rehearse's onStep, drawn by `tradeguard dr rehearse`): the scratch Redis
// checked, the snapshot read, the keys restored — in that order, as they happen, with what each step found; a
// rehearsal that fails before restoring stops telling steps where it failed.
import { afterEach, describe, expect, inject, it } from "vitest";
import type { DrStep } from "../../src/ops/dr.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});
// Another DB of the run's redis-server: not the live keyspace (the rehearsal refuses that), and keys stay prefixed.
async function rt(): Promise<T> {
  const t = await testRuntime({ yaml: `dr: { scratch_url: "${inject("redisUrl")}/7" }\n` });
  opened.push(t);
  return t;
}

describe("dr rehearse steps", () => {
  it("scratch checked → snapshot read → keys restored, each with what it found", async () => {
    const t = await rt();
    await t.rt.ops.panic.halt({ actor: "UOPS", reason: "dr drill" });
    const steps: DrStep[] = [];
    const r = await t.rt.ops.dr.rehearse("UOPS", { onStep: (s) => steps.push(s) });
    expect(r.ok).toBe(true);
    expect(steps.map((s) => s.step)).toEqual(["scratch", "snapshot", "restored"]);
    expect(steps[0]).toEqual({ step: "scratch", scratch: r.scratch });
    expect(steps[1]).toEqual({ step: "snapshot", path: r.snapshot, takenAt: r.takenAt, keys: r.keys });
    expect(steps[2]).toEqual({ step: "restored", keys: r.keys, ms: r.ms });
  });

  it("no snapshot to restore: the scratch step, then the failure (no restore step)", async () => {
    const t = await rt();
    const steps: DrStep[] = [];
    const r = await t.rt.ops.dr.rehearse("UOPS", { onStep: (s) => steps.push(s) });
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/no snapshot to restore/);
    expect(steps.map((s) => s.step)).toEqual(["scratch"]);
  });
});
