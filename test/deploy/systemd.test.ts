// deploy/systemd/tradeguard.service is checked by systemd itself: `systemd-analyze verify` must have nothing to say
// (it exits 0 even on unknown keys, so its output is the verdict), and the offline `systemd-analyze security`
// exposure score must stay at or under 2.0 ("OK"). A copy with typos proves the check can fail.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const UNIT = join(import.meta.dirname, "../../deploy/systemd/tradeguard.service");
const analyze = (...args: string[]) => spawnSync("systemd-analyze", args, { encoding: "utf8" });

describe("deploy/systemd/tradeguard.service", () => {
  it("passes systemd-analyze verify without a single warning", () => {
    const r = analyze("verify", UNIT);
    expect(r.error, "systemd-analyze is missing (apt-get install -y systemd)").toBeUndefined();
    expect(r.stderr + r.stdout).toBe("");
    expect(r.status).toBe(0);
  });

  it("a unit with a typo or a bad value is caught (the check above can fail)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tg-unit-"));
    const bad = join(dir, "tradeguard.service");
    writeFileSync(
      bad,
      readFileSync(UNIT, "utf8")
        .replace("Restart=always", "Restart=sometimes")
        .replace("NoNewPrivileges=", "NoNewPrivilege="),
    );
    const out = analyze("verify", bad);
    expect(out.stderr).toMatch(/restart specifier/);
    expect(out.stderr).toMatch(/Unknown key 'NoNewPrivilege'/);
  });

  it("has a hardened exposure score of at most 2.0 (systemd-analyze security --offline)", () => {
    const r = analyze("security", "--offline=yes", UNIT);
    const score = Number(/Overall exposure level for tradeguard\.service: ([\d.]+)/.exec(r.stdout)?.[1]);
    console.info(`systemd-analyze security: exposure ${score}`);
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(2);
  });

  it("runs as its own user, takes secrets from an EnvironmentFile and may write only its home", () => {
    const unit = readFileSync(UNIT, "utf8");
    const directives = new Map<string, string[]>();
    for (const line of unit.split("\n")) {
      const m = /^([A-Za-z]+)=(.*)$/.exec(line);
      if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
    }
    expect(directives.get("User")).toEqual(["tradeguard"]);
    expect(directives.get("EnvironmentFile")).toEqual(["/etc/tradeguard/tradeguard.env"]);
    expect(directives.get("Restart")).toEqual(["always"]);
    expect(directives.get("ReadWritePaths")).toEqual(["/var/lib/tradeguard"]);
    for (const d of ["NoNewPrivileges", "ProtectHome", "PrivateTmp"]) expect(directives.get(d)).toEqual(["yes"]);
    expect(directives.get("ProtectSystem")).toEqual(["strict"]);
    // No secret in the world-readable unit: only names of non-secret settings.
    for (const e of directives.get("Environment") ?? []) expect(e).not.toMatch(/TOKEN|SECRET|KEY|PASSWORD/i);
  });
});
