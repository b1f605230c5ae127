// /status (Slack), `tradeguard status` and App Home during a Redis outage or failover: the state within a bound, or a
// clear refusal that says why — never a hang past Slack's patience, never "something went wrong".
import { StateUnavailableError } from "../errors.js";
import { isConnectionError } from "../state/redis.js";
import type { OpsDeps } from "./deps.js";
import { getStatus, type StatusView } from "./status.js";
import { message, within } from "./within.js";

/** The longest a status read may take before it is answered with "Redis is not answering". */
export const STATUS_TIMEOUT_MS = 4_000;

/** The status view, or a StateUnavailableError naming the Redis and what to do, within STATUS_TIMEOUT_MS. */
export async function liveStatus(deps: OpsDeps): Promise<StatusView> {
  try {
    return await within(getStatus(deps), STATUS_TIMEOUT_MS, "Redis");
  } catch (err) {
    if (!isConnectionError(err) && !/did not answer within/.test(message(err))) throw err;
    const where = deps.config.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@");
    throw new StateUnavailableError(
      `Redis (${where}) is not answering: ${message(err)}. A failover may be in progress; trading processes refuse new orders while they cannot read the mode. Try again in a few seconds (RUNBOOK.md#sop-redis-failover).`,
      { cause: err },
    );
  }
}
