#!/usr/bin/env bash
# Storage scale benchmark: 100,000 phones (one extension each) on sqlite and on PostgreSQL.
#
#   bash bench/storage.sh                  both backends (PostgreSQL: a throwaway server started
#                                          through tests/integration/with_postgres.sh)
#   bash bench/storage.sh sqlite           one backend
#   N=20000 DURATION=5 bash bench/storage.sh
#   CLI_IMPORT=0 bash bench/storage.sh     skip the `ztpd devices clear` + `devices import` round
#
# For each backend: the schema is created by a first daemon start, the extensions are inserted
# straight into the database (setup, not measured), then it measures
#   import   the N devices in ONE POST /api/provisioning/devices/bulk (curl --data-binary),
#            and `ztpd devices import FILE` when that command exists,
#   startup  daemon start -> /api/status answering devices=N (and the daemon's own
#            "starting" -> "loaded" log interval),
#   RSS      VmRSS after startup and after a wrk provisioning run over random MACs of the N set,
#   req/s    wrk -t2 -c$CONNS -d${DURATION}s with bench/random-mac.lua (BENCH_DEVICES=N).
# Targets: import <= 10 s, startup load <= 2 s, RSS <= 150 MB with 100,000 devices.
# Needs: wrk, curl, python3, sqlite3; PostgreSQL 15 binaries for the postgres run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ZTPD_BIN=${ZTPD_BIN:-$ROOT/build/ztpd}
N=${N:-100000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
TOKEN=bench-token-0123456789abcdef
BACKENDS=${*:-sqlite postgres}
RESULTS=${BENCH_RESULTS:-}

[ -x "$ZTPD_BIN" ] || { echo "build ztpd first (make build) or set ZTPD_BIN"; exit 1; }
for tool in wrk curl python3 sqlite3; do
    command -v "$tool" >/dev/null || { echo "$tool is missing (make bench-deps)"; exit 1; }
done

# PostgreSQL runs inside with_postgres.sh, which starts the server, exports ZTPD_TEST_PG_DSN,
# runs us again and removes the server afterwards; the results file is shared across both.
if [ -z "$RESULTS" ]; then
    RESULTS=$(mktemp "${TMPDIR:-/tmp}/ztpd-storage-bench.XXXXXX")
    export BENCH_RESULTS=$RESULTS
    for b in $BACKENDS; do
        case $b in
        sqlite) bash "$0" sqlite ;;
        postgres) bash "$ROOT/tests/integration/with_postgres.sh" bash "$0" postgres ;;
        *) echo "unknown backend $b (sqlite or postgres)"; exit 2 ;;
        esac
    done
    python3 - "$RESULTS" "$N" <<'PY'
import sys
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in open(sys.argv[1]) if line.strip()]
n = int(sys.argv[2])
def f(r, k, fmt="%.2f"):
    return fmt % float(r[k]) if r.get(k, "") not in ("", "-") else "-"
def verdict(value, target):
    return "ok" if value != "-" and float(value) <= target else "MISSED"
print()
print("ztpd storage benchmark: %d devices, %d extensions" % (n, n))
print("%-34s %-12s %-12s %s" % ("figure", "sqlite", "postgres", "target"))
by = {r["backend"]: r for r in rows}
lines = [
    ("import, bulk API, one request (s)", "import_s", "%.2f", 10.0, "<= 10 s"),
    ("import, ztpd devices import (s)", "cli_import_s", "%.2f", None, ""),
    ("startup to devices=N (s)", "startup_s", "%.2f", 2.0, "<= 2 s"),
    ("startup, daemon log: load (s)", "log_load_s", "%.2f", None, ""),
    ("RSS after startup (MB)", "rss_start_mb", "%.1f", 150.0, "<= 150 MB"),
    ("RSS after wrk run (MB)", "rss_after_mb", "%.1f", 150.0, "<= 150 MB"),
    ("provisioning req/s (random MAC)", "rps", "%.0f", None, ""),
    ("provisioning p99 (ms)", "p99_ms", "%.2f", None, ""),
    ("distinct MACs served in the run", "distinct", "%.0f", None, ""),
    ("registry bytes per device", "dev_bytes", "%.0f", None, ""),
    ("registry bytes per extension", "ext_bytes", "%.0f", None, ""),
]
for label, key, fmt, target, tlabel in lines:
    cells = []
    for b in ("sqlite", "postgres"):
        v = f(by[b], key, fmt) if b in by else "-"
        if target is not None and b in by:
            v += " " + verdict(by[b].get(key, "-"), target)
        cells.append(v)
    print("%-34s %-12s %-12s %s" % (label, cells[0], cells[1], tlabel))
PY
    rm -f "$RESULTS"
    exit 0
fi

BACKEND=$1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-sbench.XXXXXX")
ZPID=""
cleanup() {
    if [ -n "$ZPID" ]; then kill "$ZPID" 2>/dev/null && wait "$ZPID" 2>/dev/null; fi
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if [ "$BACKEND" = postgres ]; then
    [ -n "${ZTPD_TEST_PG_DSN:-}" ] || { echo "postgres: run through with_postgres.sh"; exit 1; }
    storage=$(printf 'storage:\n  backend: postgres\n  postgres:\n    dsn: "%s"\n' "$ZTPD_TEST_PG_DSN")
    sql() { "$ZTPD_TEST_PG_CTL" psql -d ztpd_test -v ON_ERROR_STOP=1 -At -c "$1"; }
else
    storage=$(printf 'storage:\n  backend: sqlite\n')
    sql() { sqlite3 -cmd ".timeout 5000" "$WORK/data/ztpd.db" "$1"; }
fi
cat >"$WORK/config.yml" <<YAML
server:
  name: bench
  address: "127.0.0.1"
  data_dir: "$WORK/data"
http:
  listen: "127.0.0.1:$PORT"
  max_connections: 4096
$storage
api:
  tokens: ["$TOKEN"]
logging:
  level: info
YAML

start() {
    "$ZTPD_BIN" serve -c "$WORK/config.yml" >>"$WORK/ztpd.out" 2>>"$WORK/ztpd.log" &
    ZPID=$!
}
stop() {
    kill -TERM "$ZPID"
    wait "$ZPID" || true
    ZPID=""
}
status_field() { # prints /api/status's FIELD, or nothing while the daemon is not answering
    curl -s --max-time 2 "http://127.0.0.1:$PORT/api/status" 2>/dev/null |
        python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])" 2>/dev/null || true
}
wait_devices() { # wait_devices COUNT: polls /api/status every 10 ms until devices=COUNT
    for _ in $(seq 1 6000); do
        [[ "$(curl -s --max-time 2 "http://127.0.0.1:$PORT/api/status" 2>/dev/null || true)" == \
            *"\"devices\":$1,"* ]] && return 0
        kill -0 "$ZPID" 2>/dev/null || { tail -20 "$WORK/ztpd.log"; return 1; }
        sleep 0.01
    done
    return 1
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$ZPID/status"; }
now_ns() { date +%s%N; }
secs() { python3 -c "print('%.3f' % (($2 - $1) / 1e9))"; }

echo "== $BACKEND: $N devices, $N extensions ($WORK)"
start
wait_devices 0
rss_empty=$(rss_kb)
stop

# Extensions straight into the database: the API has no bulk extension route, and this is
# setup rather than a figure. Numbers 100000.. so every device gets its own.
if [ "$BACKEND" = postgres ]; then
    sql "INSERT INTO extensions (number, name, password, created_at, updated_at)
         SELECT (100000 + i)::text, 'Phone ' || i, md5(i::text), now(), now()
         FROM generate_series(0, $N - 1) AS i"
else
    sql "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < $N - 1)
         INSERT INTO extensions (number, name, password)
         SELECT 100000 + i, 'Phone ' || i, lower(hex(randomblob(8))) FROM c"
fi

# The devices: MACs 001565123456 + i (bench/random-mac.lua picks from the same set), four
# vendors so several templates render.
python3 - "$WORK/devices.json" "$N" <<'PY'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
kinds = [("yealink", "t46s"), ("zultys", "zip33g"), ("yealink", "t54w"), ("zultys", "zip37g")]
with open(path, "w") as f:
    json.dump([{"mac_address": "001565%06x" % (0x123456 + i), "extension_number": str(100000 + i),
                "vendor": kinds[i % 4][0], "model": kinds[i % 4][1]} for i in range(n)], f)
PY
start
wait_devices 0
rss_ext=$(rss_kb)
[ "$(status_field extensions)" = "$N" ] || { echo "expected $N extensions"; exit 1; }

t0=$(now_ns)
code=$(curl -s -o "$WORK/import.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" --data-binary "@$WORK/devices.json" \
    "http://127.0.0.1:$PORT/api/provisioning/devices/bulk")
t1=$(now_ns)
[ "$code" = 201 ] || { echo "bulk import answered $code:"; head -c 400 "$WORK/import.out"; exit 1; }
import_s=$(secs "$t0" "$t1")
echo "   bulk import: $import_s s ($(stat -c %s "$WORK/devices.json") bytes)"
grep -E 'bulk import: ' "$WORK/ztpd.log" | sed 's/^/   log: /'
[ "$(status_field devices)" = "$N" ] || { echo "expected $N devices after the import"; exit 1; }

cli_import_s=-
if [ "${CLI_IMPORT:-1}" = 0 ]; then
    echo "   ztpd devices import: skipped (CLI_IMPORT=0)"
elif "$ZTPD_BIN" devices import --help >/dev/null 2>&1; then
    # The same file again through the CLI, after emptying the table through the CLI too.
    if "$ZTPD_BIN" devices clear --yes -c "$WORK/config.yml" >/dev/null 2>&1 && wait_devices 0; then
        t0=$(now_ns)
        if "$ZTPD_BIN" devices import -c "$WORK/config.yml" "$WORK/devices.json" >"$WORK/cli.out" 2>&1; then
            cli_import_s=$(secs "$t0" "$(now_ns)")
            echo "   ztpd devices import: $cli_import_s s"
        else
            echo "   ztpd devices import failed:"
            tail -5 "$WORK/cli.out"
        fi
        wait_devices "$N" || { echo "expected $N devices after the CLI import"; exit 1; }
    else
        echo "   ztpd devices clear failed: CLI import not timed"
    fi
else
    echo "   ztpd devices import is not available: not timed"
fi
stop

# Startup with N devices: from the spawn to the first /api/status that counts them all.
: >"$WORK/ztpd.log"
t0=$(now_ns)
start
wait_devices "$N"
t1=$(now_ns)
startup_s=$(secs "$t0" "$t1")
rss_start=$(rss_kb)
log_load_s=$(python3 - "$WORK/ztpd.log" <<'PY'
import datetime, re, sys
ts = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+Z) .*?(starting with|loaded \d+ devices)", line)
    if m and m.group(2)[0] not in ts:
        ts[m.group(2)[0]] = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
print("%.3f" % (ts["l"] - ts["s"]).total_seconds() if len(ts) == 2 else "-")
PY
)
grep -E 'loaded [0-9]+ devices' "$WORK/ztpd.log" | sed 's/^/   log: /'
echo "   startup: $startup_s s to devices=$N (log: $log_load_s s), RSS $((rss_start / 1024)) MB"

# Provisioning throughput over random MACs of the whole set: one warm-up pass fills caches as
# a boot storm would, then the measured run.
BENCH_DEVICES=$N wrk -t2 -c"$CONNS" -d2s -s "$HERE/random-mac.lua" "http://127.0.0.1:$PORT" >/dev/null 2>&1
result=$(BENCH_DEVICES=$N wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/random-mac.lua" \
    "http://127.0.0.1:$PORT" 2>&1 | grep '^RESULT')
echo "   wrk: $result"
rss_after=$(rss_kb)
# last_provisioned is batched to storage; after a clean stop it tells how many phones were hit.
stop
distinct=$(sql "SELECT count(*) FROM provisioned_devices WHERE last_provisioned IS NOT NULL")
echo "   distinct MACs provisioned: $distinct of $N; RSS after the run $((rss_after / 1024)) MB"

rps=$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' <<<"$result")
p99=$(sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p' <<<"$result")
errors=$(sed -n 's/.*errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1+\2/p' <<<"$result")
[ "$errors" = "0+0" ] || echo "   WARNING: wrk errors/non-2xx: $errors"
ext_bytes=$(((rss_ext - rss_empty) * 1024 / N))
dev_bytes=$(((rss_start - rss_ext) * 1024 / N))
echo "   RSS: empty $((rss_empty / 1024)) MB, +extensions $((rss_ext / 1024)) MB ($ext_bytes B each)," \
    "+devices after restart $((rss_start / 1024)) MB ($dev_bytes B each)"
echo "backend=$BACKEND import_s=$import_s cli_import_s=$cli_import_s startup_s=$startup_s" \
    "log_load_s=$log_load_s rss_start_mb=$(python3 -c "print($rss_start/1024)")" \
    "rss_after_mb=$(python3 -c "print($rss_after/1024)") rps=$rps p99_ms=$p99" \
    "distinct=$distinct dev_bytes=$dev_bytes ext_bytes=$ext_bytes" >>"$RESULTS"
