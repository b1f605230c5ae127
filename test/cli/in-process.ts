// Runs `tradeguard <args>` in this process through the CLI's own `run` (the commander program main.ts builds, the
// same exit-code mapping), with `env` as the environment it reads and stdout/stderr captured: what a spawned CLI
// would print and exit with, without paying a process start per command.
import { vi } from "vitest";
import { run } from "../../src/cli/main.js";

/** The environment every in-process run starts from (the rest of the test process's environment is left out). */
const BASE: Record<string, string | undefined> = {
  LOG_LEVEL: "silent",
  TRADEGUARD_CONFIG: "",
  SUDO_USER: "ops",
  NO_COLOR: undefined,
  FORCE_COLOR: undefined,
  SLACK_BOT_TOKEN: undefined,
  SLACK_APP_TOKEN: undefined,
  SLACK_SIGNING_SECRET: undefined,
  SLACK_ALERT_CHANNEL: undefined,
};

/** One in-process CLI run: exit code and output. */
export async function runInProcess(
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  for (const [k, v] of Object.entries({ ...BASE, ...env })) vi.stubEnv(k, v);
  let stdout = "";
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await run(["node", "tradeguard", ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    vi.unstubAllEnvs();
  }
}
