#!/usr/bin/env node
// npm's `prepare` step (runs on `npm ci` / `npm install` in this directory and on `npm pack`). With the dev
// dependencies installed it compiles src/ to dist/. A production install (`npm ci --omit=dev`) has no TypeScript:
// it must ship a dist/ built in an earlier stage (Dockerfile, deploy/README.md) and this step only checks it is there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const built = join(root, "dist", "cli", "main.js");

if (existsSync(tsc)) {
  const r = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
if (existsSync(built)) {
  process.stderr.write("tradeguard: production install; using the shipped dist/ (TypeScript is not installed)\n");
  process.exit(0);
}
process.stderr.write(
  "tradeguard: dist/ is missing and TypeScript is not installed. Build first (npm ci && npm run build) and ship\n" +
    "dist/ with the production install, or install with the dev dependencies. See deploy/README.md.\n",
);
process.exit(1);
