// The gauges read from Redis on every scrape of /metrics: the state the watchman rules (monitoring/) judge — the mode
// and since when, the heartbeat trading processes' dead-man's switch reads, the running and last panic, the open
// alerts. Read with the checks every reader uses (src/state/validate.ts): garbage never reads as a harmless value
// (a garbage mode is halt, a garbage heartbeat is as good as none). Whatever wrote the state — this bot, another
// replica, the CLI's panic — shows, since it is read from Redis, not remembered by this process.
import { ALERT_SEVERITIES, PANIC_OUTCOMES } from "../metrics-catalog.js";
import { within } from "../ops/within.js";
import type { Runtime } from "../runtime.js";
import { MODES } from "../state/keys.js";
import { connectionLost } from "../state/redis.js";
import { readKeys, STRING_CHECKS } from "../state/validate.js";

/** A scrape gives up on Redis after this long: /metrics answers (with tradeguard_redis_up 0) before Prometheus's timeout. */
const SCRAPE_BUDGET_MS = 2_000;

/** Refreshes the scrape-time gauges; never throws (Redis unreachable or too slow: redis_up 0, the heartbeat unknown). */
export async function refreshLiveMetrics(rt: Runtime, nowMs: () => number = Date.now): Promise<void> {
  const m = rt.metrics;
  const unknown = () => {
    m.redisUp.set(0);
    m.heartbeatAge.set(Number.NaN);
  };
  if (connectionLost(rt.redis)) return unknown();
  try {
    await within(read(rt, nowMs), SCRAPE_BUDGET_MS, "Redis (scrape)");
    m.redisUp.set(1);
  } catch {
    unknown();
  }
}

async function read(rt: Runtime, nowMs: () => number): Promise<void> {
  const { metrics: m, keys } = rt;
  const [mode, got, open] = await Promise.all([
    rt.mode.get(),
    readKeys(rt.redis, [
      { name: "heartbeat:bot", key: keys.heartbeatBot, cmd: "get" },
      { name: "panic:active", key: keys.panicActive, cmd: "get" },
      { name: "panic:last", key: keys.panicLast, cmd: "get" },
    ]),
    rt.alerts.readOpen(),
  ]);
  /** A string key's value when it passes its check; null when absent or unreadable. */
  const valid = (name: string): string | null => {
    const r = got.get(name);
    if (!r?.ok || typeof r.value !== "string") return null;
    return STRING_CHECKS[name]!(r.value) === null ? r.value : null;
  };

  for (const x of MODES) m.mode.set({ mode: x }, x === mode.mode ? 1 : 0);
  const since = mode.since ? Date.parse(mode.since) : Number.NaN;
  m.modeSince.set(Number.isFinite(since) ? since / 1000 : Number.NaN);

  // The gate's reading: absent or unreadable is no heartbeat at all (docs/gate.md, dead-man's switch).
  const beat = valid("heartbeat:bot");
  m.heartbeatAge.set(beat === null ? Number.POSITIVE_INFINITY : (nowMs() - Number(beat)) / 1000);

  const activeId = valid("panic:active");
  const lastId = valid("panic:last");
  const [active, last] = await Promise.all([
    activeId ? rt.panicStore.get(activeId) : null,
    lastId ? rt.panicStore.get(lastId) : null,
  ]);
  m.panicRunning.set(active?.state === "running" ? 1 : 0);
  const outcome = last?.state === "done" ? last.report.status : null;
  for (const o of PANIC_OUTCOMES) m.panicLastOutcome.set({ outcome: o }, o === outcome ? 1 : 0);
  const finished = last?.report.finishedAt ? Date.parse(last.report.finishedAt) : Number.NaN;
  m.panicLastFinished.set(Number.isFinite(finished) ? finished / 1000 : Number.NaN);

  const counts = Object.fromEntries(ALERT_SEVERITIES.map((s) => [s, 0])) as Record<string, number>;
  for (const a of open.alerts) counts[a.severity] = (counts[a.severity] ?? 0) + 1;
  for (const s of ALERT_SEVERITIES) m.alertsOpen.set({ severity: s }, counts[s] ?? 0);
}
