// `tradeguard dr rehearse` against a second real redis-server: exit 2 without a scratch Redis, 1 for a failed
// rehearsal (recorded), 0 when every key of the snapshot is restored and matches; `dr status` shows the records.
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { runCli } from "../support/cli.js";
import { startRedisServer } from "../support/global-setup.js";

let scratch: Awaited<ReturnType<typeof startRedisServer>>;
let home: string;
let env: Record<string, string>;

beforeAll(async () => {
  scratch = await startRedisServer();
  home = mkdtempSync(join(tmpdir(), "tg-dr-"));
  writeFileSync(join(home, "c.yml"), `dr: { scratch_url: "${scratch.url}" }\n`);
  env = {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "c.yml"),
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
  };
});
afterAll(() => scratch.stop());

describe("tradeguard dr", () => {
  it("exits 2 without dr.scratch_url", async () => {
    const { TRADEGUARD_CONFIG: _c, ...plain } = env;
    const r = await runCli(["dr", "rehearse"], plain);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/set dr.scratch_url/);
  });

  it("exits 1 with nothing to restore, 0 once a snapshot restores and matches; dr status shows both", async () => {
    const none = await runCli(["dr", "rehearse"], env);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/FAILED: no snapshot to restore/);
    const file = join(home, "snap.json");
    writeFileSync(
      file,
      JSON.stringify({
        taken_at: "2026-11-25T15:00:00.000Z",
        redis: { mode: "halt", mode_meta: { reason: "drill", actor: "cli:ops" } },
      }),
    );
    const ok = await runCli(["dr", "rehearse", "--snapshot", file, "--json"], env);
    expect(ok.code).toBe(0);
    const r = JSON.parse(ok.stdout);
    expect(r).toMatchObject({ ok: true, keys: 2, mismatches: [], snapshot: file, scratch: scratch.url });
    const status = JSON.parse((await runCli(["dr", "status", "--json"], env)).stdout);
    expect(status.success).toEqual({ ts: r.ts, ok: true, keys: 2, ms: r.ms });
    expect(status.last).toEqual(status.success);
  });
});
