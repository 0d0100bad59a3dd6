#!/usr/bin/env bash
# Runs the command given as arguments against a throwaway PostgreSQL 15 server: initdb into a
# temp dir, start on a free loopback port (socket dir inside the temp dir), create database
# ztpd_test, export ZTPD_TEST_PG_DSN, run the command, then stop the server and remove the
# dir whatever happened. Exits with the command's status.
# Missing PostgreSQL binaries are a failure, not a skip: `make test` installs them.
# As root the server runs as PG_OS_USER (postgres refuses to run as root).
# shellcheck disable=SC2317  # wait_gone and cleanup run from the EXIT trap
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
OS_USER=${PG_OS_USER:-postgres}

if [ $# -eq 0 ]; then
  echo "usage: $0 command [args...]" >&2
  exit 2
fi
for b in initdb pg_ctl psql; do
  if [ ! -x "$PGBIN/$b" ]; then
    echo "FAIL: $PGBIN/$b not found: install postgresql-15 (make test-deps does)" >&2
    exit 1
  fi
done

# /tmp rather than $TMPDIR: the socket path must stay under 107 bytes.
WORK=$(mktemp -d /tmp/ztpdpg.XXXXXX)
DATA=$WORK/data
SOCK=$WORK/sock
LOG=$WORK/postgres.log
mkdir -p "$SOCK"

if [ "$(id -u)" -eq 0 ]; then
  chown -R "$OS_USER": "$WORK"
  as_db() { (cd / && runuser -u "$OS_USER" -- "$@"); }
else
  as_db() { "$@"; }
fi

PID=
wait_gone() {
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
cleanup() {
  rc=$?
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    as_db "$PGBIN/pg_ctl" -D "$DATA" stop -m fast -w >/dev/null 2>&1 || kill -TERM "$PID" 2>/dev/null || true
    wait_gone "$PID" || kill -KILL "$PID" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ]; then
    echo "--- postgres log tail ($LOG):" >&2
    tail -30 "$LOG" >&2 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
    echo $((20000 + RANDOM % 30000))
}

as_db "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
  --no-sync >"$WORK/initdb.log" 2>&1 || { echo "initdb failed:" >&2; cat "$WORK/initdb.log" >&2; exit 1; }

# The port is free when we look; another test may take it before postgres binds, so a failed
# start is retried on a new port. A non-UTC TimeZone proves timestamps do not depend on it.
PORT=
for _ in 1 2 3 4 5; do
  try=$(free_port)
  if as_db "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start -o \
    "-c listen_addresses=127.0.0.1 -p $try -c unix_socket_directories=$SOCK \
     -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
     -c TimeZone=Pacific/Chatham" >/dev/null 2>&1; then
    PORT=$try
    break
  fi
done
if [ -z "$PORT" ]; then
  echo "FAIL: could not start PostgreSQL" >&2
  exit 1
fi
PID=$(head -1 "$DATA/postmaster.pid")

PGUSER=postgres "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PORT" -d postgres -v ON_ERROR_STOP=1 \
  -c "CREATE DATABASE ztpd_test"

export ZTPD_TEST_PG_DSN="host=127.0.0.1 port=$PORT dbname=ztpd_test user=postgres"
set +e
"$@"
status=$?
set -e
exit "$status"
