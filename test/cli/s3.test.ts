// tradeguard s3 apply | check, iam-policy and audit anchor/verify --checkpoints with the audit bucket, run the way an
// operator runs them, against Ceph RGW on loopback. Bucket default encryption, which RGW Pacific does not implement,
// is answered at the HTTP layer by the encryption shim (test/support/rgw.ts); everything else is RGW's.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteBucketLifecycleCommand, PutPublicAccessBlockCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadAuditKey } from "../../src/audit/keyfile.js";
import { AuditLog } from "../../src/audit/log.js";
import { createS3Client } from "../../src/s3/client.js";
import { runCli } from "../support/cli.js";
import { silentLog } from "../support/log.js";
import { testRedis } from "../support/redis.js";
import { type EncryptionShim, encryptionShim, type Rgw, startRgw } from "../support/rgw.js";

let rgw: Rgw;
let shim: EncryptionShim;
let t: ReturnType<typeof testRedis>;
let home: string;
let env: Record<string, string>;
const tag = `tg-${randomBytes(4).toString("hex")}`;

beforeAll(async () => {
  rgw = await startRgw();
  shim = await encryptionShim(rgw.endpoint);
  t = testRedis();
  home = mkdtempSync(join(tmpdir(), "tg-cli-s3-"));
  const yaml = `s3:
  region: us-east-1
  endpoint: ${shim.endpoint}
  buckets:
    - { name: ${tag}-audit, type: audit, kms_key_id: ${rgw.kmsKeyId} }
    - { name: ${tag}-logs, type: logs, retention_years: 4 }
audit: { anchor_minutes: 5 }
`;
  writeFileSync(join(home, "config.yml"), yaml);
  env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "config.yml"),
    REDIS_URL: t.url,
    REDIS_PREFIX: t.prefix,
    // Credentials through the SDK's default provider chain (env), as in production.
    AWS_ACCESS_KEY_ID: rgw.accessKeyId,
    AWS_SECRET_ACCESS_KEY: rgw.secretAccessKey,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  };
}, 60_000);
afterAll(async () => {
  await t?.cleanup();
  await shim?.close();
  await rgw?.stop();
});

describe("tradeguard s3 (RGW)", () => {
  it("apply --dry-run changes nothing; apply makes the buckets; a second apply says no changes; check exits 0, then 1 on drift", async () => {
    const [dry, noS3, badBucket] = await Promise.all([
      runCli(["s3", "apply", "--dry-run", "--json"], env),
      runCli(["s3", "check"], { ...env, TRADEGUARD_CONFIG: "" }),
      runCli(["s3", "apply", "--bucket", "nope"], env),
    ]);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.buckets.map((b: { name: string }) => b.name)).toEqual([`${tag}-audit`, `${tag}-logs`]);
    expect(plan.buckets[0].changes[0]).toEqual({
      setting: "bucket",
      from: "missing",
      to: "created with Object Lock enabled",
    });
    expect(noS3.code).toBe(2);
    expect(noS3.stderr).toMatch(/no s3 section in the configuration/);
    expect(badBucket.code).toBe(2);
    expect(badBucket.stderr).toMatch(/--bucket nope: not a configured bucket \(configured: .*-audit, .*-logs\)/);

    const applied = await runCli(["s3", "apply", "--json"], env);
    expect([applied.code, applied.stderr]).toEqual([0, ""]);
    const report = JSON.parse(applied.stdout);
    expect(report.buckets[1]).toMatchObject({
      name: `${tag}-logs`,
      type: "logs",
      warnings: [expect.stringMatching(/SSE-S3/)],
    });
    expect(report.buckets[1].changes.find((c: { setting: string }) => c.setting === "object_lock").to).toBe(
      "Enabled, COMPLIANCE 4 years",
    );

    // Read-only now: the second apply and the check run side by side.
    const [again, ok] = await Promise.all([runCli(["s3", "apply"], env), runCli(["s3", "check", "--json"], env)]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`^${tag}-audit \\(audit\\): no changes \\(already as configured\\)\n`));
    expect(again.stdout).toMatch(new RegExp(`\n${tag}-logs \\(logs\\): no changes \\(already as configured\\)\n`));

    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      ok: true,
      buckets: [{ name: `${tag}-audit` }, { name: `${tag}-logs` }],
    });

    const direct = createS3Client(
      { region: rgw.region, endpoint: rgw.endpoint },
      { credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } },
    );
    await direct.send(new DeleteBucketLifecycleCommand({ Bucket: `${tag}-logs` }));
    direct.destroy();
    const drift = await runCli(["s3", "check"], env);
    expect(drift.code).toBe(1);
    expect(drift.stdout).toMatch(
      new RegExp(
        `${tag}-logs: DRIFT \\(1 setting\\)\n(.*\n)*  DRIFT lifecycle: want tradeguard-tiering: 30d→STANDARD_IA, .*; have no rule tradeguard-tiering\n`,
      ),
    );
  }, 60_000); // several CLI processes, each loading the AWS SDK

  it("iam-policy prints the policy for the configured buckets (KMS only for key ARNs, said on stderr)", async () => {
    const r = await runCli(
      ["iam-policy", "--no-apply", "--secret-arn", "arn:aws:secretsmanager:us-east-1:1:secret:x"],
      env,
    );
    expect(r.code).toBe(0);
    const p = JSON.parse(r.stdout);
    expect(p.Statement.map((s: { Sid: string }) => s.Sid)).toEqual([
      "TradeguardCheckBucketSettings",
      "TradeguardPutRecords",
      "TradeguardListCheckpointVersions",
      "TradeguardReadCheckpoints",
      "TradeguardSecretsRotation",
    ]);
    expect(p.Statement[0].Resource).toEqual([`arn:aws:s3:::${tag}-audit`, `arn:aws:s3:::${tag}-logs`]);
    expect(r.stderr).toMatch(/kms_key_id .* is not a key ARN/);
  });

  it("audit anchor writes the checkpoint into the audit bucket; verify --checkpoints reads it back (exit 0, then 1)", async () => {
    const direct = createS3Client(
      { region: rgw.region, endpoint: rgw.endpoint },
      { credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey } },
    );
    // RGW Pacific refuses every PutObject while BlockPublicAcls is on (the owner's too): off for this bucket only.
    await direct.send(
      new PutPublicAccessBlockCommand({
        Bucket: `${tag}-audit`,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: false,
          IgnorePublicAcls: true,
          BlockPublicPolicy: true,
          RestrictPublicBuckets: true,
        },
      }),
    );
    direct.destroy();
    const signer = loadAuditKey(join(home, "audit-key.pem"), { create: true });
    const log = new AuditLog({ redis: t.redis, keys: t.keys, signer, file: join(home, "audit.jsonl"), log: silentLog });
    for (let i = 0; i < 4; i++) await log.append({ actor: "U1", action: "mode.set", details: { i } });
    const a = await runCli(["audit", "anchor", "--json"], env);
    expect(a.code).toBe(0);
    expect(JSON.parse(a.stdout)).toMatchObject({
      written: true,
      seq: 4,
      location: expect.stringMatching(new RegExp(`^s3://${tag}-audit/checkpoints/000000000004\\.json\\?versionId=`)),
    });
    const ok = await runCli(["audit", "verify", "--checkpoints", "--json"], env);
    expect([ok.code, JSON.parse(ok.stdout).checkpoints.newest]).toEqual([0, 4]);
    await t.redis.xdel(t.keys.auditLog, "4-0");
    const bad = await runCli(["audit", "verify", "--checkpoints", "--json"], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      ok: false,
      entries: 3,
      firstBad: 4,
      reason: expect.stringMatching(/^truncated/),
    });
  });

  it("doctor reaches every configured bucket, and names one that is not there", async () => {
    const r = await runCli(["doctor", "--json"], env);
    const s3 = JSON.parse(r.stdout).checks.filter((c: { name: string }) => c.name.startsWith("s3"));
    expect(s3).toEqual([
      expect.objectContaining({ name: `s3 audit ${tag}-audit`, status: "ok" }),
      expect.objectContaining({ name: `s3 logs ${tag}-logs`, status: "ok" }),
    ]);
    writeFileSync(
      join(home, "missing.yml"),
      `s3:\n  region: us-east-1\n  endpoint: ${rgw.endpoint}\n  buckets:\n    - { name: ${tag}-nowhere, type: snapshots }\n`,
    );
    const m = await runCli(["doctor", "--json"], { ...env, TRADEGUARD_CONFIG: join(home, "missing.yml") });
    expect(m.code).toBe(1);
    expect(JSON.parse(m.stdout).checks).toContainEqual(
      expect.objectContaining({ name: `s3 snapshots ${tag}-nowhere`, status: "fail" }),
    );
  });
});
