// Prometheus metrics: default process metrics plus tradeguard's own, on one registry built by the composition root.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** Builds the registry and the app metrics. `readMode` feeds the mode gauge at scrape time. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tradeguard_" });
  const m = {
    registry,
    mode: new Gauge({
      name: "tradeguard_mode",
      help: "1 for the current trading mode (label mode)",
      labelNames: ["mode"],
      registers: [registry],
    }),
    redisUp: new Gauge({
      name: "tradeguard_redis_up",
      help: "1 when Redis answered the last health check",
      registers: [registry],
    }),
    auditAppends: new Counter({
      name: "tradeguard_audit_appends_total",
      help: "Audit entries appended",
      labelNames: ["action"],
      registers: [registry],
    }),
    slackRequests: new Counter({
      name: "tradeguard_slack_requests_total",
      help: "Slack deliveries handled",
      labelNames: ["kind", "outcome"],
      registers: [registry],
    }),
    errors: new Counter({
      name: "tradeguard_errors_total",
      help: "Errors by code (unexpected = unknown errors)",
      labelNames: ["code"],
      registers: [registry],
    }),
    panics: new Counter({
      name: "tradeguard_panics_total",
      help: "Panics by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    panicDuration: new Histogram({
      name: "tradeguard_panic_duration_seconds",
      help: "Time from halt requested to verification",
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers: [registry],
    }),
    brokerCalls: new Counter({
      name: "tradeguard_broker_calls_total",
      help: "Broker calls by broker, op and outcome",
      labelNames: ["broker", "op", "outcome"],
      registers: [registry],
    }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
