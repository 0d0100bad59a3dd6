#!/usr/bin/env bash
# POST /api/provisioning/devices/bulk: a 2000-device import that is listed and provisionable,
# and every refusal (bad element, duplicate in the array, MAC already registered, conflict found
# only by the database, not an array, too many elements) leaves storage exactly as it was.
. "$(dirname "$0")/lib.sh"

write_config
# 10001 devices are ~1 MB of JSON: raise the test config's 64 KiB body limit (a second http:
# block appended by write_config would be a duplicate key).
sed -i 's/^  max_body_size: 65536$/  max_body_size: 4194304/' "$WORK/config.yml"
check "body limit raised" grep -q '^  max_body_size: 4194304$' "$WORK/config.yml"
start_daemon

# gen FILE COUNT PREFIX [python statements modifying the list `d`]: writes a JSON array of
# COUNT devices with MACs PREFIX:00:00, PREFIX:00:01, ... over both extensions and two vendors.
gen() {
    python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import json, sys
path, n, prefix, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
kinds = [("yealink", "t46s"), ("zultys", "zip33g")]
d = [{"mac_address": "%s:%02x:%02x" % (prefix, i >> 8, i & 255),
      "extension_number": "1001" if i % 2 else "1002",
      "vendor": kinds[i % 2][0], "model": kinds[i % 2][1]} for i in range(n)]
exec(extra)
with open(path, "w") as f:
    json.dump(d, f)
PY
}

# bulk FILE: posts FILE to the bulk endpoint.
bulk() {
    req POST /api/provisioning/devices/bulk -H "Content-Type: application/json" \
        --data-binary "@$1"
}

device_count() {
    req GET /api/provisioning/devices
    json 'len(j)'
}

# --- authentication and shape of the body ---
raw POST /api/provisioning/devices/bulk -d '[]'
expect_status 401 "bulk without a token"
req POST /api/provisioning/devices/bulk -d '{"mac_address":"00:15:65:12:34:56","extension_number":"1001","vendor":"zultys","model":"zip33g"}'
expect_status 400 "object instead of an array"
check "not-an-array says so" contains "$BODY" "expected a JSON array"
req POST /api/provisioning/devices/bulk -d '[]'
expect_status 400 "empty array"
req POST /api/provisioning/devices/bulk -d '[{"mac_address":'
expect_status 400 "malformed JSON"
req POST /api/provisioning/devices/bulk -d '[{"mac_address":"001565000001","extension_number":"1001","vendor":"zultys","model":"zip33g"}, 7]'
expect_status 400 "element that is not an object"
check "index of the non-object" test "$(json 'j["index"]')" = 1
gen "$WORK/toomany.json" 10001 "80:5e:c1:00"
bulk "$WORK/toomany.json"
expect_status 400 "10001 elements"
check "limit named" contains "$BODY" "at most 10000"
check "nothing stored so far" test "$(device_count)" = 0

# --- 2000 devices in one request ---
gen "$WORK/ok.json" 2000 "80:5e:c2:00"
bulk "$WORK/ok.json"
expect_status 201 "bulk import of 2000 devices"
check "success true" test "$(json 'j["success"]')" = True
check "count 2000" test "$(json 'j["count"]')" = 2000
check "2000 devices answered" test "$(json 'len(j["devices"])')" = 2000
check "reboot_triggered false" test "$(json 'j["reboot_triggered"]')" = False
check "MACs normalized, array order kept" test "$(json 'j["devices"][1500]["mac_address"]')" = 805ec20005dc
printf '%s' "$BODY" | python3 -c 'import json,sys; [print(d["config_url"]) for d in json.load(sys.stdin)["devices"]]' >"$WORK/urls.txt"
req GET /api/provisioning/devices
check "all 2000 listed" test "$(json 'len(set(d["mac_address"] for d in j if d["mac_address"].startswith("805ec2")))')" = 2000
check "every config_url is provisionable" python3 - "$WORK/urls.txt" "$PORT" <<'PY'
import http.client, sys, urllib.parse
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
bad = 0
for url in open(sys.argv[1]).read().split():
    path = urllib.parse.urlsplit(url).path
    for attempt in (0, 1):
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            break
        except (http.client.HTTPException, OSError):
            conn.close()  # the server may end an idle or finished connection: reconnect
            conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
    if r.status != 200:
        bad += 1
        print("not provisionable:", path, r.status, file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- refusals: all or nothing ---
gen "$WORK/badmac.json" 2000 "80:5e:c3:00" 'd[1500]["mac_address"] = "80:5e:c3:zz:00:00"'
bulk "$WORK/badmac.json"
expect_status 400 "bad MAC at index 1500"
check "index 1500" test "$(json 'j["index"]')" = 1500
check "field mac_address" test "$(json 'j["field"]')" = mac_address
check "success false" test "$(json 'j["success"]')" = False
check "nothing stored after a bad element" test "$(device_count)" = 2000

gen "$WORK/badvendor.json" 3 "80:5e:c3:01" 'd[2]["vendor"] = "nokia"'
bulk "$WORK/badvendor.json"
expect_status 400 "unknown vendor at index 2"
check "vendor at index 2" test "$(json 'j["field"], j["index"]')" = "vendor 2"

gen "$WORK/dup.json" 5 "80:5e:c4:00" 'd[3]["mac_address"] = d[1]["mac_address"].replace(":", "-").upper()'
bulk "$WORK/dup.json"
expect_status 409 "duplicate inside the array"
check "duplicate index 3" test "$(json 'j["index"]')" = 3
check "duplicate field mac_address" test "$(json 'j["field"]')" = mac_address

gen "$WORK/known.json" 5 "80:5e:c5:00" 'd[2]["mac_address"] = "805EC2000007"'
bulk "$WORK/known.json"
expect_status 409 "MAC already registered"
check "registered index 2" test "$(json 'j["index"]')" = 2
check "registered field mac_address" test "$(json 'j["field"]')" = mac_address
check "nothing stored after a conflict" test "$(device_count)" = 2000

# A row the registry does not know (written behind the daemon's back) is found only by the
# database during the inserts: the transaction must roll back elements 0..2.
db="$WORK/data/ztpd.db"
sqlite3 -cmd ".timeout 5000" "$db" "insert into provisioned_devices (mac_address, extension_number, vendor, model) values ('805ec6000003', '1001', 'yealink', 't46s')"
gen "$WORK/dbconflict.json" 5 "80:5e:c6:00"
bulk "$WORK/dbconflict.json"
expect_status 409 "conflict found by the database"
check "database conflict index 3" test "$(json 'j["index"]')" = 3
check "registry unchanged after rollback" test "$(device_count)" = 2000

stop_daemon TERM
check "2000 imported + 1 foreign row on disk, rollback left nothing" test "$(sqlite3 "$db" 'select count(*) from provisioned_devices')" = 2001
check "no element before the conflict on disk" test "$(sqlite3 "$db" "select count(*) from provisioned_devices where mac_address like '805ec6%'")" = 1

finish
