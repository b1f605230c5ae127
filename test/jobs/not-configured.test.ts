// Guards that watch something the desk must declare (the RL policy daemon, NTP servers) stay off until it is
// declared: a fresh local start raises nothing for them, every view says "not configured — set …", Slack mode warns
// at start-up naming the key, and once configured they run (and page) as before.
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { allGuards } from "../../src/jobs/registry.js";
import { createLogger } from "../../src/log.js";
import { startServices } from "../../src/services.js";
import { runCli } from "../support/cli.js";
import { testRuntime } from "../support/runtime.js";

type T = Awaited<ReturnType<typeof testRuntime>>;
const opened: T[] = [];
afterEach(async () => {
  while (opened.length) await opened.pop()!.cleanup();
});

function captureLog() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger({ level: "info", destination: sink }), lines };
}

describe("guards that need a declaration", () => {
  it("a fresh local runtime runs neither the policy watchdog nor time sync, raises nothing, and says why", async () => {
    const t = await testRuntime({ guards: allGuards });
    opened.push(t);
    const res = await t.rt.guards.runOnce();
    const ran = res.guards.map((g) => g.name);
    expect(ran).not.toContain("policy_watchdog");
    expect(ran).not.toContain("time_sync");
    expect(res.findings.filter((f) => f.guard === "policy_watchdog" || f.guard === "time_sync")).toEqual([]);
    expect(await t.rt.redis.get(t.rt.keys.raw("policy:weight_floor"))).toBeNull();
    const states = await t.rt.guards.states();
    expect(states.find((s) => s.name === "policy_watchdog")).toMatchObject({
      state: "not_configured",
      detail: expect.stringMatching(/^not configured — set guards\.policy_watchdog\.enabled: true/),
    });
    expect(states.find((s) => s.name === "time_sync")).toMatchObject({
      state: "not_configured",
      detail: expect.stringMatching(/set guards\.time_sync\.servers/),
    });
    const status = await t.rt.ops.status();
    expect(status.guards.find((g) => g.name === "time_sync")?.state).toBe("not_configured");
    await expect(t.rt.guards.runOnce({ guard: "time_sync" })).rejects.toThrow(/guards\.time_sync: not configured/);
  });

  it("runs them once declared", async () => {
    const t = await testRuntime({
      guards: allGuards,
      yaml: "guards:\n  policy_watchdog: { enabled: true }\n  time_sync: { servers: ['127.0.0.1:1'], query_timeout_ms: 100, chrony: off }\n",
    });
    opened.push(t);
    const res = await t.rt.guards.runOnce();
    expect(res.guards.map((g) => g.name)).toEqual(expect.arrayContaining(["policy_watchdog", "time_sync"]));
    // Nothing answers on 127.0.0.1:1 and chrony is off: time sync pages, as it should once configured.
    expect(res.findings.find((f) => f.guard === "time_sync")?.severity).toBe("critical");
  });

  it("Slack mode warns at start-up naming the key; local mode only informs", async () => {
    for (const [env, level] of [
      [{ SLACK_BOT_TOKEN: "xoxb-fake", SLACK_SIGNING_SECRET: "test-signing-secret" }, 40],
      [{}, 30],
    ] as const) {
      const { log, lines } = captureLog();
      const t = await testRuntime({ guards: allGuards, env: { ...env }, log });
      opened.push(t);
      const services = startServices(t.rt);
      // Not scheduled at all (the 20 s symptom of a fresh start was their schedules firing).
      const listed = t.rt.guards.list();
      expect(listed.find((g) => g.name === "time_sync")?.nextRun).toBeNull();
      expect(listed.find((g) => g.name === "policy_watchdog")?.nextRun).toBeNull();
      expect(listed.find((g) => g.name === "state_integrity")?.nextRun).not.toBeNull();
      await services.stop();
      const line = lines.map((l) => JSON.parse(l)).find((l) => /guard time_sync is off/.test(l.msg));
      expect(line).toMatchObject({ level, msg: expect.stringMatching(/set guards\.time_sync\.servers/) });
    }
  });

  it("`tradeguard guards list` shows them as not configured with the setting to add", async () => {
    const t = await testRuntime();
    opened.push(t);
    const r = await runCli(["guards", "list"], { ...t.env });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/time_sync .*not_configured not configured — set guards\.time_sync\.servers/);
    expect(r.stdout).toMatch(/policy_watchdog .*not_configured/);
  });
});
