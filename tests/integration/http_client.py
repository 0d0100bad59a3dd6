"""Raw-socket HTTP checks the curl-based tests cannot express: pipelining, garbage on one
connection while another keeps working, connection limits, idle and slow-request timeouts.
usage: http_client.py PORT TOKEN CHECK; exits non-zero with a message on failure."""
import socket
import sys
import time

PORT = int(sys.argv[1])
TOKEN = sys.argv[2]
CHECK = sys.argv[3]


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    return s


def read_response(s, buf=b""):
    """Reads one response (Content-Length framed); returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed before a response")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise EOFError("connection closed inside a body")
        rest += chunk
    return status, headers, rest[:n], rest[n:]


def get(path, extra=""):
    return ("GET %s HTTP/1.1\r\nHost: t\r\n%s\r\n" % (path, extra)).encode()


def fail(msg):
    print("FAIL:", msg)
    sys.exit(1)


def closed(s, timeout):
    s.settimeout(timeout)
    try:
        data = s.recv(65536)
        while data:
            data = s.recv(65536)
        return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


if CHECK == "pipelining":
    s = connect()
    s.sendall(get("/provision/001565abcdef.cfg") + get("/api/status") + get("/nope") +
              get("/provision/001565abcdef.cfg"))
    rest = b""
    statuses = []
    for _ in range(4):
        st, h, body, rest = read_response(s, rest)
        statuses.append(st)
    if statuses != [200, 200, 404, 200]:
        fail("pipelined statuses %r" % statuses)
    # An API write in the middle of a pipeline is answered after commit, still in order.
    auth = "Authorization: Bearer %s\r\n" % TOKEN
    body = b'{"number":"1500","name":"Pipe","password":"pipe-pass"}'
    post = ("POST /api/extensions HTTP/1.1\r\nHost: t\r\n%sContent-Type: application/json\r\n"
            "Content-Length: %d\r\n\r\n" % (auth, len(body))).encode() + body
    s.sendall(get("/api/status") + post + get("/api/extensions", auth))
    st1, _, _, rest = read_response(s, b"")
    st2, _, b2, rest = read_response(s, rest)
    st3, _, b3, rest = read_response(s, rest)
    if (st1, st2, st3) != (200, 201, 200) or b'"1500"' not in b3:
        fail("write in pipeline: %r %r %r %r" % (st1, st2, st3, b3[:200]))
    print("ok pipelining")

elif CHECK == "garbage":
    good = connect()
    good.sendall(get("/api/status"))
    st, _, _, _ = read_response(good)
    if st != 200:
        fail("first keep-alive request %d" % st)
    for junk in [b"\x00\x01\x02garbage\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET /provision/x HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
                 b"NOTAMETHOD / HTTP/1.1\r\n\r\n", b"GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n",
                 b"GET /provision/00%0015651234.cfg HTTP/1.1\r\nHost: t\r\n\r\n"]:
        bad = connect()
        bad.sendall(junk)
        st, _, _, _ = read_response(bad)
        if st // 100 != 4:
            fail("garbage %r answered %d" % (junk[:20], st))
        if not closed(bad, 5):
            fail("connection left open after garbage %r" % junk[:20])
    good.sendall(get("/provision/001565abcdef.cfg"))
    st, _, _, _ = read_response(good)
    if st != 200:
        fail("keep-alive client harmed by garbage: %d" % st)
    print("ok garbage")

elif CHECK == "limits":
    s = connect()
    s.sendall(("GET /api/status HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n" % ("a" * 9000)).encode())
    st, _, _, _ = read_response(s)
    if st != 431:
        fail("oversized header answered %d" % st)
    s = connect()
    s.sendall(("GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % ("a" * 9000)).encode())
    st, _, _, _ = read_response(s)
    if st not in (414, 431):
        fail("oversized URL answered %d" % st)
    s = connect()
    s.sendall(("POST /api/extensions HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
               "Content-Length: 70000\r\n\r\n" % TOKEN).encode())
    st, _, _, _ = read_response(s)
    if st != 413:
        fail("oversized Content-Length answered %d" % st)
    s = connect()
    s.sendall(("POST /api/extensions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "%x\r\n%s\r\n" % (70000, "x" * 70000)).encode())
    st, _, _, _ = read_response(s)
    if st != 413:
        fail("oversized chunked body answered %d" % st)
    print("ok limits")

elif CHECK == "connections":
    held = []
    for i in range(64):
        c = connect()
        c.sendall(get("/api/status"))
        st, _, _, _ = read_response(c)
        held.append(c)
    extra = connect()
    st, _, _, _ = read_response(extra)
    if st != 503:
        fail("connection over the limit answered %d" % st)
    held[0].sendall(get("/api/status"))
    st, _, _, _ = read_response(held[0])
    if st != 200:
        fail("held connection harmed: %d" % st)
    for c in held:
        c.close()
    time.sleep(0.3)
    c = connect()
    c.sendall(get("/api/status"))
    st, _, _, _ = read_response(c)
    if st != 200:
        fail("after closing, new connection answered %d" % st)
    print("ok connections")

elif CHECK == "timeouts":
    idle = connect()
    idle.sendall(get("/api/status"))
    read_response(idle)
    slow = connect()
    slow.sendall(b"GET /api/status HTTP/1.1\r\nHost: t\r\n")  # never finished
    t0 = time.time()
    if not closed(idle, 9):
        fail("idle connection not closed")
    took = time.time() - t0
    if took < 3:
        fail("idle connection closed too early (%.1f s)" % took)
    try:
        slow.settimeout(9)
        st, _, _, _ = read_response(slow)
        if st != 408:
            fail("slow request answered %d" % st)
    except EOFError:
        fail("slow request closed without 408")
    print("ok timeouts (idle closed after %.1f s)" % took)
else:
    fail("unknown check " + CHECK)
