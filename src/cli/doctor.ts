// tradeguard doctor [--json]: the deployment preflight. Exit 0 when nothing failed (warnings and skipped checks
// allowed), 1 when a check failed; --json prints {"ok","checks":[{"name","status","detail","ms"}]}.
import type { Command } from "commander";
import type { CheckStatus } from "../doctor/checks.js";
import { runDoctor } from "../doctor/index.js";
import { CliExit, EXIT, printJson, withRuntime } from "./context.js";
import { paint, table } from "./style.js";

const MARK: Record<CheckStatus, string> = {
  ok: paint("green", "✓ ok"),
  warn: paint("yellow", "! warn"),
  fail: paint("red", "✗ FAIL"),
  skip: paint("dim", "- skip"),
};

export function registerDoctor(program: Command): void {
  program
    .command("doctor")
    .description("check the deployment: Redis, audit key, Slack, brokers, NTP, S3, config (exit 1 on a failure)")
    .option("--json", "print the report as JSON")
    .addHelpText(
      "after",
      "\nEach check is bounded (5 s) and read-only, apart from a probe key in Redis that expires in 10 s.\n" +
        "Environment: REDIS_URL, TRADEGUARD_CONFIG, TRADEGUARD_HOME, SLACK_BOT_TOKEN, SLACK_ALERT_CHANNEL.\n",
    )
    .action(async (opts: { json?: boolean }) => {
      const report = await withRuntime((rt) => runDoctor(rt));
      if (opts.json) printJson(report);
      else {
        process.stdout.write(
          `${table(
            ["check", "status", "ms", "detail"],
            report.checks.map((c) => [c.name, MARK[c.status], String(c.ms), c.detail]),
          )}\n`,
        );
        process.stdout.write(
          report.ok
            ? `${paint("green", "All checks passed.")}\n`
            : `${paint("red", `${report.checks.filter((c) => c.status === "fail").length} check(s) failed.`)}\n`,
        );
      }
      if (!report.ok) throw new CliExit(EXIT.failed);
    });
}
