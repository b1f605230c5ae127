// `tradeguard doctor`: the preflight of a deployment, and the summary the bot logs at start-up. Every check runs in
// parallel and is bounded (CHECK_TIMEOUT_MS), so the doctor answers within seconds even when half of the world is
// down — which is when it is run.
import type { Runtime } from "../runtime.js";
import { s3Of } from "../s3/config.js";
import { type CheckResult, checkAuditKey, checkBrokers, checkNtp, checkRedis, checkSlack, timed } from "./checks.js";

export interface DoctorReport {
  ok: boolean;
  checks: CheckResult[];
}

/** Every guard's settings parsed (they were, or the runtime would not exist); which guards run and which are off. */
function checkConfig(rt: Runtime): CheckResult {
  const c = rt.config;
  const guards = Object.entries(c.guards);
  const off = guards.filter(([, g]) => g.notConfigured).map(([n]) => n);
  const disabled = guards.filter(([, g]) => !g.enabled && !g.notConfigured).map(([n]) => n);
  const running = guards.length - off.length - disabled.length;
  const parts = [
    `mode ${c.mode}`,
    `${c.brokers.length} broker(s)`,
    `${running} guard(s) scheduled`,
    ...(disabled.length ? [`disabled: ${disabled.join(", ")}`] : []),
    ...(off.length ? [`not configured: ${off.join(", ")}`] : []),
  ];
  return { name: "config", status: "ok", detail: `valid (${parts.join("; ")})`, ms: 0 };
}

/** HeadBucket on every configured WORM bucket. */
async function checkS3(rt: Runtime): Promise<CheckResult[]> {
  const s3 = s3Of(rt.config);
  if (!s3 || s3.buckets.length === 0)
    return [{ name: "s3", status: "skip", detail: "no s3 section: snapshots and checkpoints stay local", ms: 0 }];
  const [{ createS3Client }, { HeadBucketCommand }] = await Promise.all([
    import("../s3/client.js"),
    import("@aws-sdk/client-s3"),
  ]);
  const client = createS3Client(s3, { maxAttempts: 1 });
  try {
    return await Promise.all(
      s3.buckets.map((b) =>
        timed(`s3 ${b.type} ${b.name}`, async (abortSignal) => {
          await client.send(new HeadBucketCommand({ Bucket: b.name }), { abortSignal });
          return { status: "ok", detail: "reachable" };
        }),
      ),
    );
  } finally {
    client.destroy();
  }
}

/** Runs every check. `ok` is false when any check failed (warnings and skips do not fail the doctor). */
export async function runDoctor(rt: Runtime): Promise<DoctorReport> {
  const groups = await Promise.all([
    Promise.resolve([checkConfig(rt)]),
    checkRedis(rt.redis, rt.keys, rt.instanceId).then((r) => [r]),
    checkAuditKey(rt.redis, rt.keys, rt.auditKeys.publicKey).then((r) => [r]),
    checkSlack(rt.config),
    checkBrokers(rt.brokers),
    checkNtp(rt.config),
    checkS3(rt).catch((err): CheckResult[] => [
      { name: "s3", status: "fail", detail: `cannot check: ${(err as Error).message}`, ms: 0 },
    ]),
  ]);
  const checks = groups.flat();
  return { ok: checks.every((c) => c.status !== "fail"), checks };
}

/** One line for a log: "doctor: 9 ok, 1 warn, 1 fail (broker alpaca: HTTP 403 …)". */
export function summarize(report: DoctorReport): string {
  const count = (s: string) => report.checks.filter((c) => c.status === s).length;
  const bad = report.checks.filter((c) => c.status === "fail" || c.status === "warn");
  return `doctor: ${count("ok")} ok, ${count("warn")} warn, ${count("fail")} fail, ${count("skip")} skipped${
    bad.length ? ` (${bad.map((c) => `${c.name}: ${c.detail}`).join("; ")})` : ""
  }`;
}
