// `tradeguard cutover` and `tradeguard approve g…` as operators run them: check exits 0 only when every gate passes,
// enable is refused (exit 1, the gates printed) until then, the requester cannot approve, someone else's approval
// enables the asset class (the flag in Redis), disable removes it.
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliDesk, runCli } from "../support/cli.js";

let env: Record<string, string>;
let redis: Redis;
let prefix: string;
let id: string;

let close: () => Promise<void>;

beforeAll(() => {
  ({ env, redis, prefix, close } = cliDesk(
    "cutover",
    "roles: { clear: [cli:ops], approve: [cli:ops, cli:alice] }\ncutover:\n  gates: { recon: false, time_sync: false, quotas: false, error_budgets: false, key_rotation: false }\n",
    inject("redisUrl"),
  ));
});
afterAll(() => close());

// The steps build on each other (one desk, one Redis prefix); each spawn is a separate process, so they are split.
describe("tradeguard cutover", () => {
  it("is NO-GO (exit 1) while a gate is unknown, and enable is refused with the gates printed", async () => {
    const no = await runCli(["cutover", "check", "--json"], env);
    expect(no.code).toBe(1);
    const c = JSON.parse(no.stdout);
    expect(c.ok).toBe(false);
    expect(c.gates.find((g: { gate: string }) => g.gate === "dr_rehearsal").verdict).toBe("unknown");

    const refused = await runCli(["cutover", "enable", "equities", "--reason", "go"], env);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^UNKNOWN +dr_rehearsal +no DR rehearsal recorded/m);
    expect(refused.stdout).toMatch(/^OFF +recon +off the checklist/m);
    expect(refused.stderr).toMatch(/cutover of equities refused/);
  });

  it("is GO (exit 0) once every gate on the checklist passes", async () => {
    const rec = JSON.stringify({ ts: new Date().toISOString(), ok: true, keys: 7, ms: 1 });
    await redis.set(`${prefix}dr:last_success`, rec);
    const go = await runCli(["cutover", "check"], env);
    expect(go.code).toBe(0);
    expect(go.stdout).toMatch(/^PASS +dr_rehearsal/m);
    expect(go.stdout).toMatch(/GO: every gate passes/);
  });

  it("enable opens a request its requester cannot approve", async () => {
    const en = await runCli(["cutover", "enable", "equities", "--reason", "go live", "--json"], env);
    expect(en.code).toBe(0);
    id = JSON.parse(en.stdout).id;
    expect(id).toMatch(/^g/);
    const self = await runCli(["approve", id], env);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/someone else has to approve it/);
  });

  it("someone else's approval writes the flag; disable removes it", async () => {
    const ok = await runCli(["approve", id, "--json"], { ...env, SUDO_USER: "alice" });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ outcome: "enabled", request: { state: "approved" } });
    expect(JSON.parse((await redis.get(`${prefix}cutover:equities`))!)).toMatchObject({
      enabled: true,
      request_id: id,
      approved_by: "cli:alice",
    });

    const off = await runCli(["cutover", "disable", "equities", "--reason", "rollback"], env);
    expect(off.code).toBe(0);
    expect(await redis.get(`${prefix}cutover:equities`)).toBeNull();
  });
});
