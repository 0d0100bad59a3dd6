#!/usr/bin/env bash
# Startup: bad config refuses to start with file:line:key; the API token is generated once
# (mode 0600) when api.tokens is empty; `ztpd version`; SIGHUP reloads vendors.
. "$(dirname "$0")/lib.sh"

check "ztpd version" bash -c "'$ZTPD_BIN' version | grep -Eq '^ztpd [0-9]+\.[0-9]+\.[0-9]+'"

bad_config() { # name yaml expected-substring
    printf '%s\n' "$2" >"$WORK/bad.yml"
    local out rc=0
    out=$(timeout 10 "$ZTPD_BIN" serve -c "$WORK/bad.yml" 2>&1) || rc=$?
    check "$1: refuses to start" test "$rc" -ne 0
    check "$1: message '$3' in: $out" contains "$out" "$3"
}
bad_config "unknown key" $'server:\n  name: x\n  colour: blue' "bad.yml:3: server.colour"
bad_config "bad port" $'http:\n  listen: "127.0.0.1:99999"' "bad.yml:2: http.listen"
bad_config "wrong type" $'http:\n  max_connections: lots' "bad.yml:2: http.max_connections"
bad_config "bad device MAC" $'provisioning:\n  devices:\n    - mac: "00:15:65"\n      extension: "1001"\n      vendor: yealink\n      model: t46s' "provisioning.devices"
long_path=$(printf 'p%.0s' $(seq 1 200))
bad_config "provisioning URL too long for a device record" "provisioning:
  url_format: \"http://{{SERVER_IP}}:{{PORT}}/$long_path/{mac}.cfg\"" "provisioning.url_format: the provisioning URL would be"
port=$(free_port)
bad_config "unknown vendor in devices" "http:
  listen: \"127.0.0.1:$port\"
server:
  data_dir: \"$WORK/baddata\"
extensions:
  - number: \"1001\"
    name: A
    password: pw-pw-pw
provisioning:
  devices:
    - mac: \"001565000001\"
      extension: \"1001\"
      vendor: nokia
      model: x1" "unknown vendor 'nokia'"
check "a refused config stored nothing" test "$(sqlite3 "$WORK/baddata/ztpd.db" 'select count(*) from extensions')" = 0

# generated token
PORT=$(free_port)
cat >"$WORK/config.yml" <<YAML
http:
  listen: "127.0.0.1:$PORT"
server:
  data_dir: "data"
sip:
  listen: "127.0.0.1:$(free_port)"
YAML
start_daemon
tokfile="$WORK/data/api-token"
check "token file created" test -f "$tokfile"
check "token file mode 0600" test "$(stat -c %a "$tokfile")" = 600
tok=$(cat "$tokfile")
check "token printed once on stdout" test "$(grep -c "$tok" "$WORK/daemon.out")" = 1
check "token not in the log" bash -c "! grep -q '$tok' '$WORK/daemon.log'"
TOKEN=$tok
req GET /api/provisioning/devices
expect_status 200 "generated token accepted"

stop_daemon TERM
start_daemon
check "token not printed again" test "$(grep -c "$tok" "$WORK/daemon.out")" = 1
stop_daemon TERM

# SIGHUP: a vendor file dropped into provisioning.vendors_dir appears after a reload, with no
# rebuild and no restart, and serves configs; a broken file is skipped with its reason logged.
mkdir -p "$WORK/extra-vendors"
cat >>"$WORK/config.yml" <<YAML
extensions:
  - number: "3001"
    name: "Drop In"
    password: "drop-in-pw"
provisioning:
  vendors_dir: "extra-vendors"
YAML
start_daemon
req GET /api/provisioning/vendors
check "acme not there before the reload" test "$(json '"acme" in j["vendors"]')" = False
sed -e 's/name = "yealink"/name = "acme"/' -e 's/label = "Yealink"/label = "Acme"/' \
    "$ZTPD_SOURCE_DIR/vendors/yealink.lua" >"$WORK/extra-vendors/acme.lua"
printf 'return { name = "broken", label = 42 }\n' >"$WORK/extra-vendors/broken.lua"
kill -HUP "$PID"
for _ in $(seq 1 50); do grep -q "reloaded:" "$WORK/daemon.log" && break; sleep 0.1; done
req GET /api/provisioning/vendors
check "acme listed after SIGHUP" test "$(json '"acme" in j["vendors"] and j["models"]["acme"] == j["models"]["yealink"] and "t46s" in j["models"]["acme"]')" = True
check "broken vendor not listed" test "$(json '"broken" in j["vendors"]')" = False
check "broken vendor file named in the log" grep -q "broken.lua" "$WORK/daemon.log"
req POST /api/provisioning/devices -d '{"mac_address":"001565acce55","extension_number":"3001","vendor":"acme","model":"t46s"}'
expect_status 201 "device of the drop-in vendor"
raw GET /provision/001565acce55.cfg
expect_status 200 "drop-in vendor serves a config (generic template)"
check "config carries the extension" contains "$BODY" "3001"
check "daemon survived the reload" kill -0 "$PID"
stop_daemon TERM
finish
