// The operation layer: what Slack handlers, the CLI and jobs call. Written once; each operation checks the actor's
// role itself, so a transport only maps a refusal to its wire format.
import { acknowledgeAlert } from "./alerts.js";
import { blastRadius } from "./blast-radius.js";
import type { OpsDeps } from "./deps.js";
import { PanicOperation } from "./panic.js";
import { PanicRequests } from "./panic-request.js";
import { ReconOperation } from "./recon.js";
import { ResumeOperation } from "./resume.js";
import { authorize } from "./roles.js";
import { RotateOperation } from "./rotate.js";
import { SecretsOperation } from "./secrets.js";
import { getStatus } from "./status.js";

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
    status: () => getStatus(deps),
    blastRadius: (timeoutMs?: number) => blastRadius(deps, timeoutMs),
    acknowledgeAlert: (actor: string, field: string) => acknowledgeAlert(deps, actor, field),
    authorize: (actor: string, role: Parameters<typeof authorize>[2], action: string) =>
      authorize(deps, actor, role, action),
  };
}

export type Operations = ReturnType<typeof createOperations>;
