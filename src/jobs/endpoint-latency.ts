// Endpoint latency and failover (`endpoint_latency`). A broker may list `endpoints: [primary, backup…]`. Every tick
// the probe times one cheap authenticated read against each endpoint (Alpaca GET /v2/account, ccxt fetchBalance) and
// appends the sample to that endpoint's window in Redis (`endpoint:latency:<broker>:<url>`, newest first, bounded);
// evaluate (pure) judges the window as src/brokers/latency.ts defines: the `percentile` (p99 by default; a failed
// read counts as slower than any threshold) over `window_ms`, breaching above `threshold_ms`. When the active endpoint
// has breached at every sample for `duration_ms`, or failed `max_failures` reads in a row, the guard moves the
// broker's active-endpoint flag (`endpoint:active:<broker>`, which every adapter follows within a second) to the next
// healthy endpoint in configured order, with a critical alert; the runner audits the flag change. It never moves back
// because the primary recovered: only `tradeguard endpoint use <broker> <url>` does (SOP sop-endpoint-failover).
// Its subject is the brokers' `endpoints`: the composition root binds the probe (withEndpointLatency) and marks the
// guard configured when a broker lists endpoints (declareEndpointLatency).
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Broker } from "../brokers/broker.js";
import { activeFlagFields, activeFlagSchema, declaresEndpoints, endpointsOf } from "../brokers/endpoints.js";
import {
  appendSamples,
  assess,
  type BreachRule,
  decodeSamples,
  type EndpointHealth,
  type LatencySample,
  roundMs,
  summarize,
  timeRead,
} from "../brokers/latency.js";
import type { Config } from "../config.js";
import { ENDPOINT_KEYS, type Keys } from "../state/keys.js";
import { defineGuard, type Finding, type Guard, type KeyRead, ReadFailure } from "./guard.js";

export const SOP_ENDPOINT = "sop-endpoint-failover";
/** The actor of the guard's flag changes (audit `flag.changed`) and of the flag's `by` field. */
export const ENDPOINT_GUARD_ACTOR = "guard:endpoint_latency";
const NAME = "endpoint_latency";
const HINT = "list a broker's endpoints in the config (brokers[].endpoints: [primary, backup…])";

const configSchema = z
  .object({
    enabled: z.boolean().optional(),
    schedule: z.string().optional(),
    timeout_ms: z.number().optional(),
    /** The percentile judged against the threshold. */
    percentile: z.enum(["p50", "p99"]).default("p99"),
    /** A breach: the percentile over the window above this many ms. */
    threshold_ms: z.number().positive().default(1_000),
    /** A breach that held at every sample for this long switches the endpoint. */
    duration_ms: z.number().int().min(0).default(120_000),
    /** The sliding window the percentile is taken over. */
    window_ms: z.number().int().min(1_000).default(60_000),
    /** Fewer reads than this in the window: not judged (a fresh endpoint, a bot that just started). */
    min_samples: z.number().int().min(1).default(5),
    /** This many failed reads in a row switch the endpoint at once. */
    max_failures: z.number().int().min(1).max(100).default(3),
    /** Samples kept per endpoint (LTRIM); must cover duration_ms + window_ms at the guard's schedule. */
    max_samples: z.number().int().min(10).max(10_000).default(500),
    /** Per-read timeout of the probe; keep it under the guard's timeout_ms (the reads run in parallel). */
    probe_timeout_ms: z.number().int().min(50).max(60_000).default(3_000),
  })
  .strict();
export type EndpointLatencyConfig = z.infer<typeof configSchema>;

/** One broker the guard watches: its endpoints (primary first) and how to time one read against one of them. */
export interface EndpointTarget {
  broker: string;
  urls: string[];
  measure(url: string, at: number, timeoutMs: number, signal: AbortSignal): Promise<LatencySample>;
}

/** Appends this tick's samples to the windows in Redis (one pipeline). */
export type SampleRecorder = (
  samples: { broker: string; url: string; sample: LatencySample }[],
  c: EndpointLatencyConfig,
) => Promise<void>;

export type EndpointLatencyProbe =
  | { unbound: true }
  | { at: number; fresh: Record<string, Record<string, LatencySample>>; recordError: string | null };

/** The rule src/brokers/latency.ts judges by, from the guard's settings. */
export function breachRule(c: EndpointLatencyConfig): BreachRule {
  return {
    percentile: c.percentile === "p50" ? 50 : 99,
    thresholdMs: c.threshold_ms,
    windowMs: c.window_ms,
    durationMs: c.duration_ms,
    minSamples: c.min_samples,
    maxFailures: c.max_failures,
  };
}

const readName = { active: (b: string) => `active:${b}`, window: (b: string, u: string) => `latency:${b}:${u}` };
const hash = z.record(z.string(), z.string());
const list = z.array(z.string());
const fmtMs = (v: number | null) => (v === null ? "not judged" : Number.isFinite(v) ? `${roundMs(v)} ms` : "failing");
const fmtFor = (ms: number) => (ms >= 60_000 ? `${roundMs(ms / 60_000)} min` : `${roundMs(ms / 1000)} s`);

/** Why an endpoint is unusable, in words (for the alert and the flag's `reason`). */
function why(h: EndpointHealth, c: EndpointLatencyConfig, now: number): string {
  if (h.failing) return `${h.consecutiveFailures} failed reads in a row (last: ${h.lastError ?? "unknown"})`;
  return `${c.percentile} ${fmtMs(h.value)} > ${c.threshold_ms} ms for ${fmtFor(now - (h.breachSince ?? now))}`;
}

/** One broker's judgement: its endpoints' health, the active one, and the findings (with the switch, if any). */
export function judgeBroker(
  t: { broker: string; urls: string[] },
  values: Record<string, unknown>,
  fresh: Record<string, LatencySample>,
  now: Date,
  c: EndpointLatencyConfig,
): { active: string; health: Map<string, EndpointHealth>; findings: Finding[] } {
  const base = { guard: NAME, sop: SOP_ENDPOINT };
  const b = t.broker;
  const primary = t.urls[0]!;
  const at = now.getTime();
  const rule = breachRule(c);
  const findings: Finding[] = [];
  const invalid: string[] = [];

  let active = primary;
  let flag: z.infer<typeof activeFlagSchema> | null = null;
  const rawFlag = values[readName.active(b)];
  if (rawFlag instanceof ReadFailure) invalid.push(`${rawFlag.key}: ${rawFlag.message}`);
  else if (rawFlag && Object.keys(rawFlag).length) {
    const p = activeFlagSchema.safeParse(rawFlag);
    if (p.success && t.urls.includes(p.data.url)) {
      active = p.data.url;
      flag = p.data;
    } else
      invalid.push(
        `${ENDPOINT_KEYS.active(b)}: ${p.success ? `url ${JSON.stringify(p.data.url)} is not a configured endpoint` : "no url field"} (adapters use the primary)`,
      );
  }

  const health = new Map<string, EndpointHealth>();
  for (const url of t.urls) {
    const raw = values[readName.window(b, url)];
    let stored: LatencySample[] = [];
    if (raw instanceof ReadFailure) invalid.push(`${raw.key}: ${raw.message}`);
    else {
      const d = decodeSamples((raw ?? []) as string[]);
      stored = d.samples;
      if (d.invalid) invalid.push(`${ENDPOINT_KEYS.latency(b, url)}: ${d.invalid} unreadable sample(s), ${d.problem}`);
    }
    const sample = fresh[url];
    const h = assess(sample ? [sample, ...stored] : stored, at, rule);
    health.set(url, h);
    const role = url === active ? "active" : url === primary ? "primary" : "backup";
    const serious = url === active ? h.breach || h.failing : h.failing;
    if (h.breach || h.failing)
      findings.push({
        ...base,
        key: `${NAME}:${b}:${url}`,
        severity: serious ? "warn" : "info",
        title: `${b} ${role} endpoint ${url}: ${h.failing ? "failing" : `${c.percentile} ${fmtMs(h.value)}`}`,
        detail: `${why(h, c, at)}; ${h.n} read(s) in the last ${fmtFor(c.window_ms)}.${url === active && !h.failing ? ` Fails over once it lasts ${fmtFor(c.duration_ms)}.` : ""}`,
        value: h.failing ? `${h.consecutiveFailures} failures` : fmtMs(h.value),
        threshold: h.failing ? `${c.max_failures} failures` : `${c.threshold_ms} ms`,
      });
  }
  if (invalid.length)
    findings.push({
      ...base,
      key: `${NAME}:${b}:data_invalid`,
      severity: "warn",
      sop: "sop-guard-data-invalid",
      title: `${NAME}: data invalid for ${b}`,
      detail: `Redis holds values the guard cannot read (they are skipped): ${invalid.join("; ")}`,
    });

  // The standing "not on the primary" alert: one key per endpoint in use, open from the failover to the switch back.
  const onBackup = (): Finding => ({
    ...base,
    key: `${NAME}:${b}:on:${active}`,
    severity: "warn",
    title: `${b} runs on ${active}, not its primary`,
    detail: `Since ${flag?.since ?? "?"} by ${flag?.by ?? "?"}${flag?.reason ? ` (${flag.reason})` : ""}. The primary ${primary} now: ${health.get(primary)?.healthy ? "healthy" : "not healthy"}. Switch back with: tradeguard endpoint use ${b} ${primary}`,
  });
  const ha = health.get(active)!;
  if (ha.failing || ha.sustained) {
    const reason = `${active}: ${why(ha, c, at)}`;
    const order = [...t.urls.slice(t.urls.indexOf(active) + 1), ...t.urls.slice(0, t.urls.indexOf(active))];
    const to = order.find((u) => health.get(u)?.healthy);
    if (to) {
      findings.push({
        ...base,
        key: `${NAME}:${b}:on:${to}`,
        severity: "critical",
        title: `${b}: failed over from ${active} to ${to}`,
        detail: `${reason}. Every adapter uses ${to} within a second. It stays there until someone switches back: tradeguard endpoint use ${b} ${primary} (once the primary is healthy again: tradeguard endpoint list).`,
        value: fmtMs(ha.value),
        threshold: `${c.threshold_ms} ms`,
        actions: [
          {
            op: "hset",
            key: ENDPOINT_KEYS.active(b),
            fields: activeFlagFields({ url: to, since: now, by: ENDPOINT_GUARD_ACTOR, reason, from: active }),
          },
        ],
      });
    } else {
      findings.push({
        ...base,
        key: `${NAME}:${b}:no_healthy_endpoint`,
        severity: "critical",
        title: `${b}: ${active} is unusable and no other endpoint is healthy`,
        detail: `${reason}. Staying on ${active}. ${order.map((u) => `${u}: ${health.get(u)?.failing ? "failing" : `${c.percentile} ${fmtMs(health.get(u)?.value ?? null)}`}`).join("; ") || "no other endpoint configured"}.`,
      });
      if (active !== primary) findings.push(onBackup());
    }
  } else if (active !== primary) findings.push(onBackup());
  return { active, health, findings };
}

/** The guard with its probe bound (`null`: the registry's entry, which only declares the guard's settings). */
export function createEndpointLatencyGuard(bound: { targets: EndpointTarget[]; record: SampleRecorder } | null) {
  const targets = bound?.targets ?? [];
  return defineGuard<EndpointLatencyConfig, Record<string, unknown>, EndpointLatencyProbe>({
    name: NAME,
    schedule: "*/10 * * * * *",
    config: configSchema,
    requires: { hint: HINT },
    reads() {
      const reads: Record<string, KeyRead> = {};
      for (const t of targets) {
        reads[readName.active(t.broker)] = {
          key: ENDPOINT_KEYS.active(t.broker),
          type: "hash",
          schema: hash,
          onError: "value",
        };
        for (const url of t.urls)
          reads[readName.window(t.broker, url)] = {
            key: ENDPOINT_KEYS.latency(t.broker, url),
            type: "list",
            schema: list,
            onError: "value",
          };
      }
      return reads;
    },
    async probe(c, ctx) {
      if (!bound) return { unbound: true };
      const at = ctx.now.getTime();
      const fresh: Record<string, Record<string, LatencySample>> = {};
      const taken: { broker: string; url: string; sample: LatencySample }[] = [];
      await Promise.all(
        targets.flatMap((t) =>
          t.urls.map(async (url) => {
            const sample = await t.measure(url, at, c.probe_timeout_ms, ctx.signal);
            fresh[t.broker] = { ...fresh[t.broker], [url]: sample };
            taken.push({ broker: t.broker, url, sample });
          }),
        ),
      );
      let recordError: string | null = null;
      await bound.record(taken, c).catch((err) => {
        recordError = (err as Error)?.message ?? String(err);
      });
      return { at, fresh, recordError };
    },
    evaluate(snapshot, now, c) {
      const p = snapshot.probe;
      const base = { guard: NAME, sop: SOP_ENDPOINT };
      if (!p || "unbound" in p)
        return [
          {
            ...base,
            key: `${NAME}:unbound`,
            severity: "warn",
            title: "Endpoint latency: not measured",
            detail: "No broker endpoints are wired into this process's probe.",
          },
        ];
      const findings = targets.flatMap(
        (t) => judgeBroker(t, snapshot.values, p.fresh[t.broker] ?? {}, now, c).findings,
      );
      if (p.recordError)
        findings.push({
          ...base,
          key: `${NAME}:not_recorded`,
          severity: "warn",
          title: "Endpoint latency: samples not recorded",
          detail: `This tick's reads could not be written to Redis (${p.recordError}); the window misses them.`,
        });
      return findings;
    },
    metrics: [
      {
        name: "tradeguard_endpoint_latency_ms",
        help: "Latency of the cheap authenticated read per broker endpoint over the guard's window (successful reads; NaN when none)",
        labelNames: ["broker", "endpoint", "quantile"],
      },
      {
        name: "tradeguard_endpoint_consecutive_failures",
        help: "Failed reads in a row per broker endpoint",
        labelNames: ["broker", "endpoint"],
      },
      {
        name: "tradeguard_endpoint_active",
        help: "1 for the endpoint each broker's adapters use (as the guard read it this tick), 0 for the others",
        labelNames: ["broker", "endpoint"],
      },
    ],
    measure(snapshot, c) {
      const p = snapshot.probe;
      if (!p || "unbound" in p) return [];
      const out: { name: string; labels: Record<string, string>; value: number }[] = [];
      for (const t of targets) {
        const j = judgeBroker(t, snapshot.values, p.fresh[t.broker] ?? {}, new Date(p.at), c);
        for (const url of t.urls) {
          const labels = { broker: t.broker, endpoint: url };
          const raw = snapshot.values[readName.window(t.broker, url)];
          const stored = raw instanceof ReadFailure ? [] : decodeSamples((raw ?? []) as string[]).samples;
          const fresh = p.fresh[t.broker]?.[url];
          const inWindow = [...(fresh ? [fresh] : []), ...stored].filter(
            (s) => s.ts <= p.at && s.ts > p.at - c.window_ms,
          );
          const lat = summarize(inWindow).latency_ms;
          out.push({
            name: "tradeguard_endpoint_latency_ms",
            labels: { ...labels, quantile: "0.5" },
            value: lat?.p50 ?? Number.NaN,
          });
          out.push({
            name: "tradeguard_endpoint_latency_ms",
            labels: { ...labels, quantile: "0.99" },
            value: lat?.p99 ?? Number.NaN,
          });
          out.push({
            name: "tradeguard_endpoint_consecutive_failures",
            labels,
            value: j.health.get(url)?.consecutiveFailures ?? 0,
          });
          out.push({ name: "tradeguard_endpoint_active", labels, value: url === j.active ? 1 : 0 });
        }
      }
      return out;
    },
  });
}

/** The registry's endpoint_latency: declares the guard (name, schedule, settings); its probe is bound by withEndpointLatency. */
export const endpointLatency = createEndpointLatencyGuard(null);

// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
type AnyGuard = Guard<any, any, any>;

/**
 * `guards` with endpoint_latency bound to the brokers whose config lists endpoints (unchanged when none does). The
 * adapters are looked up by name at each probe (`brokers`): the guard engine is built before them.
 */
export function withEndpointLatency(
  guards: AnyGuard[],
  config: Config,
  brokers: () => readonly Broker[],
  redis: Redis,
  keys: Keys,
): AnyGuard[] {
  const targets: EndpointTarget[] = config.brokers.filter(declaresEndpoints).map((cfg) => ({
    broker: cfg.name,
    urls: endpointsOf(cfg),
    measure: (url, at, timeoutMs, signal) => {
      const b = brokers().find((x) => x.name === cfg.name);
      if (b) return timeRead(b)(url, at, timeoutMs, signal);
      return Promise.resolve({ ts: at, ms: 0, ok: false, error: `no adapter for ${cfg.name} in this process` });
    },
  }));
  if (targets.length === 0) return guards;
  const record: SampleRecorder = (samples, c) =>
    appendSamples(redis, keys, samples, {
      maxSamples: c.max_samples,
      keepMs: Math.max(600_000, 2 * (c.window_ms + c.duration_ms)),
    });
  const bound = createEndpointLatencyGuard({ targets, record });
  return guards.map((g) => (g.name === bound.name ? bound : g));
}

/** Marks endpoint_latency configured exactly when a broker lists endpoints (its subject is not guards.endpoint_latency). */
export function declareEndpointLatency(config: Config): Config {
  const g = config.guards[NAME];
  if (g) g.notConfigured = config.brokers.some(declaresEndpoints) ? null : `not configured — ${HINT}`;
  return config;
}
