// The slippage guard's judgement, pure, with injected clocks: the mean adverse threshold at, just below and just
// above 5 bps; the 30-fill minimum; favourable fills offsetting adverse ones; per-strategy overrides; the window's
// New York trade dates at their edges; skipped entries by age; and unbound / invalid probes as findings.
import { Decimal } from "decimal.js";
import { describe, expect, it } from "vitest";
import { type SlippageConfig, slippageGuard, windowDates } from "../../src/jobs/slippage.js";
import type { SlippageTick } from "../../src/jobs/slippage-store.js";
import { ONE } from "../../src/recon/fixed.js";
import { addFill, emptyDay, fillSlippage, type SlippageDay } from "../../src/recon/ledger-slippage.js";
import type { Side } from "../../src/recon/types.js";

// 15:00 New York on Tuesday 2026-12-15.
const NOW = new Date("2026-12-15T20:00:00.000Z");
const cfg = (over: Record<string, unknown> = {}) => slippageGuard.config.parse(over) as SlippageConfig;

const fixed = (s: string) => BigInt(new Decimal(s).mul(ONE.toString()).toFixed(0));
/** An aggregate of fills at the given bps (buys against 100, or sells when `side` says so). */
function day(bpsList: string[], side: Side = "buy"): SlippageDay {
  const d = emptyDay();
  bpsList.forEach((b, i) => {
    const move = new Decimal(b).div(100);
    const price = side === "buy" ? new Decimal(100).add(move) : new Decimal(100).sub(move);
    addFill(
      d,
      fillSlippage({ side, qty: ONE, price: fixed(price.toFixed()) }, 100n * ONE),
      `${i + 1}-0`,
      NOW.toISOString(),
    );
  });
  return d;
}
const times = (n: number, b: string) => Array.from({ length: n }, () => b);
const tick = (days: SlippageTick["days"], over: Partial<SlippageTick> = {}) => ({
  at: NOW.getTime(),
  read: 0,
  applied: 0,
  untracked: 0,
  more: false,
  committed: true,
  cursor: "1-0",
  days,
  skipped: [],
  invalid: [],
  ...over,
});
const run = (p: unknown, c = cfg(), now = NOW) => slippageGuard.evaluate({ values: {}, probe: p as never }, now, c);

describe("slippage config", () => {
  it("has the issue's defaults", () => {
    expect(cfg()).toMatchObject({
      window_days: 7,
      min_fills: 30,
      max_mean_adverse_bps: "5",
      max_entries_per_tick: 2000,
      backfill_days: 35,
      retention_days: 120,
      skipped_alert_hours: 24,
      strategies: {},
    });
  });
  it("takes numbers as written and refuses what cannot be a threshold", () => {
    expect(cfg({ max_mean_adverse_bps: 2.5 }).max_mean_adverse_bps).toBe("2.5");
    const bad = (v: Record<string, unknown>) => slippageGuard.config.safeParse(v).success;
    expect(bad({ max_mean_adverse_bps: "5e1" })).toBe(false);
    expect(bad({ max_mean_adverse_bps: "-1" })).toBe(false);
    expect(bad({ critical_mean_adverse_bps: "5" })).toBe(false); // not above the warning level
    expect(bad({ strategies: { momo: { critical_mean_adverse_bps: "4" } } })).toBe(false);
    expect(bad({ strategies: { "bad name": {} } })).toBe(false);
    expect(bad({ window: 3 })).toBe(false);
    expect(bad({ enabled: true, schedule: "0 * * * * *", timeout_ms: 5000 })).toBe(true);
  });
});

describe("mean adverse slippage > 5 bps over ≥ 30 fills", () => {
  const today = "2026-12-15";
  it("is quiet at exactly 5 bps", () => {
    expect(run(tick({ [today]: { momo: day(times(30, "5")) } }))).toEqual([]);
  });
  it("is quiet just below (one fill at 4.9999)", () => {
    expect(run(tick({ [today]: { momo: day([...times(29, "5"), "4.9999"]) } }))).toEqual([]);
  });
  it("warns just above (one fill at 5.0001: mean 5.00000333)", () => {
    const fs = run(tick({ [today]: { momo: day([...times(29, "5"), "5.0001"]) } }));
    expect(fs).toEqual([
      expect.objectContaining({
        guard: "slippage",
        key: "slippage:momo:mean_adverse",
        severity: "warn",
        sop: "sop-slippage",
        value: "5.000003 bps (30 fills)",
        threshold: "5.00 bps (≥ 30 fills)",
      }),
    ]);
    expect(fs[0]!.detail).toMatch(/30 adverse, 0 favourable/);
    expect(fs[0]!.detail).toMatch(/2026-12-09 to 2026-12-15/);
  });
  it("needs 30 fills: 29 at 10 bps say nothing, 30 do", () => {
    expect(run(tick({ [today]: { momo: day(times(29, "10")) } }))).toEqual([]);
    expect(run(tick({ [today]: { momo: day(times(30, "10")) } }))).toHaveLength(1);
  });
  it("counts with sign: sells below expected are adverse, favourable fills offset adverse ones", () => {
    expect(run(tick({ [today]: { momo: day(times(30, "8"), "sell") } }))).toHaveLength(1);
    const mixed = day([...times(20, "12"), ...times(20, "-12")]);
    expect(run(tick({ [today]: { momo: mixed } }))).toEqual([]);
  });
  it("goes critical above critical_mean_adverse_bps (strictly)", () => {
    const c = cfg({ critical_mean_adverse_bps: "10" });
    expect(run(tick({ [today]: { momo: day(times(30, "10")) } }), c)[0]?.severity).toBe("warn");
    const fs = run(tick({ [today]: { momo: day([...times(29, "10"), "10.0001"]) } }), c);
    expect(fs[0]).toMatchObject({ severity: "critical", threshold: "10.00 bps (≥ 30 fills)" });
  });
  it("takes a strategy's own thresholds over the defaults", () => {
    const c = cfg({ strategies: { hft: { max_mean_adverse_bps: "1", min_fills: 5 } } });
    const days = { [today]: { hft: day(times(5, "1.5")), momo: day(times(5, "1.5")) } };
    expect(run(tick(days), c).map((f) => f.key)).toEqual(["slippage:hft:mean_adverse"]);
  });
});

describe("the window (New York trade dates, today included)", () => {
  it("is the last window_days dates", () => {
    expect(windowDates(NOW, 3)).toEqual(["2026-12-13", "2026-12-14", "2026-12-15"]);
  });
  it("adds up the window's days and leaves older ones out", () => {
    const days = { "2026-12-09": { momo: day(times(15, "6")) }, "2026-12-15": { momo: day(times(15, "6")) } };
    expect(run(tick(days))).toHaveLength(1);
    expect(run(tick({ ...days, "2026-12-08": { momo: day(times(15, "100")) } }))[0]!.value).toBe("6.00 bps (30 fills)");
  });
  it("moves at New York midnight, not UTC midnight", () => {
    const days = { "2026-12-09": { momo: day(times(15, "6")) }, "2026-12-15": { momo: day(times(15, "6")) } };
    // 23:59:59 on the 15th in New York (EST, UTC−5): the 9th is still in the window.
    expect(run(tick(days), cfg(), new Date("2026-12-16T04:59:59.999Z"))).toHaveLength(1);
    expect(run(tick(days), cfg(), new Date("2026-12-16T05:00:00.000Z"))).toEqual([]);
  });
});

describe("data the guard could not use", () => {
  it("alerts on skipped entries younger than skipped_alert_hours (24 h), naming them", () => {
    const at = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
    const entry = { entry: "1796-0", reason: 'expected_price: not a decimal ("x")' };
    const fs = run(tick({}, { skipped: [{ ...entry, at: at(24 * 3_600_000) }] }));
    expect(fs).toEqual([
      expect.objectContaining({ key: "slippage:skipped", severity: "warn", sop: "sop-slippage-data", value: "1" }),
    ]);
    expect(fs[0]!.detail).toContain('1796-0: expected_price: not a decimal ("x")');
    expect(run(tick({}, { skipped: [{ ...entry, at: at(24 * 3_600_000 + 1) }] }))).toEqual([]);
  });
  it("reports unreadable keys as data invalid and still judges the rest", () => {
    const fs = run(
      tick(
        { "2026-12-15": { momo: day(times(30, "9")) } },
        { invalid: ['slippage:daily:2026-12-15:hft: sum_bps: not a decimal ("x")'] },
      ),
    );
    expect(fs.map((f) => f.key)).toEqual(["slippage:data_invalid", "slippage:momo:mean_adverse"]);
    expect(fs[0]!.detail).toContain("slippage:daily:2026-12-15:hft");
  });
  it("says so when nothing is wired (the registry's entry) or the probe failed", () => {
    expect(run(undefined)).toEqual([expect.objectContaining({ key: "slippage:unbound", severity: "warn" })]);
    expect(run({ at: 0, unbound: true })).toEqual([expect.objectContaining({ key: "slippage:unbound" })]);
    expect(run({ at: 0, error: "Connection is closed." })).toEqual([
      expect.objectContaining({ key: "slippage:error", detail: "Connection is closed." }),
    ]);
  });
});

describe("gauges", () => {
  it("export the window's mean and fills per strategy and the entries read", () => {
    const p = tick({ "2026-12-15": { momo: day(times(4, "2.5")) } }, { read: 7 });
    expect(slippageGuard.measure!({ values: {}, probe: p as never }, cfg())).toEqual([
      { name: "tradeguard_slippage_entries_read", value: 7 },
      { name: "tradeguard_slippage_mean_bps", labels: { strategy: "momo" }, value: 2.5 },
      { name: "tradeguard_slippage_window_fills", labels: { strategy: "momo" }, value: 4 },
    ]);
  });
});
