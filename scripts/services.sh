#!/usr/bin/env bash
# Makes PostgreSQL and Redis available for the tests at their default local addresses,
# starting them when they are installed but stopped. Prints the environment to use as
# `export` lines on stdout; explains itself on stderr.
# Without both services it falls back to SQLite and the in-memory broker, unless CI=true.
set -u
PGHOST=127.0.0.1 PGPORT=5432

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up && command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "services: starting PostgreSQL" >&2
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 2>&1 || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 0.5; done
fi
if ! redis_up && command -v redis-server >/dev/null 2>&1; then
  echo "services: starting Redis" >&2
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  for _ in $(seq 1 20); do redis_up && break; sleep 0.25; done
fi

have_pg=0 have_redis=0
pg_up && have_pg=1
redis_up && have_redis=1
if [ "$have_pg" = 1 ] && [ "$have_redis" = 1 ]; then
  echo "services: PostgreSQL at $PGHOST:$PGPORT, Redis at 127.0.0.1:6379" >&2
  echo "export DATABASE_URL=\${DATABASE_URL:-postgres://postgres@$PGHOST:$PGPORT/postgres}"
  echo "export REDIS_URL=\${REDIS_URL:-redis://127.0.0.1:6379/0}"
  exit 0
fi
if [ "${CI:-}" = "true" ]; then
  echo "services: PostgreSQL ($have_pg) or Redis ($have_redis) is not available, and CI=true forbids the SQLite fallback" >&2
  exit 1
fi
echo "services: WARNING: PostgreSQL or Redis is not available; testing on SQLite without Redis" >&2
echo "export DATABASE_URL=sqlite:///$(pwd)/var/test.sqlite3"
echo "export REDIS_URL="
echo "export DATATALKS_TESTS_WITHOUT_SERVICES=1"
