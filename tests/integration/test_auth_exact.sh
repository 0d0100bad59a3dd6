#!/usr/bin/env bash
# Exact-match and negative checks for the admin API's bearer token, and the headers every
# provisioning answer must carry. Each check here pins one security decision: a token that is a
# prefix, an extension, another case or a padded form of the real one is refused.
. "$(dirname "$0")/lib.sh"

write_config
start_daemon

# code [curl args...] PATH: the status of one request to PATH.
code() {
    local path=${*: -1}
    curl -s -o "$WORK/body" -w '%{http_code}' "${@:1:$#-1}" "http://127.0.0.1:$PORT$path"
}

D=/api/provisioning/devices
check "the real token is accepted" test "$(code -H "Authorization: Bearer $TOKEN" $D)" = 200
check "scheme is case-insensitive (RFC 7235)" test "$(code -H "Authorization: bearer $TOKEN" $D)" = 200
check "surrounding spaces are not part of the token" \
    test "$(code -H "Authorization: Bearer   $TOKEN  " $D)" = 200

for bad in "${TOKEN}X" "${TOKEN}EXTRA" "${TOKEN:0:${#TOKEN}-1}" "${TOKEN:0:1}" "X${TOKEN}" \
    "${TOKEN^^}" "${TOKEN/t/T}" "$TOKEN $TOKEN" "${TOKEN:1}"; do
    check "token variant '$bad' refused" test "$(code -H "Authorization: Bearer $bad" $D)" = 401
done
check "empty bearer refused" test "$(code -H "Authorization: Bearer " $D)" = 401
check "bearer without a space refused" test "$(code -H "Authorization: Bearer$TOKEN" $D)" = 401
check "token as Basic credentials refused" test "$(code -H "Authorization: Basic $TOKEN" $D)" = 401
check "token without a scheme refused" test "$(code -H "Authorization: $TOKEN" $D)" = 401
check "token in the query string refused" test "$(code "$D?token=$TOKEN")" = 401
check "token in another header refused" test "$(code -H "X-Api-Token: $TOKEN" $D)" = 401
check "a wrong token then the right one refused" \
    test "$(code -H "Authorization: Bearer wrong" -H "Authorization: Bearer $TOKEN" $D)" = 401
check "two Authorization headers: the error says so" grep -q "more than one Authorization" "$WORK/body"
check "the right token then a wrong one refused" \
    test "$(code -H "Authorization: Bearer $TOKEN" -H "Authorization: Bearer wrong" $D)" = 401
check "401 carries WWW-Authenticate" bash -c \
    "curl -s -D - -o /dev/null http://127.0.0.1:$PORT$D | grep -qi '^WWW-Authenticate: Bearer'"

# The bulk import's body limit uses the same comparison: a token with an extra byte gets the
# small limit (413 before the body), the real one the large one.
# announce HEADER: a bulk POST whose headers announce a 2 MiB body (above the unauthenticated
# limit), no body sent; prints the status the daemon answers before any body byte.
announce() {
    python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("POST /api/provisioning/devices/bulk HTTP/1.1\r\nHost: x\r\n"
           "Content-Type: application/json\r\nContent-Length: 2097152\r\n%s\r\n\r\n" % sys.argv[2]).encode())
s.settimeout(1.5)
try:
    data = s.recv(4096)
    print(data.split(b" ")[1].decode() if data else "closed")
except socket.timeout:
    print("none")
PY
}
check "bulk: a token with an extra byte gets 413 before the body" \
    test "$(announce "Authorization: Bearer ${TOKEN}X")" = 413
check "bulk: a token prefix gets 413 before the body" \
    test "$(announce "Authorization: Bearer ${TOKEN:0:10}")" = 413
check "bulk: the real token waits for the body (no early answer)" \
    test "$(announce "Authorization: Bearer $TOKEN")" = none

# ---- provisioning answers: no caching anywhere (docs/api.md) ----
req POST $D -d '{"mac_address":"001565123456","extension_number":"1001","vendor":"yealink","model":"t46s"}'
expect_status 201 "device added"
hdrs=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/provision/001565123456.cfg")
check "config answer: 200" contains "$hdrs" "HTTP/1.1 200"
check "config answer: Cache-Control: no-store" grep -qi '^Cache-Control: no-store' <<<"$hdrs"
hdrs=$(curl -s -D - -o /dev/null "http://127.0.0.1:$PORT/provision/y000000000066.cfg")
check "common file answer: 200" contains "$hdrs" "HTTP/1.1 200"
check "common file answer: Cache-Control: no-store" grep -qi '^Cache-Control: no-store' <<<"$hdrs"

stop_daemon TERM
check "the token never appears in the log" bash -c "! grep -q '$TOKEN' '$WORK/daemon.log'"
finish
