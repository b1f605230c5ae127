// The bot process's last line of defence: an unexpected rejection or exception is logged with a correlation id and
// counted, and the bot keeps serving; a storm of them (something is systematically broken) exits 1 for the supervisor.
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../src/metrics.js";
import { installProcessGuard } from "../src/process-guard.js";
import { captureLog } from "./support/log.js";

const src = (f: string) => new URL(`../src/${f}`, import.meta.url).href;

/** Runs a script (ESM, through tsx) in a child process; resolves with its exit code and stdout. */
function runChild(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const prelude = `
  import { installProcessGuard } from ${JSON.stringify(src("process-guard.ts"))};
  import { createLogger } from ${JSON.stringify(src("log.ts"))};
  import { createMetrics } from ${JSON.stringify(src("metrics.ts"))};
  const log = createLogger({ level: "info" });
  const metrics = createMetrics();
  installProcessGuard({ log, metrics });
  const unexpected = async () =>
    (await metrics.errors.get()).values.find((v) => v.labels.code === "unexpected")?.value ?? 0;
`;

const lines = (stdout: string) =>
  stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { level: number; msg: string; correlationId?: string });

describe("the process guard (child process)", () => {
  it("logs an unhandled rejection and an uncaught exception with correlation ids, counts them, keeps serving", async () => {
    const r = await runChild(`${prelude}
      Promise.reject(new Error("rejected on purpose"));
      setTimeout(() => { throw new Error("thrown on purpose"); }, 10);
      setTimeout(async () => { console.log("ALIVE " + (await unexpected())); }, 300);
    `);
    expect(r.stderr).not.toMatch(/rejected on purpose|thrown on purpose/); // not Node's crash report
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("ALIVE 2");
    const logged = lines(r.stdout).filter((l) => l.correlationId);
    expect(logged).toHaveLength(2);
    for (const l of logged) expect(l.msg).toContain(`correlation id ${l.correlationId}`);
    expect(logged.map((l) => l.msg).join("\n")).toMatch(/unhandled rejection[\s\S]*uncaught exception/);
  });

  it("exits 1, saying why, when more than 20 arrive within a minute", async () => {
    const r = await runChild(`${prelude}
      for (let i = 0; i < 25; i++) Promise.reject(new Error("storm " + i));
      setTimeout(() => console.log("ALIVE"), 1000);
    `);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain("ALIVE");
    const fatal = lines(r.stdout).find((l) => l.level === 60);
    expect(fatal?.msg).toMatch(/21 unexpected errors within 60 s.*exiting/);
  });
});

describe("the process guard (in process, with a fake clock and process)", () => {
  it("counts a sliding window: errors spread over time never exit; a burst does", async () => {
    const proc = new EventEmitter();
    const exits: number[] = [];
    let now = 1_000_000;
    const metrics = createMetrics();
    const { log, lines: logLines } = captureLog("info");
    const guard = installProcessGuard({
      log,
      metrics,
      proc,
      now: () => now,
      exit: (code) => exits.push(code),
    });
    for (let i = 0; i < 20; i++) proc.emit("unhandledRejection", new Error(`r${i}`), Promise.resolve());
    expect(exits).toEqual([]);
    now += 61_000; // the first 20 leave the window
    for (let i = 0; i < 20; i++) proc.emit("uncaughtException", new Error(`e${i}`), "uncaughtException");
    expect(exits).toEqual([]);
    proc.emit("unhandledRejection", "not even an Error", Promise.resolve());
    expect(exits).toEqual([1]);
    const count = (await metrics.errors.get()).values.find((v) => v.labels.code === "unexpected")?.value;
    expect(count).toBe(41);
    expect(logLines.join("")).toContain("not even an Error");
    guard.uninstall();
    expect(proc.listenerCount("unhandledRejection")).toBe(0);
    expect(proc.listenerCount("uncaughtException")).toBe(0);
  });
});
