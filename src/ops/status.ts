// The status operation: what /status, `tradeguard status` and App Home show. Every key is read type-safely: a key
// holding garbage (wrong type, unreadable JSON, a record that does not parse) is named in `unreadable` with the
// reason, and the rest of the state is still shown; garbage in `mode` reads as halt, as the gate reads it.

import { z } from "zod";
import { MARKET_KEYS } from "../state/keys.js";
import type { ModeState } from "../state/mode.js";
import { type KeyProblem, type KeyReadSpec, type ReadResult, readKeys, STRING_CHECKS } from "../state/validate.js";
import type { GuardState, OpsDeps } from "./deps.js";
import type { PanicReport } from "./panic-report.js";
import { SecretsOperation } from "./secrets.js";

export interface StatusView {
  mode: ModeState["mode"];
  reason: string | null;
  actor: string | null;
  since: string | null;
  panicId: string | null;
  /** Set when the mode key holds something invalid (readers fail safe to halt). */
  invalid?: string;
  /** The id of a panic that is executing now. */
  panicRunning: string | null;
  lastPanic: PanicReport | null;
  /** Open resume request, when one waits for approval. */
  clearRequest: { id: string; requester: string; reason: string; approvals: string[]; expiresAt: string } | null;
  /** When reduce_only ends and trading resumes (during a soak). */
  soakUntil: string | null;
  brokers: { name: string; kind: string }[];
  guards: { name: string; state: GuardState; detail: string; lastRun: string | null; durationMs: number }[];
  /** Open alerts, most severe first. */
  alerts: {
    guard: string;
    key: string;
    severity: string;
    title: string;
    since: string;
    count: number;
    sop: string;
    ackedBy: string | null;
  }[];
  /** Active flags trading processes obey: the event lock as stored, and how many symbols are LULD-paused or under SSR. */
  flags: { eventLock: string | null; luldPaused: number; ssrActive: number };
  /** Each managed broker's key: id and age, and the staged key and open rotation request if any (never a secret). */
  keys: {
    broker: string;
    keyId: string | null;
    ageDays: number | null;
    pendingKeyId: string | null;
    rotation: string | null;
  }[];
  /** The latest recon of each broker (newest first): date, ok, mismatch count. */
  recon: { date: string; broker: string | null; ok: boolean; mismatches: number; errors: number; at: string }[];
  /** Keys that hold something this view could not read, each with the reason. Empty when everything is readable. */
  unreadable: KeyProblem[];
}

/** Reads the current state: one pipeline for the keys, then the records they point at. Never throws on garbage. */
export async function getStatus(deps: OpsDeps): Promise<StatusView> {
  const { redis, keys } = deps;
  const specs: KeyReadSpec[] = [
    { name: "mode", key: keys.mode, cmd: "get" },
    { name: "mode:meta", key: keys.modeMeta, cmd: "hgetall" },
    { name: "panic:active", key: keys.panicActive, cmd: "get" },
    { name: "panic:last", key: keys.panicLast, cmd: "get" },
    { name: "clear:active", key: keys.clearActive, cmd: "get" },
    { name: "resume:soak", key: keys.resumeSoak, cmd: "get" },
    { name: "risk:event_lock", key: keys.eventLock, cmd: "get" },
    { name: "luld:paused", key: keys.raw(MARKET_KEYS.luldPaused), cmd: "hlen" },
    { name: "ssr:active", key: keys.raw(MARKET_KEYS.ssrActive), cmd: "hlen" },
    { name: "recon:last", key: keys.reconLast, cmd: "lrange10" },
  ];
  const read = await readKeys(redis, specs);
  const unreadable: KeyProblem[] = [];
  /** A string key's value after its check; null when absent or unreadable (then reported). */
  const str = (name: string): string | null => {
    const r = read.get(name)!;
    if (!r.ok) {
      unreadable.push({ key: name, problem: r.problem });
      return null;
    }
    const v = r.value as string | null;
    if (v === null) return null;
    const problem = STRING_CHECKS[name]?.(v) ?? null;
    if (problem) {
      unreadable.push({ key: name, problem });
      return null;
    }
    return v;
  };
  const count = (name: string): number => {
    const r = read.get(name)!;
    if (r.ok) return Number(r.value);
    unreadable.push({ key: name, problem: r.problem });
    return 0;
  };

  // The mode: garbage of any kind is halt (docs/redis-keys.md), and says why.
  const modeRead = read.get("mode")!;
  const rawMode = modeRead.ok ? (modeRead.value as string | null) : null;
  const modeProblem = !modeRead.ok ? modeRead.problem : rawMode !== null ? STRING_CHECKS.mode!(rawMode) : null;
  if (modeProblem) unreadable.push({ key: "mode", problem: modeProblem });
  const metaRead = read.get("mode:meta")!;
  if (!metaRead.ok) unreadable.push({ key: "mode:meta", problem: metaRead.problem });
  const meta = metaRead.ok ? (metaRead.value as Record<string, string>) : {};
  const mode: ModeState["mode"] = modeProblem ? "halt" : ((rawMode as ModeState["mode"] | null) ?? "active");

  const panicRunning = str("panic:active");
  const lastId = str("panic:last");
  const clearId = str("clear:active");
  const soakRaw = str("resume:soak");
  const eventLock = str("risk:event_lock");
  const luldPaused = count("luld:paused");
  const ssrActive = count("ssr:active");

  const [lastRecord, clearRecord, guards, alerts, managed] = await Promise.all([
    lastId ? deps.panicStore.readRecord(lastId) : Promise.resolve(null),
    clearId ? deps.clearStore.readRequest(clearId, deps.now()) : Promise.resolve(null),
    deps.guards.readStates(),
    deps.alerts.readOpen(),
    managedKeys(deps, unreadable),
  ]);
  let lastPanic: PanicReport | null = null;
  if (lastRecord && "problem" in lastRecord) unreadable.push(lastRecord.problem);
  else if (lastRecord) lastPanic = lastRecord.report;
  let clearRequest: StatusView["clearRequest"] = null;
  if (clearRecord && "problem" in clearRecord) unreadable.push(clearRecord.problem);
  else if (clearRecord?.state === "pending")
    clearRequest = {
      id: clearRecord.id,
      requester: clearRecord.requester,
      reason: clearRecord.reason,
      approvals: clearRecord.approvals,
      expiresAt: clearRecord.expiresAt,
    };
  unreadable.push(...guards.unreadable, ...alerts.unreadable);

  return {
    mode,
    reason: meta.reason || null,
    actor: meta.actor || null,
    since: meta.since || null,
    panicId: meta.panic_id || null,
    ...(modeProblem ? { invalid: `mode: ${modeProblem}` } : {}),
    panicRunning,
    lastPanic,
    clearRequest,
    soakUntil: soakRaw ? (JSON.parse(soakRaw) as { until: string }).until : null,
    brokers: deps.brokers.map((b) => ({ name: b.name, kind: b.kind })),
    guards: guards.guards.map((g) => ({
      name: g.name,
      state: g.state,
      detail: g.detail,
      lastRun: g.lastRun || null,
      durationMs: g.durationMs,
    })),
    alerts: alerts.alerts.map((a) => ({
      guard: a.guard,
      key: a.key,
      severity: a.severity,
      title: a.title,
      since: a.since,
      count: a.count,
      sop: a.sop,
      ackedBy: a.ackedBy ?? null,
    })),
    flags: { eventLock, luldPaused, ssrActive },
    keys: managed,
    recon: latestRecon(read.get("recon:last")!, unreadable),
    unreadable,
  };
}

/** The newest recon summary of each broker, from `recon:last` (newest first); garbage entries are named. */
function latestRecon(r: ReadResult, unreadable: KeyProblem[]): StatusView["recon"] {
  if (!r.ok) {
    unreadable.push({ key: "recon:last", problem: r.problem });
    return [];
  }
  const seen = new Set<string>();
  const out: StatusView["recon"] = [];
  for (const raw of r.value as string[]) {
    const parsed = reconSummarySchema.safeParse(safeJson(raw));
    if (!parsed.success) {
      unreadable.push({ key: "recon:last", problem: `an entry is not a recon summary (${raw.slice(0, 60)})` });
      continue;
    }
    const b = parsed.data.broker ?? "all";
    if (seen.has(b)) continue;
    seen.add(b);
    out.push(parsed.data);
  }
  return out;
}

const reconSummarySchema = z.object({
  date: z.string(),
  broker: z.string().nullable(),
  ok: z.boolean(),
  mismatches: z.number().int(),
  errors: z.number().int(),
  at: z.string(),
});

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return null;
  }
}

/** The managed brokers' keys from the secret store, with their open rotation; a store that fails is named. */
async function managedKeys(deps: OpsDeps, unreadable: KeyProblem[]): Promise<StatusView["keys"]> {
  const ops = new SecretsOperation(deps);
  if (ops.managedNames().length === 0) return [];
  try {
    const list = await ops.list();
    const open = await deps.redis.mget(...list.map((k) => deps.keys.rotateActive(k.broker)));
    return list.map((k, i) => ({
      broker: k.broker,
      keyId: k.current?.keyId ?? null,
      ageDays: k.current?.ageDays ?? null,
      pendingKeyId: k.pending,
      rotation: open[i] ?? null,
    }));
  } catch (err) {
    unreadable.push({ key: "secret store", problem: (err as Error).message });
    return [];
  }
}
