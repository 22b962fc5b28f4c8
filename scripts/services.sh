#!/usr/bin/env bash
# Start the loopback services the tests use, if they are down. Idempotent.
# The Kafka-protocol broker is not started here: the tests start their own (tests/fixtures/kafka.py).
# Also installs Debian's Chromium (with CJK fonts) for the browser tests (tests/e2e/test_browser.py).
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 100); do up "$1" && return 0; python3 -c 'import time; time.sleep(0.1)'; done
  echo "service on port $1 did not come up" >&2; return 1
}

if ! up 5432; then
  if ! command -v pg_ctlcluster >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  wait_port 5432
fi

if ! up 6379; then
  if ! command -v redis-server >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port 6379
fi
missing=""
[ -x /usr/bin/chromium ] || missing="chromium fonts-noto-cjk"
command -v systemd-analyze >/dev/null || missing="$missing systemd"  # verifies deploy/systemd units
if [ -n "$missing" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
echo "services: postgresql :5432 and redis :6379 up; $(/usr/bin/chromium --version 2>/dev/null)"
