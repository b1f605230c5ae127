// Broker endpoints as operators see and steer them: every broker's configured endpoints, which one its adapters use
// (the flag `endpoint:active:<broker>`), and each one's latency window; and the one way back after a failover,
// `tradeguard endpoint use <broker> <url>` (role `rotate`: the people who administer broker connections). The guard
// (src/jobs/endpoint-latency.ts) only ever moves away from a failing endpoint; returning is a decision people make.
import { z } from "zod";
import type { Broker } from "../brokers/broker.js";
import { type ActiveFlag, activeFlagFields, activeFlagSchema, normaliseFor } from "../brokers/endpoints.js";
import { assess, readWindow, summarize, timeRead } from "../brokers/latency.js";
import { UsageError, UserInputError } from "../errors.js";
import { audit, type OpsDeps } from "./deps.js";
import { authorize } from "./roles.js";
import { message, within } from "./within.js";

/** The endpoint_latency guard's alert stream (its name): `use` resolves the "runs on <url>" alert it leaves open. */
export const ENDPOINT_STREAM = "endpoint_latency";
const ANNOUNCE_TIMEOUT_MS = 10_000;

const wrongType = (err: unknown) => /WRONGTYPE/.test(message(err));

/** The few guard settings the listing needs (the guard's schema owns them; defaults as there). */
const listingSettings = z
  .object({
    window_ms: z.number().default(60_000),
    threshold_ms: z.number().default(1_000),
    percentile: z.enum(["p50", "p99"]).default("p99"),
    duration_ms: z.number().default(120_000),
    min_samples: z.number().default(5),
    max_failures: z.number().default(3),
  })
  .loose();

/** One endpoint in `tradeguard endpoint list`. */
export interface EndpointRow {
  url: string;
  role: "primary" | "backup";
  active: boolean;
  /** Reads in the guard's window, and their figures (successful reads). */
  window: ReturnType<typeof summarize>;
  consecutive_failures: number;
  healthy: boolean;
  last_read_at: string | null;
  last_error: string | null;
  unreadable_samples: number;
}

/** One broker in `tradeguard endpoint list`. */
export interface BrokerEndpointsStatus {
  broker: string;
  kind: string;
  active: string;
  /** The flag as stored (null: absent, the primary is used). */
  flag: ActiveFlag | null;
  /** Why the flag is ignored (not a configured endpoint, no url), or null. */
  flag_problem: string | null;
  endpoints: EndpointRow[];
}

export interface UseResult {
  broker: string;
  from: string;
  to: string;
  /** False when `to` was already active (nothing written). */
  changed: boolean;
  /** The check read against `to` before switching (null with --force). */
  check: { ok: boolean; ms: number; error?: string } | null;
}

/** Listing and switching broker endpoints. */
export class EndpointOperation {
  constructor(private readonly deps: OpsDeps) {}

  /** The broker `name` with its endpoints; UsageError when it is unknown or has none (paper). */
  broker(name: string): Broker & Required<Pick<Broker, "endpoints">> {
    const b = this.deps.brokers.find((x) => x.name === name);
    if (!b) {
      const known = this.deps.brokers.map((x) => x.name).join(", ");
      throw new UsageError(`no broker named ${name} is configured (configured: ${known || "none"})`);
    }
    if (!b.endpoints)
      throw new UsageError(
        `broker ${name} (${b.kind}) has no endpoints to choose from (give it endpoints: in the config)`,
      );
    return b as Broker & Required<Pick<Broker, "endpoints">>;
  }

  /** Every broker with endpoints: the active one, the flag, each endpoint's window (reads Redis; no role). */
  async list(): Promise<BrokerEndpointsStatus[]> {
    const d = this.deps;
    const s = listingSettings.parse(d.config.guards[ENDPOINT_STREAM]?.settings ?? {});
    const rule = {
      percentile: s.percentile === "p50" ? 50 : 99,
      thresholdMs: s.threshold_ms,
      windowMs: s.window_ms,
      durationMs: s.duration_ms,
      minSamples: s.min_samples,
      maxFailures: s.max_failures,
    };
    const now = d.now().getTime();
    const out: BrokerEndpointsStatus[] = [];
    for (const b of d.brokers) {
      if (!b.endpoints) continue;
      const eps = b.endpoints;
      const { flag, problem } = await this.readFlag(b);
      const active = flag && !problem ? flag.url : eps.primary;
      const endpoints: EndpointRow[] = [];
      for (const url of eps.urls) {
        const w = await readWindow(d.redis, d.keys, b.name, url).catch((err) => {
          if (!wrongType(err)) throw err;
          return { samples: [], invalid: 1, problem: "not a list (WRONGTYPE)" };
        });
        const h = assess(w.samples, now, rule);
        const recent = w.samples.filter((x) => x.ts <= now && x.ts > now - s.window_ms);
        endpoints.push({
          url,
          role: url === eps.primary ? "primary" : "backup",
          active: url === active,
          window: summarize(recent),
          consecutive_failures: h.consecutiveFailures,
          healthy: h.healthy,
          last_read_at: h.lastAt === null ? null : new Date(h.lastAt).toISOString(),
          last_error: h.lastError,
          unreadable_samples: w.invalid,
        });
      }
      out.push({ broker: b.name, kind: b.kind, active, flag, flag_problem: problem, endpoints });
    }
    return out;
  }

  /**
   * Makes `url` the broker's active endpoint (role `rotate`): checks it answers the cheap read first (unless `force`),
   * writes the flag, uses it in this process at once, audits `endpoint.switched`, resolves the guard's open "runs on"
   * alert and announces the switch. Every other adapter follows within a second.
   */
  async use(
    actor: string,
    name: string,
    rawUrl: string,
    opts: { reason?: string; force?: boolean } = {},
  ): Promise<UseResult> {
    const d = this.deps;
    await authorize(d, actor, "rotate", "endpoint.use");
    const b = this.broker(name);
    const eps = b.endpoints;
    const url = normaliseFor(b.kind, rawUrl);
    if (!eps.has(url))
      throw new UsageError(`${url} is not an endpoint of ${name}; its endpoints are: ${eps.urls.join(", ")}`);
    const { flag, problem } = await this.readFlag(b);
    const from = flag && !problem ? flag.url : eps.primary;
    if (from === url && !problem) return { broker: name, from, to: url, changed: false, check: null };

    let check: UseResult["check"] = null;
    if (!opts.force) {
      const sample = await timeRead(b)(url, d.now().getTime(), d.config.panic.callTimeoutMs);
      check = sample.ok ? { ok: true, ms: sample.ms } : { ok: false, ms: sample.ms, error: sample.error };
      if (!sample.ok)
        throw new UserInputError(
          `${url} did not answer the check read (${sample.error}); ${name} stays on ${from}. Use --force to switch anyway.`,
        );
    }
    const reason = opts.reason?.trim() || "switched by command";
    const now = d.now();
    await d.redis.hset(d.keys.endpointActive(name), activeFlagFields({ url, since: now, by: actor, reason, from }));
    eps.adopt(url);
    await audit(d, {
      actor,
      action: "endpoint.switched",
      details: { broker: name, from, to: url, reason, forced: Boolean(opts.force), check },
    });
    if (from !== url)
      await d.alerts
        .resolve(ENDPOINT_STREAM, `${ENDPOINT_STREAM}:${name}:on:${from}`, now)
        .catch((err) => d.log.warn({ err }, "endpoint use: could not resolve the failover alert"));
    await within(
      d.notifier.announce({
        text: `${actor} switched ${name} from ${from} to ${url}: ${reason}`,
        severity: "info",
        sop: "sop-endpoint-failover",
      }),
      ANNOUNCE_TIMEOUT_MS,
      "the alert channel",
    ).catch((err) => d.log.warn({ err }, "endpoint use: could not announce the switch"));
    return { broker: name, from, to: url, changed: true, check };
  }

  /** The broker's flag as stored, and why it is ignored (if it is). */
  private async readFlag(b: Broker): Promise<{ flag: ActiveFlag | null; problem: string | null }> {
    let raw: Record<string, string>;
    try {
      raw = await this.deps.redis.hgetall(this.deps.keys.endpointActive(b.name));
    } catch (err) {
      if (!wrongType(err)) throw err;
      return { flag: null, problem: "not a hash (WRONGTYPE): the primary is used" };
    }
    if (Object.keys(raw).length === 0) return { flag: null, problem: null };
    const p = activeFlagSchema.safeParse(raw);
    if (!p.success) return { flag: null, problem: `no url field (${message(p.error.issues[0]?.message)})` };
    if (!b.endpoints?.has(p.data.url))
      return { flag: p.data, problem: `${p.data.url} is not a configured endpoint: the primary is used` };
    return { flag: p.data, problem: null };
  }
}
