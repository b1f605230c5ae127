// A halt flag Redis takes late (a frozen Redis that wakes up after the panic gave up waiting): the panic flattens
// without it, and when the script does run, the report's haltedAt is the `since` that script wrote — the value the
// halt keeper compares an approved resume's mode:meta.last_halt with, so a resume approved later is never undone by
// a re-assertion (review M1: a later haltedAt made the resume look older than the halt).
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { startRedisServer } from "../support/global-setup.js";
import { testRuntime } from "../support/runtime.js";

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => {});
});

describe("a halt flag set late", () => {
  it("keeps the since the halt script wrote; a re-assertion then leaves an approved resume alone", async () => {
    // Its own redis-server: pausing the shared one would stall every other test file.
    const srv = await startRedisServer();
    closers.push(() => srv.stop());
    const t = await testRuntime({ env: { REDIS_URL: srv.url }, yaml: "resume: { soak_minutes: 0 }" });
    closers.push(() => t.cleanup());
    const admin = new Redis(srv.url);
    closers.push(async () => admin.disconnect());
    await t.rt.redis.ping();
    // Writes wait for 3.5 s: longer than the 3 s the panic waits for the halt flag.
    await admin.call("CLIENT", "PAUSE", "3500", "WRITE");
    const { report } = await t.rt.ops.panic.halt({ actor: "U1", reason: "frozen redis", announce: false });
    // The script ran once the pause ended; the report says so and carries the since Redis has.
    await expect.poll(() => report.haltFlag, { timeout: 10_000 }).toBe("set");
    const meta = await t.rt.redis.hgetall(t.rt.keys.modeMeta);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("halt");
    expect(report.haltedAt).toBe(meta.since);
    expect(report.redisErrors.join(" ")).toMatch(/took it late/);
    // An approved resume descends from that halt: re-asserting the panic's halt now must be "superseded".
    const req = await t.rt.ops.resume.request("U1", "drill over");
    await t.rt.ops.resume.approve("U2", req.id);
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("active");
    const again = await t.rt.ops.deps.panicStore.reassert(report, t.rt.instanceId, 10_000, new Date());
    expect(again.kind).toBe("superseded");
    expect(await t.rt.redis.get(t.rt.keys.mode)).toBe("active");
  }, 30_000);
});
