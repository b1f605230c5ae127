// The /status cutover view: GO / NO-GO, one line per gate, asset classes; text from Redis escaped, never a mention.
import { describe, expect, it } from "vitest";
import { cutoverView } from "../../../src/bot/views/cutover.js";
import type { CutoverCheck } from "../../../src/ops/cutover.js";

const check = (over: Partial<CutoverCheck> = {}): CutoverCheck => ({
  at: "2026-12-01T15:00:00.000Z",
  ok: true,
  gates: [
    { gate: "recon", verdict: "pass", evidence: "paper 2026-11-30 ok" },
    { gate: "alerts", verdict: "pass", evidence: "0 open alert(s), none critical" },
    { gate: "quotas", verdict: "off", evidence: "off the checklist (cutover.gates.quotas: false)" },
  ],
  assetClasses: [
    {
      assetClass: "equities",
      enabled: true,
      flag: {
        enabled: true,
        request_id: "g20261201T150000Z-abcdef",
        approved_by: "U0APPROVER",
        at: "2026-12-01T15:00:00.000Z",
      },
      invalid: null,
      pending: null,
    },
  ],
  ...over,
});

describe("cutoverView", () => {
  it("GO: every gate, the enabled class with who approved it, no SOP button", () => {
    const v = cutoverView(check());
    expect(v.text).toBe("Cutover checklist: GO");
    const s = JSON.stringify(v.blocks);
    expect(s).toContain(":white_check_mark: *recon* pass — paper 2026-11-30 ok");
    expect(s).toContain(":white_circle: *quotas* off");
    expect(s).toContain(
      "equities: :large_green_circle: *enabled* (`g20261201T150000Z-abcdef`, approved by <@U0APPROVER>",
    );
    expect(s).not.toContain("sop-cutover");
  });

  it("NO-GO: the SOP, and evidence from Redis escaped (no mention, no link)", () => {
    const v = cutoverView(
      check({
        ok: false,
        gates: [{ gate: "alerts", verdict: "fail", evidence: "1 critical alert(s) open: <!channel> <http://x|y>" }],
        assetClasses: [
          { assetClass: "equities", enabled: false, flag: null, invalid: "not a cutover flag: yes", pending: "g1" },
        ],
      }),
      "https://git.example.com/RUNBOOK.md",
    );
    expect(v.text).toBe("Cutover checklist: NO-GO");
    const s = JSON.stringify(v.blocks);
    expect(s).toContain(":x: *alerts* fail — 1 critical alert(s) open: &lt;!channel&gt; &lt;http://x|y&gt;");
    expect(s).toContain(
      "equities: :warning: not enabled — not a cutover flag: yes · request `g1` waiting for approval",
    );
    expect(s).toContain("https://git.example.com/RUNBOOK.md#sop-cutover");
  });
});
