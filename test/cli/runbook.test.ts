// `tradeguard runbook <topic>` finds an SOP through a typo, and lists the close ones (exit 2) when several fit.
import { describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";

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
        { anchor: "sop-rotate", title: "Key rotation" },
        { anchor: "sop-rotate-revoke", title: "Revoke the old key after a rotation" },
      ],
    });
  });
});
