// The operation layer: what Slack handlers, the CLI and jobs call. Written once; each operation checks the actor's
// role itself, so a transport only maps a refusal to its wire format.
import { acknowledgeAlert } from "./alerts.js";
import { blastRadius } from "./blast-radius.js";
import { BudgetOperation } from "./budget.js";
import { CutoverOperation } from "./cutover.js";
import type { OpsDeps } from "./deps.js";
import { DrOperation } from "./dr.js";
import { EndpointOperation } from "./endpoints.js";
import { PanicOperation } from "./panic.js";
import { PanicRequests } from "./panic-request.js";
import { ReconOperation } from "./recon.js";
import { ResumeOperation } from "./resume.js";
import { authorize } from "./roles.js";
import { RotateOperation } from "./rotate.js";
import { SecretsOperation } from "./secrets.js";
import { runSoak, type SoakInput } from "./soak.js";
import { liveStatus } from "./status-live.js";

/** Builds the operations over one set of dependencies. */
export function createOperations(deps: OpsDeps) {
  const panic = new PanicOperation(deps);
  const secrets = new SecretsOperation(deps);
  const resume = new ResumeOperation(deps);
  const rotate = new RotateOperation(deps, secrets);
  return {
    deps,
    panic,
    /** /panic's request → confirmation token → click (the CLI uses `prepare` without the token). */
    panicRequest: new PanicRequests(deps, panic),
    resume,
    secrets,
    rotate,
    recon: new ReconOperation(deps),
    /** DR restore rehearsals (`tradeguard dr`), the monthly reminder. */
    dr: new DrOperation(deps),
    /** The go/no-go checklist and the two-person enabling of an asset class (`tradeguard cutover`). */
    cutover: new CutoverOperation(deps),
    /** Error budgets: status, lifting a spent budget's policy (`tradeguard budget`). */
    budget: new BudgetOperation(deps),
    /** Broker endpoints: list them, switch one back after a failover (`tradeguard endpoint`). */
    endpoints: new EndpointOperation(deps),
    /** The latency soak of a broker's cheap read (`tradeguard soak`). */
    soak: (input: SoakInput) => runSoak(deps, input),
    /** The status view, or within 4 s a clear error when Redis does not answer (an outage, a failover). */
    status: () => liveStatus(deps),
    blastRadius: (timeoutMs?: number) => blastRadius(deps, timeoutMs),
    acknowledgeAlert: (actor: string, field: string) => acknowledgeAlert(deps, actor, field),
    authorize: (actor: string, role: Parameters<typeof authorize>[2], action: string) =>
      authorize(deps, actor, role, action),
  };
}

export type Operations = ReturnType<typeof createOperations>;
