// Progress as an operator sees it, through the real CLI against a local Alpaca server (test/support/alpaca-server.ts).
// On a pseudo-terminal (util-linux `script`), `tradeguard panic` prints "halt flag set ✓" while the broker's first
// call is still unanswered: the server holds its answer to DELETE /v2/orders until the test has read that line off
// the terminal, and the order is read from the server's own log of requests and answers — no timing threshold.
// Off a terminal, and with --json, stderr gets plain step lines only and stdout exactly the one JSON document;
// `approve --wait` counts the soak down on a terminal and, with --json, prints nothing on stdout after the outcome.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { order, position } from "../support/alpaca.js";
import { AlpacaServer } from "../support/alpaca-server.js";
import { FROM_SOURCE, runCli } from "../support/cli.js";

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for escape codes is the point
const ESC = /\u001b/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes are taken out before matching text
const COLOUR = /\u001b\[[0-9;]*m/g;
const entry = fileURLToPath(new URL("../support/cli-entry.ts", import.meta.url));

let server: AlpacaServer;
/** What the server did, in order: "arrived <route>", "answered <route>" (and what the test read, pushed by it). */
let log: string[] = [];
/** Holds the answer to DELETE /v2/orders until released (by default: answered at once). */
let hold: Promise<void> = Promise.resolve();
let orders: Record<string, unknown>[] = [];

/** Gives the account one open order and one position, as before a panic. */
function exposure() {
  orders = [order({ id: "61e69015-8549-4bfd-b9c3-01e75843f47d", status: "new" })];
  server.positions = [position({ symbol: "AAPL", qty: "2" })];
}

/** A home of its own (its audit file belongs to its Redis prefix), configured for the server's account. */
function envFor(prefix = `t${randomBytes(5).toString("hex")}:`): Record<string, string> {
  const home = mkdtempSync(join(tmpdir(), "tg-progress-cli-"));
  writeFileSync(
    join(home, "tradeguard.yaml"),
    // A soak of 3 s, so `approve --wait` ends within the test.
    `panic: { deadline_ms: 10000 }\nresume: { soak_minutes: 0.05 }\nbrokers:\n  - { name: alp, kind: alpaca, base_url: "${server.url}", key_id_env: K, secret_key_env: S }\n`,
  );
  return {
    TRADEGUARD_HOME: home,
    TRADEGUARD_CONFIG: join(home, "tradeguard.yaml"),
    REDIS_URL: inject("redisUrl"),
    REDIS_PREFIX: prefix,
    K: "PKTEST",
    S: "secret",
  };
}

beforeAll(async () => {
  server = await AlpacaServer.start();
  const logged =
    (route: string, answer: () => { status: number; body: unknown }, held = false) =>
    async () => {
      log.push(`arrived ${route}`);
      if (held) await hold;
      log.push(`answered ${route}`);
      return answer();
    };
  server
    .route(
      "GET",
      "/v2/orders",
      logged("GET /v2/orders", () => ({ status: 200, body: orders })),
    )
    .route(
      "GET",
      "/v2/positions",
      logged("GET /v2/positions", () => ({ status: 200, body: server.positions })),
    )
    .route(
      "DELETE",
      "/v2/orders",
      logged(
        "DELETE /v2/orders",
        () => {
          const body = orders.map((o) => ({ id: o.id, status: 200, body: { ...o, status: "pending_cancel" } }));
          orders = [];
          return { status: 207, body };
        },
        true,
      ),
    )
    .route(
      "DELETE",
      "/v2/positions",
      logged("DELETE /v2/positions", () => {
        const body = (server.positions as Record<string, unknown>[]).map((p, i) => ({
          symbol: p.symbol,
          status: 200,
          body: order({ id: `close-${i}`, symbol: p.symbol, side: "sell", type: "market", status: "accepted" }),
        }));
        server.positions = [];
        return { status: 207, body };
      }),
    );
});
afterAll(() => server.close());

/**
 * Runs `tradeguard <args>` on a pseudo-terminal and calls `onOutput` with everything read so far, as it streams.
 * Resolves with the exit code and the whole terminal output.
 */
function onPty(args: string[], env: Record<string, string>, onOutput: (soFar: string) => void) {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const cmd = [process.execPath, ...FROM_SOURCE, entry, ...args].map(quote).join(" ");
  return new Promise<{ code: number; output: string }>((resolve, reject) => {
    const child = spawn("script", ["-qec", cmd, "/dev/null"], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/root",
        USER: "ops",
        SUDO_USER: "ops",
        LOG_LEVEL: "warn",
        TERM: "xterm-256color",
        COLUMNS: "160",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    const onData = (d: Buffer) => {
      output += d.toString();
      onOutput(output);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

// Each test spawns the CLI twice (a few seconds each on a busy machine); a failing flatten waits out its deadline.
describe("progress on a terminal", { timeout: 40_000 }, () => {
  it("panic: the halt line is on the terminal while the broker's first call is still unanswered", async () => {
    exposure();
    log = [];
    let release!: () => void;
    hold = new Promise((r) => (release = r));
    let sawHalt = false;
    let sawCancel = false;
    const env = envFor();
    const r = await onPty(["panic", "--reason", "pty drill", "--yes"], env, (raw) => {
      const soFar = raw.replace(COLOUR, "");
      if (!sawHalt && /halt flag set ✓ \(\d/.test(soFar)) {
        sawHalt = true;
        log.push("read: halt flag set");
        // Answered once the test has read the halt line (the request itself may still be on its way).
        const waitForRequest = () =>
          log.includes("arrived DELETE /v2/orders") ? release() : setImmediate(waitForRequest);
        waitForRequest();
      }
      if (!sawCancel && /alp: cancel ✓ 1 order \(/.test(soFar)) {
        sawCancel = true;
        log.push("read: alp cancel");
      }
    });
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/HALT-VERIFIED — panic/);
    // Nothing was answered by the broker before the halt line was on the terminal.
    const haltRead = log.indexOf("read: halt flag set");
    expect(haltRead).toBeGreaterThanOrEqual(0);
    expect(log.slice(0, haltRead).filter((e) => e.startsWith("answered"))).toEqual([]);
    expect(log.indexOf("answered DELETE /v2/orders")).toBeGreaterThan(haltRead);
    // The cancel line came as the cancel was answered — after it, and before the panic was over.
    expect(log.indexOf("read: alp cancel")).toBeGreaterThan(log.indexOf("answered DELETE /v2/orders"));
    const out = r.output.replace(COLOUR, "");
    const at = (s: string) => out.indexOf(s);
    expect(at("alp: cancel ✓ 1 order")).toBeGreaterThan(at("halt flag set ✓"));
    expect(at("alp: close ✓ 1 position")).toBeGreaterThan(at("alp: cancel ✓"));
    expect(at("alp: verify ✓ flat")).toBeGreaterThan(at("alp: close ✓"));
    expect(at("HALT-VERIFIED — panic")).toBeGreaterThan(at("alp: verify ✓ flat"));
    // A live line was drawn in place (and cleared before the report).
    expect(out).toContain("\r\u001b[2K");
    expect(out).toMatch(/halting · alp: cancelling orders/);

    // The same audit log, verified on the terminal: a bar with the count and the rate, then the result.
    const v = await onPty(["audit", "verify"], env, () => {});
    expect(v.code, v.output).toBe(0);
    expect(v.output.replace(COLOUR, "")).toMatch(/verifying \[[█░]{20}\]\s+\d+% \d+\/\d+ entries · [\d,—]+\/s · ETA/);
    expect(v.output).toMatch(/OK: \d+ entries verified/);
  });
});

describe("progress off a terminal", { timeout: 40_000 }, () => {
  it("panic --json: stdout is exactly the report; stderr has the steps as plain lines, no escape codes", async () => {
    exposure();
    hold = Promise.resolve();
    const env = envFor();
    const r = await runCli(["panic", "--reason", "json drill", "--yes", "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout); // the whole of stdout is one JSON document
    expect(report).toMatchObject({ status: "HALT-VERIFIED", haltFlag: "set" });
    expect(r.stderr).not.toMatch(ESC);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^halt flag set ✓ \([\d.]+ ms\)$/);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^alp: cancel ✓ 1 order \([\d.]+ m?s\)$/),
        expect.stringMatching(/^alp: close ✓ 1 position \([\d.]+ m?s\)$/),
        expect.stringMatching(/^alp: verify ✓ flat \([\d.]+ m?s\)$/),
      ]),
    );
    // One line per step: no live line, no repeats.
    expect(lines.filter((l) => l.startsWith("alp: cancel"))).toHaveLength(1);

    // audit verify --json: the result object only; nothing on stderr.
    const v = await runCli(["audit", "verify", "--json"], env);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, firstBad: null });
    expect(v.stderr).toBe("");
  });

  it("panic piped without --json: the report on stdout, the same plain step lines on stderr", async () => {
    exposure();
    hold = Promise.resolve();
    const r = await runCli(["panic", "--reason", "piped drill", "--yes"], envFor());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^HALT-VERIFIED — panic/m);
    expect(r.stdout).not.toMatch(/halt flag set/);
    expect(r.stderr).not.toMatch(ESC);
    expect(r.stderr).toMatch(/^halt flag set ✓ \([\d.]+ ms\)\nalp: cancel ✓ 1 order/);
  });

  it("approve --wait: a countdown on a terminal; with --json, stdout is only the outcome", {
    timeout: 120_000,
  }, async () => {
    hold = Promise.resolve();
    const env = envFor();
    const halted = async () => {
      exposure();
      expect((await runCli(["panic", "--reason", "soak drill", "--yes", "--json"], env)).code).toBe(0);
      const c = await runCli(["clear", "--reason", "flat", "--json"], env);
      expect(c.code, c.stderr).toBe(0);
      return JSON.parse(c.stdout).id as string;
    };
    const onTty = await onPty(["approve", await halted(), "--wait"], { ...env, SUDO_USER: "alice" }, () => {});
    expect(onTty.code, onTty.output).toBe(0);
    const out = onTty.output.replace(COLOUR, "");
    expect(out).toMatch(/reduce-only soak: 0:0\d left, then active/);
    expect(out).toMatch(/Mode is now active\./);

    const piped = await runCli(["approve", await halted(), "--wait", "--json"], { ...env, SUDO_USER: "alice" });
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ outcome: "approved" }); // one JSON document, nothing after it
    expect(piped.stderr).not.toMatch(ESC);
    expect(piped.stderr).toMatch(/^soak over ✓ mode is now active$/m);
  });
});
