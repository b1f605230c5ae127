// Prometheus metrics: default process metrics plus tradeguard's own, on one registry built by the composition root.
// Every metric comes from the catalog (src/metrics-catalog.ts): its name, type, help and labels are written there
// once, and a name the catalog lacks cannot be registered.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { type MetricName, type MetricSpec, type MetricType, metricSpec, PANIC_OUTCOMES } from "./metrics-catalog.js";

/** A metric was asked for by a name the catalog lacks, or as the wrong type. */
export class UncataloguedMetricError extends Error {
  constructor(name: string, why: string) {
    super(`metric ${name}: ${why} (every exported metric is declared in src/metrics-catalog.ts)`);
    this.name = "UncataloguedMetricError";
  }
}

function specOf(name: string, type: MetricType): MetricSpec {
  const s = metricSpec(name);
  if (!s) throw new UncataloguedMetricError(name, "not in the catalog");
  if (s.type !== type) throw new UncataloguedMetricError(name, `catalogued as a ${s.type}, asked for as a ${type}`);
  if (s.source === "prom-client") throw new UncataloguedMetricError(name, "registered by collectDefaultMetrics");
  return s;
}

function guardSpec(name: string): MetricSpec {
  const s = specOf(name, "gauge");
  if (!s.source.startsWith("guard:")) throw new UncataloguedMetricError(name, `set by ${s.source}, not by a guard`);
  return s;
}

/** Builds the registry and the app metrics from the catalog. Guards' gauges are registered when first measured. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "tradeguard_" });
  const registered = new Map<string, Gauge | Counter | Histogram>();
  const make = <T extends Gauge | Counter | Histogram>(name: string, type: MetricType): T => {
    const s = specOf(name, type);
    const existing = registered.get(name);
    if (existing) return existing as T;
    const common = { name: s.name, help: s.help, labelNames: [...s.labels], registers: [registry] };
    const m =
      type === "gauge"
        ? new Gauge(common)
        : type === "counter"
          ? new Counter(common)
          : new Histogram({ ...common, buckets: [...(s.buckets ?? [])] });
    registered.set(name, m);
    return m as T;
  };
  const gauge = (name: MetricName) => make<Gauge>(name, "gauge");
  const counter = (name: MetricName) => make<Counter>(name, "counter");
  const histogram = (name: MetricName) => make<Histogram>(name, "histogram");

  const panics = counter("tradeguard_panics_total");
  // Each outcome exported from 0, so that increase() sees the first HALT-PARTIAL of a process.
  for (const outcome of PANIC_OUTCOMES) panics.inc({ outcome }, 0);
  return {
    registry,
    // Set from Redis on every scrape (src/bot/live-metrics.ts).
    mode: gauge("tradeguard_mode"),
    modeSince: gauge("tradeguard_mode_since_timestamp_seconds"),
    redisUp: gauge("tradeguard_redis_up"),
    heartbeatAge: gauge("tradeguard_heartbeat_age_seconds"),
    panicRunning: gauge("tradeguard_panic_running"),
    panicLastOutcome: gauge("tradeguard_panic_last_outcome"),
    panicLastFinished: gauge("tradeguard_panic_last_finished_timestamp_seconds"),
    alertsOpen: gauge("tradeguard_alerts_open"),
    // Set as things happen.
    auditAppends: counter("tradeguard_audit_appends_total"),
    slackRequests: counter("tradeguard_slack_requests_total"),
    errors: counter("tradeguard_errors_total"),
    panics,
    panicDuration: histogram("tradeguard_panic_duration_seconds"),
    brokerCalls: counter("tradeguard_broker_calls_total"),
    // The guard runner's, every tick.
    guardState: gauge("tradeguard_guard_state"),
    guardRuns: counter("tradeguard_guard_runs_total"),
    guardDuration: histogram("tradeguard_guard_duration_seconds"),
    /**
     * A guard's gauge (Guard.metrics), registered on its first use, so that a guard that never measured exports
     * nothing rather than a 0 that reads as a real value. Throws for a name the catalog lacks.
     */
    guardGauge(name: string): Gauge {
      guardSpec(name);
      return make<Gauge>(name, "gauge");
    },
    /** Throws unless `name` is a guard's catalogued gauge (Guard.metrics, checked when the runner is built). */
    checkGuardGauge(name: string): void {
      guardSpec(name);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
