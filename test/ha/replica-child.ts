// One bot replica for test/ha/replicas.test.ts, as its own process: the real runtime and guard runner (the
// composition root, node-cron schedules, leases in Redis) running one guard every second. The guard's probe counts
// each run per slot in Redis (`test:runs`, slot → runs); a probe that takes the `test:hold` token records its slot in
// `test:held` and then blocks, so the parent knows which replica holds a tick mid-tick and SIGKILLs it there.
// Prints `ready <instance id>` once its schedules run; SIGTERM stops it cleanly.

import { z } from "zod";
import { loadConfig } from "../../src/config.js";
import { defineGuard } from "../../src/jobs/guard.js";
import { allGuards } from "../../src/jobs/registry.js";
import type { TickContext } from "../../src/jobs/runner.js";
import { createLogger } from "../../src/log.js";
import { createRuntime } from "../../src/main.js";
import type { Notifier } from "../../src/notify.js";
import type { Runtime } from "../../src/runtime.js";

let rt: Runtime | undefined;
export const counter = defineGuard({
  name: "replica_count",
  schedule: "* * * * * *",
  config: z.object({}),
  reads: () => ({}),
  probe: async (_c, ctx) => {
    const { slot } = ctx as TickContext;
    if (!rt || !slot) return;
    const key = rt.keys.raw;
    if ((await rt.redis.getdel(key("test:hold"))) !== null) {
      await rt.redis.hset(key("test:held"), slot, rt.instanceId);
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve)); // killed here
    }
    await rt.redis.hincrby(key("test:runs"), slot, 1);
  },
  evaluate: () => [],
});

const quiet: Notifier = { announce: async () => null };
const log = createLogger({ level: process.env.LOG_LEVEL ?? "warn", fd: 2 });
const config = loadConfig(process.env, [...allGuards, counter]);
rt = await createRuntime(config, { log, notifier: quiet, guards: [counter], alertIntervalMs: 0 });
rt.guards.start();
process.stdout.write(`ready ${rt.instanceId}\n`);
process.on("SIGTERM", () => {
  void (async () => {
    await rt!.guards.stop();
    await rt!.close();
    process.exit(0);
  })();
});
