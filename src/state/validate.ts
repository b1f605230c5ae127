// What a readable value of each core key is, and a type-safe way to read keys: the one place that says "this Redis
// value is garbage, and why", for every reader (/status, App Home, the CLI, the state-integrity guard). A reader
// reports an unreadable key by name and carries on with the rest; it never throws on garbage, never hides it, and
// never reads garbage as a harmless value.
import type { Redis } from "ioredis";
import { z } from "zod";
import { isMode } from "./keys.js";
import { isConnectionError } from "./redis.js";

/** One key a reader could not use, and why ("wrong type (hash)", "not JSON", "until: invalid ISO datetime"). */
export interface KeyProblem {
  key: string;
  problem: string;
}

/** The value of `risk:event_lock` (written by the economic-event guard); exactly these fields. */
export const eventLockSchema = z
  .object({
    event: z.string().min(1),
    until: z.iso.datetime({ offset: true }),
    cap: z.number().min(0).max(1),
    exempt: z.array(z.string()),
  })
  .strict();
export type EventLock = z.infer<typeof eventLockSchema>;

/** Ids tradeguard writes: panics `p<UTC>-<hex>`, clear requests `c<UTC>-<hex>`. */
const panicId = /^p\d{8}T\d{6}Z-[0-9a-f]{6}$/;
const clearId = /^c\d{8}T\d{6}Z-[0-9a-f]{6}$/;

/** The soak record in `resume:soak`. */
const soakSchema = z.object({ request_id: z.string().min(1), until: z.iso.datetime({ offset: true }) });

/** The fields of one `guards:state` entry. */
const guardRunSchema = z.object({
  name: z.string(),
  state: z.enum(["ok", "warn", "critical", "stale", "error", "not_configured"]),
  detail: z.string(),
  lastRun: z.string(),
  durationMs: z.number(),
});

/** The fields of one `alerts:open` entry that readers rely on. */
const openAlertSchema = z
  .object({
    guard: z.string(),
    key: z.string(),
    stream: z.string(),
    severity: z.enum(["info", "warn", "critical"]),
    title: z.string(),
    detail: z.string(),
    sop: z.string(),
    since: z.string(),
    lastSeen: z.string(),
    count: z.number().int(),
    notifiedSeverity: z.enum(["info", "warn", "critical"]),
    ackedBy: z.string().optional(),
  })
  .passthrough();

const preview = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

function jsonProblem(raw: string, schema: z.ZodType): string | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return `not JSON (${preview(raw)})`;
  }
  const r = schema.safeParse(v);
  if (r.success) return null;
  const i = r.error.issues[0]!;
  return `${i.path.length ? `${i.path.join(".")}: ` : ""}${i.message}`;
}

/** Why a string value of a core key is unreadable, or null when it is fine. */
export const STRING_CHECKS: Record<string, (raw: string) => string | null> = {
  mode: (raw) => (isMode(raw) ? null : `not a mode (${preview(raw)}; readers treat it as halt)`),
  "panic:active": (raw) => (panicId.test(raw) ? null : `not a panic id (${preview(raw)})`),
  "panic:last": (raw) => (panicId.test(raw) ? null : `not a panic id (${preview(raw)})`),
  "clear:active": (raw) => (clearId.test(raw) ? null : `not a clear request id (${preview(raw)})`),
  "resume:soak": (raw) => jsonProblem(raw, soakSchema),
  "risk:event_lock": (raw) => jsonProblem(raw, eventLockSchema),
  "heartbeat:bot": (raw) => (/^\d{13}$/.test(raw) ? null : `not epoch milliseconds (${preview(raw)})`),
};

/** Why one field of a hash core key is unreadable, or null when it is fine. */
export const HASH_FIELD_CHECKS: Record<string, (raw: string) => string | null> = {
  "guards:state": (raw) => jsonProblem(raw, guardRunSchema),
  "alerts:open": (raw) => jsonProblem(raw, openAlertSchema),
};

/** The Redis types the core keys must have. */
export const CORE_KEY_TYPES: Record<string, "string" | "hash"> = {
  mode: "string",
  "mode:meta": "hash",
  "panic:active": "string",
  "panic:last": "string",
  "clear:active": "string",
  "resume:soak": "string",
  "risk:event_lock": "string",
  "heartbeat:bot": "string",
  "guards:state": "hash",
  "alerts:open": "hash",
  "luld:paused": "hash",
  "ssr:active": "hash",
};

/** `lrange10`: the first 10 entries of a list. */
export type ReadCommand = "get" | "hgetall" | "hvals" | "hlen" | "smembers" | "lrange10";

/** One key to read: its logical name (for messages), its full name, the command. */
export interface KeyReadSpec {
  name: string;
  key: string;
  cmd: ReadCommand;
}

export type ReadResult = { ok: true; value: unknown } | { ok: false; problem: string };

/**
 * Reads several keys in one pipeline; a key that fails (WRONGTYPE, or anything else Redis refuses) comes back as a
 * problem naming its actual type ("wrong type (hash)") instead of failing the whole read. Connection errors still
 * throw: "Redis is unreachable" is not a data problem.
 */
export async function readKeys(redis: Redis, specs: KeyReadSpec[]): Promise<Map<string, ReadResult>> {
  const p = redis.pipeline();
  for (const s of specs) {
    if (s.cmd === "lrange10") p.lrange(s.key, 0, 9);
    else p[s.cmd](s.key);
  }
  const res = (await p.exec()) ?? [];
  const out = new Map<string, ReadResult>();
  const wrong: KeyReadSpec[] = [];
  specs.forEach((s, i) => {
    const [err, value] = res[i] ?? [new Error("no reply"), null];
    if (!err) out.set(s.name, { ok: true, value });
    else if (/WRONGTYPE/.test(err.message)) wrong.push(s);
    else if (isConnectionError(err)) throw err;
    else out.set(s.name, { ok: false, problem: err.message });
  });
  if (wrong.length) {
    const t = redis.pipeline();
    for (const s of wrong) t.type(s.key);
    const types = (await t.exec()) ?? [];
    wrong.forEach((s, i) => {
      out.set(s.name, { ok: false, problem: `wrong type (${types[i]?.[1] ?? "unknown"})` });
    });
  }
  return out;
}
