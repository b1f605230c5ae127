// The operation layer: what Slack handlers, the CLI and jobs call. Written once.
import type { OpsDeps } from "./deps.js";
import { blastRadius, PanicOperation } from "./panic.js";
import { ResumeOperation } from "./resume.js";
import { authorize } from "./roles.js";
import { getStatus } from "./status.js";

/** Builds the operations over one set of dependencies. */
export function createOperations(deps: OpsDeps) {
  return {
    deps,
    panic: new PanicOperation(deps),
    resume: new ResumeOperation(deps),
    status: () => getStatus(deps),
    blastRadius: (timeoutMs?: number) => blastRadius(deps, timeoutMs),
    authorize: (actor: string, role: Parameters<typeof authorize>[2], action: string) =>
      authorize(deps, actor, role, action),
  };
}

export type Operations = ReturnType<typeof createOperations>;
