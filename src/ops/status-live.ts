// /status (Slack), `tradeguard status` and App Home during a Redis outage or failover: the state within a bound, or a
// clear refusal that says why — never a hang past Slack's patience, never "something went wrong".
import { StateUnavailableError } from "../errors.js";
import { isConnectionError } from "../state/redis.js";
import type { OpsDeps } from "./deps.js";
import { getStatus, type StatusView } from "./status.js";
import { message, within } from "./within.js";

/** The longest a status read may take before it is answered with "Redis is not answering". */
export const STATUS_TIMEOUT_MS = 4_000;

/**
 * Coalesces concurrent reads without ever answering from before the request: a caller that arrives while a read is
 * in flight waits for the NEXT read, which every caller that arrived meanwhile shares. So ten people typing /status
 * during an incident cost about two reads, and each of them sees state read after they asked.
 */
export class NextRead<T> {
  private running: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.running) return this.start();
    this.next ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.start();
      });
    return this.next;
  }

  private start(): Promise<T> {
    const p: Promise<T> = this.read().finally(() => {
      if (this.running === p) this.running = undefined;
    });
    this.running = p;
    return p;
  }
}

const reads = new WeakMap<OpsDeps, NextRead<StatusView>>();

/** The status view, or a StateUnavailableError naming the Redis and what to do, within STATUS_TIMEOUT_MS. */
export async function liveStatus(deps: OpsDeps): Promise<StatusView> {
  let shared = reads.get(deps);
  if (!shared) {
    // Bounded here too, so a read that hangs is given up and the next caller starts a fresh one.
    shared = new NextRead(() => within(getStatus(deps), STATUS_TIMEOUT_MS, "Redis"));
    reads.set(deps, shared);
  }
  try {
    return await within(shared.get(), STATUS_TIMEOUT_MS, "Redis");
  } catch (err) {
    if (!isConnectionError(err) && !/did not answer within/.test(message(err))) throw err;
    const where = deps.config.redis.url.replace(/\/\/[^@/]*@/, "//[redacted]@");
    throw new StateUnavailableError(
      `Redis (${where}) is not answering: ${message(err)}. A failover may be in progress; trading processes refuse new orders while they cannot read the mode. Try again in a few seconds (RUNBOOK.md#sop-redis-failover).`,
      { cause: err },
    );
  }
}
