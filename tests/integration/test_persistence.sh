#!/usr/bin/env bash
# Persistence: API writes, seeded config devices and batched writes (last_provisioned, request
# log) survive a clean restart; provisioning.enabled: false answers 404 under /provision.
. "$(dirname "$0")/lib.sh"

seed='provisioning:
  enabled: true
  devices:
    - mac: "00:04:f2:ab:cd:ab"
      extension: "1002"
      vendor: "polycom"
      model: "vvx450"'
write_config "$seed"
start_daemon
check "seeded device present" bash -c "curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT/api/provisioning/devices | grep -q 0004f2abcdab"

req POST /api/extensions -d '{"number":"2001","name":"Persisted","password":"persist-pw"}'
expect_status 201 "POST extension"
for i in 0 1 2 3 4 5 6 7 8 9; do
    req POST /api/provisioning/devices -d "{\"mac_address\":\"80:5e:c0:00:00:0$i\",\"extension_number\":\"2001\",\"vendor\":\"yealink\",\"model\":\"t46s\"}"
    expect_status 201 "POST device $i"
done
for i in 0 1 2; do
    raw GET "/provision/805ec000000$i.cfg"
    expect_status 200 "fetch config $i"
done
# Stop immediately: the last_provisioned touches and request log rows are still batched.
stop_daemon TERM
db="$WORK/data/ztpd.db"
check "database file exists" test -f "$db"
check "11 devices on disk" test "$(sqlite3 "$db" 'select count(*) from provisioned_devices')" = 11
check "last_provisioned flushed on SIGTERM" test "$(sqlite3 "$db" "select count(*) from provisioned_devices where last_provisioned is not null")" = 3
check "request log flushed on SIGTERM" test "$(sqlite3 "$db" "select count(*) from provisioning_requests where status = 200")" = 3
check "MACs stored normalized" test "$(sqlite3 "$db" "select mac_address from provisioned_devices where mac_address like '805ec0%' order by 1 limit 1")" = 805ec0000000

start_daemon
req GET /api/provisioning/devices
check "11 devices after restart" test "$(json 'len(j)')" = 11
check "last_provisioned kept" test "$(json 'sum(1 for d in j if d["last_provisioned"])')" = 3
req GET /api/extensions
check "API-created extension kept" contains "$BODY" '"2001"'
raw GET /provision/805ec0000009.cfg
expect_status 200 "config after restart"
check "config has persisted name" contains "$BODY" "Persisted"
stop_daemon INT

# provisioning disabled: everything under /provision is 404, the API still works
write_config 'provisioning:
  enabled: false'
# keep the same data dir: write_config only rewrote config.yml
start_daemon
raw GET /provision/805ec0000009.cfg
expect_status 404 "disabled provisioning answers 404"
req GET /api/provisioning/devices
expect_status 200 "API works with provisioning disabled"
stop_daemon TERM
finish
