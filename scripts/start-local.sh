#!/usr/bin/env bash
# Starts tradeguard on its embedded defaults: local mode (no Slack tokens), the paper broker, alerts on the console.
# Installs what is missing, starts a local redis-server on 127.0.0.1:6379 if none answers there, then the bot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
if [ "$REDIS_URL" = "redis://127.0.0.1:6379" ] && ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  mkdir -p .local/redis
  echo "tradeguard: starting redis-server on 127.0.0.1:6379 (data in .local/redis, log in .local/redis/redis.log)" >&2
  redis-server --port 6379 --bind 127.0.0.1 --dir "$PWD/.local/redis" --daemonize yes --logfile "$PWD/.local/redis/redis.log" --appendonly yes
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi
export HOST="${HOST:-127.0.0.1}"
exec node bin/tradeguard.js start
