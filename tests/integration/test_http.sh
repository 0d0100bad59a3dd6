#!/usr/bin/env bash
# HTTP robustness: pipelining in order, garbage and oversized requests answered with the right
# 4xx while other clients keep working, connection limit, idle and slow-request timeouts.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
req POST /api/provisioning/devices -d '{"mac_address":"001565abcdef","extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 201 "device for the checks"

for c in pipelining garbage limits connections timeouts; do
    check "$c" python3 "$(dirname "$0")/http_client.py" "$PORT" "$TOKEN" "$c"
done

# curl-level: body over http.max_body_size (64 KiB in the test config) -> 413, nothing stored
head -c 70000 /dev/zero | tr '\0' 'a' >"$WORK/big.json"
req POST /api/extensions -H "Content-Type: application/json" --data-binary @"$WORK/big.json"
expect_status 413 "oversized body"
req GET /api/extensions
check "nothing stored by the oversized request" test "$(json 'len(j)')" = 3

# the daemon is still healthy after all of the above
raw GET /provision/001565abcdef.cfg
expect_status 200 "still serving configs"
check "daemon still running" kill -0 "$PID"
stop_daemon TERM
finish
