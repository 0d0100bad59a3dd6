#!/usr/bin/env bash
# A real softphone against the daemon: baresip (headless, no audio driver, no UI) registers a
# provisioned extension with digest auth, presenting a desk-phone User-Agent; the registration
# then shows up correlated with the provisioned MAC in /api/phone-lookup and
# /api/registered-phones/with-mac, and baresip's un-REGISTER on SIGTERM removes it.
#
# baresip 1.0.0 has no User-Agent option (it always sends "baresip v1.0.0 (x86_64/linux)", the
# `software` string it hands to libre's sip_alloc), so a small LD_PRELOAD shim built here swaps
# that string for $ZTPD_TEST_USER_AGENT. Needs baresip and a C compiler.
. "$(dirname "$0")/lib.sh"

command -v baresip >/dev/null || { echo "baresip missing: apt-get install baresip" >&2; exit 1; }
CC=${CC:-cc}
command -v "$CC" >/dev/null || { echo "no C compiler ($CC) for the User-Agent shim" >&2; exit 1; }
[ -d /usr/lib/baresip/modules ] || { echo "baresip modules not in /usr/lib/baresip/modules" >&2; exit 1; }

UA="Yealink SIP-T46S 66.86.0.15"
MAC=001565aabb01
BS_PID=""

stop_baresip() {
    [ -n "$BS_PID" ] || return 0
    if kill -0 "$BS_PID" 2>/dev/null; then
        kill -TERM "$BS_PID" 2>/dev/null || true # baresip un-REGISTERs on SIGTERM
        for _ in $(seq 50); do kill -0 "$BS_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$BS_PID" 2>/dev/null || true
    fi
    wait "$BS_PID" 2>/dev/null || true
    BS_PID=""
}
# baresip first (while the daemon still answers its un-REGISTER), then lib.sh's cleanup.
trap 'stop_baresip; [ "$FAILS" -gt 0 ] && tail -n 40 "$WORK/baresip.log" >&2; cleanup' EXIT

cat >"$WORK/ua_shim.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

struct sip;
struct dnsc;
typedef void(sip_exit_h)(void *arg);
typedef int (*sip_alloc_fn)(struct sip **, struct dnsc *, uint32_t, uint32_t, uint32_t,
                            const char *, sip_exit_h *, void *);

/* libre's sip_alloc with the User-Agent/Server string replaced by $ZTPD_TEST_USER_AGENT. */
int sip_alloc(struct sip **sipp, struct dnsc *dnsc, uint32_t ctsz, uint32_t stsz, uint32_t tcsz,
              const char *software, sip_exit_h *exith, void *arg)
{
    sip_alloc_fn real = (sip_alloc_fn)dlsym(RTLD_NEXT, "sip_alloc");
    const char *ua = getenv("ZTPD_TEST_USER_AGENT");
    if (!real)
        abort();
    return real(sipp, dnsc, ctsz, stsz, tcsz, ua && *ua ? ua : software, exith, arg);
}
C
"$CC" -shared -fPIC -O1 -o "$WORK/ua_shim.so" "$WORK/ua_shim.c" -ldl

write_config
start_daemon

req POST /api/provisioning/devices -H "Content-Type: application/json" \
    -d "{\"mac_address\":\"00:15:65:aa:bb:01\",\"extension_number\":\"1001\",\"vendor\":\"yealink\",\"model\":\"t46s\"}"
expect_status 201 "provision $MAC for extension 1001"

# All three files before the first start: with an empty -f dir baresip writes a default config
# that listens on 0.0.0.0:5060. SIP on loopback only; no audio driver, no stdio UI (stdin is
# /dev/null); baresip's DNS client still binds UDP 0.0.0.0/[::] on random ports.
BS_PORT=$(free_port)
mkdir -p "$WORK/bs"
cat >"$WORK/bs/config" <<CONF
poll_method		epoll
sip_listen		127.0.0.1:$BS_PORT
net_interface		127.0.0.1
module_path		/usr/lib/baresip/modules
module			g711.so
module_tmp		uuid.so
module_tmp		account.so
CONF
printf '<sip:1001@127.0.0.1:%s;transport=udp>;auth_pass=s3cret-1001;regint=300;answermode=manual;mwi=no;audio_codecs=PCMU\n' \
    "$SIP_PORT" >"$WORK/bs/accounts"
: >"$WORK/bs/contacts"

t0=$(date +%s%N)
# -s: SIP trace on stdout (the REGISTERs and the daemon's answers).
ZTPD_TEST_USER_AGENT="$UA" LD_PRELOAD="$WORK/ua_shim.so" \
    baresip -f "$WORK/bs" -s </dev/null >"$WORK/baresip.log" 2>&1 &
BS_PID=$!

registered() {
    curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "http://127.0.0.1:$PORT/api/registered-phones/extension/1001" | grep -qx 200
}
check "baresip registered 1001 within 10 s" wait_for 10 registered
echo "     (registered $((($(date +%s%N) - t0) / 1000000)) ms after start)"
check "baresip still running" kill -0 "$BS_PID"

# What baresip sent and got: challenged first, then accepted with credentials.
trace=$(sed 's/\x1b\[[0-9;]*m//g' "$WORK/baresip.log")
check "REGISTER carried the desk-phone User-Agent" contains "$trace" "User-Agent: $UA"
check "the daemon challenged with 401 digest" contains "$trace" "SIP/2.0 401"
check "baresip answered the challenge with Authorization: Digest" contains "$trace" 'Authorization: Digest username="1001"'
check "the daemon accepted with 200" contains "$trace" "SIP/2.0 200"

req GET /api/registered-phones/extension/1001
expect_status 200 "GET extension 1001"
check "binding: softphone's UA, source IP and port over udp" \
    test "$(json '[(p["user_agent"], p["ip_address"], p["port"], p["transport"]) for p in j]')" = "[('$UA', '127.0.0.1', $BS_PORT, 'udp')]"
check "binding: MAC from provisioning, vendor yealink" \
    test "$(json '(j[0]["mac_address"], j[0]["mac_source"], j[0]["vendor"])')" = "('$MAC', 'provisioning', 'yealink')"

req GET /api/phone-lookup/00:15:65:AA:BB:01
expect_status 200 "phone-lookup by the provisioned MAC"
check "lookup by MAC: matched with the softphone's IP and extension" \
    test "$(json '(j["type"], j["correlation"]["matched"], j["correlation"]["ip_address"], j["correlation"]["extension"], j["correlation"]["mac_address"])')" = "('mac', True, '127.0.0.1', '1001', '$MAC')"
check "lookup by MAC: registered_phone is the softphone" \
    test "$(json '(j["registered_phone"]["extension_number"], j["registered_phone"]["ip_address"])')" = "('1001', '127.0.0.1')"

req GET /api/phone-lookup/127.0.0.1
expect_status 200 "phone-lookup by the softphone's IP"
check "lookup by IP: matched, provisioned MAC and model" \
    test "$(json '(j["type"], j["correlation"]["matched"], j["correlation"]["mac_address"], j["correlation"]["model"])')" = "('ip', True, '$MAC', 't46s')"

req GET /api/registered-phones/with-mac
expect_status 200 "GET with-mac"
check "with-mac lists the softphone with its provisioned MAC" \
    test "$(json '[(p["extension_number"], p["mac_address"], p["ip_address"], p["user_agent"], p["mac_source"]) for p in j]')" = "[('1001', '$MAC', '127.0.0.1', '$UA', 'provisioning')]"

# SIGTERM: baresip un-REGISTERs (Expires: 0), the binding disappears.
stop_baresip
unregistered() { ! registered; }
check "un-REGISTER on baresip's exit removes the binding" wait_for 5 unregistered
req GET /api/phone-lookup/00:15:65:aa:bb:01
check "lookup by MAC: provisioned but no longer matched" \
    test "$(json '(j["correlation"]["matched"], j["provisioned_device"]["mac_address"])')" = "(False, '$MAC')"

check "no extension password in the daemon log" bash -c "! grep -q 's3cret-1001' '$WORK/daemon.log'"
stop_daemon TERM
finish
