#!/usr/bin/env bash
# Update paths: every field a PUT, a reload (SIGHUP) or a config.yml change at startup can alter is
# checked in what the phone receives afterwards, not only in the API's answer.
. "$(dirname "$0")/lib.sh"

mkdir -p "$WORK/custom" "$WORK/vendors"
write_config "provisioning:
  custom_templates_dir: \"$WORK/custom\"
  vendors_dir: \"$WORK/vendors\""
start_daemon

MAC=001565123456
lacks() { [[ "$1" != *"$2"* ]]; }
both() { [[ "$1" == *"$2"* && "$1" == *"$3"* ]]; }
fetch() { BODY=$(curl -s "http://127.0.0.1:$PORT/provision/$1"); }

req POST /api/provisioning/devices -d "{\"mac_address\":\"$MAC\",\"extension_number\":\"1001\",\"vendor\":\"yealink\",\"model\":\"t46s\"}"
expect_status 201 "device added"
fetch $MAC.cfg
check "first render: name" contains "$BODY" "Alice Example"
check "first render: password" contains "$BODY" "s3cret-1001"

# ---- PUT /api/extensions/{number}: each field reaches the phone ----
req PUT /api/extensions/1001 -d '{"password":"rotated-pw-1001"}'
expect_status 200 "PUT extension password"
fetch $MAC.cfg
check "new password served after PUT" contains "$BODY" "account.1.password = rotated-pw-1001"
check "old password gone after PUT" lacks "$BODY" s3cret-1001
check "name kept when only the password changes" contains "$BODY" "Alice Example"
req PUT /api/extensions/1001 -d '{"name":"Alice Renamed"}'
expect_status 200 "PUT extension name"
fetch $MAC.cfg
check "new name served after PUT" contains "$BODY" "account.1.display_name = Alice Renamed"
check "password kept when only the name changes" contains "$BODY" "rotated-pw-1001"
req PUT /api/extensions/1001 -d '{"name":"Alice Both","password":"both-pw-1001"}'
expect_status 200 "PUT extension name and password"
fetch $MAC.cfg
check "both fields served after one PUT" both "$BODY" "Alice Both" both-pw-1001

# ---- a device moved to another extension and model: both reach the phone ----
# The API has no device PUT (the guide's API re-registers a device: DELETE + POST).
req DELETE /api/provisioning/devices/$MAC
expect_status 200 "device removed"
req POST /api/provisioning/devices -d "{\"mac_address\":\"$MAC\",\"extension_number\":\"1002\",\"vendor\":\"yealink\",\"model\":\"t48s\"}"
expect_status 201 "device re-registered on 1002 / t48s"
fetch $MAC.cfg
check "new extension served" contains "$BODY" "account.1.user_name = 1002"
check "the previous extension's password is gone" lacks "$BODY" both-pw-1001
check "the new extension's password served" contains "$BODY" "s3cret-1002"
fetch y000000000065.cfg
check "the new model's common file is served (t48s = 65)" test -n "$BODY"

# ---- templates edited in place, then SIGHUP ----
cat >"$WORK/custom/yealink_t48s.cfg" <<'T'
#!version:1.0.0.1
custom.marker = one
account.1.user_name = {{EXTENSION_NUMBER}}
account.1.password = {{EXTENSION_PASSWORD}}
T
kill -HUP "$PID"
check "a new custom template is used after SIGHUP" wait_for 5 bash -c "curl -s http://127.0.0.1:$PORT/provision/$MAC.cfg | grep -q 'custom.marker = one'"
sed -i 's/custom.marker = one/custom.marker = two/' "$WORK/custom/yealink_t48s.cfg"
kill -HUP "$PID"
check "a template edited in place is used after SIGHUP" wait_for 5 bash -c "curl -s http://127.0.0.1:$PORT/provision/$MAC.cfg | grep -q 'custom.marker = two'"
# A broken edit keeps the previous version (documented in docs/templates.md).
printf '#!version:1.0.0.1\ncustom.marker = {{#UNCLOSED}}\n' >"$WORK/custom/yealink_t48s.cfg"
kill -HUP "$PID"
sleep 0.5
fetch $MAC.cfg
check "a broken template edit keeps the last good one" contains "$BODY" "custom.marker = two"

# ---- a vendor file edited in place, then SIGHUP ----
sed -e 's/name = "zultys"/name = "acme"/' -e 's/label = "Zultys"/label = "Acme"/' \
    -e 's/"000bea"/"aabbcc"/' -e 's/ctx.LINE_LABEL = name ~= "" and name or ctx.EXTENSION_NUMBER/ctx.LINE_LABEL = "acme-v1"/' \
    "$ZTPD_SOURCE_DIR/vendors/zultys.lua" >"$WORK/vendors/acme.lua"
cp "$ZTPD_SOURCE_DIR/templates/zultys_zip33g.cfg" "$WORK/custom/acme_zip33g.cfg"
kill -HUP "$PID"
check "a new vendor file is loaded by SIGHUP" wait_for 5 bash -c "curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT/api/provisioning/vendors | grep -q acme"
req POST /api/provisioning/devices -d '{"mac_address":"aabbcc000001","extension_number":"1001","vendor":"acme","model":"zip33g"}'
expect_status 201 "device of the new vendor added"
fetch aabbcc000001.cfg
check "the vendor's prepare() output is rendered" contains "$BODY" "account.1.label = acme-v1"
sed -i 's/ctx.LINE_LABEL = "acme-v1"/ctx.LINE_LABEL = "acme-v2"/' "$WORK/vendors/acme.lua"
kill -HUP "$PID"
check "a vendor file edited in place is used after SIGHUP" wait_for 5 bash -c "curl -s http://127.0.0.1:$PORT/provision/aabbcc000001.cfg | grep -q 'label = acme-v2'"

stop_daemon TERM

# ---- config.yml changed while stopped: startup updates the stored extension ----
sed -i -e 's/password: "s3cret-1002"/password: "from-yaml-1002"/' -e 's/name: "Bob Example"/name: "Bob From Yaml"/' \
    "$WORK/config.yml"
start_daemon
fetch $MAC.cfg
check "password rotated in config.yml is served after a restart" contains "$BODY" "account.1.password = from-yaml-1002"
check "the old password is not served any more" lacks "$BODY" s3cret-1002
check "name changed in config.yml is served after a restart" contains "$BODY" "Bob From Yaml"
stop_daemon TERM
check "no password in the log" bash -c "! grep -Eq 's3cret|rotated-pw|both-pw|from-yaml' '$WORK/daemon.log'"
finish
