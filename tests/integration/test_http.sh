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

# Expect: 100-continue: the interim answer comes before the body is sent, then the real one;
# an oversized body is refused with 413 instead of a 100.
expect_continue() {
    python3 - "$PORT" "$TOKEN" "$1" <<'PY'
import socket, sys
port, token, size = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = b'{"number":"4100","name":"Continue","password":"cont-pw-1"}'
if size > len(body):
    body += b" " * (size - len(body))
s = socket.create_connection(("127.0.0.1", port), timeout=3)
s.sendall(b"POST /api/extensions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token.encode() +
          b"\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: " +
          str(len(body)).encode() + b"\r\n\r\n")
first = s.recv(4096)
print(first.split(b"\r\n")[0].decode())
if first.startswith(b"HTTP/1.1 100 "):
    s.sendall(body)
    rest = first[first.index(b"\r\n\r\n") + 4:]
    while b"\r\n\r\n" not in rest:
        rest += s.recv(4096)
    print(rest.split(b"\r\n")[0].decode())
PY
}
out=$(expect_continue 0)
check "Expect: 100-continue gets 100 before the body" test "$(sed -n 1p <<<"$out")" = "HTTP/1.1 100 Continue"
check "then the real answer" test "$(sed -n 2p <<<"$out")" = "HTTP/1.1 201 Created"
out=$(expect_continue 70000)
check "oversized body with Expect gets 413, no 100" test "$(sed -n 1p <<<"$out")" = "HTTP/1.1 413 Content Too Large"

# the daemon is still healthy after all of the above
raw GET /provision/001565abcdef.cfg
expect_status 200 "still serving configs"
check "daemon still running" kill -0 "$PID"
stop_daemon TERM
finish
