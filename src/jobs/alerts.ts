// The alert pipeline: one alert per open condition (dedup by finding key, with a repeat count), a new message on
// escalation, a resolved message when the condition clears. Every alert event is persisted to `alerts:<guard>`
// (capped list, JSON, newest first) before it is posted, and posting goes through a per-channel queue that keeps
// Slack's ~1 message/second/channel: it waits, it never drops.
import type { Redis } from "ioredis";
import type { Logger } from "../log.js";
import type { Announcement, Notifier } from "../notify.js";
import type { Keys } from "../state/keys.js";
import { HASH_FIELD_CHECKS, type KeyProblem, readKeys } from "../state/validate.js";
import type { Finding, Severity } from "./guard.js";

const RANK: Record<Severity, number> = { info: 0, warn: 1, critical: 2 };
/** While `alerts:open` is unreadable, one condition is posted at most this often (there is no dedup record). */
const UNPERSISTED_REPOST_MS = 10 * 60_000;
/** Newest events kept per guard in `alerts:<guard>`. */
export const ALERT_HISTORY = 500;

/** An open condition as stored in `alerts:open`. */
export interface OpenAlert extends Omit<Finding, "actions"> {
  /** The `alerts:<stream>` list this alert is recorded in (the guard's alert stream). */
  stream: string;
  since: string;
  lastSeen: string;
  count: number;
  notifiedSeverity: Severity;
  ackedBy?: string;
}

export type AlertEvent = { type: "opened" | "escalated" | "resolved"; at: string; alert: OpenAlert };

/** Turns an alert event into a message (Block Kit in Slack mode, text on the console). */
export type AlertRenderer = (event: AlertEvent) => Announcement;

/** The `alerts:open` field of one condition: findings' keys are unique within their alert stream. */
export function alertField(stream: string, key: string): string {
  return `${stream}/${key}`;
}

/** Plain-text rendering (console, fallback text). */
export function alertText(e: AlertEvent): string {
  const a = e.alert;
  const head =
    e.type === "resolved"
      ? `RESOLVED: ${a.title}`
      : `${a.severity.toUpperCase()}${e.type === "escalated" ? " (escalated)" : ""}: ${a.title}`;
  const vt = a.value !== undefined ? ` — value ${a.value}${a.threshold ? ` vs threshold ${a.threshold}` : ""}` : "";
  return `[${a.guard}] ${head}${vt}\n${a.detail}\nsince ${a.since}${a.count > 1 ? ` · seen ${a.count}×` : ""}`;
}

/** Posts announcements one at a time, at least `intervalMs` apart (Slack allows ~1 message/second/channel). */
export class PacedQueue {
  private readonly pending: { msg: Announcement; resolve: () => void }[] = [];
  private last = Number.NEGATIVE_INFINITY;
  private running = false;

  constructor(
    private readonly notifier: Notifier,
    private readonly log: Logger,
    private readonly intervalMs = 1_100,
  ) {}

  /** Queues a message; resolves once it has been handed to the notifier. */
  post(msg: Announcement): Promise<void> {
    return new Promise((resolve) => {
      this.pending.push({ msg, resolve });
      if (!this.running) void this.drain();
    });
  }

  /** Messages waiting. */
  get size(): number {
    return this.pending.length;
  }

  /** Resolves once every queued message has been handed to the notifier. */
  async drained(): Promise<void> {
    while (this.running || this.pending.length) await new Promise((r) => setTimeout(r, 50));
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.pending.length) {
        const wait = this.last + this.intervalMs - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        const item = this.pending.shift()!;
        this.last = Date.now();
        await this.notifier
          .announce(item.msg)
          .catch((err) => this.log.error({ err }, "alert: post failed (persisted in Redis)"));
        item.resolve();
      }
    } finally {
      this.running = false;
    }
  }
}

/** The pipeline the guard runner hands findings to. */
export class AlertPipeline {
  /** Last time a condition was posted while `alerts:open` was unreadable (field → epoch ms). */
  private readonly unpersisted = new Map<string, number>();

  constructor(
    private readonly deps: { redis: Redis; keys: Keys; queue: PacedQueue; render: AlertRenderer; log: Logger },
  ) {}

  /** Opens, escalates, counts and resolves the alerts of one alert stream (one guard) for this tick's findings. */
  async process(stream: string, findings: Finding[], now: Date): Promise<AlertEvent[]> {
    return (await this.processTick([{ stream, findings }], now)).events;
  }

  /**
   * The same for every guard of one tick: one read of `alerts:open`, one transaction that persists every event,
   * then the posts. Streams not listed keep their open alerts. Unreadable entries are kept (and reported), never
   * silently replaced; an `alerts:open` that cannot be read at all (wrong type) still lets every condition be
   * posted — without dedup, so each at most every 10 minutes — and is reported.
   */
  async processTick(
    batch: { stream: string; findings: Finding[]; scope?: (key: string) => boolean }[],
    now: Date,
  ): Promise<{ events: AlertEvent[]; unreadable: KeyProblem[] }> {
    const { redis, keys } = this.deps;
    const read = (await readKeys(redis, [{ name: "alerts:open", key: keys.alertsOpen, cmd: "hgetall" }])).get(
      "alerts:open",
    )!;
    if (!read.ok) return this.postUnpersisted(batch, now, { key: "alerts:open", problem: read.problem });
    const openRaw = read.value as Record<string, string>;
    const unreadable = badEntries(openRaw);
    const at = now.toISOString();
    const events: AlertEvent[] = [];
    const updates: Record<string, string> = {};
    const removed: string[] = [];
    const history = new Map<string, AlertEvent[]>();
    for (const { stream, findings, scope } of batch) {
      const open = new Map<string, OpenAlert>();
      for (const [k, v] of Object.entries(openRaw)) {
        if (HASH_FIELD_CHECKS["alerts:open"]!(v) !== null) continue;
        const a = JSON.parse(v) as OpenAlert;
        // With a scope, only the stream's alerts it covers are this call's business (others stay open).
        if (a.stream === stream && (!scope || scope(a.key))) open.set(k, a);
      }
      const mine: AlertEvent[] = [];
      const seen = new Set<string>();
      for (const f of findings) {
        const field = alertField(stream, f.key);
        if (f.severity === "info" || seen.has(field)) continue;
        seen.add(field);
        const { actions: _actions, ...finding } = f;
        const prev = open.get(field);
        if (!prev) {
          const alert: OpenAlert = {
            ...finding,
            stream,
            since: at,
            lastSeen: at,
            count: 1,
            notifiedSeverity: f.severity,
          };
          mine.push({ type: "opened", at, alert });
          updates[field] = JSON.stringify(alert);
          continue;
        }
        const alert: OpenAlert = {
          ...prev,
          ...finding,
          since: prev.since,
          lastSeen: at,
          count: prev.count + 1,
          notifiedSeverity: prev.notifiedSeverity,
        };
        if (RANK[f.severity] > RANK[prev.notifiedSeverity]) {
          alert.notifiedSeverity = f.severity;
          mine.push({ type: "escalated", at, alert });
        }
        updates[field] = JSON.stringify(alert);
      }
      for (const [field, alert] of open) {
        if (seen.has(field)) continue;
        removed.push(field);
        mine.push({ type: "resolved", at, alert: { ...alert, lastSeen: at } });
      }
      if (mine.length) history.set(stream, mine);
      events.push(...mine);
    }
    // Persist first: the alert exists in Redis even if Slack is down or this process dies before posting.
    const tx = redis.multi();
    if (Object.keys(updates).length) tx.hset(keys.alertsOpen, updates);
    if (removed.length) tx.hdel(keys.alertsOpen, ...removed);
    for (const [stream, evs] of history) {
      tx.lpush(keys.alerts(stream), ...evs.map((e) => JSON.stringify(e)));
      tx.ltrim(keys.alerts(stream), 0, ALERT_HISTORY - 1);
    }
    await tx.exec();
    for (const e of events) void this.deps.queue.post(this.deps.render(e));
    return { events, unreadable };
  }

  /** `alerts:open` cannot be read: post each open condition anyway (rate-limited in memory), report the key. */
  private postUnpersisted(
    batch: { stream: string; findings: Finding[] }[],
    now: Date,
    problem: KeyProblem,
  ): { events: AlertEvent[]; unreadable: KeyProblem[] } {
    this.deps.log.error(problem, "alerts:open is unreadable: alerts are posted without dedup until it is repaired");
    const at = now.toISOString();
    const events: AlertEvent[] = [];
    for (const { stream, findings } of batch) {
      for (const f of findings) {
        if (f.severity === "info") continue;
        const field = alertField(stream, f.key);
        const last = this.unpersisted.get(field);
        if (last !== undefined && now.getTime() - last < UNPERSISTED_REPOST_MS) continue;
        this.unpersisted.set(field, now.getTime());
        const { actions: _actions, ...finding } = f;
        const alert: OpenAlert = {
          ...finding,
          stream,
          since: at,
          lastSeen: at,
          count: 1,
          notifiedSeverity: f.severity,
        };
        events.push({ type: "opened", at, alert });
      }
    }
    for (const e of events) void this.deps.queue.post(this.deps.render(e));
    return { events, unreadable: [problem] };
  }

  /**
   * One condition raised by an operation (not a guard tick): opened, counted or escalated like a guard's finding,
   * without touching the stream's other open alerts.
   */
  async raise(stream: string, finding: Finding, now: Date): Promise<void> {
    await this.processTick([{ stream, findings: [finding], scope: (k) => k === finding.key }], now);
  }

  /** Resolves one operation-raised condition (a "resolved" message when it was open). */
  async resolve(stream: string, key: string, now: Date): Promise<void> {
    await this.processTick([{ stream, findings: [], scope: (k) => k === key }], now);
  }

  /** Resolves once every alert queued so far has been posted. */
  drained(): Promise<void> {
    return this.deps.queue.drained();
  }

  /** Records who acknowledged an open alert (`field` = alertField(stream, key)); null when it is no longer open. */
  async acknowledge(field: string, by: string): Promise<OpenAlert | null> {
    const { redis, keys } = this.deps;
    const read = (await readKeys(redis, [{ name: "alerts:open", key: keys.alertsOpen, cmd: "hgetall" }])).get(
      "alerts:open",
    )!;
    const raw = read.ok ? (read.value as Record<string, string>)[field] : undefined;
    if (!raw || HASH_FIELD_CHECKS["alerts:open"]!(raw) !== null) return null;
    const alert = { ...(JSON.parse(raw) as OpenAlert), ackedBy: by };
    await redis.hset(keys.alertsOpen, field, JSON.stringify(alert));
    return alert;
  }

  /** The open alerts, most severe first (unreadable entries left out: readOpen reports them). */
  async open(): Promise<OpenAlert[]> {
    return (await this.readOpen()).alerts;
  }

  /** The open alerts, most severe first, and what of `alerts:open` could not be read. */
  async readOpen(): Promise<{ alerts: OpenAlert[]; unreadable: KeyProblem[] }> {
    const read = (
      await readKeys(this.deps.redis, [{ name: "alerts:open", key: this.deps.keys.alertsOpen, cmd: "hgetall" }])
    ).get("alerts:open")!;
    if (!read.ok) return { alerts: [], unreadable: [{ key: "alerts:open", problem: read.problem }] };
    const raw = read.value as Record<string, string>;
    const alerts = Object.values(raw)
      .filter((v) => HASH_FIELD_CHECKS["alerts:open"]!(v) === null)
      .map((v) => JSON.parse(v) as OpenAlert);
    alerts.sort((a, b) => RANK[b.severity] - RANK[a.severity] || a.since.localeCompare(b.since));
    return { alerts, unreadable: badEntries(raw) };
  }
}

/** The entries of `alerts:open` that are not alert records, named by field. */
function badEntries(raw: Record<string, string>): KeyProblem[] {
  const out: KeyProblem[] = [];
  for (const [field, v] of Object.entries(raw)) {
    const problem = HASH_FIELD_CHECKS["alerts:open"]!(v);
    if (problem) out.push({ key: `alerts:open[${field}]`, problem });
  }
  return out;
}
