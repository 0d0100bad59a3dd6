#!/usr/bin/env bash
# Odd request paths from outside (security issue 9, item 1): "/", empty last segments, doubled
# slashes, API paths with a trailing slash. Each gets the uniform 404 (or the API's own answer),
# the daemon stays up, and the request log never records a MAC for a request that named none
# (an uninitialised target used to write stack bytes there, or crash).
. "$(dirname "$0")/lib.sh"

write_config
start_daemon
req POST /api/provisioning/devices -d '{"mac_address":"001565abcdef","extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 201 "device for the checks"

raw GET /provision/001565abcdef.cfg
NOT_FOUND_REF=$(curl -s "http://127.0.0.1:$PORT/provision/0015650fffff.cfg")
for p in / // /provision/ /provision// //provision/ /provision/.cfg /provision/sub/ \
    /api/extensions/ /api/provisioning/devices/ /api/ /admin/ /metrics/; do
    out=$(curl -s --path-as-is -w '\n%{http_code}' "http://127.0.0.1:$PORT$p")
    status=${out##*$'\n'}
    body=${out%$'\n'*}
    check "GET $p answered ($status)" test -n "$status" -a "$status" != 000
    case "$p" in
    /api/*) ;;
    *) check "GET $p is the uniform 404" test "$status" = 404 -a "$body" = "$NOT_FOUND_REF" ;;
    esac
    check "daemon alive after GET $p" kill -0 "$PID"
done
# the same with HEAD and PUT, which also reach the provisioning handler at the root
for m in HEAD PUT; do
    curl -s -o /dev/null --path-as-is -X "$m" "http://127.0.0.1:$PORT/" || true
    check "daemon alive after $m /" kill -0 "$PID"
done

stop_daemon TERM
# Every logged request without a MAC in its name has an empty MAC column.
bad=$(db_query "SELECT COUNT(*) FROM provisioning_requests WHERE COALESCE(mac_address,'') <> '' AND mac_address NOT GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'")
check "no garbage MAC in the request log ($bad rows)" test "$bad" = 0
roots=$(db_query "SELECT COUNT(*) FROM provisioning_requests WHERE path IN ('/','/provision/','//') AND COALESCE(mac_address,'') <> ''")
check "root and empty-name requests logged without a MAC" test "$roots" = 0
finish
