// Colour and tables: colour only where it is wanted (FORCE_COLOR, else NO_COLOR, else a terminal), through
// util.styleText; tables line up whatever colour their cells hold; and the log lines follow the same rules — pretty
// (and coloured unless NO_COLOR) on a terminal, one JSON object per line on a pipe.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { paint, table } from "../../src/cli/style.js";
import { colorEnabled } from "../../src/log.js";
import { runCli, runCliOnTty } from "../support/cli.js";

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for ANSI escape sequences
const ANSI = /\u001b\[/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI escape sequences
const ANSI_CODES = /\u001b\[[0-9;]*m/g;

describe("colorEnabled", () => {
  it.each([
    [tty, {}, true],
    [pipe, {}, false],
    [tty, { NO_COLOR: "1" }, false],
    [tty, { NO_COLOR: "" }, true], // no-color.org: only a non-empty value counts
    [tty, { TERM: "dumb" }, false],
    [pipe, { FORCE_COLOR: "1" }, true],
    [tty, { FORCE_COLOR: "0" }, true],
    [pipe, { FORCE_COLOR: "0" }, false],
    [pipe, { FORCE_COLOR: "1", NO_COLOR: "1" }, true], // an explicit request wins, as in Node's own tty rules
  ])("%o with %o → %s", (stream, env, want) => {
    expect(colorEnabled(stream, env)).toBe(want);
  });

  it("paint colours through styleText only when enabled", () => {
    vi.stubEnv("FORCE_COLOR", "1");
    expect(paint("red", "HALT", pipe)).toBe("\u001b[31mHALT\u001b[39m");
    vi.stubEnv("FORCE_COLOR", undefined);
    vi.stubEnv("NO_COLOR", "1");
    expect(paint("red", "HALT", tty)).toBe("HALT");
    vi.unstubAllEnvs();
  });
});

describe("table", () => {
  it("has a header and a rule, and lines columns up by their visible width", () => {
    const t = table(
      ["guard", "state"],
      [
        ["\u001b[31mtime_sync\u001b[39m", "critical"],
        ["market_hours", "ok"],
      ],
    ).replace(ANSI_CODES, "");
    expect(t.split("\n")).toEqual([
      "guard         state",
      "────────────  ────────",
      "time_sync     critical",
      "market_hours  ok",
    ]);
  });
});

describe("log lines and colour in a real process", () => {
  let env: Record<string, string>;
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(inject("redisUrl"));
    env = {
      TRADEGUARD_HOME: mkdtempSync(join(tmpdir(), "tg-style-")),
      REDIS_URL: inject("redisUrl"),
      REDIS_PREFIX: `t${randomBytes(5).toString("hex")}:`,
    };
    // Garbage where the event guard reads its lock: the runner logs "guard data invalid" at warn.
    await redis.hset(`${env.REDIS_PREFIX}risk:event_lock`, "not", "a string");
  });
  afterAll(() => redis.disconnect());
  const args = ["guards", "run", "--once", "--guard", "economic_events"];

  it("off a terminal JSON log lines, never coloured; on one pretty lines, coloured unless NO_COLOR", async () => {
    const never = /(?!)/;
    const [piped, plain, coloured] = await Promise.all([
      runCli(args, env),
      runCliOnTty(args, { ...env, TERM: "xterm-256color", NO_COLOR: "1" }, never, ""),
      runCliOnTty(args, { ...env, TERM: "xterm-256color" }, never, ""),
    ]);
    expect(piped.code).toBe(1);
    const logs = piped.stderr.split("\n").filter((l) => l.startsWith("{"));
    expect(logs.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ msg: "guard data invalid" }));
    expect(piped.stdout + piped.stderr).not.toMatch(ANSI);
    for (const r of [plain, coloured]) {
      expect(r.code).toBe(1);
      expect(r.output).toMatch(/WARN.*guard data invalid/);
      expect(r.output).not.toMatch(/"msg":"guard data invalid"/);
    }
    expect(plain.output).not.toMatch(ANSI);
    expect(coloured.output).toMatch(ANSI);
  });
});
