#!/usr/bin/env bash
# Emergency stop from a shell when Slack is down: halts trading, cancels and flattens every broker, verifies.
# Usage: scripts/emergency_stop.sh "reason"
# Exit code: 0 HALT-VERIFIED, 1 HALT-PARTIAL, 3 Redis unreachable (brokers flattened, halt flag NOT set), 2 usage/config.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 \"reason\"" >&2
  exit 2
fi
exec node bin/tradeguard.js panic --reason "$1" --yes
