#!/usr/bin/env bash
# Durability on the configured backend (ZTPD_TEST_BACKEND: sqlite by default; pg_durability.sh
# runs this file on PostgreSQL):
#  - SIGKILL: every write the API acknowledged (201/200) is in the database, also when the
#    daemon is killed while more writes are in flight; a restart serves all of them.
#  - SIGTERM right after config fetches: the batched last_provisioned touches and request-log
#    rows are in the database after a clean stop.
. "$(dirname "$0")/lib.sh"

backend=${ZTPD_TEST_BACKEND:-sqlite}
echo "# backend: $backend"
write_config
start_daemon

# --- acknowledged writes survive SIGKILL ---

ext_ok=0
for i in $(seq 10 29); do
    req POST /api/extensions -d "{\"number\":\"30$i\",\"name\":\"Kill $i\",\"password\":\"kill-pw-$i\"}"
    [ "$STATUS" = 201 ] && ext_ok=$((ext_ok + 1))
done
check "20 extensions acknowledged" test "$ext_ok" = 20

req POST /api/provisioning/devices/bulk -H "Content-Type: application/json" --data-binary "$(
    python3 -c 'import json; print(json.dumps([{"mac_address": "02:b0:00:00:00:%02x" % i,
        "extension_number": "3010", "vendor": "yealink", "model": "t46s"} for i in range(40)]))'
)"
expect_status 201 "bulk of 40 devices acknowledged"

req POST /api/provisioning/devices -d '{"mac_address":"02:de:00:00:00:01","extension_number":"3011","vendor":"yealink","model":"t46s"}'
expect_status 201 "device to delete"
req DELETE /api/provisioning/devices/02:de:00:00:00:01
expect_status 200 "delete acknowledged"

# Writers on four connections post up to 8000 devices (so that they are still writing at the
# SIGKILL even on a fast machine) and record each acknowledged MAC; the daemon is killed once 50 are acknowledged, with writes still in flight.
ACKED=$WORK/acked
: >"$ACKED"
python3 - "$PORT" "$TOKEN" "$ACKED" >"$WORK/writers.out" 2>&1 <<'PY' &
import http.client, json, sys, threading
port, token, acked = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
def writer(w):
    for i in range(2000):
        mac = "02:a%d:00:00:%02x:%02x" % (w, i >> 8, i & 255)
        body = json.dumps({"mac_address": mac, "extension_number": "3012",
                           "vendor": "yealink", "model": "t46s"})
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/api/provisioning/devices", body,
                      {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
            status = c.getresponse().status
            c.close()
        except OSError:
            return  # the daemon is gone: stop this writer
        if status == 201:
            with lock, open(acked, "a") as f:
                f.write(mac.replace(":", "") + "\n")
                f.flush()
ts = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
for t in ts: t.start()
for t in ts: t.join()
PY
writers=$!
acked_50() { [ "$(wc -l <"$ACKED")" -ge 50 ]; }
check "50 devices acknowledged by the writers" wait_for 60 acked_50
kill -KILL "$PID"
wait "$PID" 2>/dev/null || true
PID=""
wait "$writers" || true
n_acked=$(wc -l <"$ACKED")
echo "# $n_acked devices acknowledged before SIGKILL"
check "writers were still writing when killed (not all 8000 acknowledged)" test "$n_acked" -lt 8000

in_list=$(sed "s/.*/'&'/" "$ACKED" | paste -sd, -)
check "every acknowledged device is in the database" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address in ($in_list)")" = "$n_acked"
check "the 40 bulk devices are in the database" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address like '02b0%'")" = 40
check "the 20 extensions are in the database" \
    test "$(db_query "select count(*) from extensions where number like '30%'")" = 20
check "extension password stored" \
    test "$(db_query "select password from extensions where number = '3029'")" = kill-pw-29
check "the acknowledged delete is in the database" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address = '02de00000001'")" = 0

start_daemon
req GET /api/provisioning/devices
printf '%s' "$BODY" >"$WORK/devices.json"
missing=$(python3 - "$WORK/devices.json" "$ACKED" <<'PY'
import json, sys
have = {d["mac_address"].replace(":", "").lower() for d in json.load(open(sys.argv[1]))}
want = [l.strip() for l in open(sys.argv[2]) if l.strip()]
want += ["02b0000000%02x" % i for i in range(40)]
print(sum(1 for m in want if m not in have))
PY
)
check "after restart the API lists every acknowledged device ($missing missing)" test "$missing" = 0
check "the deleted device stays deleted" test "$(json 'sum(1 for d in j if d["mac_address"].replace(":","").lower() == "02de00000001")')" = 0
req GET /api/extensions
check "after restart the API lists the 20 extensions" \
    test "$(json 'sum(1 for e in j if e["number"].startswith("30"))')" = 20
first=$(head -1 "$ACKED")
raw GET "/provision/$first.cfg"
expect_status 200 "an acknowledged device is provisioned after restart"

# --- clean stop flushes batched writes ---
# With a one-minute batch interval the rows below can only reach the database through the
# flush on SIGTERM (with the default 100 ms the timer could win the race and hide a missing flush).
stop_daemon TERM
sed -i 's/^storage:$/storage:\n  flush_interval_ms: 60000/' "$WORK/config.yml"
check "config carries the long batch interval" grep -q "flush_interval_ms: 60000" "$WORK/config.yml"
start_daemon

nothing_pending() { [ "$(status_field "j['storage']['pending_writes']")" = 0 ]; }
check "earlier batched rows written" wait_for 5 nothing_pending
before=$(db_query "select count(*) from provisioning_requests")
for i in 0 1 2 3 4; do
    raw GET "/provision/02b00000000$i.cfg"
    expect_status 200 "fetch config $i"
done
raw GET /provision/02ffffffffff.cfg
expect_status 404 "fetch of an unknown MAC"
# Invalid UTF-8 in the User-Agent and path (PostgreSQL refuses such TEXT): the row is written
# with the bad bytes replaced, and the rest of its batch is not lost with it.
raw GET "/provision/02b000000000.cfg%ff%fe" -H "$(printf 'User-Agent: bad \xff\xfe UA')"
expect_status 200 "fetch with invalid UTF-8 in the User-Agent and path"
# The touches and request rows are still in the batch (flushed every 60 s here): the API says so.
check "the fetches are pending in the batch before SIGTERM" \
    test "$(status_field "j['storage']['pending_writes'] > 0")" = True
stop_daemon TERM
check "last_provisioned of the 5 fetched devices written on SIGTERM" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address between '02b000000000' and '02b000000004' and last_provisioned is not null")" = 5
check "no other bulk device touched" \
    test "$(db_query "select count(*) from provisioned_devices where mac_address like '02b0%' and last_provisioned is not null")" = 5
check "7 request log rows written on SIGTERM" \
    test "$(db_query "select count(*) from provisioning_requests")" = $((before + 7))
check "request log has the 6 answered fetches" \
    test "$(db_query "select count(*) from provisioning_requests where status = 200 and mac_address between '02b000000000' and '02b000000004'")" = 6
check "invalid UTF-8 bytes stored as '?'" \
    test "$(db_query "select user_agent from provisioning_requests where user_agent like 'bad %'")" = "bad ?? UA"
check "request log has the 404" \
    test "$(db_query "select count(*) from provisioning_requests where status = 404")" = 1
finish
