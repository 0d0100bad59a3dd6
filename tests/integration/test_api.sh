#!/usr/bin/env bash
# Every request of the original guide's "REST API Usage" section against the real daemon, plus
# the extension API, authentication and provisioning by MAC in every accepted form.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon

# --- status (unauthenticated) and authentication ---
raw GET /api/status
expect_status 200 "GET /api/status without a token"
check "status reports storage up" contains "$BODY" '"status":"up"'
raw GET /api/provisioning/devices
expect_status 401 "GET devices without a token"
check "401 names the Authorization field" contains "$BODY" '"field":"Authorization"'
raw GET /api/provisioning/devices -H "Authorization: Bearer wrong-token-wrong-token"
expect_status 401 "GET devices with a wrong token"

# --- vendors ---
req GET /api/provisioning/vendors
expect_status 200 "GET /api/provisioning/vendors"
check "vendors sorted by name" test "$(json 'j["vendors"] == sorted(j["vendors"])')" = True
check "the guide's vendors and the drop-ins listed" test "$(json 'j["vendors"]')" = "['cisco', 'fanvil', 'grandstream', 'polycom', 'snom', 'yealink', 'zultys']"
check "zultys models" test "$(json 'j["models"]["zultys"]')" = "['zip33g', 'zip37g']"
check "cisco models" test "$(json 'j["models"]["cisco"]')" = "['spa303', 'spa504g', 'spa525g2']"
check "yealink has t46s" contains "$(json 'j["models"]["yealink"]')" "t46s"

# --- list (empty) ---
req GET /api/provisioning/devices
expect_status 200 "GET devices (empty)"
check "empty list is []" test "$BODY" = "[]"

# --- register a device, exactly the guide's request ---
req POST /api/provisioning/devices -H "Content-Type: application/json" -d '{
    "mac_address": "00:15:65:12:34:56",
    "extension_number": "1001",
    "vendor": "zultys",
    "model": "zip33g"
  }'
expect_status 201 "POST device"
check "success true" test "$(json 'j["success"]')" = True
check "mac normalized" test "$(json 'j["device"]["mac_address"]')" = 001565123456
check "config_url from server.address" test "$(json 'j["device"]["config_url"]')" = "http://192.0.2.10:$PORT/provision/001565123456.cfg"
check "reboot_triggered false (no registrar yet)" test "$(json 'j["reboot_triggered"]')" = False
check "message present" test -n "$(json 'j["message"]')"

# --- duplicate and bad input ---
req POST /api/provisioning/devices -d '{"mac_address":"00-15-65-12-34-56","extension_number":"1001","vendor":"zultys","model":"zip33g"}'
expect_status 409 "duplicate MAC (other format)"
check "409 names mac_address" test "$(json 'j["field"]')" = mac_address
req POST /api/provisioning/devices -d '{"mac_address":"00:15:65:12:34","extension_number":"1001","vendor":"zultys","model":"zip33g"}'
expect_status 400 "short MAC"
check "400 names mac_address" test "$(json 'j["field"]')" = mac_address
req POST /api/provisioning/devices -d '{"mac_address":"001565aaaaaa","extension_number":"1001","vendor":"nokia","model":"zip33g"}'
expect_status 400 "unknown vendor"
check "400 names vendor" test "$(json 'j["field"]')" = vendor
req POST /api/provisioning/devices -d '{"mac_address":"001565aaaaaa","extension_number":"1001","vendor":"yealink","model":"t99"}'
expect_status 400 "unknown model"
check "400 names model" test "$(json 'j["field"]')" = model
req POST /api/provisioning/devices -d '{"mac_address":"001565aaaaaa","extension_number":"4242","vendor":"yealink","model":"t46s"}'
expect_status 400 "unknown extension"
check "400 names extension_number" test "$(json 'j["field"]')" = extension_number
req POST /api/provisioning/devices -d '{"mac_address":"001565aaaaaa","vendor":"yealink","model":"t46s"}'
expect_status 400 "missing extension_number"
check "missing field named" test "$(json 'j["field"]')" = extension_number
req POST /api/provisioning/devices -d '{"mac_address":"001565aaaaaa",'
expect_status 400 "malformed JSON"
check "malformed JSON says where" contains "$BODY" "malformed JSON at line"
req POST /api/provisioning/devices -d '[1,2]'
expect_status 400 "JSON array instead of object"
req POST /api/provisioning/devices -d '{"mac_address":123,"extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 400 "MAC of the wrong type"

# --- more devices, through every vendor ---
for spec in "00:15:65:ab:cd:ef 1002 yealink t46s" "00:04:f2:12:ab:cd 1002 polycom vvx450" \
    "00:0e:08:aa:bb:cc 1001 cisco spa504g" "00:0b:82:01:02:03 1002 grandstream gxp2170" \
    "00:0b:ea:85:bc:14 1001 zultys zip37g"; do
    set -- $spec
    req POST /api/provisioning/devices -d "{\"mac_address\":\"$1\",\"extension_number\":\"$2\",\"vendor\":\"$3\",\"model\":\"$4\"}"
    expect_status 201 "POST $3 $4"
done

# --- list ---
req GET /api/provisioning/devices
expect_status 200 "GET devices"
check "six devices listed" test "$(json 'len(j)')" = 6
check "created_at ISO 8601" test "$(json 'j[0]["created_at"][10]+j[0]["created_at"][-1]')" = TZ
check "never provisioned is null" test "$(json 'j[0]["last_provisioned"]')" = None

# --- provisioning, MAC in every form ---
for form in 001565123456 00:15:65:12:34:56 00%3A15%3A65%3A12%3A34%3A56 00-15-65-12-34-56 001565123456 00:15:65:12:34:56; do
    raw GET "/provision/$form.cfg"
    expect_status 200 "GET /provision/$form.cfg"
done
raw GET /provision/00-15-65-12-34-56.cfg
check "zultys config names the extension" contains "$BODY" "account.1.user_name = 1001"
check "zultys config has the display name" contains "$BODY" "Alice Example"
check "zultys config has the password" contains "$BODY" "s3cret-1001"
check "zultys config has the SIP server" contains "$BODY" "192.0.2.10"
check "version line first" test "$(printf '%s' "$BODY" | head -n1)" = "#!version:1.0.0.1"
raw GET /provision/001565ABCDEF.cfg
expect_status 200 "uppercase MAC"
check "yealink config for 1002" contains "$BODY" "account.1.user_name = 1002"
for mac in 0004f212abcd 000e08aabbcc 000b82010203; do
    raw GET "/provision/$mac.cfg"
    expect_status 200 "GET config of $mac"
    ct=$(curl -s -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PORT/provision/$mac.cfg")
    check "$mac config is XML ($ct)" contains "$ct" xml
    printf '%s' "$BODY" >"$WORK/$mac.xml"
    check "$mac config is well-formed XML" xmllint --noout "$WORK/$mac.xml"
done

# --- unknown MAC: same 404 as any unknown path ---
raw GET /provision/001565999999.cfg
expect_status 404 "unknown MAC"
unknown_mac_body=$BODY
raw GET /no/such/path
expect_status 404 "unknown path"
check "unknown MAC and unknown path give the same body" test "$unknown_mac_body" = "$BODY"
raw GET /provision/not-a-mac.cfg
expect_status 404 "not a MAC"
# Sent as written (--path-as-is): without it curl resolves the dots itself and the daemon never
# sees a traversal.
for p in /provision/../config.yml /provision/%2e%2e/config.yml /provision/..%2fconfig.yml \
    /../config.yml /provision/../data/ztpd.db; do
    raw GET "$p" --path-as-is
    check "path traversal $p refused ($STATUS)" test "$STATUS" = 404 -o "$STATUS" = 400
    check "no config leaked by $p" bash -c "! grep -q 'tokens\|SQLite' <<<'$BODY'"
done

# --- last_provisioned set after a fetch (in memory at once, written by the batch) ---
req GET /api/provisioning/devices
check "last_provisioned set" test "$(json '[d["last_provisioned"] for d in j if d["mac_address"]=="001565123456"][0] is not None')" = True

# --- touch ---
req PUT /api/provisioning/devices/00:0b:82:01:02:03/touch
expect_status 200 "PUT touch"
check "touch sets last_provisioned" test "$(json 'j["device"]["last_provisioned"] is not None')" = True
req PUT /api/provisioning/devices/000b82ffffff/touch
expect_status 404 "touch unknown device"

# --- unregister (guide's form with colons) ---
req DELETE /api/provisioning/devices/00:15:65:12:34:56
expect_status 200 "DELETE device"
check "delete message" test "$(json 'j["message"]')" = "Device unregistered"
raw GET /provision/001565123456.cfg
expect_status 404 "deleted device no longer provisioned"
req DELETE /api/provisioning/devices/00:15:65:12:34:56
expect_status 404 "DELETE again"
req DELETE /api/provisioning/devices/zz:zz
expect_status 400 "DELETE bad MAC"

# --- extensions ---
req GET /api/extensions
expect_status 200 "GET extensions"
check "two extensions from config" test "$(json 'len(j)')" = 2
check "extension 1001 listed with name" test "$(json '[e["name"] for e in j if e["number"]=="1001"][0]')" = "Alice Example"
check "passwords never returned" bash -c "! grep -q s3cret <<<'$BODY'"
req POST /api/extensions -d '{"number":"1003","name":"Carol","password":"pw-1003-x"}'
expect_status 201 "POST extension"
req POST /api/extensions -d '{"number":"1003","name":"Carol","password":"pw-1003-x"}'
expect_status 409 "duplicate extension"
req POST /api/extensions -d '{"number":"12a","name":"X","password":"pw-xxxx"}'
expect_status 400 "non-digit extension"
check "names number" test "$(json 'j["field"]')" = number
req POST /api/extensions -d '{"number":"1004","name":"Bad\nName","password":"pw-xxxx"}'
expect_status 400 "newline in name"
check "names name" test "$(json 'j["field"]')" = name
req POST /api/extensions -d '{"number":"1004","name":"No Password"}'
expect_status 400 "missing password"
req POST /api/extensions -d '{"number":"1004","name":"Short","password":"abc"}'
expect_status 400 "3-character password"
check "short password: names password" test "$(json 'j["field"]')" = password
req PUT /api/extensions/1001 -d '{"password":"x\ny"}'
expect_status 400 "control character in a new password"
req PUT /api/extensions/1002 -d '{"name":"Robert Example"}'
expect_status 200 "PUT extension rename"
raw GET /provision/001565abcdef.cfg
check "rename reaches the rendered config" contains "$BODY" "Robert Example"
check "password kept on rename" contains "$BODY" "s3cret-1002"
req PUT /api/extensions/9999 -d '{"name":"x"}'
expect_status 404 "PUT unknown extension"
req DELETE /api/extensions/1002
expect_status 409 "DELETE extension in use"
req DELETE /api/extensions/1003
expect_status 200 "DELETE extension"
req DELETE /api/extensions/1003
expect_status 404 "DELETE extension again"

# --- method not allowed ---
req PATCH /api/provisioning/devices
expect_status 405 "PATCH devices"

stop_daemon TERM
check "password never logged" bash -c "! grep -q s3cret '$WORK/daemon.log'"
finish
