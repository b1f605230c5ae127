// Every guard the bot schedules. One line per guard; each lives in its own file.
import { apiQuota } from "./api-quota.js";
import { costGuard } from "./cost.js";
import { drFreshness } from "./dr-freshness.js";
import { economicEvents } from "./economic-events.js";
import { endpointLatency } from "./endpoint-latency.js";
import { errorBudget } from "./error-budget.js";
import { featureSchema } from "./feature-schema.js";
import type { Guard } from "./guard.js";
import { luldSsrGuard } from "./luld-ssr.js";
import { marketHoursGuard } from "./market-hours.js";
import { pdtLocateGuard } from "./pdt-locate.js";
import { policyWatchdog } from "./policy-watchdog.js";
import { s3Drift } from "./s3-drift.js";
import { slippageGuard } from "./slippage.js";
import { stateIntegrity } from "./state-integrity.js";
import { strategyCaps } from "./strategy-caps.js";
import { timeSync } from "./time-sync.js";

// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
export const allGuards: Guard<any, any, any>[] = [
  policyWatchdog,
  economicEvents,
  timeSync,
  apiQuota,
  marketHoursGuard,
  luldSsrGuard,
  pdtLocateGuard,
  stateIntegrity,
  s3Drift,
  endpointLatency,
  errorBudget,
  drFreshness,
  strategyCaps,
  featureSchema,
  costGuard,
  slippageGuard,
];
