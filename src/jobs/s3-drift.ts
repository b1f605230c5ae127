// S3 drift guard (`s3_drift`, daily): the buckets that keep the desk's records must stay what `tradeguard s3 apply`
// made them (Object Lock COMPLIANCE retention for SEC 17a-4(f), versioning, lifecycle, Block Public Access, default
// encryption, TLS-only policy). The probe runs the same check as `tradeguard s3 check`; every drifted setting is a
// critical finding. Its subject is the top-level `s3` section, not guards.s3_drift: the composition root binds the
// check (withS3Drift) and marks the guard configured when buckets are declared (declareS3Drift).
import { z } from "zod";
import type { Config } from "../config.js";
import type { CheckReport } from "../s3/buckets.js";
import type { createS3Client } from "../s3/client.js";
import { s3Of } from "../s3/config.js";
import { defineGuard, type Finding, type Guard } from "./guard.js";

export const SOP_S3_DRIFT = "sop-s3-drift";
const HINT = "declare the desk's buckets in the s3 section of the YAML (s3.buckets)";

const configSchema = z
  .object({ enabled: z.boolean().optional(), schedule: z.string().optional(), timeout_ms: z.number().optional() })
  .strict();
export type S3DriftConfig = z.infer<typeof configSchema>;

export type S3DriftProbe = { report: CheckReport } | { error: string } | { unbound: true };

/** The guard with its check bound (`null`: the registry's entry, which only declares the guard's settings). */
export function createS3DriftGuard(checkNow: (() => Promise<CheckReport>) | null) {
  return defineGuard<S3DriftConfig, Record<string, never>, S3DriftProbe>({
    name: "s3_drift",
    schedule: "0 0 6 * * *",
    config: configSchema,
    requires: { hint: HINT },
    reads: () => ({}),
    async probe() {
      if (!checkNow) return { unbound: true };
      try {
        return { report: await checkNow() };
      } catch (err) {
        return { error: (err as Error)?.message ?? String(err) };
      }
    },
    evaluate(snapshot) {
      const base = { guard: "s3_drift", sop: SOP_S3_DRIFT };
      const p = snapshot.probe;
      if (!p || "unbound" in p)
        return [
          {
            ...base,
            key: "s3_drift:unbound",
            severity: "warn",
            title: "S3 drift: not checked",
            detail: "No S3 check is wired into this process (the s3 section is missing or was not bound).",
          },
        ];
      if ("error" in p)
        return [
          {
            ...base,
            key: "s3_drift:check_failed",
            severity: "warn",
            title: "S3 drift: the check could not run",
            detail: `${p.error}. Run tradeguard s3 check to see why (credentials, network, permissions: tradeguard iam-policy).`,
          },
        ];
      const findings: Finding[] = [];
      for (const b of p.report.buckets)
        for (const c of b.checks)
          if (!c.ok)
            findings.push({
              ...base,
              key: `s3_drift:${b.name}:${c.setting}`,
              severity: "critical",
              title: `S3 drift: ${b.name} ${c.setting}`,
              detail: `${b.name} ${c.setting} is "${c.have}", must be "${c.want}". Find out who changed it (CloudTrail), then tradeguard s3 apply --bucket ${b.name}.`,
              value: c.have,
              threshold: c.want,
            });
      return findings;
    },
  });
}

/** The registry's s3_drift: declares the guard (name, schedule, settings); its probe is bound by withS3Drift. */
export const s3Drift = createS3DriftGuard(null);

/** `guards` with s3_drift bound to a real check of the configured buckets (unchanged without an s3 section). */
// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
export function withS3Drift(guards: Guard<any, any, any>[], config: Config): Guard<any, any, any>[] {
  const s3 = s3Of(config);
  if (!s3) return guards;
  let client: ReturnType<typeof createS3Client> | undefined;
  const bound = createS3DriftGuard(async () => {
    // The S3 SDK and the client are loaded on the first tick, not by every process that loads the registry.
    const [{ check }, { createS3Client }] = await Promise.all([import("../s3/buckets.js"), import("../s3/client.js")]);
    client ??= createS3Client(s3);
    return check(client, s3.buckets);
  });
  return guards.map((g) => (g.name === bound.name ? bound : g));
}

/** Marks s3_drift configured exactly when the s3 section declares buckets (its subject is not guards.s3_drift). */
export function declareS3Drift(config: Config): Config {
  const g = config.guards.s3_drift;
  if (g) g.notConfigured = s3Of(config)?.buckets.length ? null : `not configured — ${HINT}`;
  return config;
}
