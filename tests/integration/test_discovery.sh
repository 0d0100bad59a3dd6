#!/usr/bin/env bash
# Discovery: a config request from an unknown MAC answers 404 and lists the phone under
# GET /api/provisioning/discovered with what its User-Agent and OUI say (vendor, model, firmware),
# its IP and a request count; the list is bounded by provisioning.discovered_max in memory and in
# the database (a MAC scanner fills neither), survives a restart, and a claim turns an entry
# into a provisioned device that gets its config.
. "$(dirname "$0")/lib.sh"

YEALINK_UA='Yealink SIP-T46S 66.86.0.15 80:5e:c0:aa:bb:cc'
ZULTYS_UA='Zultys ZIP 37G - 27.71.132.29'
FANVIL_UA='Fanvil X4 2.10.2.6887 0c383e07e16c'

# fetch MAC_FILE UA: an unauthenticated phone request; sets STATUS.
fetch() {
    raw GET "/provision/$1" -A "$2"
}

db_count() { db_query "select count(*) from discovered_devices $1"; }
db_rows_are() { test "$(db_count "$1")" = "$2"; }

write_config 'provisioning:
  discovered_max: 3'
start_daemon

raw GET /api/provisioning/discovered
expect_status 401 "the list needs the API token"
req GET /api/provisioning/discovered
expect_status 200 "empty list"
check "nothing discovered yet" test "$(json 'len(j)')" = 0

fetch 805ec0aabbcc.cfg "$YEALINK_UA"
expect_status 404 "unknown Yealink MAC answers 404"
req GET /api/provisioning/discovered
check "one phone discovered" test "$(json 'len(j)')" = 1
check "its MAC" test "$(json 'j[0]["mac_address"]')" = 805ec0aabbcc
check "vendor from the User-Agent" test "$(json 'j[0]["vendor"]')" = yealink
check "model from the User-Agent" test "$(json 'j[0]["model"]')" = t46s
check "model is a known id" test "$(json 'j[0]["model_known"]')" = True
check "firmware from the User-Agent" test "$(json 'j[0]["firmware"]')" = 66.86.0.15
check "IP of the phone" test "$(json 'j[0]["ip_address"]')" = 127.0.0.1
check "User-Agent kept" test "$(json 'j[0]["user_agent"]')" = "$YEALINK_UA"
check "count 1" test "$(json 'j[0]["count"]')" = 1
check "first_seen is ISO UTC" bash -c "[[ '$(json 'j[0]["first_seen"]')' =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]]"
check "last_seen is ISO UTC" bash -c "[[ '$(json 'j[0]["last_seen"]')' =~ Z$ ]]"

fetch 805ec0aabbcc.cfg "$YEALINK_UA"
fetch y000000000066.cfg "$YEALINK_UA" # a common file names no MAC: not a discovery
req GET /api/provisioning/discovered
check "repeated request counts" test "$(json 'j[0]["count"]')" = 2
check "still one entry" test "$(json 'len(j)')" = 1
check "written behind to the database" wait_for 5 db_rows_are "where mac_address = '805ec0aabbcc' and count = 2" 1

sleep 1.1 # distinct last_seen seconds, so the order is the same after a restart
fetch 000bea85bc14.cfg "$ZULTYS_UA"
expect_status 404 "unknown Zultys MAC answers 404"
sleep 1.1
fetch 0004f2000001.cfg 'curl/8.5.0'
req GET /api/provisioning/discovered
check "three phones" test "$(json 'len(j)')" = 3
check "newest first" test "$(json '",".join(d["mac_address"] for d in j)')" = 0004f2000001,000bea85bc14,805ec0aabbcc
check "Zultys model with a space in the UA" test "$(json 'j[1]["vendor"]+"/"+j[1]["model"]+"/"+j[1]["firmware"]')" = zultys/zip37g/27.71.132.29
check "vendor from the OUI alone" test "$(json 'j[0]["vendor"]')" = polycom
check "no model without a User-Agent match" test "$(json 'j[0]["model"]')" = None
check "three rows" wait_for 5 db_rows_are "" 3

# The bound: a fourth MAC evicts the one seen longest ago, in memory and in the database.
sleep 1.1
fetch 0c383e07e16c.cfg "$FANVIL_UA"
req GET /api/provisioning/discovered
check "bound kept at 3" test "$(json 'len(j)')" = 3
check "oldest (Yealink) evicted" test "$(json '",".join(d["mac_address"] for d in j)')" = 0c383e07e16c,0004f2000001,000bea85bc14
check "evicted row deleted" wait_for 5 db_rows_are "where mac_address = '805ec0aabbcc'" 0
check "database bounded too" wait_for 5 db_rows_are "" 3

# A MAC scanner: many distinct MACs fill neither memory nor the database beyond the bound.
for i in $(seq 10 59); do
    fetch "00aabb0000$i.cfg" "scanner/1.0"
done
req GET /api/provisioning/discovered
check "scanner: list bounded" test "$(json 'len(j)')" = 3
check "scanner: newest kept" test "$(json 'j[0]["mac_address"]')" = 00aabb000059
check "scanner: database bounded" wait_for 5 db_rows_are "" 3
check "scanner: only the newest rows" wait_for 5 db_rows_are "where mac_address in ('00aabb000059','00aabb000058','00aabb000057')" 3

# Real phones again, then a restart.
fetch 000bea85bc14.cfg "$ZULTYS_UA"
sleep 1.1
fetch 0c383e07e16c.cfg "$FANVIL_UA"
sleep 1.1
fetch 0004f2000001.cfg 'curl/8.5.0'
req GET /api/provisioning/discovered
before=$(json '[(d["mac_address"], d["vendor"], d["model"], d["firmware"], d["count"], d["first_seen"]) for d in j]')
stop_daemon TERM
check "rows on disk after SIGTERM" test "$(db_count "")" = 3
check "Zultys row holds its detection" test "$(db_query "select vendor||'/'||model||'/'||firmware from discovered_devices where mac_address = '000bea85bc14'")" = zultys/zip37g/27.71.132.29
start_daemon
req GET /api/provisioning/discovered
zcount=$(json '[d["count"] for d in j if d["mac_address"] == "000bea85bc14"][0]')
check "list survives a restart" test "$(json '[(d["mac_address"], d["vendor"], d["model"], d["firmware"], d["count"], d["first_seen"]) for d in j]')" = "$before"
fetch 000bea85bc14.cfg "$ZULTYS_UA"
req GET /api/provisioning/discovered
check "count continues after a restart" test "$(json '[d["count"] for d in j if d["mac_address"] == "000bea85bc14"][0]')" = $((zcount + 1))

# Claim errors.
req POST /api/provisioning/discovered/00aabbccddee/claim -d '{"extension_number":"1001"}'
expect_status 404 "claim of a MAC never discovered"
check "404 names the field" test "$(json 'j["field"]')" = mac_address
req POST /api/provisioning/discovered/not-a-mac/claim -d '{"extension_number":"1001"}'
expect_status 400 "claim of a malformed MAC"
req POST /api/provisioning/discovered/0004f2000001/claim -d '{"extension_number":"1001"}'
expect_status 400 "claim without a detected model"
check "the error names model" test "$(json 'j["field"]')" = model
req POST /api/provisioning/discovered/000bea85bc14/claim -d '{"extension_number":"9999"}'
expect_status 400 "claim for an extension that does not exist"
check "the error names extension_number" test "$(json 'j["field"]')" = extension_number
req POST /api/provisioning/discovered/000bea85bc14/claim -d '{}'
expect_status 400 "claim without an extension"
check "the error names extension_number (missing)" test "$(json 'j["field"]')" = extension_number
req POST /api/provisioning/discovered/000bea85bc14/claim -d '{"extension_number":"1001","model":"t46s"}'
expect_status 400 "claim with a model of another vendor"
check "the error names model (wrong)" test "$(json 'j["field"]')" = model
req POST /api/provisioning/discovered/000bea85bc14/claim -d '{"extension_number":"1001","mac_address":"001565000000"}'
expect_status 400 "claim with another MAC in the body"
req POST /api/provisioning/discovered/000bea85bc14/claim -d 'not json'
expect_status 400 "claim with a body that is not JSON"
req GET /api/provisioning/devices
check "no device created by failed claims" test "$(json 'len(j)')" = 0

# A claim: vendor and model from detection.
req POST /api/provisioning/discovered/00:0B:EA:85:BC:14/claim -d '{"extension_number":"1001"}'
expect_status 201 "claim of the Zultys phone"
check "claimed device vendor/model" test "$(json 'j["device"]["vendor"]+"/"+j["device"]["model"]+"/"+j["device"]["extension_number"]')" = zultys/zip37g/1001
check "claimed device MAC" test "$(json 'j["device"]["mac_address"]')" = 000bea85bc14
req GET /api/provisioning/discovered
check "claimed phone left the list" test "$(json '"000bea85bc14" in [d["mac_address"] for d in j]')" = False
check "claimed row deleted" wait_for 5 db_rows_are "where mac_address = '000bea85bc14'" 0
check "claimed device stored" test "$(db_query "select extension_number from provisioned_devices where mac_address = '000bea85bc14'")" = 1001
fetch 000bea85bc14.cfg "$ZULTYS_UA"
expect_status 200 "the claimed phone gets its config"
check "config holds the extension" contains "$BODY" "1001"
req GET /api/provisioning/discovered
check "served phone is not rediscovered" test "$(json '"000bea85bc14" in [d["mac_address"] for d in j]')" = False
req POST /api/provisioning/discovered/000bea85bc14/claim -d '{"extension_number":"1001"}'
expect_status 409 "claiming a provisioned phone again"

# A claim naming vendor and model (the OUI-only Polycom).
req POST /api/provisioning/discovered/0004f2000001/claim -d '{"extension_number":"1002","model":"vvx450"}'
expect_status 201 "claim with the model in the body"
check "vendor from the OUI, model from the body" test "$(json 'j["device"]["vendor"]+"/"+j["device"]["model"]')" = polycom/vvx450

# Provisioned another way (POST devices): it leaves the list too.
req POST /api/provisioning/devices -d '{"mac_address":"0c383e07e16c","extension_number":"1002","vendor":"fanvil","model":"x4"}'
expect_status 201 "register the Fanvil phone directly"
req GET /api/provisioning/discovered
check "list empty once every phone is provisioned" test "$(json 'len(j)')" = 0
check "its row goes too" wait_for 5 db_rows_are "" 0

# A smaller bound at startup drops the oldest rows.
for m in 001565000001 001565000002 001565000003; do
    fetch "$m.cfg" "Yealink SIP-T48S 66.86.0.15"
    sleep 1.1
done
check "three new rows" wait_for 5 db_rows_are "" 3
stop_daemon TERM
sed -i 's/discovered_max: 3/discovered_max: 1/' "$WORK/config.yml"
start_daemon
req GET /api/provisioning/discovered
check "bound 1 after restart" test "$(json '[d["mac_address"] for d in j]')" = "['001565000003']"
check "rows beyond the new bound deleted" wait_for 5 db_rows_are "" 1
stop_daemon TERM

finish
