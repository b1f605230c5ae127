#!/usr/bin/env bash
# Emergency stop from a shell when Slack is down: halts trading, cancels and flattens every broker, verifies.
# Usage: emergency_stop.sh "reason"
# Exit code: 0 HALT-VERIFIED, 1 HALT-PARTIAL, 3 Redis unreachable (brokers flattened, halt flag NOT set), 2 usage/config.
#
# Finds the installed CLI wherever it is deployed, first match wins:
#   $TRADEGUARD_BIN (a path to bin/tradeguard.js or to a `tradeguard` executable)
#   ../bin/tradeguard.js next to this script (a checkout, /opt/tradeguard, the container image)
#   `tradeguard` on PATH (npm install -g, a symlink in /usr/local/bin)
#   /opt/tradeguard/bin/tradeguard.js (the documented install, when this script was copied elsewhere)
# It needs the bot's environment (REDIS_URL, TRADEGUARD_HOME with the audit key, the config, broker keys). On a host
# installed as deploy/README.md says, when TRADEGUARD_CONFIG is not set it loads the service's: the Environment= of
# deploy/systemd/tradeguard.service and /etc/tradeguard/tradeguard.env. Run it as the service user:
#   sudo -u tradeguard /opt/tradeguard/scripts/emergency_stop.sh "reason"
set -uo pipefail
if [ $# -lt 1 ] || [ -z "$1" ]; then
  echo "usage: $0 \"reason\"" >&2
  exit 2
fi
if [ -z "${TRADEGUARD_CONFIG:-}" ] && [ -f /etc/tradeguard/tradeguard.yaml ]; then
  export TRADEGUARD_CONFIG=/etc/tradeguard/tradeguard.yaml TRADEGUARD_HOME="${TRADEGUARD_HOME:-/var/lib/tradeguard}"
  if [ -r /etc/tradeguard/tradeguard.env ]; then
    set -a
    # shellcheck disable=SC1091
    . /etc/tradeguard/tradeguard.env
    set +a
  fi
fi
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"

run() {
  case "$1" in
  *.js) command -v node >/dev/null 2>&1 || { echo "emergency_stop: node is not on PATH" >&2; exit 2; }
        exec node "$1" panic --reason "$2" --yes ;;
  *) exec "$1" panic --reason "$2" --yes ;;
  esac
}
if [ -n "${TRADEGUARD_BIN:-}" ]; then
  [ -e "$TRADEGUARD_BIN" ] || { echo "emergency_stop: TRADEGUARD_BIN=$TRADEGUARD_BIN does not exist" >&2; exit 2; }
  run "$TRADEGUARD_BIN" "$1"
fi
[ -f "$here/../bin/tradeguard.js" ] && run "$here/../bin/tradeguard.js" "$1"
found="$(command -v tradeguard 2>/dev/null || true)"
[ -n "$found" ] && run "$found" "$1"
[ -f /opt/tradeguard/bin/tradeguard.js ] && run /opt/tradeguard/bin/tradeguard.js "$1"
echo "emergency_stop: cannot find the tradeguard CLI (set TRADEGUARD_BIN, or install it in /opt/tradeguard)" >&2
exit 2
