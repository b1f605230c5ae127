import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cliActor, redactedConfig } from "../src/config.js";
import { ConfigError } from "../src/errors.js";
import { loadAppConfig as loadConfig } from "../src/main.js";
import { captureLog } from "./support/log.js";

const home = mkdtempSync(join(tmpdir(), "tg-cfg-"));
const yamlFile = (text: string) => {
  const f = join(home, `c${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(f, text);
  return f;
};

describe("loadConfig", () => {
  it("runs in local mode on embedded defaults with the paper broker and open roles", () => {
    const c = loadConfig({ TRADEGUARD_HOME: home });
    expect(c.mode).toBe("local");
    expect(c.redis).toMatchObject({ url: "redis://127.0.0.1:6379", prefix: "", sentinel: null, tls: null });
    expect(c.http).toEqual({ host: "0.0.0.0", port: 3000 });
    expect(c.brokers).toEqual([{ name: "paper", kind: "paper", latency_ms: 0 }]);
    expect(c.roles).toEqual({ panic: ["*"], clear: ["*"], approve: ["*"], rotate: ["*"] });
    expect(c.audit.keyFile).toBe(join(home, "audit-key.pem"));
    expect(c.approvals.clear).toBe(1);
    expect(c.resume).toEqual({ soakMinutes: 5, requestTtlMinutes: 15 });
  });

  it("in Slack mode opens only panic by default", () => {
    const c = loadConfig({ TRADEGUARD_HOME: home, SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" });
    expect(c.mode).toBe("slack-http");
    expect(c.roles).toEqual({ panic: ["*"], clear: [], approve: [], rotate: [] });
    expect(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_APP_TOKEN: "xapp-1" }).mode).toBe("slack-socket");
  });

  it("reads roles, brokers and resume settings from the YAML file", () => {
    const f = yamlFile(`
roles: { panic: ["*"], clear: [U1], approve: [U2, U3], rotate: [U9] }
brokers:
  - { name: paper-a, kind: paper, latency_ms: 20 }
  - { name: binance, kind: ccxt, exchange: binanceusdm, api_key_env: BN_KEY, secret_env: BN_SECRET }
approvals: { clear: 2 }
resume: { soak_minutes: 0 }
`);
    const c = loadConfig({ TRADEGUARD_CONFIG: f });
    expect(c.roles.approve).toEqual(["U2", "U3"]);
    expect(c.brokers.map((b) => b.name)).toEqual(["paper-a", "binance"]);
    expect(c.approvals.clear).toBe(2);
    expect(c.resume.soakMinutes).toBe(0);
  });

  it("adds the alpaca broker from APCA_* env", () => {
    const c = loadConfig({
      APCA_API_KEY_ID: "k",
      APCA_API_SECRET_KEY: "s",
      APCA_API_BASE_URL: "https://paper-api.alpaca.markets",
    });
    expect(c.brokers).toEqual([
      expect.objectContaining({ name: "alpaca", kind: "alpaca", base_url: "https://paper-api.alpaca.markets" }),
    ]);
    expect(() => loadConfig({ APCA_API_KEY_ID: "k" })).toThrow(/APCA_API_SECRET_KEY/);
  });

  it.each([
    [{ PORT: "70000" }, /env PORT/],
    [{ PORT: "abc" }, /env PORT/],
    [{ REDIS_URL: "http://x" }, /env REDIS_URL: .*redis:\/\//],
    [{ LOG_LEVEL: "loud" }, /env LOG_LEVEL/],
    [{ SLACK_BOT_TOKEN: "xoxp-user" }, /env SLACK_BOT_TOKEN: a bot token/],
    [{ SLACK_BOT_TOKEN: "xoxb-1" }, /SLACK_SIGNING_SECRET: required/],
    [{ SLACK_API_URL: "not a url" }, /env SLACK_API_URL/],
  ])("rejects %o naming the key", (env, msg) => {
    expect(() => loadConfig(env as Record<string, string>)).toThrow(ConfigError);
    expect(() => loadConfig(env as Record<string, string>)).toThrow(msg);
  });

  it.each([
    ["roles: { panik: ['*'] }", /roles: Unrecognized key.*panik|panik/],
    ["brokers: [{ name: x, kind: robinhood }]", /brokers\.0\.kind/],
    ["approvals: { clear: 0 }", /approvals\.clear/],
    ["resume: { soak_minutes: -1 }", /resume\.soak_minutes/],
    ["brokers: [{ name: a, kind: paper }, { name: a, kind: paper }]", /duplicate broker name a/],
    ["roles: [1, 2", /not valid YAML/],
  ])("rejects YAML %s naming the key", (text, msg) => {
    expect(() => loadConfig({ TRADEGUARD_CONFIG: yamlFile(text) })).toThrow(msg);
  });

  it("shows which secrets are configured without showing them", () => {
    const local = redactedConfig(loadConfig({ TRADEGUARD_HOME: home })) as { slack: Record<string, unknown> };
    expect(local.slack).toEqual({});
    const slack = redactedConfig(loadConfig({ SLACK_BOT_TOKEN: "xoxb-1", SLACK_SIGNING_SECRET: "s" })) as {
      slack: Record<string, unknown>;
    };
    expect(slack.slack).toEqual({ botToken: "[redacted]", signingSecret: "[redacted]" });
  });

  it("names a missing config file", () => {
    expect(() => loadConfig({ TRADEGUARD_CONFIG: join(home, "absent.yml") })).toThrow(/TRADEGUARD_CONFIG: cannot read/);
  });

  it("never lets secrets reach a log line", () => {
    const c = loadConfig({
      SLACK_BOT_TOKEN: "xoxb-SECRETX",
      SLACK_SIGNING_SECRET: "SIGNING-SECRET",
      REDIS_URL: "redis://user:PASSWORD@h:6379",
    });
    const { log, lines } = captureLog();
    log.info({ config: redactedConfig(c) }, "configuration");
    log.info({ config: c }, "raw config by mistake");
    log.info({ headers: { authorization: "Bearer xoxb-SECRETX" } }, "headers");
    const all = lines.join("\n");
    expect(all).toContain("configuration");
    expect(all).not.toContain("xoxb-SECRETX");
    expect(all).not.toContain("SIGNING-SECRET");
    expect(all).not.toContain("PASSWORD");
  });
});

describe("cliActor", () => {
  it("is the OS account, whatever USER or LOGNAME say; SUDO_USER counts only for root (sudo)", () => {
    const me = userInfo().username;
    expect(cliActor({ USER: "alice", LOGNAME: "alice" })).toBe(`cli:${me}`);
    expect(cliActor({ SUDO_USER: "alice" })).toBe(process.getuid?.() === 0 ? "cli:alice" : `cli:${me}`);
  });
});
