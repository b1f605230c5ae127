// The read side of a guard tick: every key the due guards declared, read in ONE pipelined round trip (a key several
// guards declare is read once), then validated with each read's zod schema. Garbage never reaches a guard: it
// becomes the guard's "data invalid" list, or — for reads declared `onError: "value"` — a ReadFailure value.
import type { Redis } from "ioredis";
import type { Keys } from "../../state/keys.js";
import { type KeyRead, ReadFailure } from "../guard.js";

/** One guard's validated values and the reads that failed. */
export interface GuardValues {
  values: Record<string, unknown>;
  invalid: string[];
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
  const perGuard: GuardValues[] = guards.map(() => ({ values: {}, invalid: [] }));
  for (const l of layout) {
    const out = perGuard[l.guard]!;
    const [err, v] = raw[l.slot] ?? [new Error("no reply"), null];
    let problem: string | null = null;
    if (err) problem = err.message;
    else {
      const value = l.read.type === "zset" ? pairs(v as string[]) : v;
      const parsed = l.read.schema.safeParse(value);
      if (parsed.success) out.values[l.name] = parsed.data;
      else problem = `${parsed.error.issues[0]?.message ?? "invalid"} (got ${preview(value)})`;
    }
    if (problem === null) continue;
    if (l.read.onError === "value") out.values[l.name] = new ReadFailure(l.read.key, problem);
    else out.invalid.push(`${l.read.key}: ${problem}`);
  }
  return { perGuard, roundTrips: slots.size ? 1 : 0 };
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
