// The audit entries of a time window, read from the stream `audit:log` without scanning it from the start: stream ids
// are `<seq>-0` and entries are appended in time order, so a binary search on seq (one XRANGE … COUNT 1 per step)
// finds the first entry at or after the window's start, and pages are read forward from there until the end.
// The chain's integrity is `tradeguard audit verify`'s business; here an entry that does not parse is counted and
// named, never guessed at.
import type { Redis } from "ioredis";
import { z } from "zod";
import type { Keys } from "../state/keys.js";

/** What a report reads of an audit entry. */
export interface AuditRecord {
  seq: number;
  ts: string;
  ms: number;
  actor: string;
  action: string;
  details: Record<string, unknown>;
}

const entrySchema = z.object({
  seq: z.number().int().positive(),
  ts: z.string(),
  actor: z.string(),
  action: z.string(),
  details: z.record(z.string(), z.unknown()),
});

const PAGE = 1_000;
/** Writers stamp `ts` before their batch commits: entries may be this far out of time order. */
const SKEW_MS = 60_000;

type Row = [string, string[]];

function parseRow([id, fields]: Row): AuditRecord | { bad: string } {
  const i = fields.indexOf("e");
  try {
    const e = entrySchema.parse(JSON.parse(i >= 0 ? (fields[i + 1] ?? "") : ""));
    const ms = Date.parse(e.ts);
    if (!Number.isFinite(ms)) return { bad: id };
    return { ...e, ms };
  } catch {
    return { bad: id };
  }
}

const seqOf = (id: string) => Number(id.split("-")[0]);

/**
 * The entries with `ts` in [fromMs, toMs), oldest first, and the stream ids of entries that could not be read. The
 * binary search skips over unreadable entries (it looks at the next readable one).
 */
export async function readAuditWindow(
  redis: Redis,
  keys: Keys,
  fromMs: number,
  toMs: number,
): Promise<{ entries: AuditRecord[]; unreadable: string[] }> {
  const key = keys.auditLog;
  const firstRow = (await redis.xrange(key, "-", "+", "COUNT", 1)) as Row[];
  const lastRow = (await redis.xrevrange(key, "+", "-", "COUNT", 1)) as Row[];
  if (!firstRow[0] || !lastRow[0]) return { entries: [], unreadable: [] };
  // The first readable entry at or after seq `s` (null past the end).
  const readableFrom = async (s: number): Promise<AuditRecord | null> => {
    let start = `${s}-0`;
    for (;;) {
      const rows = (await redis.xrange(key, start, "+", "COUNT", 16)) as Row[];
      for (const r of rows) {
        const p = parseRow(r);
        if (!("bad" in p)) return p;
      }
      if (rows.length < 16) return null;
      start = `(${rows[rows.length - 1]![0]}`;
    }
  };
  // Lowest seq whose entry (or the next readable one) is at or after the window start, less the writers' skew.
  let lo = seqOf(firstRow[0][0]);
  let hi = seqOf(lastRow[0][0]) + 1;
  const target = fromMs - SKEW_MS;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = await readableFrom(mid);
    if (e === null || e.ms >= target) hi = mid;
    else lo = mid + 1;
  }
  const entries: AuditRecord[] = [];
  const unreadable: string[] = [];
  let start = `${lo}-0`;
  for (;;) {
    const rows = (await redis.xrange(key, start, "+", "COUNT", PAGE)) as Row[];
    let past = false;
    for (const r of rows) {
      const p = parseRow(r);
      if ("bad" in p) {
        unreadable.push(p.bad);
        continue;
      }
      if (p.ms >= toMs + SKEW_MS) past = true;
      if (p.ms >= fromMs && p.ms < toMs) entries.push(p);
    }
    if (past || rows.length < PAGE) break;
    start = `(${rows[rows.length - 1]![0]}`;
  }
  entries.sort((a, b) => a.ms - b.ms || a.seq - b.seq);
  return { entries, unreadable };
}
