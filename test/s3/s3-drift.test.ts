// The s3_drift guard: pure evaluate over the probe's check report; "not configured" until the s3 section declares
// buckets; the registry's entry binds to a real check only through withS3Drift. (Its probe against RGW is in
// test/s3/buckets.test.ts.)
import { describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../../src/config.js";
import { createS3DriftGuard, declareS3Drift, s3Drift, withS3Drift } from "../../src/jobs/s3-drift.js";
import type { CheckReport } from "../../src/s3/buckets.js";
import type { S3Config } from "../../src/s3/config.js";

const now = new Date("2026-12-01T06:00:00Z");
const report: CheckReport = {
  ok: false,
  buckets: [
    {
      name: "desk-audit",
      checks: [
        { setting: "versioning", want: "Enabled", have: "Enabled", ok: true },
        { setting: "object_lock", want: "Enabled, COMPLIANCE 6 years", have: "Enabled, GOVERNANCE 1 days", ok: false },
        {
          setting: "policy",
          want: "Deny s3:* to * when aws:SecureTransport is false",
          have: "no bucket policy",
          ok: false,
        },
      ],
    },
  ],
};

const s3: S3Config = { region: "us-east-1", buckets: [{ name: "desk-audit", type: "audit", retentionYears: 6 }] };
/** A parsed config with (or without) the s3 section, as the composition root passes it in. */
function config(withS3: boolean): Config {
  const c = loadConfig({ TRADEGUARD_HOME: "/tmp/tg-s3-drift" }, [s3Drift]);
  return Object.assign(c, { sections: withS3 ? { s3 } : {} });
}

describe("s3_drift", () => {
  it("is one critical finding per drifted setting, with its SOP, want and have", () => {
    const findings = s3Drift.evaluate({ values: {}, probe: { report } }, now, {});
    expect(findings).toEqual([
      {
        guard: "s3_drift",
        sop: "sop-s3-drift",
        key: "s3_drift:desk-audit:object_lock",
        severity: "critical",
        title: "S3 drift: desk-audit object_lock",
        detail: expect.stringMatching(
          /is "Enabled, GOVERNANCE 1 days", must be "Enabled, COMPLIANCE 6 years".*s3 apply --bucket desk-audit/,
        ),
        value: "Enabled, GOVERNANCE 1 days",
        threshold: "Enabled, COMPLIANCE 6 years",
      },
      expect.objectContaining({ key: "s3_drift:desk-audit:policy", severity: "critical" }),
    ]);
    expect(s3Drift.evaluate({ values: {}, probe: { report: { ok: true, buckets: [] } } }, now, {})).toEqual([]);
  });

  it("says so when the check could not run, or nothing was bound to run it", async () => {
    const failing = createS3DriftGuard(async () => {
      throw new Error("Could not load credentials from any providers");
    });
    const probe = await failing.probe!({}, { signal: AbortSignal.timeout(1000), now });
    expect(failing.evaluate({ values: {}, probe }, now, {})).toEqual([
      expect.objectContaining({
        key: "s3_drift:check_failed",
        severity: "warn",
        detail: expect.stringMatching(/^Could not load credentials/),
      }),
    ]);
    const unbound = await s3Drift.probe!({}, { signal: AbortSignal.timeout(1000), now });
    expect(s3Drift.evaluate({ values: {}, probe: unbound }, now, {})).toEqual([
      expect.objectContaining({ key: "s3_drift:unbound", severity: "warn" }),
    ]);
  });

  it("is not configured until the s3 section declares buckets, whatever guards.s3_drift says", () => {
    expect(config(false).guards.s3_drift?.notConfigured).toMatch(
      /^not configured — declare the desk's buckets in the s3 section/,
    );
    expect(declareS3Drift(config(true)).guards.s3_drift?.notConfigured).toBeNull();
    const enabledWithoutS3 = config(false);
    enabledWithoutS3.guards.s3_drift!.notConfigured = null; // as guards.s3_drift.enabled: true would leave it
    expect(declareS3Drift(enabledWithoutS3).guards.s3_drift?.notConfigured).toMatch(/^not configured/);
    expect(s3Drift).toMatchObject({ name: "s3_drift", schedule: "0 0 6 * * *" });
  });

  it("withS3Drift binds the registry's entry only when S3 is configured", () => {
    const other = { ...s3Drift, name: "other" };
    const unbound = [other, s3Drift];
    expect(withS3Drift(unbound, config(false))).toBe(unbound);
    const bound = withS3Drift(unbound, config(true));
    expect(bound[0]).toBe(other);
    expect(bound[1]).not.toBe(s3Drift);
    expect(bound[1]!.name).toBe("s3_drift");
  });
});
