import { afterEach, describe, expect, it } from "vitest";
import type { Finding } from "../../src/jobs/guard.js";
import { type PdtLocateConfig, pdtLocateGuard } from "../../src/jobs/pdt-locate.js";
import { testRuntime } from "../support/runtime.js";

const NOW = new Date("2026-11-30T11:00:00-05:00");
const cfg = (o: Record<string, unknown> = {}) => pdtLocateGuard.config.parse(o) as PdtLocateConfig;
const evaluate = (
  v: { pdt?: Record<string, unknown>; locates?: Record<string, unknown>; etb?: [string, number][] },
  c = cfg(),
): Finding[] =>
  pdtLocateGuard.evaluate(
    {
      values: {
        pdt: Object.fromEntries(
          Object.entries(v.pdt ?? {}).map(([k, x]) => [k, typeof x === "string" ? x : JSON.stringify(x)]),
        ),
        locates: Object.fromEntries(
          Object.entries(v.locates ?? {}).map(([k, x]) => [k, typeof x === "string" ? x : JSON.stringify(x)]),
        ),
        etb: v.etb ?? [],
        closures: {},
      },
    },
    NOW,
    c,
  );
const byKey = (fs: Finding[]) => Object.fromEntries(fs.map((f) => [f.key, f]));
// Five business days ending Mon 2026-11-30 (Thanksgiving skipped): one day trade of four trades each.
const activity = Object.fromEntries(
  ["2026-11-23", "2026-11-24", "2026-11-25", "2026-11-27", "2026-11-30"].map((d) => [d, { day_trades: 1, trades: 4 }]),
);

describe("pdt_locate guard: FINRA 4210(f)(8)(B) and the intraday margin standard", () => {
  it("a pattern day trader below $25,000 is critical (gates refuse its opening orders), with the SOP", () => {
    const f = byKey(evaluate({ pdt: { A1: { equity: "24000", activity }, A2: { equity: "26000", activity } } }));
    expect(f["pdt_locate:pdt:A1"]).toMatchObject({
      severity: "critical",
      sop: "sop-pdt",
      title: "A1: pattern day trader below $25,000",
    });
    expect(f["pdt_locate:pdt:A2"]).toBeUndefined();
  });

  it("an unmet day-trading call past its fifth business day restricts the account (4210(f)(8)(B)(iv))", () => {
    const f = byKey(
      evaluate({ pdt: { A1: { equity: "90000", day_trading_call: { amount: "1000", issued: "2026-11-19" } } } }),
    );
    // Issued Thu Nov 19: due by the fifth business day, Fri Nov 27 (Thanksgiving skipped); Mon Nov 30 is past it.
    expect(f["pdt_locate:pdt:A1"]).toMatchObject({
      severity: "critical",
      title: "A1: restricted: day-trading call not met",
    });
    const due = byKey(
      evaluate({ pdt: { A1: { equity: "90000", day_trading_call: { amount: "1000", issued: "2026-11-20" } } } }),
    );
    expect(due["pdt_locate:pdt:A1"]).toBeUndefined(); // issued Fri Nov 20: due Mon Nov 30, today
  });

  it("under intraday margin: 95% of buying power used warns, a deficit is critical, the count no longer matters", () => {
    const c = cfg({ regime: "intraday_margin" });
    const f = byKey(
      evaluate(
        {
          pdt: {
            HOT: { equity: "5000", activity, intraday_buying_power: "100000", intraday_exposure: "95000" },
            OVER: { equity: "5000", intraday_buying_power: "100000", intraday_exposure: "100000" },
            OK: { equity: "5000", activity, intraday_buying_power: "100000", intraday_exposure: "1000" },
          },
        },
        c,
      ),
    );
    expect(f["pdt_locate:intraday:HOT"]).toMatchObject({ severity: "warn", value: "95.0%", threshold: "90%" });
    expect(f["pdt_locate:pdt:OVER"]).toMatchObject({ severity: "critical", title: "OVER: intraday margin deficit" });
    expect(f["pdt_locate:pdt:OK"]).toBeUndefined();
    expect(f["pdt_locate:intraday:OK"]).toBeUndefined();
  });

  it("an unreadable account record is reported, the others still evaluated", () => {
    const f = byKey(evaluate({ pdt: { BAD: "{", A1: { equity: "1000", activity } } }));
    expect(f["pdt_locate:pdt_invalid:BAD"]).toMatchObject({ severity: "warn" });
    expect(f["pdt_locate:pdt:A1"]).toBeDefined();
  });
});

describe("pdt_locate guard: Reg SHO Rule 203(b)(1) inventory", () => {
  it("removes expired locates, reports unreadable ones", () => {
    const f = evaluate({
      locates: {
        L1: { symbol: "GME", qty: 100, expires_at: "2026-11-30T15:59:00Z" },
        L2: { symbol: "GME", qty: 100, expires_at: "2026-11-30T21:00:00Z" },
        L3: { symbol: "GME", qty: -5, expires_at: "2026-11-30T21:00:00Z" },
      },
    });
    const k = byKey(f);
    expect(k["pdt_locate:locates_expired"]!.actions).toEqual([{ op: "hdel", key: "locates", fields: ["L1"] }]);
    expect(k["pdt_locate:locates_invalid"]).toMatchObject({
      severity: "warn",
      sop: "sop-locate",
      detail: expect.stringContaining("L3"),
    });
  });

  it.each([
    [NOW.getTime() - 23 * 3600_000, false, "a 23-hour-old list is still reasonable grounds"],
    [NOW.getTime() - 24 * 3600_000, true, "a 24-hour-old list is not"],
  ])("ETB list published at %s → stale warning = %s (%s)", (asOf, warned, _why) => {
    const f = byKey(evaluate({ etb: [["GME", asOf]] }));
    expect(f["pdt_locate:etb_stale"] !== undefined).toBe(warned);
  });

  it("judges a 150,000-entry ETB list by its newest (last, ascending) entry without overflowing the stack", () => {
    const n = 150_000;
    const old = NOW.getTime() - 48 * 3600_000;
    const etb = Array.from({ length: n }, (_, i): [string, number] => [`S${i}`, old + i]);
    expect(byKey(evaluate({ etb }))["pdt_locate:etb_stale"]).toMatchObject({ severity: "warn" });
    etb[n - 1] = ["LAST", NOW.getTime() - 3600_000]; // today's list loaded: the newest score is the last
    expect(byKey(evaluate({ etb }))["pdt_locate:etb_stale"]).toBeUndefined();
    expect(byKey(evaluate({ etb: [] }))["pdt_locate:etb_stale"]).toBeUndefined();
  });
});

describe("pdt_locate guard through the runner (real Redis)", () => {
  const opened: Awaited<ReturnType<typeof testRuntime>>[] = [];
  afterEach(async () => {
    while (opened.length) await opened.pop()!.cleanup();
  });

  it("deletes expired locates from the prefixed hash and posts the PDT alert", async () => {
    const t = await testRuntime({ guards: [pdtLocateGuard], now: () => NOW });
    opened.push(t);
    const k = (n: string) => t.rt.keys.raw(n);
    await t.rt.redis.hset(k("locates"), {
      OLD: JSON.stringify({ symbol: "GME", qty: 100, expires_at: "2026-11-29T21:00:00Z" }),
      NEW: JSON.stringify({ symbol: "GME", qty: 100, expires_at: "2026-11-30T21:00:00Z" }),
    });
    await t.rt.redis.hset(k("pdt"), "A1", JSON.stringify({ equity: "1000", activity }));
    const r = await t.rt.guards.runOnce({ guard: "pdt_locate" });
    expect(r.guards[0]).toMatchObject({ state: "critical" });
    expect(Object.keys(await t.rt.redis.hgetall(k("locates")))).toEqual(["NEW"]);
    await expect.poll(() => t.notifier.messages.map((m) => m.sop)).toContain("sop-pdt");
  });
});
