import { afterEach, describe, expect, it } from "vitest";
import type { Finding, FlagChange } from "../../src/jobs/guard.js";
import { marketHoursGuard } from "../../src/jobs/market-hours.js";
import { testRuntime } from "../support/runtime.js";

const et = (s: string) => new Date(`${s}-05:00`);
const evaluate = (at: Date, values: { closures?: Record<string, string>; state?: Record<string, string> } = {}) =>
  marketHoursGuard.evaluate(
    { values: { closures: values.closures ?? {}, state: values.state ?? {} }, probe: { at: at.getTime() } },
    at,
    {},
  );
const actions = (fs: Finding[]): FlagChange[] => fs.flatMap((f) => f.actions ?? []);
const warns = (fs: Finding[]) => fs.filter((f) => f.severity !== "info");

describe("market_hours guard: the session flag (NYSE Rule 7.2 calendar)", () => {
  it("writes market:state and publishes on `flags` when the session opens; nothing when nothing changed", () => {
    const before = evaluate(et("2026-11-25T09:29:59"));
    const hset = actions(before).find((a) => a.op === "hset") as Extract<FlagChange, { op: "hset" }>;
    expect(hset).toMatchObject({ key: "market:state", fields: { open: "0", session: "regular", date: "2026-11-25" } });
    expect(actions(before).some((a) => a.op === "publish" && a.channel === "flags")).toBe(true);

    const open = evaluate(et("2026-11-25T09:30:00"), { state: hset.fields });
    expect(actions(open)).toEqual([
      { op: "hset", key: "market:state", fields: expect.objectContaining({ open: "1" }) },
      { op: "publish", channel: "flags", message: expect.stringContaining("market:state") },
    ]);
    const openFields = (actions(open)[0] as Extract<FlagChange, { op: "hset" }>).fields;
    expect(actions(evaluate(et("2026-11-25T10:00:00"), { state: openFields }))).toEqual([]);
    expect(open.find((f) => f.key === "market_hours:session")).toMatchObject({
      severity: "info",
      title: "Market open (regular)",
    });
  });

  it("closed on a holiday says why (info: the gate suppresses orders itself, nothing to post)", () => {
    const f = evaluate(et("2026-11-26T11:00:00"));
    expect(f.find((x) => x.key === "market_hours:session")).toMatchObject({
      severity: "info",
      title: "Market closed: Thanksgiving Day",
    });
  });
});

describe("market_hours guard: announcements", () => {
  it.each([
    [
      "2026-11-25T08:00:00",
      "market_hours:early_close:2026-11-27",
      "on the next trading day",
      "the day before the day after Thanksgiving",
    ],
    ["2026-11-27T12:59:00", "market_hours:early_close:2026-11-27", "today", "the early-close day itself, until 13:00"],
    [
      "2026-12-23T16:30:00",
      "market_hours:early_close:2026-12-24",
      "on the next trading day",
      "the day before Christmas Eve 2026",
    ],
    [
      "2028-06-30T12:00:00",
      "market_hours:early_close:2028-07-03",
      "on the next trading day",
      "Friday before Mon Jul 3, 2028 (NYSE 2028 calendar)",
    ],
  ])("%s → warns %s (%s; %s)", (at, key, when, _why) => {
    const f = warns(evaluate(et(at)));
    expect(f.map((x) => x.key)).toEqual([key]);
    expect(f[0]).toMatchObject({ sop: "sop-market-hours", title: expect.stringContaining(when) });
  });

  it.each([
    ["2026-11-27T13:00:00", "the early close has happened"],
    ["2026-07-02T12:00:00", "no early close before the observed Friday Independence Day 2026"],
    ["2026-11-24T12:00:00", "two trading days before"],
  ])("%s → no announcement (%s)", (at) => {
    expect(warns(evaluate(et(at)))).toEqual([]);
  });

  it("an unscheduled closure declared for the next trading day is announced; bad fields are reported", () => {
    const f = warns(
      evaluate(et("2026-11-30T12:00:00"), { closures: { "2026-12-01": "Exchange outage", "12/01": "x" } }),
    );
    expect(f.map((x) => x.key).sort()).toEqual(["market_hours:closure:2026-12-01", "market_hours:closures_invalid"]);
    expect(f.find((x) => x.key === "market_hours:closure:2026-12-01")!.detail).toMatch(
      /next session opens Dec 2, 2026, 9:30 AM ET/,
    );
  });
});

describe("market_hours guard through the runner (real Redis)", () => {
  const opened: Awaited<ReturnType<typeof testRuntime>>[] = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!.cleanup();
  });

  it("writes the prefixed market:state, publishes on the prefixed flags channel, posts the early-close alert with its SOP", async () => {
    const at = et("2026-11-25T10:00:00");
    const t = await testRuntime({ guards: [marketHoursGuard], now: () => at });
    opened.push(t);
    const sub = t.rt.redis.duplicate();
    const got: string[] = [];
    await sub.subscribe(t.rt.keys.raw("flags"));
    sub.on("message", (_c, m) => got.push(m));
    const r = await t.rt.guards.runOnce({ guard: "market_hours" });
    expect(r.guards[0]).toMatchObject({ name: "market_hours", state: "warn" });
    expect(await t.rt.redis.hgetall(t.rt.keys.raw("market:state"))).toMatchObject({
      open: "1",
      session: "regular",
      date: "2026-11-25",
    });
    await expect.poll(() => got.length).toBeGreaterThan(0);
    await expect.poll(() => t.notifier.messages.length).toBeGreaterThan(0);
    expect(t.notifier.messages[0]).toMatchObject({
      sop: "sop-market-hours",
      text: expect.stringContaining("Early close on the next trading day"),
    });
    sub.disconnect();
  });
});
