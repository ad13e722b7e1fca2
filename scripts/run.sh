#!/usr/bin/env bash
# make run: migrate, load the demo, create an admin, then web + worker + beat + the
# Salesmanago sandbox in the foreground; Ctrl-C stops them all. Uses DATABASE_URL/REDIS_URL when set, else the
# embedded default (SQLite and kombu's filesystem broker).
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
# The demo account points at the local sandbox on 127.0.0.1.
export SALESMANAGO_ALLOW_LOOPBACK="${SALESMANAGO_ALLOW_LOOPBACK:-true}"
PY=.venv/bin/python
BIN=.venv/bin

$PY manage.py migrate --no-input
$PY manage.py load_demo
$PY manage.py ensure_admin
$PY manage.py setup_roles
$PY manage.py demo_credentials || true

# Ctrl-C (or any one process ending) stops them all: TERM first, KILL what is left
# after a grace period, so nothing lingers on the ports.
stop_all() {
  trap - INT TERM EXIT
  local pids
  pids=$(jobs -p)
  [ -n "$pids" ] && kill $pids 2>/dev/null
  for _ in $(seq 1 20); do
    [ -z "$(jobs -pr)" ] && break
    sleep 0.5
  done
  pids=$(jobs -pr)
  [ -n "$pids" ] && pkill -KILL -P "$(echo $pids | tr ' ' ',')" 2>/dev/null
  [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
  wait 2>/dev/null
}
trap stop_all INT TERM EXIT
$PY manage.py salesmanago_sandbox --host 127.0.0.1 --port 8765 &
$BIN/celery -A datatalks worker --loglevel=INFO --concurrency=2 &
$BIN/celery -A datatalks beat --loglevel=INFO &
$BIN/gunicorn datatalks.wsgi --bind 127.0.0.1:8000 --workers 2 --access-logfile - &
wait -n
