// A real NTP server for tests: chronyd serving its local clock on a free loopback UDP port (`local stratum 8`),
// optionally under libfaketime so the time it serves is skewed. Needs the Debian packages chrony and faketime
// (CI installs them; so does scripts/ensure-deps.sh once the lead adds them).
import { type ChildProcess, spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { sntpQuery } from "../../src/jobs/sntp.js";

/** Process groups of the chronyds still running: killed if the test process exits without stopping them. */
const live = new Set<number>();
process.once("exit", () => {
  for (const pgid of live) {
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {
      // already gone
    }
  }
});

/** The absolute path of `bin`, or null when it is not installed. */
export function which(bin: string): string | null {
  for (const dir of ["/usr/sbin", "/usr/bin", "/sbin", "/bin", ...(process.env.PATH ?? "").split(":")]) {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return join(dir, bin);
    } catch {
      // not here
    }
  }
  return null;
}

/** A free UDP port on 127.0.0.1. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export interface Chronyd {
  /** "127.0.0.1:<port>" */
  server: string;
  /** chronyd's command socket (for `chronyc -h <socket> tracking`). */
  socket: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts chronyd on a free loopback port and resolves once it answers an SNTP query. `fakeOffset` runs it under
 * `faketime -f <offset>` (e.g. "+0.8"): chronyd then serves a skewed clock.
 */
export async function startChronyd(opts: { fakeOffset?: string } = {}): Promise<Chronyd> {
  const chronyd = which("chronyd");
  if (!chronyd)
    throw new Error("chronyd missing: apt-get install -y chrony (the time_sync tests run a real NTP server)");
  const faketime = opts.fakeOffset ? which("faketime") : null;
  if (opts.fakeOffset && !faketime)
    throw new Error("faketime missing: apt-get install -y faketime (the clock-skew tests need it)");
  const port = await freeUdpPort();
  const dir = mkdtempSync(join(tmpdir(), "tg-chrony-"));
  const socket = join(dir, "chronyd.sock");
  const conf = join(dir, "chrony.conf");
  writeFileSync(
    conf,
    [
      `port ${port}`,
      "bindaddress 127.0.0.1",
      "local stratum 8",
      "allow 127.0.0.1",
      "cmdport 0",
      `bindcmdaddress ${socket}`,
      `driftfile ${join(dir, "drift")}`,
      `pidfile ${join(dir, "chronyd.pid")}`,
      "",
    ].join("\n"),
  );
  // -d: foreground, -x: never touch the system clock, -u: stay the current user (root in CI containers).
  const args = ["-d", "-x", "-u", userInfo().username, "-f", conf];
  // Own process group (detached): faketime forks chronyd as its child, so stop() signals the whole group.
  const cmd = opts.fakeOffset ? [faketime!, "-f", opts.fakeOffset, chronyd, ...args] : [chronyd, ...args];
  const proc = spawn(cmd[0]!, cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (proc.pid) live.add(proc.pid);
  let output = "";
  proc.stdout?.on("data", (d) => (output += d));
  proc.stderr?.on("data", (d) => (output += d));
  const stop = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        if (proc.pid) live.delete(proc.pid);
        rmSync(dir, { recursive: true, force: true });
        resolve();
      };
      if (proc.exitCode !== null || proc.signalCode !== null) return done();
      proc.once("exit", done);
      try {
        process.kill(-proc.pid!, "SIGTERM");
      } catch {
        proc.kill("SIGTERM");
      }
    });
  const server = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`chronyd exited with ${proc.exitCode}:\n${output}`);
    }
    try {
      await sntpQuery(server, { timeoutMs: 250 });
      return { server, socket, proc, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`chronyd did not answer on ${server} within 15 s:\n${output}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
