#include "cli/http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/error.h"
#include "ztpd/version.h"

/* Far above any inventory export; stops a runaway or hostile peer from eating memory. */
#define MAX_RESPONSE (512u * 1024 * 1024)

void ztpd_http_resp_free(struct ztpd_http_resp *resp)
{
    if (!resp)
        return;
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* Waits for `events` on fd; 0 when ready, ZTPD_EIO on timeout or error. */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&p, 1, timeout_ms);
        if (n > 0)
            return 0;
        if (n == 0)
            return ZTPD_EIO;
        if (errno != EINTR)
            return ZTPD_EIO;
    }
}

static int connect_to(const struct ztpd_http_call *c, int *out, char *err, size_t errlen)
{
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int g = getaddrinfo(c->host, port, &hints, &res);
    if (g) {
        snprintf(err, errlen, "%s", gai_strerror(g));
        return ZTPD_EUNAVAIL;
    }
    int last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd =
            socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, c->timeout_ms)) {
                last = ETIMEDOUT;
                close(fd);
                continue;
            }
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            rc = soerr ? -1 : 0;
            errno = soerr;
        }
        if (rc != 0) {
            last = errno;
            close(fd);
            continue;
        }
        freeaddrinfo(res);
        *out = fd;
        return 0;
    }
    freeaddrinfo(res);
    snprintf(err, errlen, "%s", strerror(last));
    return ZTPD_EUNAVAIL;
}

static int send_all(int fd, const char *p, size_t n, int timeout_ms, char *err, size_t errlen)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, timeout_ms)) {
                snprintf(err, errlen, "timed out sending the request");
                return ZTPD_EIO;
            }
            continue;
        }
        snprintf(err, errlen, "sending the request: %s", strerror(errno));
        return ZTPD_EIO;
    }
    return 0;
}

/* Parses one hex chunk-size line at p (up to end); returns the size, sets *next past its CRLF,
 * -1 if incomplete, -2 if malformed. Chunk extensions (";name=value") are ignored. */
static long long chunk_size(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (!lf)
        return end - p > 64 ? -2 : -1;
    long long v = 0;
    int digits = 0;
    for (; p < lf; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
            d = (*p | 0x20) - 'a' + 10;
        else
            break;
        if (++digits > 15)
            return -2;
        v = v * 16 + d;
    }
    if (!digits || (*p != ';' && *p != '\r' && *p != '\n'))
        return -2;
    *next = lf + 1;
    return v;
}

int ztpd_http_dechunk(char *data, size_t len, size_t *out_len)
{
    const char *p = data, *end = data + len;
    size_t o = 0;
    for (;;) {
        const char *next;
        long long n = chunk_size(p, end, &next);
        if (n < 0)
            return n == -1 ? 0 : -1;
        p = next;
        if (n == 0) {
            /* Trailers end with an empty line; a bare CRLF is the usual case. */
            for (;;) {
                const char *lf = memchr(p, '\n', (size_t)(end - p));
                if (!lf)
                    return 0;
                int empty = lf == p || (lf == p + 1 && *p == '\r');
                p = lf + 1;
                if (empty) {
                    *out_len = o;
                    data[o] = '\0';
                    return 1;
                }
            }
        }
        if ((size_t)(end - p) < (size_t)n + 1)
            return 0;
        memmove(data + o, p, (size_t)n);
        o += (size_t)n;
        p += n;
        if (*p == '\r')
            p++;
        if (p >= end)
            return 0;
        if (*p != '\n')
            return -1;
        p++;
    }
}

/* Status and framing from the header block (hdr_len bytes, NUL-terminated at hdr_len). */
static int parse_head(char *buf, struct ztpd_http_resp *r, long long *clen, int *chunked)
{
    int major, minor, status;
    if (sscanf(buf, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || major != 1 || status < 100 ||
        status > 599)
        return -1;
    r->status = status;
    *clen = -1;
    *chunked = 0;
    for (char *line = strstr(buf, "\n"); line && line[1]; line = strstr(line + 1, "\n")) {
        char *h = line + 1;
        if (!strncasecmp(h, "Content-Length:", 15)) {
            char *e;
            long long v = strtoll(h + 15, &e, 10);
            if (v < 0)
                return -1;
            *clen = v;
        } else if (!strncasecmp(h, "Transfer-Encoding:", 18)) {
            char *eol = strchr(h, '\n');
            char save = eol ? *eol : 0;
            if (eol)
                *eol = '\0';
            *chunked = strcasestr(h + 18, "chunked") != NULL;
            if (eol)
                *eol = save;
        }
    }
    return 0;
}

int ztpd_http_client_call(const struct ztpd_http_call *c, struct ztpd_http_resp *resp, char *err,
                          size_t errlen)
{
    memset(resp, 0, sizeof *resp);
    int fd;
    int rc = connect_to(c, &fd, err, errlen);
    if (rc)
        return rc;

    char head[1024];
    int colon = strchr(c->host, ':') != NULL; /* an IPv6 literal needs brackets in Host */
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUser-Agent: ztpd-cli/%s\r\n"
                     "Accept: application/json\r\nConnection: close\r\n",
                     c->method, c->path, colon ? "[" : "", c->host, colon ? "]" : "", c->port,
                     ZTPD_VERSION);
    if (c->token)
        n += snprintf(head + n, sizeof head - (size_t)n, "Authorization: Bearer %s\r\n", c->token);
    if (c->body)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n", c->body_len);
    else if (strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0)
        n += snprintf(head + n, sizeof head - (size_t)n, "Content-Length: 0\r\n");
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    if ((size_t)n >= sizeof head) {
        close(fd);
        snprintf(err, errlen, "request too long");
        return ZTPD_EINVAL;
    }
    rc = send_all(fd, head, (size_t)n, c->timeout_ms, err, errlen);
    if (!rc && c->body)
        rc = send_all(fd, c->body, c->body_len, c->timeout_ms, err, errlen);
    if (rc) {
        close(fd);
        return rc;
    }

    size_t cap = 16384, len = 0, hdr_len = 0;
    char *buf = malloc(cap + 1);
    long long clen = -1;
    int chunked = 0, eof = 0, done = 0;
    rc = buf ? 0 : ZTPD_ENOMEM;
    while (!rc && !done) {
        if (len == cap) {
            if (cap >= MAX_RESPONSE) {
                snprintf(err, errlen, "answer larger than %u bytes", MAX_RESPONSE);
                rc = ZTPD_ETOOBIG;
                break;
            }
            char *nb = realloc(buf, 2 * cap + 1);
            if (!nb) {
                rc = ZTPD_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            if (wait_fd(fd, POLLIN, c->timeout_ms)) {
                snprintf(err, errlen, "timed out waiting for the answer (%d s)",
                         c->timeout_ms / 1000);
                rc = ZTPD_EIO;
            }
            continue;
        }
        if (r < 0) {
            snprintf(err, errlen, "receiving the answer: %s", strerror(errno));
            rc = ZTPD_EIO;
            break;
        }
        if (r == 0)
            eof = 1;
        len += (size_t)r;
        buf[len] = '\0';
        if (!hdr_len) {
            char *e = strstr(buf, "\r\n\r\n");
            if (!e && !eof)
                continue;
            if (!e || parse_head(buf, resp, &clen, &chunked)) {
                snprintf(err, errlen, "the answer is not HTTP/1.x");
                rc = ZTPD_ESYNTAX;
                break;
            }
            hdr_len = (size_t)(e - buf) + 4;
        }
        size_t have = len - hdr_len;
        if (chunked) {
            size_t out;
            /* Decoding works on a copy so a partial chunk can be retried on more bytes. */
            char *tmp = malloc(have + 1);
            if (!tmp) {
                rc = ZTPD_ENOMEM;
                break;
            }
            memcpy(tmp, buf + hdr_len, have);
            int d = ztpd_http_dechunk(tmp, have, &out);
            if (d == 1) {
                free(buf);
                buf = tmp;
                hdr_len = 0;
                len = out;
                done = 1;
                break;
            }
            free(tmp);
            if (d < 0) {
                snprintf(err, errlen, "malformed chunked answer");
                rc = ZTPD_ESYNTAX;
            }
        } else if (clen >= 0 && have >= (size_t)clen) {
            len = hdr_len + (size_t)clen;
            done = 1;
        } else if (clen < 0 && eof) {
            done = 1;
        }
        if (!done && eof && !rc) {
            snprintf(err, errlen, "the connection closed before the whole answer arrived");
            rc = ZTPD_EIO;
        }
    }
    close(fd);
    if (rc) {
        if (rc == ZTPD_ENOMEM)
            snprintf(err, errlen, "out of memory");
        free(buf);
        resp->status = 0;
        return rc;
    }
    size_t body_len = len - hdr_len;
    memmove(buf, buf + hdr_len, body_len);
    buf[body_len] = '\0';
    resp->body = buf;
    resp->body_len = body_len;
    return 0;
}
