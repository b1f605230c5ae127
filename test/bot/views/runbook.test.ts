// SOP links: with runbook_url every view links `<runbook_url>#<anchor>`; without it, they show `RUNBOOK.md#<anchor>`
// and the /runbook command, and /runbook itself shows the SOP's steps inline.
import { describe, expect, it } from "vitest";
import { alertView } from "../../../src/bot/views/alert.js";
import { clearRequestView } from "../../../src/bot/views/clear.js";
import { homeView } from "../../../src/bot/views/home.js";
import { panicConfirmView, panicReportView } from "../../../src/bot/views/panic.js";
import { runbookListView, runbookSopView } from "../../../src/bot/views/runbook.js";
import { blockKitViolations, renderedTexts } from "../../support/block-kit-limits.js";
import * as f from "./fixtures.js";

const json = (v: { blocks: unknown[] }) => JSON.stringify(v.blocks);
const all = (v: { text?: string; blocks: unknown[] }) => renderedTexts(v).join("\n");

describe("/runbook <topic>", () => {
  const sop = f.sop({
    anchor: "sop-halt-partial",
    title: "HALT-PARTIAL",
    body: "1. **Call the broker.**\n2. Then `tradeguard status`.",
  });
  it("without runbook_url: the steps inline and where the SOP is in the repository", () => {
    const v = runbookSopView(sop);
    expect(all(v)).toContain("1. *Call the broker.*");
    expect(all(v)).toContain("`RUNBOOK.md#sop-halt-partial`");
    expect(json(v)).not.toContain('"url"');
    expect(blockKitViolations(v)).toEqual([]);
  });
  it("with runbook_url: the steps inline and a button to the SOP", () => {
    const v = runbookSopView(sop, f.URL);
    expect(all(v)).toContain("1. *Call the broker.*");
    expect(json(v)).toContain(`"url":"${f.URL}#sop-halt-partial"`);
    expect(blockKitViolations(v)).toEqual([]);
  });
  it("the list links each title under runbook_url, and names the command for each either way", () => {
    expect(all(runbookListView([sop], f.URL))).toContain(`<${f.URL}#sop-halt-partial|HALT-PARTIAL>`);
    expect(all(runbookListView([sop]))).toContain("*HALT-PARTIAL* — `/runbook halt-partial`");
  });
});

describe("SOP links in the other messages", () => {
  const views = (url?: string) => ({
    alert: alertView({ type: "opened", at: "x", alert: f.openAlert() }, url),
    "panic report": panicReportView(f.report(), url),
    "panic confirm": panicConfirmView(f.radius(), "r", f.TOKEN, url),
    clear: clearRequestView(f.clearRequest(), f.report(), f.NOW, url),
    home: homeView(f.status(), f.NOW, url),
  });
  const anchors: Record<string, string> = {
    alert: "sop-policy-watchdog",
    "panic report": "sop-halt-partial",
    "panic confirm": "sop-panic",
    clear: "sop-resume",
    home: "sop-resume",
  };
  it("with runbook_url: an absolute link to the anchor", () => {
    for (const [name, v] of Object.entries(views(f.URL))) expect(json(v), name).toContain(`${f.URL}#${anchors[name]}`);
  });
  it("without it: RUNBOOK.md#anchor and the /runbook command, never a link", () => {
    for (const [name, v] of Object.entries(views())) {
      expect(all(v), name).toContain(`\`RUNBOOK.md#${anchors[name]}\``);
      expect(all(v), name).toContain(`\`/runbook ${anchors[name]!.replace(/^sop-/, "")}\``);
      expect(json(v), name).not.toContain('"url"');
    }
  });
});
