// The tradeguard command line. Every command calls the same operations as the Slack handlers.
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { registerAudit } from "./audit.js";
import { registerBudget } from "./budget.js";
import { reportCliError } from "./context.js";
import { registerCutover } from "./cutover.js";
import { registerDoctor } from "./doctor.js";
import { registerDr } from "./dr.js";
import { registerEndpoint } from "./endpoint.js";
import { registerGrafana } from "./grafana.js";
import { registerGuards } from "./guards.js";
import { registerKillSwitch } from "./killswitch.js";
import { registerMarket } from "./market.js";
import { registerMonitoring } from "./monitoring.js";
import { registerPaper } from "./paper.js";
import { registerQuota } from "./quota.js";
import { registerRecon } from "./recon.js";
import { registerReport } from "./report.js";
import { registerRunbook } from "./runbook.js";
import { registerS3 } from "./s3.js";
import { registerSecrets } from "./secrets.js";
import { registerSoak } from "./soak.js";
import { registerStart } from "./start.js";
import { registerStatus } from "./status.js";

/** The version of the installed package (package.json sits two levels above both src/cli and dist/cli). */
export function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "unknown";
  } catch {
    return "unknown"; // a build copied without its package.json: every other command still works
  }
}

const ROOT_HELP = `
Environment:
  REDIS_URL           where Redis is (redis://, rediss://, or redis+sentinel://…); default redis://127.0.0.1:6379
  REDIS_PREFIX        key prefix shared with the trading processes
  TRADEGUARD_CONFIG   the YAML configuration file (brokers, roles, guards, runbook_url, …)
  TRADEGUARD_HOME     where the audit key, the local audit file and snapshots live
  LOG_LEVEL           fatal|error|warn|info|debug|trace|silent (the CLI logs at warn unless told otherwise)
  SLACK_BOT_TOKEN, SLACK_ALERT_CHANNEL   post alerts and reports to Slack instead of the console
  NO_COLOR, FORCE_COLOR                  colour off (https://no-color.org) or on, whatever the terminal

Exit codes: 0 ok, 1 operation failed or found something (refused, HALT-PARTIAL, tampered, a finding at warn or
worse), 2 usage or configuration, 3 Redis unreachable.

Examples:
  tradeguard status
  tradeguard panic --reason "runaway strategy" --yes
  tradeguard guards run --once --at 2026-12-09T13:50:00-05:00 --guard economic_events --json
  tradeguard runbook halt
`;

/** Builds the commander program. */
export function buildProgram(): Command {
  const program = new Command("tradeguard")
    .description("operational safety layer of the trading desk: halt, resume, status, audit")
    .version(version(), "-V, --version", "print the version")
    .exitOverride()
    .showHelpAfterError()
    .addHelpText("after", ROOT_HELP);
  registerStart(program);
  registerStatus(program);
  registerKillSwitch(program);
  registerAudit(program);
  registerGuards(program);
  registerPaper(program);
  registerQuota(program);
  registerRecon(program);
  registerReport(program);
  registerRunbook(program);
  registerMarket(program);
  registerS3(program);
  registerSecrets(program);
  registerDr(program);
  registerCutover(program);
  registerBudget(program);
  registerEndpoint(program);
  registerSoak(program);
  registerMonitoring(program);
  registerGrafana(program);
  registerDoctor(program);
  return program;
}

/** Runs the CLI and returns the process exit code. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    return reportCliError(err);
  }
}
