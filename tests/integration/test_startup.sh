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

# generated token
PORT=$(free_port)
cat >"$WORK/config.yml" <<YAML
http:
  listen: "127.0.0.1:$PORT"
server:
  data_dir: "data"
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

# SIGHUP: a vendor dropped into provisioning.vendors_dir appears after reload
stop_daemon TERM
start_daemon
check "token not printed again" test "$(grep -c "$tok" "$WORK/daemon.out")" = 1
stop_daemon TERM
finish
