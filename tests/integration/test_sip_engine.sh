#!/usr/bin/env bash
# The SIP engine through its test harness (tests/integration/sip_harness.c) with real SIP peers:
# sipp REGISTER with digest auth over UDP and TCP, a wrong password (403), un-REGISTER, expiry, a
# retransmitted REGISTER absorbed, malformed datagrams and TCP streams that must not harm
# existing registrations, and NOTIFY to a sipp phone answering 200 and one challenging with 401.
set -euo pipefail

SRC=${ZTPD_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HARNESS=${ZTPD_SIP_HARNESS:-${ZTPD_BUILD_DIR:-$SRC/build}/sip_harness}
SCEN=$SRC/tests/integration/sipp
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ztpd-sip.XXXXXX")
HPID=""
FAILS=0
CHECKS=0

cleanup() {
    if [ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null; then
        kill -KILL "$HPID" 2>/dev/null || true
    fi
    if [ "$FAILS" -gt 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "work dir kept: $WORK" >&2
        tail -n 30 "$WORK/harness.out" "$WORK/harness.err" >&2 || true
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

ok() { CHECKS=$((CHECKS + 1)); echo "ok   $1"; }
bad() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL $1" >&2; }
check() { # check "description" command...
    local d=$1
    shift
    if "$@"; then ok "$d"; else bad "$d"; fi
}

command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester (make test-deps)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 missing" >&2; exit 1; }
[ -x "$HARNESS" ] || { echo "harness not built: $HARNESS" >&2; exit 1; }

free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
            python3 -c "import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind(('127.0.0.1',$p))" 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# --- harness: commands through a FIFO held open on fd 7, JSON lines out ---
mkfifo "$WORK/in"
exec 7<>"$WORK/in"
# Other tests run in parallel: a free-looking port can be taken meanwhile, so retry a few.
SIP_PORT=""
for attempt in 1 2 3 4 5; do
    port=$(free_port)
    : >"$WORK/harness.out"
    "$HARNESS" --host 127.0.0.1 --port "$port" --min-expires 1 \
        --ext 1001:pw1001 --ext 1002:pw1002 --ext 1003:pw1003 --ext 1004:pw1004 --ext 1005:pw1005 \
        <"$WORK/in" >"$WORK/harness.out" 2>"$WORK/harness.err" &
    HPID=$!
    for _ in $(seq 1 100); do
        grep -q '"ready"' "$WORK/harness.out" 2>/dev/null && break
        kill -0 "$HPID" 2>/dev/null || break
        sleep 0.1
    done
    SIP_PORT=$(sed -n 's/.*"ready":true,"port":\([0-9]*\).*/\1/p' "$WORK/harness.out")
    [ -n "$SIP_PORT" ] && break
    echo "attempt $attempt: harness did not start on port $port: $(cat "$WORK/harness.err")" >&2
    kill -KILL "$HPID" 2>/dev/null || true
    wait "$HPID" 2>/dev/null || true
    HPID=""
done
[ -n "$SIP_PORT" ] || { bad "harness started"; exit 1; }
ok "harness listening on UDP+TCP 127.0.0.1:$SIP_PORT"

# wait_line PATTERN [seconds]: until harness.out has a line matching the extended regex.
wait_line() {
    local i
    for i in $(seq 1 $((${2:-10} * 10))); do
        grep -Eq "$1" "$WORK/harness.out" && return 0
        sleep 0.1
    done
    return 1
}
# ask CMD: sends a command and prints the newest line it produced (matched by its key).
ask() {
    local key=$1 before
    before=$(grep -c "\"$key\"" "$WORK/harness.out" || true)
    echo "$2" >&7
    for _ in $(seq 1 50); do
        if [ "$(grep -c "\"$key\"" "$WORK/harness.out" || true)" -gt "$before" ]; then
            grep "\"$key\"" "$WORK/harness.out" | tail -n 1
            return 0
        fi
        sleep 0.1
    done
    return 1
}
json() { # json 'python expression over j' <<< line
    python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print($1)"
}

SIPP_COMMON=(-i 127.0.0.1 -nostdin -timeout 15 -timeout_error -m 1)
users() { printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s]\n' "$1" "$1" "$2" >"$WORK/u_$1.csv"; echo "$WORK/u_$1.csv"; }
register() { # register SCENARIO EXT PASSWORD LOCAL_PORT CONTACT_PORT EXPIRES UA [extra sipp args]
    local scen=$1 ext=$2 pw=$3 lp=$4 cp=$5 exp=$6 ua=$7
    shift 7
    sipp "127.0.0.1:$SIP_PORT" -sf "$SCEN/$scen" -inf "$(users "$ext" "$pw")" -p "$lp" \
        -key contact_port "$cp" -key expires "$exp" -key ua "$ua" "${SIPP_COMMON[@]}" \
        -trace_msg -message_file "$WORK/sipp_${ext}_$lp.msg" "$@" >/dev/null 2>>"$WORK/sipp.err"
}

# --- 1. REGISTER with digest over UDP; the MAC comes from the User-Agent ---
P1=$(free_port)
check "UDP REGISTER 1001 with digest auth -> 200 (sipp rc 0)" \
    register register_auth.xml 1001 pw1001 "$P1" "$P1" 3600 "Yealink SIP-T46S 66.86.0.15 80:5e:c0:11:22:33"
check "binding added for 1001 over udp with the UA's MAC" \
    wait_line '"binding":"added","extension":"1001",.*"transport":"udp",.*"mac":"805ec0112233","mac_source":"sip_registration"'

# --- 2. the same over TCP ---
P2=$(free_port)
check "TCP REGISTER 1002 with digest auth -> 200 (sipp rc 0)" \
    register register_auth.xml 1002 pw1002 "$P2" "$P2" 3600 "Fanvil X4 2.4.0" -t t1
check "binding added for 1002 over tcp" wait_line '"binding":"added","extension":"1002",.*"transport":"tcp"'

# --- 3. wrong password: 401 then 403, nothing bound ---
P3=$(free_port)
check "wrong password for 1003 -> 401 then 403 (sipp rc 0 on the 403 scenario)" \
    register register_forbidden.xml 1003 WRONG "$P3" "$P3" 3600 "ua"
if register register_auth.xml 1003 WRONG "$P3" "$P3" 3600 "ua"; then
    bad "wrong password must fail a scenario expecting 200"
else
    ok "wrong password fails a scenario expecting 200"
fi
if grep -q '"extension":"1003"' "$WORK/harness.out"; then bad "no binding for 1003"; else ok "no binding for 1003"; fi

# --- 4. retransmitted REGISTER absorbed: same branch, 1.2 s apart, byte-identical answers ---
before=$(ask stats stats | json 'j["stats"]["retransmissions"]')
python3 - "$SIP_PORT" >"$WORK/retrans.out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(3)
lp = s.getsockname()[1]
req = ("REGISTER sip:127.0.0.1 SIP/2.0\r\n"
       f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK-retrans-1;rport\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:1003@127.0.0.1>;tag=r1\r\nTo: <sip:1003@127.0.0.1>\r\n"
       "Call-ID: retrans-1@test\r\nCSeq: 1 REGISTER\r\n"
       f"Contact: <sip:1003@127.0.0.1:{lp}>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n").encode()
s.sendto(req, ("127.0.0.1", port))
a = s.recv(65535)
time.sleep(1.2)  # a fresh challenge would now carry a new nonce
s.sendto(req, ("127.0.0.1", port))
b = s.recv(65535)
print("same" if a == b and a.startswith(b"SIP/2.0 401") else "different")
PY
check "retransmitted REGISTER gets the identical stored 401" grep -qx same "$WORK/retrans.out"
after=$(ask stats stats | json 'j["stats"]["retransmissions"]')
check "retransmission counted ($before -> $after)" test "$after" -eq $((before + 1))

# --- 5. malformed input does not harm existing registrations ---
python3 - "$SIP_PORT" >"$WORK/malformed.out" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
dst = ("127.0.0.1", port)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
u.settimeout(2)
lp = u.getsockname()[1]
def options(branch):
    return ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lp};branch=z9hG4bK-{branch};rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:s@127.0.0.1>\r\n"
            f"Call-ID: {branch}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
full = options("full")
bad = [
    b"\x00\x01\x02\xff garbage \xfe\r\n\r\n",
    full[: len(full) // 2].encode(),                                    # truncated
    ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Big: " + "A" * 20000 + "\r\n\r\n").encode(),  # huge header
    ("OPTIONS sip:127.0.0.1 SIP/2.0\r\n" + "".join(f"X-{i}: y\r\n" for i in range(200)) + "\r\n").encode(),
    b"SIP/2.0 200 OK\r\n\r\n",                                          # stray response
    b"A" * 60000,
]
for d in bad:
    u.sendto(d, dst)
replies = 0
try:
    while True:
        u.recv(65535)
        replies += 1
except socket.timeout:
    pass
print("udp_replies_to_garbage", replies)
# An answerable but wrong request gets a 400 naming the field.
u.sendto(full.replace("CSeq: 1 OPTIONS", "CSeq: 1 REGISTER").encode(), dst)
r = u.recv(65535).decode()
print("cseq_mismatch", r.split("\r\n")[0], "CSeq" in r.split("\r\n")[0])
u.sendto(options("after").encode(), dst)
print("udp_options_after", u.recv(65535).decode().split("\r\n")[0])
# TCP: one connection sends garbage without end, another keeps working.
good = socket.create_connection(dst)
good.settimeout(3)
good.sendall(options("tcp1").replace("UDP", "TCP").encode())
print("tcp_good_1", good.recv(65535).decode().split("\r\n")[0])
evil = socket.create_connection(dst)
evil.settimeout(3)
try:
    evil.sendall(b"X" * 70000)
    closed = evil.recv(100) == b""
except (ConnectionResetError, BrokenPipeError):
    closed = True
except socket.timeout:
    closed = False
print("tcp_evil_closed", closed)
evil2 = socket.create_connection(dst)
evil2.settimeout(3)
evil2.sendall(b"REGISTER sip:x SIP/2.0\r\nCall-ID: a\r\n\r\n")  # no Content-Length on a stream
try:
    closed = evil2.recv(100) == b""
except ConnectionResetError:
    closed = True
print("tcp_nolength_closed", closed)
good.sendall(options("tcp2").replace("UDP", "TCP").encode())
print("tcp_good_2", good.recv(65535).decode().split("\r\n")[0])
PY
check "garbage, truncated, huge and stray datagrams get no answer" grep -qx 'udp_replies_to_garbage 0' "$WORK/malformed.out"
check "CSeq/method mismatch answered 400 naming CSeq" grep -q '^cseq_mismatch SIP/2.0 400 .* True$' "$WORK/malformed.out"
check "UDP OPTIONS still answered 200 after the garbage" grep -qx 'udp_options_after SIP/2.0 200 OK' "$WORK/malformed.out"
check "TCP OPTIONS answered 200" grep -qx 'tcp_good_1 SIP/2.0 200 OK' "$WORK/malformed.out"
check "TCP connection over the buffer cap is closed" grep -qx 'tcp_evil_closed True' "$WORK/malformed.out"
check "TCP message without Content-Length closes that connection" grep -qx 'tcp_nolength_closed True' "$WORK/malformed.out"
check "the other TCP connection still works" grep -qx 'tcp_good_2 SIP/2.0 200 OK' "$WORK/malformed.out"
bindings=$(ask bindings bindings)
check "1001 and 1002 still registered after the malformed input" \
    test "$(json '" ".join(sorted(b["extension"] for b in j["bindings"]))' <<<"$bindings")" = "1001 1002"
dropped=$(ask stats stats | json 'j["stats"]["dropped"]')
check "malformed messages counted as dropped ($dropped >= 5)" test "$dropped" -ge 5

# --- 6. NOTIFY to a sipp phone answering 200 ---
UAS=$(free_port)
P6=$(free_port)
sipp -sf "$SCEN/notify_uas.xml" -p "$UAS" "${SIPP_COMMON[@]}" -trace_logs -log_file "$WORK/uas200.log" \
    >/dev/null 2>>"$WORK/sipp.err" &
UAS_PID=$!
check "REGISTER 1004 with its Contact at the sipp phone" \
    register register_auth.xml 1004 pw1004 "$P6" "$UAS" 3600 "sipp-phone"
started=$(ask 'notify":"started' "notify 1004 check-sync;reboot=true")
check "NOTIFY started to one contact" test "$(json 'j["count"]' <<<"$started")" = 1
check "NOTIFY outcome ok 200" wait_line '"notify":"result","extension":"1004",.*"event":"check-sync;reboot=true","result":"ok","code":200' 15
if wait "$UAS_PID"; then ok "sipp phone got the NOTIFY (rc 0)"; else bad "sipp phone got the NOTIFY (rc 0)"; fi
check "sipp phone saw Event: check-sync" grep -q 'got NOTIFY, Event: check-sync' "$WORK/uas200.log"

# --- 7. NOTIFY to a phone that challenges with 401 first (Cisco SPA style) ---
UAS=$(free_port)
P7=$(free_port)
sipp -sf "$SCEN/notify_uas_auth.xml" -p "$UAS" -key user 1005 -key pass pw1005 "${SIPP_COMMON[@]}" \
    -trace_logs -log_file "$WORK/uas401.log" >/dev/null 2>>"$WORK/sipp.err" &
UAS_PID=$!
check "REGISTER 1005 with its Contact at the challenging phone" \
    register register_auth.xml 1005 pw1005 "$P7" "$UAS" 3600 "Cisco/SPA504G-7.5.5 (E05FB9A12345)(CBT1)"
check "1005's MAC taken from the Cisco User-Agent" wait_line '"extension":"1005",.*"mac":"e05fb9a12345"'
ask 'notify":"started' "notify 1005 resync" >/dev/null
check "challenged NOTIFY answered with credentials -> ok 200" \
    wait_line '"notify":"result","extension":"1005",.*"event":"resync","result":"ok","code":200' 15
if wait "$UAS_PID"; then ok "challenging phone accepted the credentials (rc 0)"; else bad "challenging phone accepted the credentials (rc 0)"; fi
check "the phone's verifyauth said true" grep -q 'auth valid: true' "$WORK/uas401.log"
check "NOTIFY to an extension without bindings is refused" \
    test "$(ask 'notify":"started' "notify 1003 resync" | json 'j["count"]')" -lt 0

# --- 8. un-REGISTER (Expires: 0) and expiry ---
check "un-REGISTER 1001 (Expires: 0) -> 200" \
    register register_auth.xml 1001 pw1001 "$P1" "$P1" 0 "Yealink SIP-T46S 66.86.0.15 80:5e:c0:11:22:33"
check "binding removed for 1001" wait_line '"binding":"removed","extension":"1001"'
P8=$(free_port)
check "REGISTER 1003 for 2 seconds" register register_auth.xml 1003 pw1003 "$P8" "$P8" 2 "ua"
check "1003's binding expires on its own" wait_line '"binding":"expired","extension":"1003"' 6
ask 'notify":"queued' "notify-paced 1003 check-sync" >/dev/null
check "paced NOTIFY to an extension whose binding expired reports no_contact" \
    wait_line '"notify":"result","extension":"1003",.*"result":"no_contact"' 5
bindings=$(ask bindings bindings)
check "remaining bindings: 1002 1004 1005" \
    test "$(json '" ".join(sorted(b["extension"] for b in j["bindings"]))' <<<"$bindings")" = "1002 1004 1005"

# --- shutdown: clean exit (the ASan build also checks for leaks here) ---
echo quit >&7
rc=0
wait "$HPID" || rc=$?
HPID=""
check "harness exits cleanly (rc $rc)" test "$rc" -eq 0
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error' '$WORK/harness.err'"

echo "$CHECKS checks, $FAILS failed"
[ "$FAILS" -eq 0 ]
