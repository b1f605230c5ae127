// dr_freshness at, just below and just above its thresholds (35 days warn, 70 critical) with an injected clock; a
// failed latest rehearsal; never rehearsed; garbage records; configured by dr.scratch_url.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { declareDrFreshness, drFreshness } from "../../src/jobs/dr-freshness.js";
import type { Finding } from "../../src/jobs/guard.js";
import { allGuards } from "../../src/jobs/registry.js";

const DAY = 86_400_000;
const NOW = new Date("2026-12-01T12:00:00.000Z");
const cfg = drFreshness.config.parse({});
const rec = (daysAgo: number, ok = true) =>
  JSON.stringify({ ts: new Date(NOW.getTime() - daysAgo * DAY).toISOString(), ok, keys: 7, ms: 1.25 });
const run = (last: string | null, success: string | null, c = cfg): Finding[] =>
  drFreshness.evaluate({ values: { last, success }, probe: { at: NOW.getTime() } }, NOW, c);
const only = (fs: Finding[]) => fs.map((f) => [f.key, f.severity]);

describe("dr_freshness thresholds (35 d warn, 70 d critical)", () => {
  it("is quiet at exactly 35 days and just below", () => {
    expect(run(rec(35), rec(35))).toEqual([]);
    expect(run(rec(34.99), rec(34.99))).toEqual([]);
  });
  it("warns just past 35 days, says how old and the limit", () => {
    const fs = run(rec(35.001), rec(35.001));
    expect(only(fs)).toEqual([["dr_freshness:stale", "warn"]]);
    expect(fs[0]).toMatchObject({ sop: "sop-dr-rehearsal", value: "35.0 d", threshold: "35 d" });
    expect(fs[0]!.detail).toContain("7 keys restored in 1.25 ms");
  });
  it("stays a warning at exactly 70 days and is critical just past it", () => {
    expect(only(run(rec(70), rec(70)))).toEqual([["dr_freshness:stale", "warn"]]);
    const fs = run(rec(70.001), rec(70.001));
    expect(only(fs)).toEqual([["dr_freshness:stale", "critical"]]);
    expect(fs[0]!.threshold).toBe("70 d");
  });
  it("uses configured levels; critical defaults to twice the warning age", () => {
    const c = drFreshness.config.parse({ max_age_days: 7 });
    expect(c.critical_age_days).toBe(14);
    expect(only(run(rec(7.5), rec(7.5), c))).toEqual([["dr_freshness:stale", "warn"]]);
    expect(only(run(rec(14.5), rec(14.5), c))).toEqual([["dr_freshness:stale", "critical"]]);
    expect(() => drFreshness.config.parse({ max_age_days: 10, critical_age_days: 10 })).toThrow(/greater than/);
  });
});

describe("what the records say", () => {
  it("never rehearsed, or never successfully: critical", () => {
    expect(only(run(null, null))).toEqual([["dr_freshness:stale", "critical"]]);
    const fs = run(rec(1, false), null);
    expect(only(fs)).toEqual([["dr_freshness:stale", "critical"]]);
    expect(fs[0]!.detail).toMatch(/latest rehearsal .* failed and none succeeded/);
  });
  it("a failed rehearsal after a fresh success warns on its own", () => {
    const fs = run(rec(1, false), rec(3));
    expect(only(fs)).toEqual([["dr_freshness:last_failed", "warn"]]);
  });
  it("the latest record counts as the success when dr:last_success is missing", () => {
    expect(run(rec(2), null)).toEqual([]);
  });
  it("garbage and future times are named as data invalid, never read as fresh", () => {
    expect(only(run("{not json", null))).toEqual([["dr_freshness:data_invalid", "warn"]]);
    expect(only(run(JSON.stringify({ ts: "yesterday", ok: true, keys: 1, ms: 1 }), null))).toEqual([
      ["dr_freshness:data_invalid", "warn"],
    ]);
    const future = JSON.stringify({ ts: "2026-12-02T12:00:00.000Z", ok: true, keys: 1, ms: 1 });
    expect(only(run(future, future))).toEqual([
      ["dr_freshness:data_invalid", "warn"],
      ["dr_freshness:data_invalid", "warn"],
    ]);
    // A readable fresh success beside a garbage latest record is still fresh, and the garbage is named.
    expect(only(run("garbage", rec(1)))).toEqual([["dr_freshness:data_invalid", "warn"]]);
  });
  it("measures the age and the latest outcome", () => {
    const m = drFreshness.measure!(
      { values: { last: rec(2, false), success: rec(3) }, probe: { at: NOW.getTime() } },
      cfg,
    );
    expect(m).toEqual([
      { name: "tradeguard_dr_rehearsal_age_seconds", value: 3 * 86_400 },
      { name: "tradeguard_dr_last_rehearsal_ok", value: 0 },
    ]);
  });
});

describe("configured by the dr section", () => {
  it("is off until dr.scratch_url names a scratch Redis", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const home = mkdtempSync(join(tmpdir(), "tg-drf-"));
    expect(
      declareDrFreshness(loadConfig({ TRADEGUARD_HOME: home }, allGuards)).guards.dr_freshness!.notConfigured,
    ).toMatch(/not configured — set dr.scratch_url/);
    writeFileSync(join(home, "c.yml"), 'dr: { scratch_url: "redis://127.0.0.1:6390/0" }\n');
    const c = declareDrFreshness(
      loadConfig({ TRADEGUARD_HOME: home, TRADEGUARD_CONFIG: join(home, "c.yml") }, allGuards),
    );
    expect(c.guards.dr_freshness!.notConfigured).toBeNull();
    expect(c.dr).toMatchObject({
      scratchUrl: "redis://127.0.0.1:6390/0",
      reminderSchedule: "0 10 1 * *",
      reminder: true,
    });
  });
});
