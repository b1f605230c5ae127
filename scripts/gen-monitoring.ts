// npm run gen:monitoring — writes monitoring/tradeguard-rules.yml and monitoring/grafana/tradeguard.json from the
// code (src/monitoring/, src/metrics-catalog.ts). With --check, writes nothing and exits 1 when a checked-in file
// differs from what would be written (CI; test/monitoring/generated.test.ts checks the same).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { generatedFiles } from "../src/monitoring/files.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const check = process.argv.includes("--check");
let stale = 0;
for (const [path, content] of Object.entries(generatedFiles())) {
  const file = join(root, path);
  let current: string | null = null;
  try {
    current = readFileSync(file, "utf8");
  } catch {
    current = null;
  }
  if (current === content) {
    process.stdout.write(`up to date  ${path}\n`);
    continue;
  }
  if (check) {
    stale++;
    process.stdout.write(`STALE       ${path} (run npm run gen:monitoring)\n`);
    continue;
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
  process.stdout.write(`written     ${path}\n`);
}
process.exitCode = stale ? 1 : 0;
