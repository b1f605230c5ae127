// `tradeguard soak` as an operator runs it: with --json, stdout is the report object and nothing else; on a terminal a
// progress bar goes to stderr and the table to stdout; exit 1 when reads failed. Durations: exactly one of --minutes
// and --seconds (a usage error, exit 2, otherwise).
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { soakDuration } from "../../src/cli/soak.js";
import { UsageError } from "../../src/errors.js";
import { type AlpacaEndpoint, twoEndpointCli } from "../brokers/alpaca-endpoints.js";
import { runCli, runCliOnTty } from "../support/cli.js";

let primary: AlpacaEndpoint;
let backup: AlpacaEndpoint;
let env: Record<string, string>;

let close: () => Promise<void>;

beforeAll(async () => {
  ({ primary, backup, env, close } = await twoEndpointCli("soak", inject("redisUrl")));
});
afterAll(() => close());

describe("tradeguard soak", () => {
  it("--json prints only the report object; a failing endpoint makes it exit 1", async () => {
    backup.behaviour = { mode: "fail", status: 503 };
    try {
      const r = await runCli(
        ["soak", "--broker", "alp", "--seconds", "1", "--interval-ms", "250", "--each", "--json"],
        env,
      );
      expect(r.code, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout); // the whole of stdout is one JSON object
      expect(Object.keys(report).sort()).toEqual(
        [
          "active",
          "active_note",
          "active_source",
          "broker",
          "duration_ms",
          "endpoints",
          "finished_at",
          "interrupted",
          "interval_ms",
          "kind",
          "started_at",
        ].sort(),
      );
      expect(report.endpoints).toEqual([
        expect.objectContaining({
          url: primary.url,
          calls: 4,
          errors: 0,
          latency_ms: expect.objectContaining({ p50: expect.any(Number) }),
        }),
        expect.objectContaining({ url: backup.url, calls: 4, errors: 4, latency_ms: null }),
      ]);
    } finally {
      backup.behaviour = { mode: "ok" };
    }
  });

  it("on a terminal: a progress bar on stderr, then the report; exit 0 when every read succeeded", async () => {
    const r = await runCliOnTty(
      ["soak", "--broker", "alp", "--seconds", "1", "--interval-ms", "200"],
      env,
      /reads/,
      "",
    );
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/soak alp \[.*\] \d+% \| \d\/5 reads \| 0 errors/);
    expect(r.output).toMatch(/soak alp \(alpaca\): .*one read every 200 ms/);
    expect(r.output).toContain(`* ${primary.url}`);
  });

  it("takes exactly one of --minutes and --seconds, from 1 s to 24 h", () => {
    expect(soakDuration({ minutes: "10" })).toBe(600_000);
    expect(soakDuration({ seconds: "1.5" })).toBe(1_500);
    for (const bad of [
      {},
      { minutes: "1", seconds: "1" },
      { seconds: "0.5" },
      { minutes: "1441" },
      { minutes: "-1" },
      { seconds: "1e3" },
    ])
      expect(() => soakDuration(bad)).toThrow(UsageError);
  });
});
