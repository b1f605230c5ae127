import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ModeStore, parseModeEvent } from "../../src/state/mode.js";
import { testRedis } from "../support/redis.js";

describe("ModeStore", () => {
  let t: ReturnType<typeof testRedis>;
  beforeEach(() => {
    t = testRedis();
  });
  afterEach(() => t.cleanup());

  it("reads active when nothing was ever set", async () => {
    const m = new ModeStore(t.redis, t.keys);
    expect(await m.get()).toEqual({ mode: "active", reason: null, actor: null, since: null, panicId: null });
  });

  it("sets mode and meta atomically and publishes {mode, reason, actor, ts} on <prefix>mode", async () => {
    const m = new ModeStore(t.redis, t.keys);
    const sub = t.connect();
    await sub.subscribe(t.keys.modeChannel);
    const got = new Promise<string>((resolve) => sub.on("message", (_c, msg) => resolve(msg)));
    const now = new Date("2026-11-25T14:30:00.000Z");
    const r = await m.set("halt", { reason: "fat finger", actor: "U123", panicId: "p1", now });
    expect(r).toMatchObject({ changed: true, previous: null });
    expect(JSON.parse(await got)).toEqual({
      mode: "halt",
      reason: "fat finger",
      actor: "U123",
      ts: "2026-11-25T14:30:00.000Z",
    });
    expect(t.keys.modeChannel).toBe(`${t.prefix}mode`);
    expect(await t.redis.get(`${t.prefix}mode`)).toBe("halt");
    expect(await t.redis.hgetall(`${t.prefix}mode:meta`)).toEqual({
      reason: "fat finger",
      actor: "U123",
      since: "2026-11-25T14:30:00.000Z",
      panic_id: "p1",
      last_halt: "2026-11-25T14:30:00.000Z",
    });
    expect(await m.get()).toMatchObject({ mode: "halt", reason: "fat finger", panicId: "p1" });
  });

  it("compare-and-set refuses a change from a mode not listed", async () => {
    const m = new ModeStore(t.redis, t.keys);
    await m.set("halt", { reason: "x", actor: "a" });
    const r = await m.set("active", { reason: "soak over", actor: "bot" }, ["reduce_only"]);
    expect(r.changed).toBe(false);
    expect(r.previous).toBe("halt");
    expect((await m.get()).mode).toBe("halt");
  });

  it("fails safe to halt when the key holds garbage, and says so", async () => {
    await t.redis.set(t.keys.mode, "yolo");
    const s = await new ModeStore(t.redis, t.keys).get();
    expect(s.mode).toBe("halt");
    expect(s.invalid).toMatch(/yolo/);
  });

  it("parses mode events and rejects garbage", () => {
    expect(parseModeEvent('{"mode":"halt","reason":"r","actor":"a","ts":"t"}')).toEqual({
      mode: "halt",
      reason: "r",
      actor: "a",
      ts: "t",
    });
    expect(parseModeEvent("nope")).toBeNull();
    expect(parseModeEvent('{"mode":"sideways","ts":"t"}')).toBeNull();
  });
});
