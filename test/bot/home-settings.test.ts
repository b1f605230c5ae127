// The `slack_home` section: defaults when absent, the desk's values when set, a clear error naming the key otherwise.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { homeOf } from "../../src/bot/home-settings.js";
import { loadAppConfig } from "../../src/main.js";

function config(yaml: string) {
  const home = mkdtempSync(join(tmpdir(), "tg-home-"));
  writeFileSync(join(home, "config.yml"), yaml);
  return loadAppConfig({
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "config.yml"),
    REDIS_URL: "redis://127.0.0.1:1/0",
  });
}

describe("slack_home settings", () => {
  it("defaults: republish at most every 5 s per user, viewers kept 12 h, poll every 10 s", () => {
    expect(homeOf(config("{}\n"))).toEqual({ republish_interval_ms: 5_000, viewer_ttl_hours: 12, poll_ms: 10_000 });
  });
  it("the desk's values", () => {
    const c = config("slack_home: { republish_interval_ms: 2000, viewer_ttl_hours: 8, poll_ms: 3000 }\n");
    expect(homeOf(c)).toEqual({ republish_interval_ms: 2_000, viewer_ttl_hours: 8, poll_ms: 3_000 });
  });
  it("a bad value or an unknown key stops start-up with the key named", () => {
    expect(() => config("slack_home: { republish_interval_ms: 10 }\n")).toThrow(/slack_home\.republish_interval_ms/);
    expect(() => config("slack_home: { debounce: 1 }\n")).toThrow(/slack_home/);
  });
});
