// The App Home tab: the status summary with a header, an "as of HH:MM:SS ET" line on New York's clock, Refresh, the
// SOP for the mode (a link under runbook_url, else RUNBOOK.md#anchor and /runbook), within 100 blocks.
import { describe, expect, it } from "vitest";
import { homeDigest } from "../../../src/bot/home-publisher.js";
import { ids } from "../../../src/bot/ids.js";
import { etTime, homeView } from "../../../src/bot/views/home.js";
import { blockKitViolations, renderedTexts } from "../../support/block-kit-limits.js";
import { many, NOW, status, statusAlert, URL } from "./fixtures.js";

describe("App Home", () => {
  it("says when it was read, in New York time (EST and EDT)", () => {
    expect(etTime(NOW)).toBe("09:31:05 ET");
    expect(etTime(new Date("2026-07-01T13:30:00.000Z"))).toBe("09:30:00 ET");
    expect(etTime(new Date("2026-07-01T04:00:00.000Z"))).toBe("00:00:00 ET");
    const all = renderedTexts(homeView(status(), NOW)).join("\n");
    expect(all).toContain("as of 09:31:05 ET");
  });

  it("is a home view with the status, a Refresh button and the SOP of the mode", () => {
    const v = homeView(status(), NOW);
    expect(v.type).toBe("home");
    expect(blockKitViolations(v, "home")).toEqual([]);
    const all = renderedTexts(v).join("\n");
    expect(all).toContain("Mode *halt*");
    expect(all).toContain("SOP: Resume → `RUNBOOK.md#sop-resume` · `/runbook resume` shows it here");
    expect(JSON.stringify(v.blocks)).toContain(`"action_id":"${ids.statusRefresh}"`);
    const linked = renderedTexts(homeView(status({ mode: "active" }), NOW, URL)).join("\n");
    expect(linked).toContain(`<${URL}#sop-panic|SOP: Panic>`);
  });

  it("300 open alerts and 5,000 LULD pauses: within the 100 blocks of a Home tab, the rest counted", () => {
    const v = homeView(
      status({ alerts: many(300, (i) => statusAlert(i)), flags: { eventLock: null, luldPaused: 5000, ssrActive: 0 } }),
      NOW,
    );
    expect(blockKitViolations(v, "home")).toEqual([]);
    const all = renderedTexts(v).join("\n");
    expect(all).toContain("*Open alerts* (300)");
    expect(all).toContain("… and 292 more");
    expect(all).toContain("LULD pauses: 5000 symbol(s)");
  });

  it("its digest ignores the as-of line and changes with what is shown", () => {
    const later = new Date(NOW.getTime() + 61_000);
    expect(homeDigest(homeView(status(), NOW))).toBe(homeDigest(homeView(status(), later)));
    expect(homeDigest(homeView(status(), NOW))).not.toBe(homeDigest(homeView(status({ mode: "active" }), NOW)));
  });
});
