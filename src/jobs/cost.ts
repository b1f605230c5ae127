// Cost guardrails (`cost`, every 15 minutes; issue 15 §16). Every configured cost source has a daily and/or monthly
// budget; the guard alerts at 80 % (warn) and 100 % (critical) of each and when the month-end forecast reaches the
// monthly budget. Sources are figures exporters write to Redis (exchange fees, market-data vendors; format in
// docs/redis-keys.md) and, when configured, AWS Cost Explorer: the probe refreshes the AWS figures into the same
// keys at most `aws.refreshes_per_day` times a day (each request is billed), and between refreshes the guard judges
// what Redis holds. Days and months are UTC, as Cost Explorer bills them. The composition root binds the probe's
// Redis and Cost Explorer client (withCost); the registry's entry only declares the guard.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Config } from "../config.js";
import { CostExplorer, credentialsFromEnv } from "../cost/aws.js";
import { type RefreshOutcome, refreshCostExplorer } from "../cost/cache.js";
import { type CostConfig, type CostExplorerSettings, costConfigSchema } from "../cost/config.js";
import type { SourceFigures } from "../cost/figures.js";
import type { Keys } from "../state/keys.js";
import { COST_KEYS } from "../state/keys.js";
import { judgeSource, SOP_COST_DATA, viewOf } from "./cost-judge.js";
import { defineGuard, type Finding, type Guard, type KeyRead, ReadFailure } from "./guard.js";

const HINT = "declare the desk's cost sources and budgets in guards.cost.sources";

/** The probe's result: the tick's time, and what the Cost Explorer source's refresh did (null: no aws source). */
export interface CostProbe {
  at: number;
  aws: { source: string; outcome: RefreshOutcome | { status: "unbound" } } | null;
}

/** The probe's I/O: Redis (prefixing key builder) and a Cost Explorer client for the settings. */
export interface CostIO {
  redis: Redis;
  keyOf: (logical: string) => string;
  explorer: (s: CostExplorerSettings) => Pick<CostExplorer, "fetch">;
}

const hash = z.record(z.string(), z.string());
const READS = {
  daily: { key: COST_KEYS.daily, type: "hash", schema: hash },
  monthly: { key: COST_KEYS.monthly, type: "hash", schema: hash },
  forecast: { key: COST_KEYS.forecast, type: "hash", schema: hash },
  updated: { key: COST_KEYS.updated, type: "string", schema: z.string().nullable() },
} as const;

/** The read name of one of a source's keys ("binance_fees.daily"). */
const readName = (source: string, part: keyof typeof READS) => `${source}.${part}`;

type Values = Record<string, Record<string, string> | string | null | ReadFailure>;

/** A source's figures from the snapshot, or the reads that failed. */
function figuresOf(values: Values, source: string): SourceFigures | string[] {
  const failed: string[] = [];
  const get = <T>(part: keyof typeof READS, fallback: T): T => {
    const v = values[readName(source, part)];
    if (v instanceof ReadFailure) {
      failed.push(`${v.key}: ${v.message}`);
      return fallback;
    }
    return (v ?? fallback) as T;
  };
  const f: SourceFigures = {
    daily: get("daily", {}),
    monthly: get("monthly", {}),
    forecast: get("forecast", {}),
    updated: get<string | null>("updated", null),
  };
  return failed.length ? failed : f;
}

/** Findings of the Cost Explorer refresh itself (the figures are judged either way, fresh or cached). */
function refreshFindings(source: string, outcome: RefreshOutcome | { status: "unbound" }): Finding[] {
  const base = { guard: "cost", sop: SOP_COST_DATA, severity: "warn" as const };
  if (outcome.status === "unbound")
    return [
      {
        ...base,
        key: `cost:${source}:unbound`,
        title: `Cost: ${source} (Cost Explorer) not read`,
        detail:
          "No Cost Explorer client is wired into this process; the budgets are judged on whatever figures Redis holds.",
      },
    ];
  if (outcome.status === "failed")
    return [
      {
        ...base,
        key: `cost:${source}:refresh_failed`,
        title: `Cost: ${source} Cost Explorer refresh failed`,
        detail: `${outcome.error}. The budgets are judged on the figures of the last successful refresh; the next attempt waits guards.cost.aws.retry_after_failure_minutes (${outcome.requestsToday} Cost Explorer requests today).`,
      },
    ];
  if (outcome.note)
    return [
      {
        ...base,
        key: `cost:${source}:cache_invalid`,
        title: `Cost: ${source} Cost Explorer cache unreadable`,
        detail: `${outcome.note}.`,
      },
    ];
  return [];
}

/** The guard with its probe bound (`null`: the registry's entry, which only declares the guard's settings). */
export function createCostGuard(io: CostIO | null) {
  return defineGuard<CostConfig, Values, CostProbe>({
    name: "cost",
    schedule: "0 */15 * * * *",
    config: costConfigSchema,
    requires: { hint: HINT },
    reads(c) {
      const out: Record<string, KeyRead> = {};
      for (const source of Object.keys(c.sources))
        for (const [part, r] of Object.entries(READS))
          out[readName(source, part as keyof typeof READS)] = {
            key: r.key(source),
            type: r.type,
            schema: r.schema,
            onError: "value",
          };
      return out;
    },
    async probe(c, ctx) {
      const at = ctx.now.getTime();
      const entry = Object.entries(c.sources).find(([, s]) => s.kind === "aws");
      if (!entry) return { at, aws: null };
      const [source, s] = entry;
      if (!io) return { at, aws: { source, outcome: { status: "unbound" } } };
      try {
        const deps = { redis: io.redis, keyOf: io.keyOf, explorer: io.explorer(c.aws) };
        const outcome = await refreshCostExplorer(
          deps,
          source,
          { settings: c.aws, currency: s.currency },
          ctx.now,
          ctx.signal,
        );
        return { at, aws: { source, outcome } };
      } catch (err) {
        const error = (err as Error)?.message ?? String(err);
        return { at, aws: { source, outcome: { status: "failed", error, requestsToday: 0 } } };
      }
    },
    evaluate(snapshot, now, c) {
      const out: Finding[] = [];
      const aws = snapshot.probe?.aws ?? null;
      for (const [name, src] of Object.entries(c.sources)) {
        const mine = aws && aws.source === name ? aws.outcome : null;
        if (src.kind === "aws") out.push(...refreshFindings(name, mine ?? { status: "unbound" }));
        const figures = mine?.status === "refreshed" ? mine.figures : figuresOf(snapshot.values as Values, name);
        if (Array.isArray(figures)) {
          out.push({
            guard: "cost",
            sop: SOP_COST_DATA,
            key: `cost:${name}:data_invalid`,
            severity: "warn",
            title: `Cost: ${name} figures unreadable`,
            detail: `${figures.join("; ")}. The budgets of ${name} are not being checked until this is fixed.`,
          });
          continue;
        }
        out.push(...judgeSource(name, src, figures, now, c));
      }
      return out;
    },
    metrics: [
      {
        name: "tradeguard_cost_day",
        help: "A cost source's spend today (UTC), in its currency",
        labelNames: ["source"],
      },
      { name: "tradeguard_cost_month_to_date", help: "A cost source's spend this month (UTC)", labelNames: ["source"] },
      { name: "tradeguard_cost_forecast", help: "A cost source's month-end forecast", labelNames: ["source"] },
    ],
    measure(snapshot, c) {
      const at = snapshot.probe?.at;
      if (at === undefined) return [];
      const out: { name: string; labels: Record<string, string>; value: number }[] = [];
      for (const name of Object.keys(c.sources)) {
        const mine = snapshot.probe?.aws?.source === name ? snapshot.probe.aws.outcome : null;
        const figures = mine?.status === "refreshed" ? mine.figures : figuresOf(snapshot.values as Values, name);
        if (Array.isArray(figures)) continue;
        const view = viewOf(name, figures, new Date(at), c);
        if ("invalid" in view) continue;
        const labels = { source: name };
        out.push({ name: "tradeguard_cost_day", labels, value: view.day.toNumber() });
        out.push({ name: "tradeguard_cost_month_to_date", labels, value: view.mtd.toNumber() });
        if (view.forecast) out.push({ name: "tradeguard_cost_forecast", labels, value: view.forecast.toNumber() });
      }
      return out;
    },
  });
}

/** The registry's cost guard: declares the guard (name, schedule, settings); withCost binds its probe. */
export const costGuard = createCostGuard(null);

/** `guards` with the cost guard bound to this process's Redis and a Cost Explorer client from the config. */
// biome-ignore lint/suspicious/noExplicitAny: guards of different config/value types live in one list
export function withCost(guards: Guard<any, any, any>[], deps: { redis: Redis; keys: Keys; config: Config }) {
  let client: CostExplorer | undefined;
  const bound = createCostGuard({
    redis: deps.redis,
    keyOf: deps.keys.raw,
    explorer: (s) => {
      client ??= new CostExplorer({
        region: s.region,
        endpoint: s.endpoint,
        credentials: credentialsFromEnv(deps.config.env),
        requestTimeoutMs: s.request_timeout_ms,
        maxAttempts: s.max_attempts,
      });
      return client;
    },
  });
  return guards.map((g) => (g.name === bound.name ? bound : g));
}
