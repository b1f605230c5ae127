// `tradeguard runbook <topic>` finds an SOP through a typo, and lists the close ones (exit 2) when several fit.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { runInProcess } from "./in-process.js";

describe("tradeguard runbook", () => {
  it("a typo still finds its SOP; an ambiguous prefix lists the candidates with the command to open each", async () => {
    const hit = await runCli(["runbook", "pnaic"], {});
    expect(hit.code).toBe(0);
    expect(hit.stdout).toMatch(/^# SOP: Panic \(halt trading\) {2}\(RUNBOOK\.md#sop-panic\)\n/);
    const close = await runCli(["runbook", "rot", "--json"], {});
    expect(close.code).toBe(2);
    expect(JSON.parse(close.stdout)).toEqual({
      topic: "rot",
      sop: null,
      suggestions: [
        { anchor: "sop-rotate", title: "Key rotation", url: "RUNBOOK.md#sop-rotate" },
        {
          anchor: "sop-rotate-revoke",
          title: "Revoke the old key after a rotation",
          url: "RUNBOOK.md#sop-rotate-revoke",
        },
      ],
    });
  });

  it("links every SOP under runbook_url when the config sets it, and shows the SOP inline", async () => {
    const home = mkdtempSync(join(tmpdir(), "tg-runbook-"));
    writeFileSync(join(home, "c.yml"), "runbook_url: https://wiki.desk.example/ops/RUNBOOK.md\n");
    const env = { TRADEGUARD_HOME: home, TRADEGUARD_CONFIG: join(home, "c.yml") };
    const one = await runInProcess(["runbook", "panic"], env);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(
      /^# SOP: Panic \(halt trading\) {2}\(https:\/\/wiki\.desk\.example\/ops\/RUNBOOK\.md#sop-panic\)\n\n\S/,
    );
    const list = JSON.parse((await runInProcess(["runbook", "--json"], env)).stdout) as { url: string }[];
    expect(list.length).toBeGreaterThan(20);
    for (const s of list) expect(s.url).toMatch(/^https:\/\/wiki\.desk\.example\/ops\/RUNBOOK\.md#sop-/);
    // A configuration that cannot be read does not keep the SOP from being shown (relative links, said on stderr).
    const broken = await runInProcess(["runbook", "panic"], { ...env, PORT: "http" });
    expect(broken.code).toBe(0);
    expect(broken.stdout).toContain("(RUNBOOK.md#sop-panic)");
    expect(broken.stderr).toMatch(/configuration unreadable .*links are relative to RUNBOOK\.md/);
  });
});
