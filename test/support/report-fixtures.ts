// Fixture records for the report tests, written into the real test Redis in the formats tradeguard writes them:
// alert events (`alerts:<stream>`, newest first, as the alert pipeline LPUSHes them), signed audit entries (`audit:log`,
// ids `<seq>-0`, the hash chain of src/audit/chain.ts) and recon summaries (`recon:last`).
import { generateKeyPairSync } from "node:crypto";
import type { Redis } from "ioredis";
import { buildEntry, type ChainHead, EMPTY_HEAD, serializeEntry } from "../../src/audit/chain.js";
import type { Keys } from "../../src/state/keys.js";

export type FixtureAlert = {
  type: "opened" | "escalated" | "resolved";
  at: string;
  stream: string;
  guard: string;
  key: string;
  severity: "warn" | "critical";
  title: string;
};

/** Writes alert events per stream, oldest first in `events` (stored newest first, like LPUSH). */
export async function writeAlerts(redis: Redis, keys: Keys, events: FixtureAlert[]): Promise<void> {
  const byStream = new Map<string, FixtureAlert[]>();
  for (const e of events) byStream.set(e.stream, [...(byStream.get(e.stream) ?? []), e]);
  for (const [stream, evs] of byStream) {
    const sorted = [...evs].sort((a, b) => a.at.localeCompare(b.at));
    await redis.lpush(
      keys.alerts(stream),
      ...sorted.map((e) =>
        JSON.stringify({
          type: e.type,
          at: e.at,
          alert: {
            guard: e.guard,
            key: e.key,
            severity: e.severity,
            title: e.title,
            detail: "fixture",
            sop: "sop-guard-error",
            stream,
            since: e.at,
            lastSeen: e.at,
            count: 1,
            notifiedSeverity: e.severity,
          },
        }),
      ),
    );
  }
}

export type FixtureAudit = { ts: string; actor: string; action: string; details: Record<string, unknown> };

/** Appends signed audit entries (sorted by ts) to `audit:log` as the append script does. */
export async function writeAudit(redis: Redis, keys: Keys, entries: FixtureAudit[]): Promise<void> {
  const { privateKey } = generateKeyPairSync("ed25519");
  let head: ChainHead = EMPTY_HEAD;
  for (const input of [...entries].sort((a, b) => a.ts.localeCompare(b.ts))) {
    const e = buildEntry(head, input, privateKey);
    await redis.xadd(keys.auditLog, `${e.seq}-0`, "e", serializeEntry(e));
    head = { seq: e.seq, hash: e.hash };
  }
}

/** Pushes recon summaries (oldest first in `runs`) onto `recon:last`, newest at the head. */
export async function writeRecon(redis: Redis, keys: Keys, runs: (Record<string, unknown> | string)[]): Promise<void> {
  for (const r of runs) await redis.lpush(keys.reconLast, typeof r === "string" ? r : JSON.stringify(r));
}
