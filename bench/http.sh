#!/usr/bin/env bash
# HTTP provisioning benchmark: ztpd serving 10,000 registered phones (random MAC per request)
# against nginx serving the very same bytes as static files, side by side, alternated in each
# round, with keep-alive and with `Connection: close` (how phones fetch).
#
#   bash bench/http.sh            (RUNS=3 rounds by default; DURATION=10 s per run)
#
# Prints both throughputs, p50/p99 latencies (medians over the rounds) and the ztpd/nginx ratio.
# Needs: wrk, nginx, curl, python3 (make bench-deps). Ports 127.0.0.1:18088 (nginx), :18089.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ZTPD_BIN=${ZTPD_BIN:-$ROOT/build/ztpd}
RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-64}
N=10000
NGINX_PORT=18088
ZTPD_PORT=18089
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-bench.XXXXXX")
chmod 755 "$WORK"
ZPID="" NPID=""
cleanup() {
    [ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null && wait "$ZPID" 2>/dev/null
    [ -n "$NPID" ] && kill "$NPID" 2>/dev/null && wait "$NPID" 2>/dev/null
    [ "${KEEP_WORK:-0}" = 1 ] && echo "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

[ -x "$ZTPD_BIN" ] || { echo "build ztpd first (make build)"; exit 1; }
command -v wrk >/dev/null && command -v nginx >/dev/null || { echo "run make bench-deps"; exit 1; }

echo "== preparing 10,000 phones in $WORK"
{
    cat <<YAML
server:
  name: bench
  address: "127.0.0.1"
  data_dir: "data"
http:
  listen: "127.0.0.1:$ZTPD_PORT"
  max_connections: 4096
api:
  tokens: ["bench-token-0123456789abcdef"]
# SIP would bind 0.0.0.0:5060 by default; this benchmark is HTTP only.
sip:
  enabled: false
logging:
  level: warn
extensions:
  - number: "1001"
    name: "Bench Phone"
    password: "bench-password"
provisioning:
  devices:
YAML
    for i in $(seq 0 $((N - 1))); do
        printf '    - {mac: "001565%06x", extension: "1001", vendor: yealink, model: t46s}\n' $((0x123456 + i))
    done
} >"$WORK/config.yml"

"$ZTPD_BIN" serve -c "$WORK/config.yml" >"$WORK/ztpd.out" 2>"$WORK/ztpd.log" &
ZPID=$!
wait_port $ZTPD_PORT || { cat "$WORK/ztpd.log"; exit 1; }

# nginx gets exactly the bytes ztpd serves, one file per phone, fetched over one keep-alive
# connection (this also warms ztpd's render cache, as a boot storm's first minute would).
mkdir -p "$WORK/www/provision" "$WORK/logs" "$WORK/tmp"
for i in $(seq 0 $((N - 1))); do
    mac=$(printf '001565%06x' $((0x123456 + i)))
    printf 'url = "http://127.0.0.1:%d/provision/%s.cfg"\noutput = "%s/www/provision/%s.cfg"\n' \
        $ZTPD_PORT "$mac" "$WORK" "$mac"
done >"$WORK/fetch.curl"
curl -s --fail -K "$WORK/fetch.curl"
count=$(find "$WORK/www/provision" -name '*.cfg' | wc -l)
size=$(stat -c %s "$WORK/www/provision/001565123456.cfg")
echo "   $count config files, $size bytes each (first one)"
[ "$count" -eq $N ] || { echo "expected $N files"; exit 1; }
chmod -R a+rX "$WORK/www"

cat >"$WORK/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid logs/nginx.pid;
error_log logs/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 4096; multi_accept on; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    server_tokens off;
    open_file_cache max=20000 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    types { text/plain cfg; }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096 reuseport;
        root www;
        location / { }
    }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK/" -e logs/error.log &
NPID=$!
wait_port $NGINX_PORT || { cat "$WORK/logs/error.log"; exit 1; }
cmp <(curl -s "http://127.0.0.1:$NGINX_PORT/provision/001565123abc.cfg") \
    <(curl -s "http://127.0.0.1:$ZTPD_PORT/provision/001565123abc.cfg") ||
    { echo "nginx and ztpd serve different bytes"; exit 1; }

run_wrk() { # label port extra-args...
    local label=$1 port=$2
    shift 2
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -s "$HERE/random-mac.lua" "$@" \
        "http://127.0.0.1:$port" 2>&1 | grep '^RESULT' | sed "s/^RESULT/$label/" >>"$WORK/results.txt"
    sleep 1
}

echo "== $RUNS rounds x 2 modes x 2 servers, wrk -t2 -c$CONNS -d${DURATION}s"
for r in $(seq 1 "$RUNS"); do
    # Alternate which server goes first so drift of the machine hits both alike.
    if [ $((r % 2)) -eq 1 ]; then order="ztpd nginx"; else order="nginx ztpd"; fi
    for mode in keepalive close; do
        for srv in $order; do
            port=$ZTPD_PORT
            [ "$srv" = nginx ] && port=$NGINX_PORT
            if [ "$mode" = close ]; then
                run_wrk "$srv.$mode" "$port" -H "Connection: close"
            else
                run_wrk "$srv.$mode" "$port"
            fi
        done
    done
    echo "   round $r done"
done

python3 - "$WORK/results.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    parts = line.split()
    label = parts[0]
    kv = dict(p.split("=") for p in parts[1:])
    rows.setdefault(label, []).append(kv)
def med(label, key):
    return statistics.median(float(r[key]) for r in rows[label])
def errs(label):
    return sum(int(r["errors"]) + int(r["non2xx"]) for r in rows[label])
print()
print("%-10s %-7s %12s %9s %9s %7s" % ("mode", "server", "req/s", "p50 ms", "p99 ms", "errors"))
for mode in ("keepalive", "close"):
    for srv in ("ztpd", "nginx"):
        l = srv + "." + mode
        print("%-10s %-7s %12.0f %9.2f %9.2f %7d" % (mode, srv, med(l, "rps"), med(l, "p50_ms"),
                                                   med(l, "p99_ms"), errs(l)))
    ratio = med("ztpd." + mode, "rps") / med("nginx." + mode, "rps")
    print("%-10s ztpd/nginx throughput ratio: %.2fx (target >= 1.0x); ztpd p99 %.2f ms (target <= 5 ms)"
          % (mode, ratio, med("ztpd." + mode, "p99_ms")))
    print()
PY
echo "ztpd RSS after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$ZPID/status)"
