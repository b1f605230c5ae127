// tradeguard s3 apply | check, and tradeguard iam-policy (docs/s3.md)
import type { Command } from "commander";
import type { Config } from "../config.js";
import type { ApplyReport, CheckReport } from "../s3/buckets.js";
import { type S3Config, s3Of } from "../s3/config.js";
import { iamPolicy, isKmsKeyArn } from "../s3/iam.js";
import { CliExit, cliConfig, EXIT, printJson } from "./context.js";

function s3Section(config: Config): S3Config {
  const s3 = s3Of(config);
  if (!s3)
    throw new CliExit(
      EXIT.usage,
      "no s3 section in the configuration: add s3: {region, buckets: [{name, type}]} to the TRADEGUARD_CONFIG file (docs/s3.md)",
    );
  return s3;
}

/** The S3 SDK, loaded only by these commands (every CLI command, panic included, loads this file). */
async function sdk() {
  const [buckets, client] = await Promise.all([import("../s3/buckets.js"), import("../s3/client.js")]);
  return { ...buckets, ...client };
}

function printApply(report: ApplyReport, dryRun: boolean): void {
  for (const b of report.buckets) {
    const n = b.changes.length;
    const head =
      n === 0 ? "no changes (already as configured)" : `${n} ${dryRun ? "change(s) to make" : "change(s) made"}`;
    process.stdout.write(`${b.name} (${b.type}): ${head}\n`);
    for (const c of b.changes) process.stdout.write(`  ${c.setting}: ${c.from} → ${c.to}\n`);
    for (const w of b.warnings) process.stdout.write(`  warning: ${w}\n`);
  }
}

function printCheck(report: CheckReport): void {
  for (const b of report.buckets) {
    const bad = b.checks.filter((c) => !c.ok);
    process.stdout.write(
      `${b.name}: ${bad.length ? `DRIFT (${bad.length} setting${bad.length === 1 ? "" : "s"})` : "ok"}\n`,
    );
    for (const c of b.checks)
      process.stdout.write(
        `  ${c.ok ? "ok   " : "DRIFT"} ${c.setting}: ${c.ok ? c.have : `want ${c.want}; have ${c.have}`}\n`,
      );
  }
}

/** Registers `s3 apply`, `s3 check` and `iam-policy`. */
export function registerS3(program: Command): void {
  const s3 = program.command("s3").description("the desk's S3 buckets: WORM retention, lifecycle, hardening");

  s3.command("apply")
    .description("make every configured bucket what its type requires (idempotent)")
    .option("--bucket <name>", "only this configured bucket")
    .option("--dry-run", "print the differences and change nothing")
    .option("--json", 'print {"buckets":[{name,type,changes,warnings}]}')
    .action(async (opts: { bucket?: string; dryRun?: boolean; json?: boolean }) => {
      const section = s3Section(cliConfig());
      const buckets = opts.bucket ? section.buckets.filter((b) => b.name === opts.bucket) : section.buckets;
      if (!buckets.length)
        throw new CliExit(
          EXIT.usage,
          `--bucket ${opts.bucket}: not a configured bucket (configured: ${section.buckets.map((b) => b.name).join(", ")})`,
        );
      const { apply, check, createS3Client } = await sdk();
      const client = createS3Client(section);
      try {
        const report = await apply(client, buckets, { dryRun: opts.dryRun, region: section.region });
        if (opts.json) printJson(report);
        else printApply(report, !!opts.dryRun);
        if (opts.dryRun) return;
        // What the server actually holds now: a setting it refused or did not store is still drift.
        const after = await check(client, buckets);
        if (!after.ok) {
          const left = after.buckets.flatMap((b) => b.checks.filter((c) => !c.ok).map((c) => `${b.name} ${c.setting}`));
          throw new CliExit(
            EXIT.failed,
            `still not as configured after apply: ${left.join(", ")} (tradeguard s3 check)`,
          );
        }
      } finally {
        client.destroy();
      }
    });

  s3.command("check")
    .description("report drift from what each bucket's type requires; changes nothing (exit 1 on drift)")
    .option("--json", 'print {"ok":bool,"buckets":[{name,checks:[{setting,want,have,ok}]}]}')
    .action(async (opts: { json?: boolean }) => {
      const section = s3Section(cliConfig());
      const { check, createS3Client } = await sdk();
      const client = createS3Client(section);
      try {
        const report = await check(client, section.buckets);
        if (opts.json) printJson(report);
        else printCheck(report);
        if (!report.ok) throw new CliExit(EXIT.failed);
      } finally {
        client.destroy();
      }
    });

  program
    .command("iam-policy")
    .description("print the least-privilege IAM policy (JSON) for the configured buckets")
    .option("--secret-arn <arn...>", "Secrets Manager secrets the bot rotates (adds their actions)")
    .option("--no-apply", "leave out the bucket-settings writes of s3 apply (for the bot's own role)")
    .action((opts: { secretArn?: string[]; apply: boolean }) => {
      const section = s3Section(cliConfig());
      for (const b of section.buckets)
        if (b.kmsKeyId && !isKmsKeyArn(b.kmsKeyId))
          process.stderr.write(
            `tradeguard: ${b.name}: kms_key_id ${b.kmsKeyId} is not a key ARN, so the policy has no KMS permissions for it; give the key's ARN\n`,
          );
      printJson(iamPolicy(section.buckets, { secretsManagerArns: opts.secretArn, apply: opts.apply }));
    });
}
