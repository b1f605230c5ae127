// The read side of a guard tick: every key the due guards declared, read in ONE pipelined round trip (a key several
// guards declare is read once), then validated with each read's zod schema — once per key and schema, not once per
// guard: guards that declare the same key with the same schema (the same object, or an equal plain one such as
// z.record(z.string(), z.string()) written out in each guard) share one validated value, which is why evaluate must
// not modify its snapshot. A plain schema that accepts every value its read's Redis type can have (a record of
// strings for a hash, an array of strings for a set or list, a nullable string for a string) is not run at all:
// what the read returned is already what it would check, and zod would only copy it. Garbage never reaches a guard: it becomes the guard's "data invalid" list, or — for reads
// declared `onError: "value"` — a ReadFailure value.
import type { Redis } from "ioredis";
import type { z } from "zod";
import type { Keys } from "../../state/keys.js";
import { type KeyRead, ReadFailure } from "../guard.js";

/** One guard's validated values, the reads that failed, and the raw values it read (`<type> <logical key>`). */
export interface GuardValues {
  values: Record<string, unknown>;
  invalid: string[];
  /** What Redis returned for each of its reads that succeeded: what its flag changes are conditional on. */
  read: Map<string, unknown>;
}

/** Reads and validates the declared keys of several guards; returns per guard (by index) what it may evaluate. */
export async function readSnapshot(
  redis: Redis,
  keys: Keys,
  guards: { reads: Record<string, KeyRead> }[],
): Promise<{ perGuard: GuardValues[]; roundTrips: number }> {
  const read = redis.pipeline();
  const layout: { guard: number; name: string; read: KeyRead; slot: number }[] = [];
  const slots = new Map<string, number>();
  guards.forEach((g, guard) => {
    for (const [name, r] of Object.entries(g.reads)) {
      const id = `${r.type} ${r.key}`;
      let slot = slots.get(id);
      if (slot === undefined) {
        slot = slots.size;
        slots.set(id, slot);
        const key = keys.raw(r.key);
        if (r.type === "string") read.get(key);
        else if (r.type === "hash") read.hgetall(key);
        else if (r.type === "set") read.smembers(key);
        else if (r.type === "zset") read.zrange(key, "0", "-1", "WITHSCORES");
        else read.lrange(key, 0, -1);
      }
      layout.push({ guard, name, read: r, slot });
    }
  });
  const raw = slots.size ? ((await read.exec()) ?? []) : [];
  // A key of the wrong type is named with its actual type (one more round trip, only when that happens).
  const wrong = [...slots.entries()].filter(([, i]) => /WRONGTYPE/.test(String(raw[i]?.[0]?.message ?? "")));
  if (wrong.length) {
    const t = redis.pipeline();
    for (const [id] of wrong) t.type(keys.raw(id.slice(id.indexOf(" ") + 1)));
    const types = (await t.exec()) ?? [];
    wrong.forEach(([, i], n) => {
      raw[i] = [new Error(`wrong type (${types[n]?.[1] ?? "unknown"})`), null];
    });
  }
  const perGuard: GuardValues[] = guards.map(() => ({ values: {}, invalid: [], read: new Map() }));
  const ids = [...slots.keys()];
  const checked: Map<unknown, Checked>[] = Array.from({ length: slots.size }, () => new Map());
  const zsets: unknown[] = [];
  for (const l of layout) {
    const out = perGuard[l.guard]!;
    const [readErr, readValue] = raw[l.slot] ?? [new Error("no reply"), null];
    if (!readErr) out.read.set(ids[l.slot]!, readValue);
    const same = plainShape(l.read.schema) ?? l.read.schema;
    let c = checked[l.slot]!.get(same);
    if (!c) {
      const [err, v] = raw[l.slot] ?? [new Error("no reply"), null];
      if (err) c = { ok: false, problem: err.message };
      else {
        if (l.read.type === "zset") zsets[l.slot] ??= pairs(v as string[]);
        const value = l.read.type === "zset" ? zsets[l.slot] : v;
        const parsed =
          typeof same === "string" && RAW_SHAPE[l.read.type] === same ? null : l.read.schema.safeParse(value);
        if (!parsed) c = { ok: true, data: value };
        else
          c = parsed.success
            ? { ok: true, data: parsed.data }
            : { ok: false, problem: `${parsed.error.issues[0]?.message ?? "invalid"} (got ${preview(value)})` };
      }
      checked[l.slot]!.set(same, c);
    }
    if (c.ok) {
      out.values[l.name] = c.data;
      continue;
    }
    const problem = c.problem;
    if (l.read.onError === "value") out.values[l.name] = new ReadFailure(l.read.key, problem);
    else out.invalid.push(`${l.read.key}: ${problem}`);
  }
  return { perGuard, roundTrips: slots.size ? 1 : 0 };
}

type Checked = { ok: true; data: unknown } | { ok: false; problem: string };

const PLAIN = new Set(["type", "checks"]);
/** The plain shape of every value a read of this Redis type returns (GET: a string or null; HGETALL: a record…). */
const RAW_SHAPE: Record<KeyRead["type"], string | null> = {
  string: "string?",
  hash: "record<string,string>",
  set: "string[]",
  list: "string[]",
  zset: null,
};

/**
 * A name for the schemas that accept exactly the raw values of a Redis type and change nothing — a string, a record
 * of strings, an array of strings, a nullable string, with no checks, transforms or error messages of their own —
 * so that two such schemas written out separately validate a key once; null for any other schema.
 */
export function plainShape(schema: z.ZodType): string | null {
  let shape = shapes.get(schema);
  if (shape === undefined) {
    shape = shapeOf(schema);
    shapes.set(schema, shape);
  }
  return shape;
}
const shapes = new WeakMap<z.ZodType, string | null>();

function shapeOf(schema: z.ZodType): string | null {
  const def = (schema as unknown as { _zod?: { def?: Record<string, unknown> } })._zod?.def;
  if (!def) return null;
  const only = (...extra: string[]) =>
    Object.keys(def).every((k) => PLAIN.has(k) || extra.includes(k)) &&
    (def.checks === undefined || (Array.isArray(def.checks) && def.checks.length === 0));
  const inner = (k: string) => (def[k] ? shapeOf(def[k] as z.ZodType) : null);
  switch (def.type) {
    case "string":
      return only() ? "string" : null;
    case "nullable":
      return only("innerType") && inner("innerType") === "string" ? "string?" : null;
    case "array":
      return only("element") && inner("element") === "string" ? "string[]" : null;
    case "record":
      return only("keyType", "valueType") && inner("keyType") === "string" && inner("valueType") === "string"
        ? "record<string,string>"
        : null;
    default:
      return null;
  }
}

function pairs(flat: string[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, Number(flat[i + 1])]);
  return out;
}

/** A short, printable rendering of a raw value for "data invalid" messages. */
export function preview(v: unknown): string {
  const s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
