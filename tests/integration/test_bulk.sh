#!/usr/bin/env bash
# POST /api/provisioning/devices/bulk: a 2000-device import that is listed and provisionable,
# a 100,000-device import in one request, and every refusal (bad element, duplicate in the
# array, MAC already registered, conflict found only by the database, not an array, too many
# elements) leaves storage exactly as it was. The route alone accepts a body above
# http.max_body_size (64 KiB in the test config), and only with a valid token: other URLs and
# unauthenticated clients get 413 as soon as the headers announce a larger body.
. "$(dirname "$0")/lib.sh"

write_config
check "test config keeps the 64 KiB body limit" grep -q '^  max_body_size: 65536$' "$WORK/config.yml"
start_daemon

# gen FILE COUNT PREFIX [python statements modifying the list `d`]: writes a JSON array of
# COUNT devices with MACs PREFIX:00:00, PREFIX:00:01, ... (the index fills the octets the
# prefix leaves) over both extensions and two vendors.
gen() {
    python3 - "$1" "$2" "$3" "${4:-}" <<'PY'
import json, sys
path, n, prefix, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
kinds = [("yealink", "t46s"), ("zultys", "zip33g")]
free = 6 - len(prefix.split(":"))
def mac(i):
    return prefix + "".join(":%02x" % ((i >> (8 * k)) & 255) for k in reversed(range(free)))
d = [{"mac_address": mac(i),
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
gen "$WORK/toomany.json" 100001 "80:5e:c1"
check "100,001 devices are above the default body limit" test "$(stat -c %s "$WORK/toomany.json")" -gt 65536
bulk "$WORK/toomany.json"
expect_status 400 "100001 elements"
check "limit named" contains "$BODY" "100001 devices in one request; at most 100000"
check "nothing stored so far" test "$(device_count)" = 0

# --- the larger body limit belongs to the bulk route with a valid token only ---
# announce METHOD PATH LENGTH [header]: sends only the request head announcing a LENGTH-byte
# body and prints the status the server answers before any body byte, or "none" when it
# waits for the body (it then gets none: the connection is closed).
announce() {
    python3 - "$PORT" "$1" "$2" "$3" "${4:-}" <<'PY'
import socket, sys
port, method, path, length, extra = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
head = "%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %s\r\n" % (method, path, length)
if extra:
    head += extra + "\r\n"
s.sendall((head + "\r\n").encode())
s.settimeout(1.5)
try:
    data = s.recv(4096)
    print(data.split(b" ")[1].decode() if data else "closed")
except socket.timeout:
    print("none")
s.close()
PY
}
big=$((20 * 1024 * 1024))
check "another URL: 413 before the body" test "$(announce POST /api/provisioning/devices $big "Authorization: Bearer $TOKEN")" = 413
check "provisioning URL: 413 before the body" test "$(announce POST /provision/001565123456.cfg $big)" = 413
check "bulk URL without a token: 413 before the body" test "$(announce POST /api/provisioning/devices/bulk $big)" = 413
check "bulk URL with a wrong token: 413 before the body" test "$(announce POST /api/provisioning/devices/bulk $big "Authorization: Bearer wrong-token-0123456789")" = 413
check "bulk URL with the token: waits for the body" test "$(announce POST /api/provisioning/devices/bulk $big "Authorization: Bearer $TOKEN")" = none
check "bulk URL with the token: 33 MiB is still too much" test "$(announce POST /api/provisioning/devices/bulk $((33 * 1024 * 1024)) "Authorization: Bearer $TOKEN")" = 413
raw POST /api/provisioning/devices/bulk -H "Content-Type: application/json" --data-binary "@$WORK/toomany.json"
check "a big unauthenticated body sent anyway: 401 or 413 ($STATUS)" test "$STATUS" = 413 -o "$STATUS" = 401
# Chunked bodies have no length up front: the same limits apply as the bytes arrive.
raw POST /api/provisioning/devices/bulk -H "Transfer-Encoding: chunked" -H "Content-Type: application/json" --data-binary "@$WORK/toomany.json"
check "a big chunked unauthenticated body: 413 ($STATUS)" test "$STATUS" = 413
req POST /api/provisioning/devices -H "Transfer-Encoding: chunked" -H "Content-Type: application/json" --data-binary "@$WORK/toomany.json"
check "a big chunked body to another URL: 413 ($STATUS)" test "$STATUS" = 413
req GET /api/status
check "the daemon is still serving" test "$(json 'j["devices"]')" = 0

# --- 2000 devices in one request ---
gen "$WORK/ok.json" 2000 "80:5e:c2:00"
bulk "$WORK/ok.json"
expect_status 201 "bulk import of 2000 devices"
check "success true" test "$(json 'j["success"]')" = True
check "count 2000" test "$(json 'j["count"]')" = 2000
check "created 2000" test "$(json 'j["created"]')" = 2000
check "above 1000 devices the answer does not echo them" test "$(json '"devices" in j')" = False
check "reboot_triggered false" test "$(json 'j["reboot_triggered"]')" = False
req GET /api/provisioning/devices
check "all 2000 listed" test "$(json 'len(set(d["mac_address"] for d in j if d["mac_address"].startswith("805ec2")))')" = 2000
check "MACs normalized, array order kept" test "$(json '[d["mac_address"] for d in j if d["mac_address"].startswith("805ec2")][1500]')" = 805ec20005dc
printf '%s' "$BODY" | python3 -c 'import json,sys; [print(d["config_url"]) for d in json.load(sys.stdin) if d["mac_address"].startswith("805ec2")]' >"$WORK/urls.txt"
check "every config_url is provisionable" python3 - "$WORK/urls.txt" "$PORT" <<'PY'
import http.client, sys, urllib.parse
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
bad = 0
for url in open(sys.argv[1]).read().split():
    path = urllib.parse.urlsplit(url).path
    r = None  # a fetch that failed twice must count as a failure, not as the previous answer
    for attempt in (0, 1):
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            break
        except (http.client.HTTPException, OSError):
            r = None
            conn.close()  # the server may end an idle or finished connection: reconnect
            conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[2]), timeout=10)
    if r is None or r.status != 200:
        bad += 1
        print("not provisionable:", path, r.status if r else "no answer", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

# --- up to 1000 devices the answer echoes every device, in array order ---
gen "$WORK/small.json" 1000 "80:5e:c7:00"
bulk "$WORK/small.json"
expect_status 201 "bulk import of 1000 devices"
check "1000: count and created" test "$(json 'j["count"], j["created"]')" = "1000 1000"
check "1000 devices answered" test "$(json 'len(j["devices"])')" = 1000
check "echo normalized, in array order" test "$(json 'j["devices"][999]["mac_address"]')" = 805ec70003e7
check "echo carries the config_url" contains "$(json 'j["devices"][0]["config_url"]')" "805ec7000000"
req POST /api/provisioning/devices/bulk -d '[{"mac_address":"80:5e:c7:01:00:00","extension_number":"1001","vendor":"yealink","model":"t46s"}]'
expect_status 201 "bulk import of 1 device"
check "1 device echoed" test "$(json 'j["devices"][0]["mac_address"]')" = 805ec7010000

# --- refusals: all or nothing ---
gen "$WORK/badmac.json" 2000 "80:5e:c3:00" 'd[1500]["mac_address"] = "80:5e:c3:zz:00:00"'
bulk "$WORK/badmac.json"
expect_status 400 "bad MAC at index 1500"
check "index 1500" test "$(json 'j["index"]')" = 1500
check "field mac_address" test "$(json 'j["field"]')" = mac_address
check "success false" test "$(json 'j["success"]')" = False
check "nothing stored after a bad element" test "$(device_count)" = 3001

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
check "nothing stored after a conflict" test "$(device_count)" = 3001

# A row the registry does not know (written behind the daemon's back) is found only by the
# database during the inserts: the transaction must roll back elements 0..2.
db="$WORK/data/ztpd.db"
sqlite3 -cmd ".timeout 5000" "$db" "insert into provisioned_devices (mac_address, extension_number, vendor, model) values ('805ec6000003', '1001', 'yealink', 't46s')"
gen "$WORK/dbconflict.json" 5 "80:5e:c6:00"
bulk "$WORK/dbconflict.json"
expect_status 409 "conflict found by the database"
check "database conflict index 3" test "$(json 'j["index"]')" = 3
check "registry unchanged after rollback" test "$(device_count)" = 3001

# --- 100,000 devices in one request (about 10 MB of JSON) ---
gen "$WORK/big.json" 100000 "80:5e:d0"
start_ns=$(date +%s%N)
code=$(curl -s -o "$WORK/big.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
    -H "Content-Type: application/json" --data-binary "@$WORK/big.json" \
    "http://127.0.0.1:$PORT/api/provisioning/devices/bulk")
echo "#    100,000-device import answered $code in $((($(date +%s%N) - start_ns) / 1000000)) ms"
check "100,000-device bulk import: 201" test "$code" = 201
check "count 100000 created, no echo" test "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["count"], j["created"], "devices" in j)' "$WORK/big.out")" = "100000 100000 False"
req GET /api/status
check "registry holds 103001 devices" test "$(json 'j["devices"]')" = 103001
for mac in 805ed0000000 805ed0012345 805ed001869f; do
    raw GET "/provision/$mac.cfg"
    expect_status 200 "imported device $mac provisions"
done
raw GET /provision/805ed00186a0.cfg
expect_status 404 "the 100,001st MAC was not imported"
grep -E 'bulk import: 100000 devices checked in [0-9]+ ms' "$WORK/daemon.log" | sed 's/^/#    /'
check "the loop logged how long the check took" grep -qE 'bulk import: 100000 devices checked in [0-9]+ ms' "$WORK/daemon.log"

stop_daemon TERM
check "103001 imported + 1 foreign row on disk, rollback left nothing" test "$(sqlite3 "$db" 'select count(*) from provisioned_devices')" = 103002
check "no element before the conflict on disk" test "$(sqlite3 "$db" "select count(*) from provisioned_devices where mac_address like '805ec6%'")" = 1

finish
