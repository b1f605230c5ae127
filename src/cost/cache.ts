// When to call Cost Explorer, and where its answers go. Cost Explorer bills every request (USD 0.01), so its figures
// are kept in Redis in the same keys exporters write (cost:daily/monthly/forecast/updated:<source>), refreshed at most
// `refreshes_per_day` times a day, waiting `retry_after_failure_minutes` after a failure, and never past
// `max_requests_per_day` per UTC day: the count lives in Redis (INCRBY before the calls), so replicas and restarts
// share it. Between refreshes the guard judges the cached figures.
import type { Redis } from "ioredis";
import { z } from "zod";
import { COST_KEYS } from "../state/keys.js";
import type { CostExplorer } from "./aws.js";
import type { CostExplorerSettings } from "./config.js";
import { addUtcDays, Money, type SourceFigures, utcDate } from "./figures.js";

/** Requests one refresh sends when no page follows (DAILY, MONTHLY, forecast). */
export const REQUESTS_PER_REFRESH = 3;
const COUNTER_TTL_MS = 48 * 3_600_000;
/** Fields older than this many months are dropped from the source's hashes by the refresh that writes them. */
const KEEP_MONTHS = 13;

/** `cost:fetch:<source>`: the last refresh attempt. */
export const fetchRecordSchema = z.object({
  at: z.iso.datetime({ offset: true }),
  ok: z.boolean(),
  requests: z.number().int().min(0),
  error: z.string().optional(),
  estimated: z.boolean().optional(),
});
export type FetchRecord = z.infer<typeof fetchRecordSchema>;

export type RefreshOutcome =
  | { status: "refreshed"; figures: SourceFigures; requestsToday: number; estimated: boolean; note?: string }
  | { status: "cached" | "backoff" | "capped"; last: FetchRecord | null; requestsToday: number; note?: string }
  | { status: "failed"; error: string; requestsToday: number; note?: string };

export interface RefreshDeps {
  redis: Redis;
  /** The prefixing key builder (createKeys(prefix).raw). */
  keyOf: (logical: string) => string;
  explorer: Pick<CostExplorer, "fetch">;
}

/** Refreshes one Cost Explorer source if it is due and allowed; never throws for a failed call (status "failed"). */
export async function refreshCostExplorer(
  deps: RefreshDeps,
  source: string,
  opts: { settings: CostExplorerSettings; currency: string },
  now: Date,
  signal: AbortSignal,
): Promise<RefreshOutcome> {
  const { redis, keyOf } = deps;
  const { settings } = opts;
  const today = utcDate(now);
  const counterKey = keyOf(COST_KEYS.requests(source, today));
  const [lastRaw, countRaw] =
    (await redis
      .pipeline()
      .get(keyOf(COST_KEYS.fetch(source)))
      .get(counterKey)
      .exec()) ?? [];
  if (lastRaw?.[0]) throw new Error(`${COST_KEYS.fetch(source)}: ${lastRaw[0].message}`);
  if (countRaw?.[0]) throw new Error(`${COST_KEYS.requests(source, today)}: ${countRaw[0].message}`);
  let note: string | undefined;
  let last: FetchRecord | null = null;
  if (typeof lastRaw?.[1] === "string") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(lastRaw[1]);
    } catch {
      parsed = undefined;
    }
    const r = fetchRecordSchema.safeParse(parsed);
    if (r.success) last = r.data;
    else note = `${COST_KEYS.fetch(source)} unreadable; treated as no earlier attempt`;
  }
  const requestsToday = /^\d+$/.test(String(countRaw?.[1] ?? "0")) ? Number(countRaw?.[1] ?? 0) : 0;
  if (last) {
    const age = now.getTime() - Date.parse(last.at);
    const wait = last.ok ? 86_400_000 / settings.refreshes_per_day : settings.retry_after_failure_minutes * 60_000;
    if (age >= 0 && age < wait) return { status: last.ok ? "cached" : "backoff", last, requestsToday, note };
  }
  // Reserve the requests first: a replica that loses the race to the cap sends nothing.
  const [incr] =
    (await redis.pipeline().incrby(counterKey, REQUESTS_PER_REFRESH).pexpire(counterKey, COUNTER_TTL_MS).exec()) ?? [];
  if (!incr || incr[0]) {
    // Not a count (someone wrote garbage): no call until it is deleted, rather than an uncounted one.
    const why = `${COST_KEYS.requests(source, today)} is not a request count (${incr?.[0]?.message ?? "no reply"}); delete it`;
    return { status: "capped", last, requestsToday, note: note ? `${note}; ${why}` : why };
  }
  const reserved = Number(incr[1]);
  if (reserved > settings.max_requests_per_day) {
    await redis.decrby(counterKey, REQUESTS_PER_REFRESH);
    return { status: "capped", last, requestsToday, note };
  }
  const record = (r: FetchRecord) => redis.set(keyOf(COST_KEYS.fetch(source)), JSON.stringify(r));
  let result: Awaited<ReturnType<CostExplorer["fetch"]>>;
  try {
    result = await deps.explorer.fetch(now, signal);
    if (result.unit !== opts.currency)
      throw new Error(`Cost Explorer reports ${result.unit}; the source's currency is ${opts.currency}`);
  } catch (err) {
    const error = (err as Error)?.message ?? String(err);
    await record({ at: now.toISOString(), ok: false, requests: REQUESTS_PER_REFRESH, error });
    return { status: "failed", error, requestsToday: reserved, note };
  }
  let count = reserved;
  if (result.requests > REQUESTS_PER_REFRESH)
    count = await redis.incrby(counterKey, result.requests - REQUESTS_PER_REFRESH);
  const figures = await store(deps, source, result, now);
  return { status: "refreshed", figures, requestsToday: count, estimated: result.estimated, note };
}

/** Writes a refresh's figures (one MULTI, old fields pruned) and returns the source's figures as they now stand. */
async function store(
  deps: RefreshDeps,
  source: string,
  r: Awaited<ReturnType<CostExplorer["fetch"]>>,
  now: Date,
): Promise<SourceFigures> {
  const { redis, keyOf } = deps;
  const today = utcDate(now);
  const month = today.slice(0, 7);
  const [dailyKey, monthlyKey, forecastKey] = [COST_KEYS.daily, COST_KEYS.monthly, COST_KEYS.forecast].map((k) =>
    keyOf(k(source)),
  ) as [string, string, string];
  // Month-end forecast: what the month's complete days cost, plus AWS's forecast from today to the end.
  let forecast: string | null = null;
  if (r.forecastRemaining !== null) {
    let complete = new Money(0);
    for (const [day, amount] of Object.entries(r.daily))
      if (day.startsWith(month) && day < today) complete = complete.add(amount);
    forecast = complete.add(r.forecastRemaining).toFixed();
  }
  const cutoff = addUtcDays(`${month}-01`, -KEEP_MONTHS * 31).slice(0, 7);
  const fields = (await redis.pipeline().hkeys(dailyKey).hkeys(monthlyKey).hkeys(forecastKey).exec()) ?? [];
  const old = fields.map(([err, keys]) =>
    err ? [] : (keys as string[]).filter((f) => /^\d{4}-\d{2}/.test(f) && f.slice(0, 7) < cutoff),
  );
  const m = redis.multi();
  if (Object.keys(r.daily).length) m.hset(dailyKey, r.daily);
  if (Object.keys(r.monthly).length) m.hset(monthlyKey, r.monthly);
  if (forecast !== null) m.hset(forecastKey, month, forecast);
  else m.hdel(forecastKey, month);
  [dailyKey, monthlyKey, forecastKey].forEach((k, i) => {
    if (old[i]!.length) m.hdel(k, ...old[i]!);
  });
  m.set(keyOf(COST_KEYS.updated(source)), now.toISOString());
  const rec: FetchRecord = { at: now.toISOString(), ok: true, requests: r.requests, estimated: r.estimated };
  m.set(keyOf(COST_KEYS.fetch(source)), JSON.stringify(rec));
  m.hgetall(dailyKey).hgetall(monthlyKey).hgetall(forecastKey);
  const replies = (await m.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed?.[0]) throw new Error(`storing the Cost Explorer figures of ${source}: ${failed[0].message}`);
  const n = replies.length;
  const hash = (i: number) => replies[n - 3 + i]![1] as Record<string, string>;
  return { daily: hash(0), monthly: hash(1), forecast: hash(2), updated: now.toISOString() };
}
