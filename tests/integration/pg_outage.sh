#!/usr/bin/env bash
# PostgreSQL outage: the real server of with_postgres.sh is stopped under a running daemon and
# started again on the same port. During the outage phones still get their configs (from
# memory), /api/status says the storage is down without any write having been tried, API writes
# answer 503 quickly and change nothing, and config fetches keep producing batched rows. When
# the server is back the daemon reconnects by itself and the rows that waited are written.
# Done twice: `pg_ctl stop -m fast` (clients are told) and `-m immediate` (they are not).
# Run by hand it starts its own server.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${ZTPD_TEST_PG_CTL:-}" ]; then
    exec bash "$here/with_postgres.sh" bash "$0" "$@"
fi
export ZTPD_TEST_BACKEND=postgres
. "$here/lib.sh"

# post_timed METHOD PATH BODY: like req, bounded by 5 s; sets STATUS, BODY and SECS.
post_timed() {
    local out
    out=$(curl -s --max-time 5 -X "$1" -H "Authorization: Bearer $TOKEN" \
        -H "Content-Type: application/json" -w '\n%{http_code} %{time_total}' \
        ${3:+--data-binary "$3"} "http://127.0.0.1:$PORT$2") || true
    local last=${out##*$'\n'}
    STATUS=${last%% *}
    SECS=${last##* }
    BODY=${out%$'\n'*}
}
storage_is() { [ "$(status_field "j['storage']['status']")" = "$1" ]; }
nothing_pending() { [ "$(status_field "j['storage']['pending_writes']")" = 0 ]; }
under() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < b + 0) }'; }
device_json() {
    printf '{"mac_address":"%s","extension_number":"1001","vendor":"yealink","model":"t46s"}' "$1"
}

pg_use_db outage
write_config
start_daemon
check "storage up at start" storage_is up

outage() {
    local mode=$1 tag=$2
    echo "# --- outage with pg_ctl stop -m $mode"
    local mac=02c${tag}00000001 newmac=02c${tag}00000002
    req POST /api/provisioning/devices -d "$(device_json "$mac")"
    expect_status 201 "[$mode] device before the outage"
    raw GET "/provision/$mac.cfg"
    expect_status 200 "[$mode] config before the outage"
    check "[$mode] batched rows written before the outage" wait_for 5 nothing_pending
    local rows_before
    rows_before=$(db_query "select count(*) from provisioning_requests where mac_address = '$mac'")

    "$ZTPD_TEST_PG_CTL" stop "$mode"
    check "[$mode] PostgreSQL is stopped" bash -c "! '$ZTPD_TEST_PG_CTL' status"

    # No write has been tried: the storage thread's health check must notice by itself.
    check "[$mode] /api/status shows storage down within 5 s, no write needed" wait_for 5 storage_is down
    echo "# storage down after ${WAITED}s"
    check "[$mode] /api/status says degraded" test "$(status_field "j['status']")" = degraded

    local i fetched=0
    for i in 1 2 3 4 5; do
        raw GET "/provision/$mac.cfg" --max-time 5 -A "outage-phone/$i"
        [ "$STATUS" = 200 ] && contains "$BODY" "1001" && fetched=$((fetched + 1))
    done
    check "[$mode] configs still served from memory (5/5, got $fetched)" test "$fetched" = 5

    post_timed POST /api/provisioning/devices "$(device_json "$newmac")"
    check "[$mode] POST device answers 503 (got $STATUS in ${SECS}s)" test "$STATUS" = 503
    check "[$mode] ... within 3 s" under "$SECS" 3
    echo "# 503 body: $BODY"
    check "[$mode] ... with a JSON error naming the storage" \
        test "$(json "j['success'] is False and 'storage unavailable' in j['error']")" = True
    post_timed POST /api/extensions '{"number":"4'"$tag"'01","name":"Outage","password":"outage-pw"}'
    check "[$mode] POST extension answers 503 (got $STATUS in ${SECS}s)" test "$STATUS" = 503
    check "[$mode] ... within 3 s" under "$SECS" 3
    post_timed POST /api/provisioning/devices/bulk "[$(device_json "02c${tag}00000003"),$(device_json "02c${tag}00000004")]"
    check "[$mode] POST bulk answers 503 (got $STATUS in ${SECS}s)" test "$STATUS" = 503
    check "[$mode] ... within 3 s" under "$SECS" 3
    post_timed DELETE "/api/provisioning/devices/$mac" ""
    check "[$mode] DELETE device answers 503 (got $STATUS in ${SECS}s)" test "$STATUS" = 503

    # Refused writes leave memory as it was.
    req GET /api/provisioning/devices
    check "[$mode] refused devices not in the registry" \
        test "$(json "sum(1 for d in j if d['mac_address'].replace(':','').lower() in ('$newmac','02c${tag}00000003','02c${tag}00000004'))")" = 0
    check "[$mode] device whose delete was refused still listed" \
        test "$(json "sum(1 for d in j if d['mac_address'].replace(':','').lower() == '$mac')")" = 1
    raw GET "/provision/$mac.cfg" --max-time 5
    expect_status 200 "[$mode] device whose delete was refused still provisioned"
    req GET /api/extensions
    check "[$mode] refused extension not in the registry" \
        test "$(json "sum(1 for e in j if e['number'] == '4${tag}01')")" = 0
    local pending
    pending=$(status_field "j['storage']['pending_writes']")
    check "[$mode] fetches during the outage wait as batched rows ($pending pending)" test "${pending:-0}" -ge 6
    check "[$mode] still down after the refused writes" storage_is down

    sleep 2 # a few health checks and batch retries while down: nothing may break
    check "[$mode] daemon still running" kill -0 "$PID"

    "$ZTPD_TEST_PG_CTL" start
    check "[$mode] /api/status shows storage up within 5 s of the restart" wait_for 5 storage_is up
    echo "# storage up after ${WAITED}s"
    check "[$mode] waiting rows written within 5 s" wait_for 5 nothing_pending
    check "[$mode] the 6 fetches of the outage are in the request log" \
        test "$(db_query "select count(*) from provisioning_requests where mac_address = '$mac'")" = $((rows_before + 6))
    check "[$mode] their user agents too" \
        test "$(db_query "select count(*) from provisioning_requests where user_agent like 'outage-phone/%' and mac_address = '$mac'")" = 5
    check "[$mode] the device touched during the outage has last_provisioned" \
        test "$(db_query "select count(*) from provisioned_devices where mac_address = '$mac' and last_provisioned is not null")" = 1
    check "[$mode] refused writes are not in the database" \
        test "$(db_query "select count(*) from provisioned_devices where mac_address in ('$newmac','02c${tag}00000003','02c${tag}00000004')")|$(db_query "select count(*) from extensions where number = '4${tag}01'")" = "0|0"
    check "[$mode] refused delete did not happen" \
        test "$(db_query "select count(*) from provisioned_devices where mac_address = '$mac'")" = 1

    post_timed POST /api/provisioning/devices "$(device_json "$newmac")"
    check "[$mode] POST device after the outage answers 201 (got $STATUS)" test "$STATUS" = 201
    post_timed POST /api/provisioning/devices/bulk "[$(device_json "02c${tag}00000003"),$(device_json "02c${tag}00000004")]"
    check "[$mode] POST bulk after the outage answers 201 (got $STATUS)" test "$STATUS" = 201
    post_timed POST /api/extensions '{"number":"4'"$tag"'01","name":"Outage","password":"outage-pw"}'
    check "[$mode] POST extension after the outage answers 201 (got $STATUS)" test "$STATUS" = 201
    check "[$mode] the new writes are in the database" \
        test "$(db_query "select count(*) from provisioned_devices where mac_address in ('$newmac','02c${tag}00000003','02c${tag}00000004')")|$(db_query "select count(*) from extensions where number = '4${tag}01'")" = "3|1"
}

outage fast 1
outage immediate 2

check "one warning for the failing batches per outage, not one per retry" \
    test "$(grep -c 'batched writes failed' "$WORK/daemon.log")" = 2
check "the reconnects were logged" grep -q 'reconnected to' "$WORK/daemon.log"
stop_daemon TERM
finish
