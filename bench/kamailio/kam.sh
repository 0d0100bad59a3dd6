# shellcheck shell=bash
# Start and stop the reference Kamailio registrar of bench/sip.sh; `source` this file (bash).
#   kam_start WORKDIR USERS_FILE   (USERS_FILE: one "user password" per line) -> KAM_PID
#   kam_stop
# Everything kamailio writes (db_text tables, binrpc socket, log) goes under WORKDIR.
# Needs kamailio (+ kamcmd). Ports: udp+tcp 127.0.0.1:5070.
KAM_CFG=${KAM_CFG:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/kamailio.cfg}
KAM_PID=
KAM_WORK=

# db_text's subscriber table; realm/domain is 127.0.0.1 (the From domain sipp sends).
# ha1/ha1b must be non-empty (NOT NULL columns) although calculate_ha1 uses the password.
kam_write_db() { # DIR USERS_FILE
    mkdir -p "$1"
    printf 'id(int,auto) table_name(string) table_version(int) \n0:version:1\n0:subscriber:7\n' >"$1/version"
    python3 - "$2" >"$1/subscriber" <<'PY'
import hashlib, sys
print("id(int,auto) username(string) domain(string) password(string) ha1(string) ha1b(string) ")
for i, line in enumerate(open(sys.argv[1]), 1):
    u, p = line.split()
    h = lambda s: hashlib.md5(s.encode()).hexdigest()
    print("%d:%s:127.0.0.1:%s:%s:%s" % (i, u, p, h("%s:127.0.0.1:%s" % (u, p)), h("%s@127.0.0.1:127.0.0.1:%s" % (u, p))))
PY
}

kam_rpc() { kamcmd -s "unix:$KAM_WORK/kamailio_ctl" "$@"; }

kam_start() { # WORKDIR USERS_FILE
    KAM_WORK=$1
    kam_write_db "$KAM_WORK/db" "$2"
    # -DD: main process stays in the foreground, so $! is the process to stop.
    kamailio -f "$KAM_CFG" -DD -E -m 256 -M 16 -Y "$KAM_WORK" \
        -A "DBURL=\"text://$KAM_WORK/db\"" -A "CTLSOCK=\"unix:$KAM_WORK/kamailio_ctl\"" \
        >"$KAM_WORK/kamailio.log" 2>&1 &
    KAM_PID=$!
    for _ in $(seq 200); do
        kam_rpc core.uptime >/dev/null 2>&1 && return 0
        kill -0 "$KAM_PID" 2>/dev/null || { tail -20 "$KAM_WORK/kamailio.log"; return 1; }
        sleep 0.05
    done
    echo "kamailio not ready"
    return 1
}

kam_stop() {
    [ -n "$KAM_PID" ] || return 0
    local kids p
    # Workers have been seen outliving the main process (stuck with SIGTERM blocked): note
    # their PIDs first and SIGKILL any that stay.
    kids=$(cat /proc/"$KAM_PID"/task/*/children 2>/dev/null || true)
    kill -TERM "$KAM_PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$KAM_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$KAM_PID" 2>/dev/null || true
    wait "$KAM_PID" 2>/dev/null || true
    for p in $kids; do
        for _ in $(seq 20); do [ "$(cat "/proc/$p/comm" 2>/dev/null)" = kamailio ] || break; sleep 0.1; done
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = kamailio ] && kill -KILL "$p" 2>/dev/null
    done
    KAM_PID=
}
