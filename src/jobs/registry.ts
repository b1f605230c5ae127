// Every guard the bot schedules. One line per guard; each lives in its own file.
import { apiQuota } from "./api-quota.js";
import { economicEvents } from "./economic-events.js";
import type { Guard } from "./guard.js";
import { luldSsrGuard } from "./luld-ssr.js";
import { marketHoursGuard } from "./market-hours.js";
import { pdtLocateGuard } from "./pdt-locate.js";
import { policyWatchdog } from "./policy-watchdog.js";
import { s3Drift } from "./s3-drift.js";
import { stateIntegrity } from "./state-integrity.js";
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
];
