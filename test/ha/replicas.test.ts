// N replicas (issue 16): three bot processes (test/ha/replica-child.ts: the real runtime and guard runner) share one
// Redis and key prefix and run one guard every second. The replica holding a tick is SIGKILLed in the middle of it;
// every slot of the window must still run exactly once, and only that one slot late (taken over by another replica
// once the dead holder's lease lapsed — the slots after it are not held up). Nothing here is timed: the window is
// derived from the schedule, and the runs are counted per slot in Redis by the guard itself.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadAuditKey } from "../../src/audit/keyfile.js";
import { intervalMs } from "../../src/jobs/runner/schedule.js";
import { testRedis } from "../support/redis.js";

const entry = fileURLToPath(new URL("./replica-child.ts", import.meta.url));
const GUARD = "replica_count";
const SCHEDULE = "* * * * * *"; // the child's guard
const STEP = intervalMs(SCHEDULE);

interface Replica {
  child: ChildProcess;
  output: () => string;
  id: () => string | null;
  exited: Promise<number | null>;
}

const r = testRedis();
const home = mkdtempSync(join(tmpdir(), "tg-replicas-"));
loadAuditKey(join(home, "audit-key.pem"), { create: true }); // every replica signs with the same key
const replicas: Replica[] = [];

function startReplica(): Replica {
  const child = spawn(process.execPath, ["--conditions=@tradeguard/source", "--import", "tsx", entry], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/root",
      REDIS_URL: r.url,
      REDIS_PREFIX: r.prefix,
      TRADEGUARD_HOME: home,
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => out, id: () => /^ready (\S+)$/m.exec(out)?.[1] ?? null, exited };
}

/** Polls `check` until it returns a value; gives up (with what the replicas said) after `ms`, never asserting on it. */
async function until<V>(what: string, check: () => Promise<V | null | undefined | false>, ms = 60_000): Promise<V> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) {
      const logs = replicas.map((x, i) => `--- replica ${i} ---\n${x.output().slice(-2000)}`).join("\n");
      throw new Error(`gave up waiting for ${what}\n${logs}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

afterAll(async () => {
  for (const x of replicas) if (x.child.exitCode === null && x.child.signalCode === null) x.child.kill("SIGKILL");
  await r.cleanup();
});

describe("three bot replicas, the tick holder killed mid-tick", () => {
  it("runs every slot of the window exactly once, and only the killed holder's slot late", async () => {
    const key = r.keys.raw;
    for (let i = 0; i < 3; i++) replicas.push(startReplica());
    await until("three replicas ready", async () => {
      const dead = replicas.find((x) => x.child.exitCode !== null);
      if (dead) throw new Error(`a replica exited at start-up:\n${dead.output()}`);
      return replicas.every((x) => x.id());
    });
    // The window starts at the first slot every replica's schedule fires for.
    const w0 = (Math.floor(Date.now() / STEP) + 1) * STEP;
    await until(
      "the first slot of the window to run",
      async () => (await r.redis.hget(key("test:runs"), iso(w0))) !== null,
    );

    // The next tick to start blocks mid-probe on whichever replica holds it; kill that process there.
    await r.redis.set(key("test:hold"), "1");
    const [slot, holder] = await until("a replica holding a tick", async () => {
      const held = Object.entries(await r.redis.hgetall(key("test:held")));
      return held.length ? held[0]! : null;
    });
    const victim = replicas.find((x) => x.id() === holder);
    expect(victim, `holder ${holder} is one of the replicas`).toBeDefined();
    victim!.child.kill("SIGKILL");
    await victim!.exited;

    // Run on until the killed slot was taken over and a few slots after it are done, then stop the survivors.
    const s = Date.parse(slot);
    const w1 = s + 4 * STEP;
    await until("the killed slot taken over", async () => (await r.redis.hget(key("test:runs"), slot)) !== null);
    await until("the window's last slot", async () => (await r.redis.hget(key("test:runs"), iso(w1 + STEP))) !== null);
    for (const x of replicas) if (x !== victim) x.child.kill("SIGTERM");
    expect(await Promise.all(replicas.filter((x) => x !== victim).map((x) => x.exited))).toEqual([0, 0]);

    const window: string[] = [];
    for (let t = w0; t <= w1; t += STEP) window.push(iso(t));
    expect(window).toContain(slot);
    const runs = await r.redis.hgetall(key("test:runs"));
    // Every slot of the window ran exactly once (the killed run never counted: it died before its count).
    expect(Object.fromEntries(window.map((x) => [x, runs[x]]))).toEqual(
      Object.fromEntries(window.map((x) => [x, "1"])),
    );
    // No slot, in the window or out of it, ran twice.
    expect(Object.values(runs).filter((n) => n !== "1")).toEqual([]);
    // One slot late: the killed holder's, run by another replica after its lease lapsed; the rest ran on their own.
    const records = await Promise.all(window.map((x) => r.redis.hgetall(r.keys.guardSlot(GUARD, x))));
    expect(records.map((x) => x.state)).toEqual(window.map(() => "done"));
    const late = window.filter((_, i) => records[i]!.takeovers !== undefined);
    expect(late).toEqual([slot]);
    const taken = records[window.indexOf(slot)]!;
    expect(taken).toMatchObject({ takeovers: "1", taken_from: expect.stringMatching(new RegExp(`^${holder}#`)) });
    expect(taken.owner!.startsWith(`${victim!.id()}#`)).toBe(false);
    expect(await r.redis.zcard(key(`guards:leases:${GUARD}`))).toBe(0);
  }, 120_000);
});

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
