#!/usr/bin/env bash
# Runs every check: installs what is missing (npm packages, redis-server), then lint, typecheck and the test suite.
# The tests start their own redis-server on a free port; nothing needs to be running.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh --test
echo "== lint" && npx biome check .
echo "== typecheck" && npx tsc -p tsconfig.json --noEmit
echo "== build" && npm run --silent build
echo "== tests"
report="$(mktemp)"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" || status=$?
# The plain closing line CI reads ("N passed, N failed").
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`)' "$report" || true
rm -f "$report"
exit "$status"
