// The slippage guard's I/O (its probe): read the `ledger:fills` entries after the cursor (at most a page), add the
// tracked fills to their per-date, per-strategy aggregates, and commit the aggregates, the skipped entries and the
// new cursor in one script that first checks the cursor is still the one read — so two overlapping ticks never
// count an entry twice. Bounded work: four round trips and one page of entries per tick. The stream is never
// written or trimmed here. The aggregates are figures, not flags: they are written here rather than through the
// runner's flag changes, which audit every change (a fill a minute would flood the audit chain).
import type { Redis } from "ioredis";
import { entryToRow, LEDGER_STREAM, nextId, parseLedgerFill } from "../recon/ledger.js";
import {
  addFill,
  type FillSlippage,
  fillSlippage,
  formatSlippageDay,
  parseExecutionFields,
  parseSlippageDay,
  type SlippageDay,
} from "../recon/ledger-slippage.js";
import { SLIPPAGE_KEYS } from "../state/keys.js";

/** A tracked ledger entry the guard could not use. */
export interface SkippedEntry {
  entry: string;
  reason: string;
  at: string;
}

/** What one tick read and what the aggregates of the window's dates are afterwards. */
export interface SlippageTick {
  /** Entries read from the stream this tick. */
  read: number;
  /** Tracked fills added to aggregates. */
  applied: number;
  /** Entries without strategy / expected_price (recon's fills, not tracked for slippage). */
  untracked: number;
  /** The page was full: more entries wait for the next tick. */
  more: boolean;
  /** False when nothing was written: another tick moved the cursor first, or an aggregate to update is unreadable. */
  committed: boolean;
  cursor: string | null;
  /** Trade date → strategy → aggregate, for the window's dates (readable aggregates only). */
  days: Record<string, Record<string, SlippageDay>>;
  /** The skipped entries on record, newest first (this tick's included when committed). */
  skipped: SkippedEntry[];
  /** Keys or fields that could not be read, each naming what to fix. */
  invalid: string[];
}

export interface SlippageTickOptions {
  now: Date;
  /** The trade dates (YYYY-MM-DD, New York) whose aggregates the guard judges. */
  windowDates: string[];
  maxEntries: number;
  /** Where a first tick (no cursor) starts: this many days back. */
  backfillDays: number;
  /** Aggregates expire this many days after their trade date. */
  retentionDays: number;
  /** Skipped entries kept on record. */
  skippedCap: number;
}

// KEYS[1] cursor, KEYS[2] skipped list, KEYS[3..] aggregates then sets. ARGV[1] the cursor read ('' = none), ARGV[2]
// the new cursor, ARGV[3] the skipped cap, ARGV[4] JSON {hashes:[{k, fields, exp}], sets:[{k, members, exp}],
// skipped:[json]}. Every key's type is checked before anything is written (a script is not rolled back).
const COMMIT = `
local function typeof(k) return redis.call('TYPE', k).ok end
if (redis.call('GET', KEYS[1]) or '') ~= ARGV[1] then return 'moved' end
local p = cjson.decode(ARGV[4])
local t = typeof(KEYS[2])
if t ~= 'none' and t ~= 'list' then return 'wrongtype:' .. KEYS[2] end
for _, h in ipairs(p.hashes) do
  t = typeof(KEYS[h.k]); if t ~= 'none' and t ~= 'hash' then return 'wrongtype:' .. KEYS[h.k] end
end
for _, s in ipairs(p.sets) do
  t = typeof(KEYS[s.k]); if t ~= 'none' and t ~= 'set' then return 'wrongtype:' .. KEYS[s.k] end
end
for _, h in ipairs(p.hashes) do
  local args = {}
  for f, v in pairs(h.fields) do args[#args + 1] = f; args[#args + 1] = v end
  redis.call('HSET', KEYS[h.k], unpack(args))
  redis.call('PEXPIREAT', KEYS[h.k], h.exp)
end
for _, s in ipairs(p.sets) do
  redis.call('SADD', KEYS[s.k], unpack(s.members))
  redis.call('PEXPIREAT', KEYS[s.k], s.exp)
end
for _, e in ipairs(p.skipped) do redis.call('LPUSH', KEYS[2], e) end
if #p.skipped > 0 then redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1) end
redis.call('SET', KEYS[1], ARGV[2])
return 'ok'
`;

const STREAM_ID = /^\d{1,20}-\d{1,20}$/;
const defined = new WeakSet<Redis>();

/** Runs the commit script (EVALSHA through ioredis, loaded once per client). */
function commit(redis: Redis, keys: string[], args: string[]): Promise<string> {
  if (!defined.has(redis)) {
    redis.defineCommand("tgSlippageCommit", { lua: COMMIT });
    defined.add(redis);
  }
  const r = redis as Redis & { tgSlippageCommit(n: number, ...a: string[]): Promise<string> };
  return r.tgSlippageCommit(keys.length, ...keys, ...args);
}

const DAY_MS = 86_400_000;
type Reply = [Error | null, unknown];

/** Why a reply failed, naming the key ("wrong type (hash)" for WRONGTYPE). */
async function problem(redis: Redis, key: string, err: Error): Promise<string> {
  if (!/WRONGTYPE/.test(err.message)) return err.message;
  return `wrong type (${await redis.type(key).catch(() => "unknown")})`;
}

function parseSkipped(raw: string): SkippedEntry | null {
  try {
    const v = JSON.parse(raw) as Partial<SkippedEntry>;
    return typeof v?.entry === "string" && typeof v.reason === "string" && typeof v.at === "string"
      ? { entry: v.entry, reason: v.reason, at: v.at }
      : null;
  } catch {
    return null;
  }
}

/** Runs one tick of the slippage aggregation (`keyOf` = the prefixing key builder). */
export async function runSlippageTick(
  redis: Redis,
  keyOf: (logical: string) => string,
  o: SlippageTickOptions,
): Promise<SlippageTick> {
  const at = o.now.toISOString();
  const out: SlippageTick = {
    read: 0,
    applied: 0,
    untracked: 0,
    more: false,
    committed: false,
    cursor: null,
    days: {},
    skipped: [],
    invalid: [],
  };
  // 1. The cursor, the window's strategies and the skipped list.
  const first = redis.pipeline().get(keyOf(SLIPPAGE_KEYS.cursor)).lrange(keyOf(SLIPPAGE_KEYS.skipped), 0, -1);
  for (const d of o.windowDates) first.smembers(keyOf(SLIPPAGE_KEYS.strategies(d)));
  const r1 = ((await first.exec()) ?? []) as Reply[];
  const names = [SLIPPAGE_KEYS.cursor, SLIPPAGE_KEYS.skipped, ...o.windowDates.map(SLIPPAGE_KEYS.strategies)];
  const ok: boolean[] = [];
  for (let i = 0; i < r1.length; i++) {
    const [err] = r1[i]!;
    ok.push(!err);
    if (err) out.invalid.push(`${names[i]}: ${await problem(redis, keyOf(names[i]!), err)}`);
  }
  const cursor = ok[0] ? ((r1[0]![1] as string | null) ?? null) : null;
  if (cursor !== null && !STREAM_ID.test(cursor)) {
    out.invalid.push(`${SLIPPAGE_KEYS.cursor}: not a stream id (${JSON.stringify(cursor.slice(0, 40))})`);
    ok[0] = false;
  }
  out.cursor = cursor;
  if (ok[1])
    for (const raw of r1[1]![1] as string[]) {
      const s = parseSkipped(raw);
      if (s) out.skipped.push(s);
    }
  const wanted = new Set<string>();
  o.windowDates.forEach((d, i) => {
    if (ok[i + 2]) for (const s of r1[i + 2]![1] as string[]) wanted.add(`${d}\n${s}`);
  });

  // 2. The next page of the ledger (not when the cursor or the skipped list cannot be trusted).
  const deltas = new Map<string, { date: string; strategy: string; fills: { s: FillSlippage; id: string }[] }>();
  const skipped: SkippedEntry[] = [];
  let last: string | null = null;
  if (ok[0] && ok[1]) {
    const ledger = keyOf(LEDGER_STREAM);
    const start = cursor ? nextId(cursor) : `${Math.max(0, o.now.getTime() - o.backfillDays * DAY_MS)}-0`;
    let entries: [string, string[]][] = [];
    try {
      entries = (await redis.xrange(ledger, start, "+", "COUNT", o.maxEntries)) as [string, string[]][];
    } catch (err) {
      out.invalid.push(`${LEDGER_STREAM}: ${await problem(redis, ledger, err as Error)}`);
    }
    out.read = entries.length;
    out.more = entries.length === o.maxEntries;
    for (const [id, fields] of entries) {
      last = id;
      const row = entryToRow(fields);
      if (typeof row === "string") {
        // A field given twice: ours to name only when the entry is one of the tracked fills.
        const tracked = fields.some((f, i) => i % 2 === 0 && (f === "strategy" || f === "expected_price"));
        if (tracked) skipped.push({ entry: id, reason: row, at });
        else out.untracked++;
        continue;
      }
      const exec = parseExecutionFields(row);
      if (!exec.tracked) {
        out.untracked++;
        continue;
      }
      if ("error" in exec) {
        skipped.push({ entry: id, reason: exec.error, at });
        continue;
      }
      const fill = parseLedgerFill(row, `${LEDGER_STREAM} ${id}`);
      if ("reason" in fill) {
        skipped.push({ entry: id, reason: fill.reason, at });
        continue;
      }
      const k = `${fill.tradeDate}\n${exec.strategy}`;
      let d = deltas.get(k);
      if (!d) {
        d = { date: fill.tradeDate, strategy: exec.strategy, fills: [] };
        deltas.set(k, d);
      }
      d.fills.push({ s: fillSlippage(fill, exec.expectedPrice), id });
    }
  }

  // 3. The aggregates of the window and of every (date, strategy) this page touches.
  for (const k of deltas.keys()) wanted.add(k);
  const wantedList = [...wanted];
  const keyFor = (k: string) => {
    const [date, strategy] = k.split("\n") as [string, string];
    return SLIPPAGE_KEYS.daily(date, strategy);
  };
  const r3 = wantedList.length
    ? (((await wantedList.reduce((p, k) => p.hgetall(keyOf(keyFor(k))), redis.pipeline()).exec()) ?? []) as Reply[])
    : [];
  const aggs = new Map<string, SlippageDay>();
  let blocked = false;
  for (let i = 0; i < wantedList.length; i++) {
    const k = wantedList[i]!;
    const [err, v] = r3[i]!;
    const parsed = err ? await problem(redis, keyOf(keyFor(k)), err) : parseSlippageDay(v as Record<string, string>);
    if (typeof parsed === "string") {
      const touched = deltas.has(k);
      blocked ||= touched;
      out.invalid.push(
        `${keyFor(k)}: ${parsed}${touched ? ` (the cursor stays at ${cursor ?? "its start"} until it is fixed or deleted)` : ""}`,
      );
    } else aggs.set(k, parsed);
  }

  // 4. Add the page's fills and commit, unless an aggregate it touches is unreadable.
  if (last !== null && !blocked) {
    const updated = new Map<string, SlippageDay>();
    for (const [k, d] of deltas) {
      const agg = structuredClone(aggs.get(k)!);
      for (const f of d.fills) addFill(agg, f.s, f.id, at);
      updated.set(k, agg);
    }
    const keyList = [keyOf(SLIPPAGE_KEYS.cursor), keyOf(SLIPPAGE_KEYS.skipped)];
    const index = (logical: string) => keyList.push(keyOf(logical));
    const expAt = (date: string) => String(Date.parse(`${date}T00:00:00Z`) + (o.retentionDays + 1) * DAY_MS);
    const hashes = [...updated].map(([k, agg]) => ({
      k: index(keyFor(k)),
      fields: formatSlippageDay(agg),
      exp: expAt(k.slice(0, 10)),
    }));
    const byDate = new Map<string, string[]>();
    for (const d of deltas.values()) byDate.set(d.date, [...(byDate.get(d.date) ?? []), d.strategy]);
    const sets = [...byDate].map(([date, members]) => ({
      k: index(SLIPPAGE_KEYS.strategies(date)),
      members,
      exp: expAt(date),
    }));
    const payload = JSON.stringify({ hashes, sets, skipped: skipped.map((s) => JSON.stringify(s)) });
    const res = await commit(redis, keyList, [cursor ?? "", last, String(o.skippedCap), payload]);
    if (res === "ok") {
      out.committed = true;
      out.cursor = last;
      out.applied = [...deltas.values()].reduce((n, d) => n + d.fills.length, 0);
      out.skipped = [...skipped.reverse(), ...out.skipped].slice(0, o.skippedCap);
      for (const [k, agg] of updated) aggs.set(k, agg);
    } else if (res.startsWith("wrongtype:")) {
      out.invalid.push(`${res.slice("wrongtype:".length).slice(keyOf("").length)}: wrong type; nothing was written`);
    }
  }
  const window = new Set(o.windowDates);
  for (const [k, agg] of aggs) {
    const [date, strategy] = k.split("\n") as [string, string];
    if (!window.has(date) || agg.fills === 0) continue;
    out.days[date] = { ...out.days[date], [strategy]: agg };
  }
  return out;
}
