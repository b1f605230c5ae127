// The tradeguard command line. Every command calls the same operations as the Slack handlers.
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

/** Builds the commander program. */
export function buildProgram(): Command {
  const program = new Command("tradeguard")
    .description("operational safety layer of the trading desk: halt, resume, status, audit")
    .exitOverride()
    .showHelpAfterError();
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
