#!/usr/bin/env bash
# Installs what tradeguard needs on a fresh Debian machine with Node 20: npm packages (npm ci, which also builds
# dist/) and redis-server (apt-get, as root, when missing). With --test, also what the test suite uses: chrony (a real
# NTP server on loopback), faketime (to skew it), prometheus (promtool and a real server for the alert rules),
# redis-sentinel (failover tests), systemd (systemd-analyze checks the unit file), util-linux (runuser) and Ceph's
# mon, OSD and RADOS Gateway (a real S3-compatible server on loopback, test/support/rgw.ts). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
if [ "${1:-}" = "--test" ]; then
  command -v chronyd >/dev/null 2>&1 || [ -x /usr/sbin/chronyd ] || need_apt+=(chrony)
  command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
  { command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || need_apt+=(prometheus)
  command -v radosgw >/dev/null 2>&1 || need_apt+=(ceph-mon ceph-osd radosgw ceph-common)
  command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel)
  command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
  command -v runuser >/dev/null 2>&1 || need_apt+=(util-linux)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "tradeguard: missing ${need_apt[*]}; run as root or: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
  echo "tradeguard: installing ${need_apt[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # Where systemd runs, these packages start system services; the tests and scripts start their own instances on
  # free loopback ports and never rely on (or touch) those.
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "tradeguard: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
elif [ ! -f dist/cli/main.js ] || [ ! -f packages/gate/dist/gate/index.js ] ||
  [ -n "$(find src packages/gate/src -newer dist/cli/main.js -name '*.ts' -print -quit)" ]; then
  npm run --silent build
fi
