#!/usr/bin/env bash
# make run: migrate, load the demo, create an admin, then web + worker + beat + the
# Salesmanago sandbox in the foreground; Ctrl-C stops them all. Uses DATABASE_URL/REDIS_URL
# when set, else the embedded default (SQLite and kombu's filesystem broker in var/).
# DATATALKS_PORT (8000) and DATATALKS_SANDBOX_PORT (8765) choose the loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
export DJANGO_DEBUG="${DJANGO_DEBUG:-true}"
# The demo account points at the local sandbox on 127.0.0.1.
export SALESMANAGO_ALLOW_LOOPBACK="${SALESMANAGO_ALLOW_LOOPBACK:-true}"
PORT="${DATATALKS_PORT:-8000}"
SANDBOX_PORT="${DATATALKS_SANDBOX_PORT:-8765}"
export SALESMANAGO_URL="${SALESMANAGO_URL:-http://127.0.0.1:$SANDBOX_PORT}"
URL="http://127.0.0.1:$PORT"
# Prometheus multiprocess mode: web and worker processes write their metrics here and
# /metrics adds them up (docs/operations.md); emptied at each start, so counts begin
# at zero as Prometheus expects of a restarted target.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-${DATATALKS_VAR_DIR:-var}/prometheus}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
rm -f "$PROMETHEUS_MULTIPROC_DIR"/*.db
PY=.venv/bin/python
BIN=.venv/bin

# migrate runs the system checks (the missing-key warning among them) once; the
# other set-up commands skip them rather than print the same warnings again.
$PY manage.py migrate --no-input
$PY manage.py load_demo --skip-checks
$PY manage.py ensure_admin --skip-checks --url "$URL"
$PY manage.py setup_roles --skip-checks
$PY manage.py demo_credentials --skip-checks --url "$URL"

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
$PY manage.py salesmanago_sandbox --skip-checks --host 127.0.0.1 --port "$SANDBOX_PORT" &
$BIN/celery -A datatalks worker --loglevel=INFO --concurrency=2 &
$BIN/celery -A datatalks beat --loglevel=INFO &
# No control socket: its default path is one per user, shared by every gunicorn.
$BIN/gunicorn datatalks.wsgi --bind "127.0.0.1:$PORT" --workers 2 --access-logfile - \
  --no-control-socket &
wait -n
