// What reports read, and how: the alert history lists `alerts:<stream>`, the recon summaries `recon:last`, and the
// audit window. Each value is validated at the edge; what does not parse is named in the report's problems, never
// guessed at. Nothing here writes.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Config } from "../config.js";
import type { BudgetSource } from "../ops/deps.js";
import type { ManagedKeys } from "../ops/secrets.js";
import type { Keys } from "../state/keys.js";
import type { ReconRun } from "./model.js";

/** Everything a report is gathered from (the composition root's Redis, keys and config; the secrets operation). */
export interface ReportSources {
  redis: Redis;
  keys: Keys;
  config: Config;
  now: () => Date;
  /** Managed brokers' key ids and ages (`ops.secrets.list()`). */
  keyAges(): Promise<ManagedKeys[]>;
  /** The SLOs' error budgets (absent where error budgets are not wired). */
  budgets?: BudgetSource;
}

/** Events kept per alert stream by the pipeline (src/jobs/alerts.ts ALERT_HISTORY): a full list may be cut. */
export const ALERT_LIST_CAP = 500;

const alertEvent = z.object({
  type: z.enum(["opened", "escalated", "resolved"]),
  at: z.string().refine((s) => Number.isFinite(Date.parse(s)), "an ISO time"),
  alert: z.object({
    guard: z.string(),
    key: z.string(),
    stream: z.string().optional(),
    severity: z.enum(["info", "warn", "critical"]),
    title: z.string(),
  }),
});

export interface AlertEventRecord {
  type: "opened" | "escalated" | "resolved";
  at: string;
  ms: number;
  /** `<stream>/<finding key>`, the `alerts:open` field (and what an acknowledgement names). */
  field: string;
  guard: string;
  severity: "info" | "warn" | "critical";
  title: string;
}

/** Every alert stream's history (oldest first), with the problems met: unreadable lists or entries, cut lists. */
export async function readAlertHistory(
  redis: Redis,
  keys: Keys,
  fromMs: number,
): Promise<{ events: AlertEventRecord[]; problems: string[] }> {
  const prefix = keys.alerts("");
  const names: string[] = [];
  let cursor = "0";
  do {
    const [next, found] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    cursor = next;
    for (const k of found) if (k !== keys.alertsOpen) names.push(k);
  } while (cursor !== "0");
  names.sort();
  const events: AlertEventRecord[] = [];
  const problems: string[] = [];
  const pipe = redis.pipeline();
  for (const k of names) pipe.lrange(k, 0, -1);
  const res = names.length ? ((await pipe.exec()) ?? []) : [];
  for (const [i, k] of names.entries()) {
    const logical = k.slice(keys.prefix.length);
    const stream = k.slice(prefix.length);
    const [err, raw] = res[i] ?? [new Error("no reply"), null];
    if (err) {
      problems.push(`${logical}: unreadable (${err.message})`);
      continue;
    }
    const list = raw as string[];
    let bad = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (const item of list) {
      let e: z.infer<typeof alertEvent>;
      try {
        e = alertEvent.parse(JSON.parse(item));
      } catch {
        bad++;
        continue;
      }
      const ms = Date.parse(e.at);
      oldest = Math.min(oldest, ms);
      events.push({
        type: e.type,
        at: e.at,
        ms,
        field: `${e.alert.stream ?? stream}/${e.alert.key}`,
        guard: e.alert.guard,
        severity: e.alert.severity,
        title: e.alert.title,
      });
    }
    if (bad) problems.push(`${logical}: ${bad} entr${bad === 1 ? "y is" : "ies are"} not alert events`);
    if (list.length >= ALERT_LIST_CAP && oldest > fromMs)
      problems.push(
        `${logical}: the list keeps its newest ${ALERT_LIST_CAP} events and the oldest is from ${new Date(oldest).toISOString()}, after the period began: counts for this stream may be low`,
      );
  }
  events.sort((a, b) => a.ms - b.ms);
  return { events, problems };
}

const reconSummary = z.object({
  date: z.string(),
  broker: z.string().nullable(),
  ok: z.boolean(),
  mismatches: z.number().int().min(0),
  errors: z.number().int().min(0),
  at: z.string().refine((s) => Number.isFinite(Date.parse(s)), "an ISO time"),
});

/** The recon summaries of `recon:last` (newest first, 50 kept), with problems. */
export async function readReconLast(redis: Redis, keys: Keys): Promise<{ runs: ReconRun[]; problems: string[] }> {
  let raw: string[];
  try {
    raw = await redis.lrange(keys.reconLast, 0, -1);
  } catch (err) {
    return { runs: [], problems: [`recon:last: unreadable (${(err as Error).message})`] };
  }
  const runs: ReconRun[] = [];
  let bad = 0;
  for (const r of raw) {
    try {
      runs.push(reconSummary.parse(JSON.parse(r)));
    } catch {
      bad++;
    }
  }
  return {
    runs,
    problems: bad ? [`recon:last: ${bad} entr${bad === 1 ? "y is" : "ies are"} not recon summaries`] : [],
  };
}
