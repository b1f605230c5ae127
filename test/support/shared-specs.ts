// Third-party specs the tests check against (Slack's app-manifest JSON schemas, Alpaca's OpenAPI spec). They live
// beside the repo in ../shared/specs and are read from there, never copied in, so a clone without ../shared lacks them.
// A missing spec skips the tests that need it (with the reason printed once per file) so a fresh clone still passes;
// in CI (env CI set to anything but "", "false" or "0") it fails them instead, so the check cannot silently vanish.
// TRADEGUARD_SHARED_SPECS overrides the base directory: TRADEGUARD_SHARED_SPECS=/nonexistent simulates the fresh clone.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const DEFAULT_BASE = fileURLToPath(new URL("../../../shared/specs/", import.meta.url));

export interface SharedSpec {
  /** Absolute path of the spec file or directory. */
  path: string;
  present: boolean;
  /** True when the spec is missing outside CI: pass to `it.skipIf` / `describe.skipIf`. */
  skip: boolean;
  /** The spec's path, or throws naming what is missing (the CI failure; a skipped test never gets here). */
  require(): string;
}

/** Whether this run is CI, where a missing spec is a failure rather than a skip. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = (env.CI ?? "").trim().toLowerCase();
  return ci !== "" && ci !== "false" && ci !== "0";
}

/** Locates `relPath` under the shared specs directory; `purpose` says what the tests that need it check. */
export function sharedSpec(relPath: string, purpose: string): SharedSpec {
  const override = process.env.TRADEGUARD_SHARED_SPECS;
  const base = override ? resolve(override) : DEFAULT_BASE;
  const path = join(base, relPath);
  const label = override ? `$TRADEGUARD_SHARED_SPECS/${relPath}` : `../shared/specs/${relPath}`;
  const present = existsSync(path);
  const reason = `${label} not found at ${path}; ${purpose}`;
  const skip = !present && !inCI();
  if (skip) console.warn(`skipped: ${reason}`);
  return {
    path,
    present,
    skip,
    require() {
      if (!present) throw new Error(`${reason} (CI is set, so a missing spec fails instead of skipping)`);
      return path;
    },
  };
}
