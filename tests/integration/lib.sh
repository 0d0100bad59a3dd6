# Shared helpers for the integration tests: start the real daemon in a temporary directory on
# a free port, talk to it with curl, assert, and stop it. Sourced by tests/integration/test_*.sh.
set -euo pipefail

ZTPD_BIN=${ZTPD_BIN:-$(pwd)/build/ztpd}
ZTPD_SOURCE_DIR=${ZTPD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TOKEN=integration-test-token-0123456789
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-it.XXXXXX")
PID=""
PORT=""
FAILS=0
CHECKS=0

cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    if [ "${KEEP_WORK:-0}" = 1 ] || [ "$FAILS" -gt 0 ]; then
        echo "work dir kept: $WORK" >&2
        [ -f "$WORK/daemon.log" ] && tail -n 40 "$WORK/daemon.log" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# A port free for both TCP and UDP on 127.0.0.1 (the daemon binds HTTP on TCP and SIP on both),
# below the kernel's ephemeral range (32768+) so that outgoing connections of parallel tests
# (curl, sipp, psql) cannot take it between this check and the daemon's bind.
free_port() {
    python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            try:
                s.bind(("127.0.0.1", p))
            finally:
                s.close()
    except OSError:
        continue
    print(p)
    break
else:
    raise SystemExit("no free port")
PY
}

# The storage section write_config writes: sqlite under data_dir (default), or with
# ZTPD_TEST_BACKEND=postgres the server of with_postgres.sh at ZTPD_TEST_PG_DSN (change the DSN
# per database with pg_use_db). ZTPD_TEST_STORAGE_EXTRA is appended to the postgres section
# (indented 4 spaces), e.g. "password_file: pw".
storage_yaml() {
    case "${ZTPD_TEST_BACKEND:-sqlite}" in
    sqlite)
        printf 'storage:\n  backend: sqlite\n'
        ;;
    postgres)
        if [ -z "${ZTPD_TEST_PG_DSN:-}" ]; then
            echo "ZTPD_TEST_BACKEND=postgres needs ZTPD_TEST_PG_DSN: run under with_postgres.sh" >&2
            return 1
        fi
        printf 'storage:\n  backend: postgres\n  postgres:\n    dsn: "%s"\n' "$ZTPD_TEST_PG_DSN"
        if [ -n "${ZTPD_TEST_STORAGE_EXTRA:-}" ]; then
            printf '    %s\n' "$ZTPD_TEST_STORAGE_EXTRA"
        fi
        ;;
    *)
        echo "unknown ZTPD_TEST_BACKEND=$ZTPD_TEST_BACKEND" >&2
        return 1
        ;;
    esac
}

# write_config [extra yaml appended verbatim]: the test config, on a fresh free port.
write_config() {
    local storage
    storage=$(storage_yaml)
    PORT=$(free_port)
    SIP_PORT=$(free_port)
    cat >"$WORK/config.yml" <<YAML
server:
  name: "ztpd-test"
  address: "192.0.2.10"
  data_dir: "data"
http:
  listen: "127.0.0.1:$PORT"
  max_body_size: 65536
  max_header_size: 8192
  idle_timeout: 5
  max_connections: 64
sip:
  listen: "127.0.0.1:$SIP_PORT"
$storage
api:
  tokens: ["$TOKEN"]
logging:
  level: debug
extensions:
  - number: "1001"
    name: "Alice Example"
    password: "s3cret-1001"
  - number: "1002"
    name: "Bob Example"
    password: "s3cret-1002"
YAML
    if [ $# -gt 0 ]; then printf '%s\n' "$1" >>"$WORK/config.yml"; fi
}

# start_daemon: runs ztpd serve in the background and waits until /api/status answers.
start_daemon() {
    local attempt
    for attempt in 1 2 3 4 5; do
        local mark
        mark=$(wc -l <"$WORK/daemon.log" 2>/dev/null || echo 0)
        "$ZTPD_BIN" serve -c "$WORK/config.yml" >>"$WORK/daemon.out" 2>>"$WORK/daemon.log" &
        PID=$!
        for _ in $(seq 1 "${ZTPD_STARTUP_TRIES:-100}"); do
            if curl -s -o /dev/null "http://127.0.0.1:$PORT/api/status"; then return 0; fi
            if ! kill -0 "$PID" 2>/dev/null; then break; fi
            sleep 0.1
        done
        if kill -0 "$PID" 2>/dev/null; then
            echo "daemon did not answer in time" >&2
            return 1
        fi
        wait "$PID" 2>/dev/null || true
        PID=""
        # Another test took one of our ports between free_port and the bind: move to new
        # ones and start again. Any other startup failure is the test's business.
        if tail -n +"$((mark + 1))" "$WORK/daemon.log" | grep -qi "in use" &&
            grep -q "127\.0\.0\.1:$PORT\b" "$WORK/config.yml" && [ "$attempt" -lt 5 ]; then
            local np ns
            np=$(free_port)
            ns=$(free_port)
            sed -i -e "s/127\.0\.0\.1:$PORT\b/127.0.0.1:$np/" \
                -e "s/127\.0\.0\.1:${SIP_PORT:-none}\b/127.0.0.1:$ns/" "$WORK/config.yml"
            echo "# ports in use: retrying on $np (SIP $ns)" >&2
            PORT=$np
            [ -n "${SIP_PORT:-}" ] && SIP_PORT=$ns
            continue
        fi
        echo "daemon exited during startup" >&2
        cat "$WORK/daemon.log" >&2
        return 1
    done
    return 1
}

# stop_daemon [signal]: stops with SIGTERM (default) and checks a clean exit.
stop_daemon() {
    local sig=${1:-TERM} rc=0
    kill -"$sig" "$PID"
    wait "$PID" || rc=$?
    PID=""
    if [ "$sig" = TERM ] || [ "$sig" = INT ]; then
        check "daemon exits 0 on SIG$sig" test "$rc" -eq 0
    fi
}

# req METHOD PATH [curl args...]: authenticated request; sets STATUS and BODY.
req() {
    local method=$1 path=$2
    shift 2
    local out
    out=$(curl -s -X "$method" -H "Authorization: Bearer $TOKEN" -w '\n%{http_code}' "$@" \
        "http://127.0.0.1:$PORT$path")
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

# raw METHOD PATH [curl args...]: unauthenticated request; sets STATUS and BODY.
raw() {
    local method=$1 path=$2
    shift 2
    local out
    out=$(curl -s -X "$method" -w '\n%{http_code}' "$@" "http://127.0.0.1:$PORT$path")
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

check() {
    local what=$1
    shift
    CHECKS=$((CHECKS + 1))
    if "$@"; then
        echo "ok   - $what"
    else
        echo "FAIL - $what" >&2
        FAILS=$((FAILS + 1))
    fi
}

# expect_status CODE what
expect_status() {
    check "$2 (status $STATUS, want $1)" test "$STATUS" = "$1"
}

# contains HAYSTACK NEEDLE
contains() { [[ "$1" == *"$2"* ]]; }

# jq_get EXPR: evaluates a Python expression over the parsed BODY as `j`.
json() {
    printf '%s' "$BODY" | python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"
}

finish() {
    echo "$CHECKS checks, $FAILS failed"
    [ "$FAILS" -eq 0 ]
}

# pg_use_db NAME: creates database NAME on the with_postgres.sh server (dropping an old one)
# and points ZTPD_TEST_PG_DSN and db_query at it.
pg_use_db() {
    PG_DB=$1
    "$ZTPD_TEST_PG_CTL" psql -d postgres -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB" >/dev/null
    ZTPD_TEST_PG_DSN="host=$ZTPD_TEST_PG_HOST port=$ZTPD_TEST_PG_PORT dbname=$PG_DB user=postgres"
    export ZTPD_TEST_PG_DSN
}

# db_query SQL: runs SQL directly on the test database of the configured backend (not through
# the daemon) and prints the rows, fields separated by '|'.
db_query() {
    case "${ZTPD_TEST_BACKEND:-sqlite}" in
    sqlite) sqlite3 "$WORK/data/ztpd.db" "$1" ;;
    postgres) "$ZTPD_TEST_PG_CTL" psql -d "${PG_DB:-ztpd_test}" -At -v ON_ERROR_STOP=1 -c "$1" ;;
    esac
}

# status_field EXPR: evaluates EXPR over GET /api/status's JSON (as `j`); prints "" when the
# daemon does not answer within 2 s.
status_field() {
    curl -s --max-time 2 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/status" |
        python3 -c "import json,sys
try:
    j=json.load(sys.stdin); print($1)
except Exception:
    print('')"
}

# wait_for SECONDS CMD...: retries CMD every 0.1 s until it succeeds; fails after SECONDS.
# Sets WAITED to the seconds it took (one decimal).
wait_for() {
    local limit=$1 start now
    shift
    start=$(date +%s%N)
    while true; do
        if "$@"; then
            now=$(date +%s%N)
            WAITED=$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
            return 0
        fi
        now=$(date +%s%N)
        if [ $(((now - start) / 1000000)) -ge $((limit * 1000)) ]; then
            WAITED=$limit
            return 1
        fi
        sleep 0.1
    done
}
