#!/usr/bin/env bash
# SIP registrar benchmark: sipp REGISTER with digest auth (REGISTER -> 401 -> REGISTER with
# Authorization -> 200 = one "call") against ztpd and, in the same run, against Kamailio 5.6
# configured as the same registrar (bench/kamailio/kamailio.cfg: same users and passwords,
# digest auth, expires 3600, nonce lifetime 300 s, no nonce-count tracking), both on loopback.
#
#   bash bench/sip.sh        RATES="1000 2000 3000 4000 5000 6000 7000 8000 10000" DURATION=10 USERS=1000 SIPP_PROCS=2
#
# For each rate step and target, SIPP_PROCS sipp processes (disjoint user ranges, the rate split
# between them; one sipp tops out around 4-5k registrations/s on 2 cores) run for DURATION
# seconds. A step is sustained when every registration succeeded (sipp rc 0, no failed call,
# no timeout) and the achieved rate (successful registrations / wall time) is at least 90 % of
# the target (a target that misses two steps in a row is not pushed further). The table gives, per target and step, the achieved rate, failures and UDP
# retransmissions, then the best sustained rate of each and the ztpd/Kamailio ratio, also
# counting only steps without a single retransmission (no reply later than 500 ms).
# Installs sip-tester and kamailio with apt-get when missing (root or sudo).
# Ports: ztpd SIP udp 127.0.0.1:15060, HTTP 127.0.0.1:18090; kamailio 127.0.0.1:5070;
# sipp 127.0.0.1:15090+.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
ZTPD_BIN=${ZTPD_BIN:-$ROOT/build/ztpd}
RATES=${RATES:-1000 2000 3000 4000 5000 6000 7000 8000 10000}
DURATION=${DURATION:-10}
USERS=${USERS:-1000}
SIPP_PROCS=${SIPP_PROCS:-2}
ZTPD_SIP_PORT=15060
ZTPD_HTTP_PORT=18090
KAM_PORT=5070
SIPP_BASE_PORT=15090
SCENARIO=$ROOT/tests/integration/sipp/register_auth.xml

[ -x "$ZTPD_BIN" ] || { echo "build ztpd first (make build), or set ZTPD_BIN"; exit 1; }
ZTPD_BIN=$(realpath "$ZTPD_BIN")

missing=""
command -v sipp >/dev/null || missing="$missing sip-tester"
command -v kamailio >/dev/null || missing="$missing kamailio"
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "== installing:$missing"
    # kamailio's package would start a system kamailio on 5060: forbid service starts.
    [ -e /usr/sbin/policy-rc.d ] || { printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod 755 /usr/sbin/policy-rc.d; }
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=600 $missing
fi

# shellcheck source=bench/kamailio/kam.sh
. "$HERE/kamailio/kam.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-sipbench.XXXXXX")
ZPID=""
cleanup() {
    [ -n "$ZPID" ] && kill "$ZPID" 2>/dev/null && wait "$ZPID" 2>/dev/null
    kam_stop
    if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

port_busy() { # PROTO PORT
    ss -Hln"${1:0:1}" "sport = :$2" | grep -q .
}
for p in $ZTPD_SIP_PORT $KAM_PORT; do
    port_busy udp "$p" && { echo "udp port $p is in use"; exit 1; }
done

echo "== $USERS users (100000.., password pw<N>) in $WORK"
seq 100000 $((100000 + USERS - 1)) | awk '{print $1, "pw" $1}' >"$WORK/users.txt"
{
    cat <<YAML
server:
  name: sipbench
  address: "127.0.0.1"
  data_dir: "data"
http:
  listen: "127.0.0.1:$ZTPD_HTTP_PORT"
api:
  tokens: ["bench-token-0123456789abcdef"]
logging:
  level: warn
sip:
  listen: "127.0.0.1:$ZTPD_SIP_PORT"
  transports: [udp]
  realm: "127.0.0.1"
  nonce_ttl: 300
  expires:
    default: 3600
    min: 60
    max: 3600
extensions:
YAML
    awk '{printf "  - {number: \"%s\", name: \"Bench %s\", password: \"%s\"}\n", $1, $1, $2}' "$WORK/users.txt"
} >"$WORK/config.yml"

# One injection file per sipp process, disjoint user ranges.
for i in $(seq 0 $((SIPP_PROCS - 1))); do
    {
        echo SEQUENTIAL
        awk -v n="$SIPP_PROCS" -v i="$i" '(NR - 1) % n == i {
            printf "%s;[authentication username=%s password=%s]\n", $1, $1, $2 }' "$WORK/users.txt"
    } >"$WORK/users$i.csv"
done

(cd "$WORK" && exec "$ZTPD_BIN" serve -c config.yml >ztpd.out 2>ztpd.log) &
ZPID=$!
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$ZTPD_HTTP_PORT/api/status" && break
    kill -0 "$ZPID" 2>/dev/null || { cat "$WORK/ztpd.log"; exit 1; }
    sleep 0.1
done
port_busy udp $ZTPD_SIP_PORT || { echo "ztpd does not listen on udp $ZTPD_SIP_PORT"; cat "$WORK/ztpd.log"; exit 1; }
kam_start "$WORK" "$WORK/users.txt"
echo "   ztpd pid $ZPID (udp 127.0.0.1:$ZTPD_SIP_PORT), kamailio pid $KAM_PID (udp 127.0.0.1:$KAM_PORT, children=4)"

# run_step TARGET PORT RATE: SIPP_PROCS sipp processes in parallel; appends one result line.
run_step() {
    local target=$1 port=$2 rate=$3 i pids=() rcs=0 per t0 t1 dir
    per=$(((rate + SIPP_PROCS - 1) / SIPP_PROCS))
    dir="$WORK/$target.$rate"
    mkdir -p "$dir"
    t0=$(date +%s.%N)
    for i in $(seq 0 $((SIPP_PROCS - 1))); do
        local lp=$((SIPP_BASE_PORT + i))
        (cd "$dir" && exec sipp "127.0.0.1:$port" -i 127.0.0.1 -p "$lp" -nostdin \
            -sf "$SCENARIO" -inf "$WORK/users$i.csv" -key contact_port "$lp" -key expires 3600 \
            -key ua "Yealink SIP-T46S 66.86.0.15" -default_behaviors all,-bye \
            -r "$per" -m $((per * DURATION)) -l $((per * 4)) -timeout $((DURATION + 30)) -timeout_error \
            -trace_screen -screen_file "screen$i.log" >"sipp$i.out" 2>&1) &
        pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
    t1=$(date +%s.%N)
    python3 - "$target" "$rate" "$t0" "$t1" "$rcs" "$dir" "$SIPP_PROCS" >>"$WORK/results.txt" <<'PY'
import re, sys
target, rate, t0, t1, rcs, d, n = sys.argv[1:]
ok = failed = retrans = 0
for i in range(int(n)):
    try:
        text = open("%s/screen%d.log" % (d, i), errors="replace").read()
    except OSError:
        failed += 1
        continue
    # the last statistics screen in the file is the final one
    last = text[text.rfind("Successful call"):] if "Successful call" in text else ""
    # "Successful call | periodic | cumulative"
    m = re.search(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", last)
    f = re.search(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", last)
    ok += int(m.group(1)) if m else 0
    failed += int(f.group(1)) if f else 0
    # message table of the final screen: "REGISTER ---------->   N   R" (R = retransmissions)
    tail = text[text.rfind("Messages  Retrans"):]
    for line in tail.splitlines():
        r = re.match(r"\s*REGISTER\s*-+>\s*(\d+)\s+(\d+)", line)
        if r:
            retrans += int(r.group(2))
wall = float(t1) - float(t0)
print("%s %s %d %d %d %d %.3f" % (target, rate, ok, failed, int(rcs), retrans, wall))
PY
    tail -n1 "$WORK/results.txt" | awk '{printf "   %-8s rate %5s/s: %7d ok, %d failed, sipp rc!=0: %d, retrans %d, %.1f s -> %.0f/s\n", $1, $2, $3, $4, $5, $6, $7, $3 / $7}'
    sleep 1
}

echo "== steps: $RATES registrations/s, ${DURATION}s each, $SIPP_PROCS sipp processes per step"
# A target that missed two steps in a row is not pushed further (its best step is known).
declare -A MISSED=([ztpd]=0 [kamailio]=0)
n=0
for rate in $RATES; do
    # Alternate which target goes first so drift of the machine hits both alike.
    if [ $((n % 2)) -eq 0 ]; then order="ztpd kamailio"; else order="kamailio ztpd"; fi
    n=$((n + 1))
    for t in $order; do
        if [ "${MISSED[$t]}" -ge 2 ]; then continue; fi
        if [ "$t" = ztpd ]; then run_step ztpd $ZTPD_SIP_PORT "$rate"; else run_step kamailio $KAM_PORT "$rate"; fi
        if tail -n1 "$WORK/results.txt" | awk '{exit !($4 == 0 && $5 == 0 && $3 / $7 >= 0.9 * $2)}'; then
            MISSED[$t]=0
        else
            MISSED[$t]=$((MISSED[$t] + 1))
        fi
    done
done

kill -0 "$ZPID" 2>/dev/null || { echo "ztpd died during the run"; tail "$WORK/ztpd.log"; exit 1; }
# Bindings as persisted by ztpd's write-behind, and Kamailio's in-memory location table.
bindings=$(command -v sqlite3 >/dev/null && sqlite3 "$WORK/data/ztpd.db" 'SELECT COUNT(*) FROM registered_phones' 2>/dev/null || echo "?")
kam_users=$(kam_rpc stats.get_statistics usrloc: 2>/dev/null | awk -F" = " "/location_users/ {print \$2}" || true)
echo "   registered users after the run: ztpd ${bindings:-?} rows persisted, kamailio ${kam_users:-?} (of $USERS)"
echo "   ztpd RSS: $(awk '/VmRSS/ {print $2, $3}' /proc/$ZPID/status)"

python3 - "$WORK/results.txt" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
best = {"ztpd": 0.0, "kamailio": 0.0}   # no failure, >= 90 % of the target
clean = {"ztpd": 0.0, "kamailio": 0.0}  # ... and not a single retransmission (no reply > 500 ms)
print()
print("%-9s %8s %10s %9s %7s %8s %8s  %s" % ("target", "rate/s", "achieved/s", "ok", "failed", "retrans", "wall s", "sustained"))
for target, rate, ok, failed, rcs, retrans, wall in rows:
    ach = int(ok) / float(wall)
    sustained = int(failed) == 0 and int(rcs) == 0 and ach >= 0.9 * int(rate)
    if sustained:
        best[target] = max(best[target], ach)
        if int(retrans) == 0:
            clean[target] = max(clean[target], ach)
    print("%-9s %8s %10.0f %9s %7s %8s %8.1f  %s" % (target, rate, ach, ok, failed, retrans, float(wall),
          ("yes" if int(retrans) == 0 else "yes (retrans)") if sustained else "NO"))
print()
def ratio(d):
    return "%.2fx" % (d["ztpd"] / d["kamailio"]) if d["kamailio"] > 0 else "n/a"
print("%-44s %8s %9s %7s" % ("best sustained rate (registrations/s)", "ztpd", "kamailio", "ratio"))
print("%-44s %8.0f %9.0f %7s" % ("without failures", best["ztpd"], best["kamailio"], ratio(best)))
print("%-44s %8.0f %9.0f %7s" % ("without failures and without retransmissions", clean["ztpd"], clean["kamailio"], ratio(clean)))
print("target: ztpd/kamailio >= 1.0x")
PY
