#!/usr/bin/env bash
# SIP in the real daemon with real sipp peers: REGISTER with digest over UDP and TCP for
# provisioned extensions, correlation through /api/registered-phones and /api/phone-lookup,
# wrong password, un-REGISTER, persistence across a restart, expiry, reboot NOTIFY to a sipp
# phone answering 200 and to one challenging with 401 first, the automatic reboot when a device
# of a registered extension is registered, and malformed datagrams that harm nothing.
# With ZTPD_TEST_BACKEND=postgres it runs on PostgreSQL (pg_sip_daemon.sh).
. "$(dirname "$0")/lib.sh"

command -v sipp >/dev/null || { echo "sipp missing: apt-get install sip-tester" >&2; exit 1; }
SCEN=$ZTPD_SOURCE_DIR/tests/integration/sipp
[ "${ZTPD_TEST_BACKEND:-sqlite}" = postgres ] && pg_use_db ztpd_sip

write_config
# Short registrations must be allowed for the expiry check.
sed -i '/^sip:/a\  expires:\n    min: 1\n    default: 600\n  reboot_pace: 50' "$WORK/config.yml"
start_daemon

SIPP_COMMON=(-i 127.0.0.1 -nostdin -timeout 15 -timeout_error -m 1)
users() { printf 'SEQUENTIAL\n%s;[authentication username=%s password=%s]\n' "$1" "$1" "$2" >"$WORK/u_$1.csv"; echo "$WORK/u_$1.csv"; }
register() { # register SCENARIO EXT PASSWORD LOCAL_PORT CONTACT_PORT EXPIRES UA [extra sipp args]
    local scen=$1 ext=$2 pw=$3 lp=$4 cp=$5 exp=$6 ua=$7
    shift 7
    sipp "127.0.0.1:$SIP_PORT" -sf "$SCEN/$scen" -inf "$(users "$ext" "$pw")" -p "$lp" \
        -key contact_port "$cp" -key expires "$exp" -key ua "$ua" "${SIPP_COMMON[@]}" \
        "$@" >/dev/null 2>>"$WORK/sipp.err"
}
ext_field() { # ext_field EXT EXPR: EXPR over the first contact of GET extension/EXT ("" if none)
    req GET "/api/registered-phones/extension/$1"
    [ "$STATUS" = 200 ] || { echo ""; return; }
    json "$2"
}
rows() { db_query "SELECT COUNT(*) FROM registered_phones WHERE extension_number = '$1'"; }
notify_ok() { [ "$(ext_field "$1" '(j[0]["last_notify"]["result"], j[0]["last_notify"]["code"])')" = "('ok', 200)" ]; }
rows_are() { [ "$(rows "$1")" = "$2" ]; } # rows_are EXT N (re-evaluated by wait_for)

# --- provisioned device for 1001 ---
req POST /api/provisioning/devices -H "Content-Type: application/json" \
    -d '{"mac_address":"00:15:65:12:34:56","extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 201 "provision 001565123456 for 1001"
check "no reboot for an unregistered extension" test "$(json 'j["reboot_triggered"]')" = False
check "plain message without a reboot" test "$(json 'j["message"]')" = "Device registered"

# --- 1. UDP REGISTER for the provisioned extension: MAC from provisioning ---
P1=$(free_port)
check "UDP REGISTER 1001 with digest -> 200" \
    register register_auth.xml 1001 s3cret-1001 "$P1" "$P1" 3600 "Yealink SIP-T46S 66.86.0.15"
req GET /api/registered-phones/with-mac
expect_status 200 "GET with-mac"
check "1001 listed with the provisioned MAC" test "$(json '[(p["extension_number"],p["mac_address"],p["mac_source"],p["vendor"],p["model"],p["ip_address"]) for p in j]')" = "[('1001', '001565123456', 'provisioning', 'yealink', 't46s', '127.0.0.1')]"
check "with-mac has the config_url and ISO times" test "$(json '[p["config_url"].endswith("/provision/001565123456.cfg") and p["first_registered"].startswith("20") for p in j]')" = "[True]"

req GET /api/phone-lookup/00:15:65:12:34:56
expect_status 200 "phone-lookup by MAC"
check "lookup by MAC: type mac, matched, current IP" test "$(json '(j["type"], j["correlation"]["matched"], j["correlation"]["ip_address"], j["registered_phone"]["extension_number"], j["provisioned_device"]["model"])')" = "('mac', True, '127.0.0.1', '1001', 't46s')"
req GET /api/phone-lookup/127.0.0.1
expect_status 200 "phone-lookup by IP"
check "lookup by IP: type ip, matched, MAC from provisioning" test "$(json '(j["type"], j["correlation"]["matched"], j["correlation"]["mac_address"], j["correlation"]["extension"])')" = "('ip', True, '001565123456', '1001')"
req GET /api/phone-lookup/0015.6512.3456
check "lookup by dotted MAC form matches too" test "$(json 'j["correlation"]["matched"]')" = True
req GET /api/phone-lookup/00:15:65:aa:bb:cc
expect_status 404 "lookup of an unknown MAC"
req GET /api/phone-lookup/not-an-address
expect_status 400 "lookup of garbage"
check "400 names mac_or_ip" contains "$BODY" '"field":"mac_or_ip"'
req GET /api/phone-lookup/::1
expect_status 404 "lookup of an IPv6 nobody uses (parsed as IP, not found)"

# --- 2. TCP REGISTER whose User-Agent carries the MAC; extension without a device ---
P2=$(free_port)
check "TCP REGISTER 1002 with digest -> 200" \
    register register_auth.xml 1002 s3cret-1002 "$P2" "$P2" 3600 "Yealink SIP-T46S 66.86.0.15 80:5e:c0:11:22:33" -t t1
check "1002 over tcp with mac_source sip_registration" test "$(ext_field 1002 '(j[0]["transport"], j[0]["mac_address"], j[0]["mac_source"])')" = "('tcp', '805ec0112233', 'sip_registration')"
check "vendor and model of an unprovisioned phone read from its SIP User-Agent" test "$(ext_field 1002 '(j[0]["vendor"], j[0]["model"])')" = "('yealink', 't46s')"
req GET /api/phone-lookup/80-5E-C0-11-22-33
check "lookup of a SIP-only MAC: registered, not provisioned, not matched" test "$(json '(j["registered_phone"]["extension_number"], j["provisioned_device"], j["correlation"]["matched"])')" = "('1002', None, False)"

# --- 3. wrong password: 401 then 403, nothing bound ---
P3=$(free_port)
check "wrong password for 1001 -> 403" \
    register register_forbidden.xml 1001 WRONG "$P3" "$P3" 3600 "ua"
check "still exactly one contact for 1001" test "$(ext_field 1001 'len(j)')" = 1

# --- 4. persisted write-behind, with the contact URI ---
check "1001 persisted" wait_for 3 rows_are 1001 1
check "1002 persisted" wait_for 3 rows_are 1002 1
# sipp writes ;transport=UDP in its Contact: the URI is stored exactly as registered.
C1="sip:1001@127.0.0.1:$P1;transport=UDP"
check "row of 1001 holds the contact and the provisioned MAC" test "$(db_query "SELECT contact, mac_address, mac_source, transport FROM registered_phones WHERE extension_number = '1001'")" = "$C1|001565123456|provisioning|udp"
id1=$(ext_field 1001 'j[0]["id"]')
check "the API id is the row id" test "$id1" = "$(db_query "SELECT id FROM registered_phones WHERE extension_number = '1001'")"

# --- 5. a restart reloads the registrations ---
stop_daemon TERM
start_daemon
check "1001 restored after restart (same id, same contact)" test "$(ext_field 1001 '(j[0]["id"], j[0]["contact"], j[0]["mac_source"])')" = "($id1, '$C1', 'provisioning')"
check "1002 restored with its SIP MAC" test "$(ext_field 1002 'j[0]["mac_address"]')" = 805ec0112233
check "log says registrations were reloaded" grep -q "reloaded 2 persisted registrations" "$WORK/daemon.log"

# --- 6. un-REGISTER and expiry remove bindings and rows ---
check "un-REGISTER of 1001's contact -> 200" \
    register register_auth.xml 1001 s3cret-1001 "$P1" "$P1" 0 "Yealink SIP-T46S 66.86.0.15"
req GET /api/registered-phones/extension/1001
expect_status 404 "1001 gone after un-REGISTER"
check "row of 1001 deleted" wait_for 3 rows_are 1001 0
check "re-REGISTER 1002 with Expires: 2 -> 200" \
    register register_auth.xml 1002 s3cret-1002 "$P2" "$P2" 2 "Yealink SIP-T46S 66.86.0.15 80:5e:c0:11:22:33" -t t1
check "1002 expires on its own" wait_for 6 bash -c "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT/api/registered-phones/extension/1002 | grep -qx 404"
check "row of 1002 deleted after expiry" wait_for 3 rows_are 1002 0

# --- 7. reboot NOTIFY to a sipp phone answering 200 ---
req POST /api/phones/1001/reboot
expect_status 404 "reboot of an unregistered extension"
check "404 says not registered" contains "$BODY" "extension not registered"
U1=$(free_port)
sipp -sf "$SCEN/notify_uas.xml" -p "$U1" "${SIPP_COMMON[@]}" -trace_logs -log_file "$WORK/uas200.log" \
    >/dev/null 2>>"$WORK/sipp.err" &
UAS=$!
L1=$(free_port)
check "REGISTER 1001 with its Contact at the sipp phone" \
    register register_auth.xml 1001 s3cret-1001 "$L1" "$U1" 3600 "Yealink SIP-T46S 66.86.0.15"
req POST /api/phones/1001/reboot
expect_status 200 "POST /api/phones/1001/reboot"
check "reboot sent to 1 contact with the vendor's event" test "$(json '(j["success"], j["sent"], j["event"])')" = "(True, 1, 'check-sync;reboot=true')"
if wait "$UAS"; then check "sipp phone got the NOTIFY (rc 0)" true; else check "sipp phone got the NOTIFY (rc 0)" false; fi
check "sipp phone saw Event: check-sync" grep -q 'got NOTIFY, Event: check-sync' "$WORK/uas200.log"
check "outcome ok 200 visible in the extension view" wait_for 5 notify_ok 1001

# --- 8. a phone that challenges the NOTIFY with 401 first (Cisco SPA style) ---
U2=$(free_port)
sipp -sf "$SCEN/notify_uas_auth.xml" -p "$U2" -key user 1002 -key pass s3cret-1002 "${SIPP_COMMON[@]}" \
    -trace_logs -log_file "$WORK/uas401.log" >/dev/null 2>>"$WORK/sipp.err" &
UAS=$!
L2=$(free_port)
check "REGISTER 1002 with its Contact at the challenging phone" \
    register register_auth.xml 1002 s3cret-1002 "$L2" "$U2" 3600 "Cisco/SPA504G-7.5.5 (E05FB9A12345)(CBT1)"
req POST /api/phones/1002/reboot
expect_status 200 "POST /api/phones/1002/reboot"
if wait "$UAS"; then check "challenging phone accepted the credentials (rc 0)" true; else check "challenging phone accepted the credentials (rc 0)" false; fi
check "challenged NOTIFY outcome ok 200 in the API" wait_for 5 notify_ok 1002

# --- 9. registering a device of a registered extension reboots it automatically ---
check "un-REGISTER 1002's challenging contact" \
    register register_auth.xml 1002 s3cret-1002 "$L2" "$U2" 0 "Cisco/SPA504G-7.5.5 (E05FB9A12345)(CBT1)"
U3=$(free_port)
sipp -sf "$SCEN/notify_uas.xml" -p "$U3" "${SIPP_COMMON[@]}" -trace_logs -log_file "$WORK/uas_auto.log" \
    >/dev/null 2>>"$WORK/sipp.err" &
UAS=$!
L3=$(free_port)
check "REGISTER 1002 with its Contact at a third sipp phone" \
    register register_auth.xml 1002 s3cret-1002 "$L3" "$U3" 3600 "Yealink SIP-T46S 66.86.0.15"
req POST /api/provisioning/devices -H "Content-Type: application/json" \
    -d '{"mac_address":"001565000002","extension_number":"1002","vendor":"yealink","model":"t46s"}'
expect_status 201 "provision a device for registered 1002"
check "reboot_triggered true" test "$(json 'j["reboot_triggered"]')" = True
check "the guide's message" test "$(json 'j["message"]')" = "Device registered and phone reboot triggered automatically"
if wait "$UAS"; then check "the phone got the automatic NOTIFY (rc 0)" true; else check "the phone got the automatic NOTIFY (rc 0)" false; fi
check "1002 now correlates with its provisioned MAC" test "$(ext_field 1002 '(j[0]["mac_address"], j[0]["mac_source"])')" = "('001565000002', 'provisioning')"

# --- 10. reboot everything: paced queue, and each phone really gets its NOTIFY ---
sipp -sf "$SCEN/notify_uas.xml" -p "$U1" "${SIPP_COMMON[@]}" -trace_logs -log_file "$WORK/uas_all1.log" \
    >/dev/null 2>>"$WORK/sipp.err" &
UAS_A=$!
sipp -sf "$SCEN/notify_uas.xml" -p "$U3" "${SIPP_COMMON[@]}" -trace_logs -log_file "$WORK/uas_all2.log" \
    >/dev/null 2>>"$WORK/sipp.err" &
UAS_B=$!
# Both sipp phones bound before the NOTIFYs leave (their UDP ports show in /proc/net/udp).
udp_bound() { grep -qi "^ *[0-9]*: [0-9A-F]*:$(printf '%04X' "$1") " /proc/net/udp; }
check "reboot all: both sipp phones listening" wait_for 5 bash -c "$(declare -f udp_bound); udp_bound $U1 && udp_bound $U3"
req POST /api/phones/reboot
expect_status 200 "POST /api/phones/reboot"
check "both registered extensions queued at the configured pace" test "$(json '(j["success"], j["queued"], j["pace_per_second"])')" = "(True, 2, 50)"
if wait "$UAS_A"; then check "reboot all: 1001's phone got its NOTIFY" true; else check "reboot all: 1001's phone got its NOTIFY" false; fi
if wait "$UAS_B"; then check "reboot all: 1002's phone got its NOTIFY" true; else check "reboot all: 1002's phone got its NOTIFY" false; fi
check "reboot all: 1001's NOTIFY carried the vendor's event" grep -q 'got NOTIFY, Event: check-sync' "$WORK/uas_all1.log"
check "reboot all: 1002's NOTIFY carried the vendor's event" grep -q 'got NOTIFY, Event: check-sync' "$WORK/uas_all2.log"

# --- 11. malformed datagrams harm no registration ---
python3 - "$SIP_PORT" >"$WORK/malformed.out" <<'PY'
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
for d in [b"", b"\x00\x01\x02\xff garbage \xfe\r\n\r\n", b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP",
          ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nX-Big: " + "A" * 20000 + "\r\n\r\n").encode()[:60000],
          b"SIP/2.0 200 OK\r\nCall-ID: nobody\r\n\r\n"]:
    s.sendto(d, ("127.0.0.1", port))
replies = 0
try:
    while True:
        s.recv(65535); replies += 1
except socket.timeout:
    pass
print("garbage_replies", replies)
opt = ("OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-opt1\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:s@127.0.0.1>\r\n"
       "Call-ID: opt-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n" % s.getsockname()[1]).encode()
s.sendto(opt, ("127.0.0.1", port))
s.settimeout(2)
print("options", s.recv(65535).split(b"\r\n")[0].decode())
PY
check "garbage gets no answer" grep -qx 'garbage_replies 0' "$WORK/malformed.out"
check "OPTIONS still answered 200" grep -qx 'options SIP/2.0 200 OK' "$WORK/malformed.out"
check "registrations intact after the garbage" test "$(ext_field 1001 'len(j)')$(ext_field 1002 'len(j)')" = 11

# --- passwords never logged ---
check "no extension password in the log" bash -c "! grep -q 's3cret-100' '$WORK/daemon.log'"

stop_daemon TERM
check "registrations still persisted after a clean stop" test "$(rows 1001)$(rows 1002)" = 11
finish
