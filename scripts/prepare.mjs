#!/usr/bin/env node
// npm's `prepare` step (runs on `npm ci` / `npm install` in this directory and on `npm pack`). With the dev
// dependencies installed it compiles the gate package (packages/gate/src → packages/gate/dist) and then src/ to dist/
// (`tsc -b`: project references, the package first). A production install (`npm ci --omit=dev`) has no TypeScript:
// it must ship both dist/ directories built in an earlier stage (Dockerfile, deploy/README.md) and this step only
// checks they are there.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const built = [join(root, "dist", "cli", "main.js"), join(root, "packages", "gate", "dist", "gate", "index.js")];

if (existsSync(tsc)) {
  const r = spawnSync(process.execPath, [tsc, "-b", join(root, "tsconfig.build.json")], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
if (built.every((f) => existsSync(f))) {
  process.stderr.write("tradeguard: production install; using the shipped dist/ (TypeScript is not installed)\n");
  process.exit(0);
}
process.stderr.write(
  `tradeguard: ${built.filter((f) => !existsSync(f)).map((f) => relative(root, f)).join(", ")} missing and TypeScript is not installed. Build\n` +
    "first (npm ci && npm run build) and ship dist/ and packages/gate/dist/ with the production install, or install\n" +
    "with the dev dependencies. See deploy/README.md.\n",
);
process.exit(1);
