#!/usr/bin/env node
// Entry point of the `tradeguard` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write("tradeguard: dist/ is missing; run `npm ci` (or `npm run build`) first\n");
  process.exit(2);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
