// `tradeguard guards run --once --at <ISO-8601>`: a drill evaluates the guards with that clock against the live Redis
// state and changes nothing (no flag, alert, guard state or audit entry) unless --apply; the event lock's answer
// depends on --at. `guards run` exits 1 on a finding at warn or worse; `guards list` is a table with a header.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runInProcess } from "./in-process.js";

// FOMC statement of the Dec 8-9 2026 meeting: 14:00 ET (src/market/data); the lock's window is 15 min before to 30 after.
const FOMC_1350 = "2026-12-09T13:50:00-05:00";
const FOMC_MORNING = "2026-12-09T10:00:00-05:00";

let redis: Redis;
let home: string;
let env: Record<string, string> & { REDIS_PREFIX: string };

/** Every key under the prefix with its DUMP (type, value and encoding), and its TTL: the whole keyspace's state. */
async function keyspace(prefix: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500);
    cursor = next;
    for (const k of keys) {
      const [dump, ttl] = await Promise.all([redis.dumpBuffer(k), redis.pttl(k)]);
      out.set(k, `${dump?.toString("hex")} ttl:${ttl > 0 ? "set" : ttl}`);
    }
  } while (cursor !== "0");
  return out;
}

const guardsRun = (extra: string[], e = env) => runInProcess(["guards", "run", "--once", ...extra], e);

beforeAll(async () => {
  redis = new Redis(inject("redisUrl"));
  home = mkdtempSync(join(tmpdir(), "tg-guards-cli-"));
  writeFileSync(
    join(home, "c.yml"),
    "runbook_url: https://wiki.desk.example/ops/RUNBOOK.md\nguards: { slippage: { enabled: true } }\n",
  );
  env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "c.yml"),
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
  };
  // Some state for the drill to leave alone: a lock a risk manager set by hand that has expired by 13:50.
  await redis.set(
    `${env.REDIS_PREFIX}risk:event_lock`,
    JSON.stringify({ event: "manual", until: "2026-12-09T15:00:00Z", cap: 0.5, exempt: [] }),
  );
  await redis.hset(`${env.REDIS_PREFIX}guards:state`, "market_hours", "{not json");
});
afterAll(() => redis.disconnect());

describe("tradeguard guards run --once --at (a drill)", () => {
  it("says what the event lock would be at 13:50 on FOMC day, and changes nothing in Redis or the audit file", async () => {
    const before = await keyspace(env.REDIS_PREFIX);
    const auditFile = join(home, "audit.jsonl");
    const auditBefore = existsSync(auditFile) ? readFileSync(auditFile, "utf8") : null;
    const r = await guardsRun(["--guard", "economic_events", "--at", FOMC_1350, "--json"]);
    expect(r.code).toBe(1); // the lock is a warn finding
    const drill = JSON.parse(r.stdout);
    expect(drill).toMatchObject({ at: "2026-12-09T18:50:00.000Z", applied: false, skipped: [], unreadable: [] });
    const lock = drill.findings.find((f: { key: string }) => f.key === "economic_events:lock");
    expect(lock).toMatchObject({ severity: "warn", value: "FOMC 2026-12-09 14:00 ET" });
    expect(lock.actions).toEqual([expect.objectContaining({ op: "set", key: "risk:event_lock", ttlMs: 40 * 60_000 })]);
    expect(JSON.parse(lock.actions[0].value)).toMatchObject({ until: "2026-12-09T19:30:00.000Z", cap: 0.25 });
    expect(drill.guards).toEqual([expect.objectContaining({ name: "economic_events", state: "warn" })]);
    // Nothing written: no flag, no tick lock, no guard state, no alert, no audit entry; no alert printed either.
    expect(await keyspace(env.REDIS_PREFIX)).toEqual(before);
    expect(existsSync(auditFile) ? readFileSync(auditFile, "utf8") : null).toBe(auditBefore);
    expect(r.stderr).not.toMatch(/Event lock/);
  });

  it("gives another answer at another --at: at 10:00 the same day there is no lock to set", async () => {
    const r = await guardsRun(["--guard", "economic_events", "--at", FOMC_MORNING, "--json"]);
    const drill = JSON.parse(r.stdout);
    expect(drill.at).toBe("2026-12-09T15:00:00.000Z");
    expect(drill.findings.map((f: { key: string }) => f.key)).not.toContain("economic_events:lock");
    expect(r.code).toBe(drill.findings.some((f: { severity: string }) => f.severity !== "info") ? 1 : 0);
  });

  it("reads as text with the SOP under the configured runbook_url", async () => {
    const r = await guardsRun(["--guard", "economic_events", "--at", FOMC_1350]);
    expect(r.stdout).toContain("drill at 2026-12-09T18:50:00.000Z (nothing applied):");
    expect(r.stdout).toMatch(
      /warn Event lock: FOMC 2026-12-09 14:00 ET .* → https:\/\/wiki\.desk\.example\/ops\/RUNBOOK\.md#sop-economic-event/,
    );
  });

  it("leaves out (and lists) a guard whose probe writes its own state", async () => {
    const before = await keyspace(env.REDIS_PREFIX);
    const r = await guardsRun(["--guard", "slippage", "--at", FOMC_1350, "--json"]);
    expect(r.code).toBe(0);
    const drill = JSON.parse(r.stdout);
    expect(drill.guards).toEqual([]);
    expect(drill.skipped).toEqual([{ name: "slippage", why: expect.stringMatching(/not run in a drill; --apply/) }]);
    expect(await keyspace(env.REDIS_PREFIX)).toEqual(before);
  });

  it("--apply runs the real tick on that clock: the lock is set, the guard state and the audit say so", async () => {
    const before = await keyspace(env.REDIS_PREFIX);
    const auditLen = await redis.xlen(`${env.REDIS_PREFIX}audit:log`).catch(() => 0);
    const r = await guardsRun(["--guard", "economic_events", "--at", FOMC_1350, "--apply", "--json"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ at: "2026-12-09T18:50:00.000Z", applied: true });
    const lock = JSON.parse((await redis.get(`${env.REDIS_PREFIX}risk:event_lock`))!);
    expect(lock).toMatchObject({ event: "FOMC 2026-12-09 14:00 ET", until: "2026-12-09T19:30:00.000Z", cap: 0.25 });
    const state = JSON.parse((await redis.hget(`${env.REDIS_PREFIX}guards:state`, "economic_events"))!);
    expect(state).toMatchObject({ state: "warn", lastRun: "2026-12-09T18:50:00.000Z" });
    expect(await redis.xlen(`${env.REDIS_PREFIX}audit:log`)).toBeGreaterThan(auditLen);
    expect(r.stderr).toMatch(/WARN: Event lock: FOMC/); // the alert went out (console notifier)
    expect(await keyspace(env.REDIS_PREFIX)).not.toEqual(before); // the comparison the drills pass does see writes
  });

  it("usage errors exit 2: a bad --at, --apply without --at, an unknown guard (drill or not)", async () => {
    for (const args of [
      ["--at", "13:50 on FOMC day"],
      ["--apply"],
      ["--guard", "nope", "--at", FOMC_1350],
      ["--guard", "nope"],
    ]) {
      const r = await guardsRun(args);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
    }
  });
});

describe("tradeguard guards list", () => {
  it("is a table with a header, and the same rows as JSON", async () => {
    const r = await runInProcess(["guards", "list"], env);
    expect(r.code).toBe(0);
    const [head, rule, ...rows] = r.stdout.trimEnd().split("\n");
    expect(head).toMatch(/^guard +schedule +enabled +last run +state$/);
    expect(rule).toMatch(/^─+( +─+){4}$/);
    expect(rows.find((l) => l.startsWith("economic_events "))).toMatch(/warn Event lock: FOMC/);
    const json = JSON.parse((await runInProcess(["guards", "list", "--json"], env)).stdout) as { name: string }[];
    expect(json.map((g) => g.name)).toEqual(rows.map((l) => l.split(/ +/)[0]));
  });

  it("exits 3 when Redis is unreachable, after showing the schedules", async () => {
    const r = await runInProcess(["guards", "list"], { ...env, REDIS_URL: "redis://127.0.0.1:1" });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/^guard +schedule/);
    expect(r.stderr).toMatch(/Redis is unreachable: guard states not read/);
  });
});
