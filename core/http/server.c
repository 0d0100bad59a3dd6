#include "http/server.h"

#include <ctype.h>
#include <llhttp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log/log.h"
#include "util/error.h"

#define MOD "http"

/* Body buffer a connection keeps between requests; larger ones are freed once answered. */
#define BODY_KEEP_BYTES 65536

struct hdr_off {
    size_t name_off, val_off;
};

struct ztpd_http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    struct ztpd_http_server *srv;
    struct ztpd_http_conn *prev, *next;
    llhttp_t parser;
    char peer_ip[64];

    /* Bytes received but not yet parsed (pipelined requests wait here while one is busy). */
    char *in;
    size_t in_len, in_cap;

    /* The request being parsed: URL and header bytes, NUL-separated, addressed by offsets. */
    char *h;
    size_t h_len, h_cap;
    size_t url_off;
    struct hdr_off *hdrs;
    size_t n_hdrs, hdrs_cap;
    int hstate; /* 0 url, 1 field, 2 value */
    size_t header_bytes;
    char *body;
    size_t body_len, body_cap;
    size_t body_limit; /* of the request being parsed: the default or the app's answer */
    int err_status;    /* status to answer when a limit callback failed the parse */
    int in_message;
    int req_ready;

    struct ztpd_http_req req;
    struct ztpd_http_header *hdr_arr;
    char *path_buf;

    uv_shutdown_t shutdown;
    int busy;     /* a request is with the handler */
    int shutting; /* last answer queued: FIN follows the written bytes, then close */
    int peer_eof;  /* the client closed its side */
    int shut_done; /* our FIN is out */
    int closing;  /* uv_close issued */
    int reading;
    int handles; /* open libuv handles; freed when 0 and not busy */
};

struct ztpd_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    struct ztpd_http_limits limits;
    ztpd_http_handler handler;
    void *arg;
    ztpd_http_body_limit_fn body_limit;
    void *body_limit_arg;
    struct ztpd_http_conn *conns;
    unsigned n_conns;
    int port;
    int closing;
    int listener_open;
    void (*close_cb)(void *);
    void *close_arg;
    llhttp_settings_t settings;
};

static void conn_close(struct ztpd_http_conn *c);
static void conn_process(struct ztpd_http_conn *c);
static void conn_finish(struct ztpd_http_conn *c);
static void timer_cb_linger(uv_timer_t *t);

const char *ztpd_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    }
    return "Unknown";
}

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *p = realloc(*buf, n);
    if (!p)
        return ZTPD_ENOMEM;
    *buf = p;
    *cap = n;
    return 0;
}

static int h_append(struct ztpd_http_conn *c, const char *at, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > c->srv->limits.max_header_size) {
        c->err_status = c->hstate == 0 ? 414 : 431;
        return -1;
    }
    if (grow(&c->h, &c->h_cap, c->h_len + len + 1)) {
        c->err_status = 503;
        return -1;
    }
    memcpy(c->h + c->h_len, at, len);
    c->h_len += len;
    return 0;
}

static int h_terminate(struct ztpd_http_conn *c)
{
    if (grow(&c->h, &c->h_cap, c->h_len + 1)) {
        c->err_status = 503;
        return -1;
    }
    c->h[c->h_len++] = '\0';
    return 0;
}

static struct ztpd_http_conn *conn_of(llhttp_t *p)
{
    return (struct ztpd_http_conn *)p->data;
}

static int on_message_begin(llhttp_t *p)
{
    struct ztpd_http_conn *c = conn_of(p);
    c->h_len = 0;
    c->url_off = 0;
    c->n_hdrs = 0;
    c->hstate = 0;
    c->header_bytes = 0;
    c->body_len = 0;
    c->in_message = 1;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return h_append(conn_of(p), at, len) ? HPE_USER : 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct ztpd_http_conn *c = conn_of(p);
    if (c->hstate != 1) {
        if (h_terminate(c))
            return HPE_USER;
        if (c->n_hdrs == c->hdrs_cap) {
            size_t n = c->hdrs_cap ? c->hdrs_cap * 2 : 16;
            struct hdr_off *nh = realloc(c->hdrs, n * sizeof *nh);
            if (!nh) {
                c->err_status = 503;
                return HPE_USER;
            }
            c->hdrs = nh;
            c->hdrs_cap = n;
        }
        c->hdrs[c->n_hdrs].name_off = c->h_len;
        c->hdrs[c->n_hdrs].val_off = SIZE_MAX;
        c->n_hdrs++;
        c->hstate = 1;
    }
    return h_append(c, at, len) ? HPE_USER : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct ztpd_http_conn *c = conn_of(p);
    if (c->hstate != 2) {
        if (h_terminate(c))
            return HPE_USER;
        c->hdrs[c->n_hdrs - 1].val_off = c->h_len;
        c->hstate = 2;
    }
    return h_append(c, at, len) ? HPE_USER : 0;
}

static int prepare_head(struct ztpd_http_conn *c);

static void conn_write(struct ztpd_http_conn *c, char *buf, size_t len);

/* A body follows: chunked, or a non-zero Content-Length. */
static int big_or_some_body(const llhttp_t *p)
{
    return (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
}

static void send_continue(struct ztpd_http_conn *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *buf = malloc(sizeof(uv_write_t) + sizeof line - 1);
    if (!buf)
        return; /* the client sends its body after its own timeout anyway */
    memcpy(buf + sizeof(uv_write_t), line, sizeof line - 1);
    conn_write(c, buf, sizeof line - 1);
}

static int on_headers_complete(llhttp_t *p)
{
    struct ztpd_http_conn *c = conn_of(p);
    if (h_terminate(c))
        return HPE_USER;
    /* The request line and headers are final: decode them now so the body limit can be
     * decided from them, before a single body byte is buffered. */
    if (prepare_head(c))
        return HPE_USER;
    struct ztpd_http_server *s = c->srv;
    c->body_limit = s->limits.max_body_size;
    int big = (p->flags & F_CHUNKED) ||
              ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->body_limit);
    /* Asked only for a body that may exceed the default, so a phone's GET costs nothing. */
    if (big && s->body_limit) {
        size_t lim = s->body_limit(&c->req, s->body_limit_arg);
        if (lim > c->body_limit)
            c->body_limit = lim;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->body_limit) {
        c->err_status = 413;
        return HPE_USER;
    }
    /* curl and some phones send "Expect: 100-continue" before a PUT/POST body and otherwise
     * wait a second or more. Earlier answers on this connection are already queued (parsing
     * stops while a request is with the handler), so the interim answer stays in order. */
    const char *expect = ztpd_http_header(&c->req, "expect");
    if (expect && strcasecmp(expect, "100-continue") == 0 && big_or_some_body(p))
        send_continue(c);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct ztpd_http_conn *c = conn_of(p);
    if (c->body_len + len > c->body_limit) {
        c->err_status = 413;
        return HPE_USER;
    }
    if (grow(&c->body, &c->body_cap, c->body_len + len + 1)) {
        c->err_status = 503;
        return HPE_USER;
    }
    memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* Decodes %XX in place; fails on a malformed escape or an encoded NUL. */
static int percent_decode(char *s)
{
    char *o = s;
    for (char *i = s; *i; i++) {
        if (*i == '%') {
            int a = hexval((unsigned char)i[1]), b = a < 0 ? -1 : hexval((unsigned char)i[2]);
            if (a < 0 || b < 0 || (a == 0 && b == 0))
                return -1;
            *o++ = (char)(a * 16 + b);
            i += 2;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    struct ztpd_http_conn *c = conn_of(p);
    c->in_message = 0;
    c->req_ready = 1;
    /* Stop here so the request is handled before the next pipelined one is parsed. */
    return HPE_PAUSED;
}

static void write_cb(uv_write_t *w, int status)
{
    struct ztpd_http_conn *c = w->data;
    free(w);
    if (status < 0 && !c->closing)
        conn_close(c);
}

static void conn_write(struct ztpd_http_conn *c, char *buf, size_t len)
{
    /* The write request and its bytes share one allocation, freed in write_cb. */
    uv_write_t *w = (uv_write_t *)(void *)buf;
    w->data = c;
    uv_buf_t b = uv_buf_init(buf + sizeof(uv_write_t), (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, write_cb) < 0) {
        free(buf);
        conn_close(c);
    }
}

static char *format_response(int status, const char *ctype, const char *body, size_t body_len,
                             const char *extra, int keep_alive, int head, size_t *out_len)
{
    char head_buf[512];
    int n = snprintf(head_buf, sizeof head_buf,
                     "HTTP/1.1 %d %s\r\nServer: ztpd\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nConnection: %s\r\n",
                     status, ztpd_http_reason(status), ctype ? ctype : "text/plain", body_len,
                     keep_alive ? "keep-alive" : "close");
    size_t extra_len = extra ? strlen(extra) : 0;
    size_t send_body = head ? 0 : body_len;
    size_t total = (size_t)n + extra_len + 2 + send_body;
    char *buf = malloc(sizeof(uv_write_t) + total);
    if (!buf)
        return NULL;
    char *o = buf + sizeof(uv_write_t);
    memcpy(o, head_buf, (size_t)n);
    o += n;
    if (extra_len) {
        memcpy(o, extra, extra_len);
        o += extra_len;
    }
    memcpy(o, "\r\n", 2);
    o += 2;
    if (send_body)
        memcpy(o, body, send_body);
    *out_len = total;
    return buf;
}

static void conn_error(struct ztpd_http_conn *c, int status)
{
    static const char body_fmt[] = "{\"success\":false,\"error\":\"%s\"}";
    char body[128];
    int n = snprintf(body, sizeof body, body_fmt, ztpd_http_reason(status));
    size_t len;
    char *buf = format_response(status, "application/json", body, (size_t)n, NULL, 0, 0, &len);
    LOG_D(MOD, "%s: answering %d and closing", c->peer_ip, status);
    if (buf)
        conn_write(c, buf, len);
    conn_finish(c);
}

static void conn_maybe_free(struct ztpd_http_conn *c)
{
    if (c->handles > 0 || c->busy)
        return;
    struct ztpd_http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    free(c->in);
    free(c->h);
    free(c->hdrs);
    free(c->body);
    free(c->hdr_arr);
    free(c->path_buf);
    free(c);
    if (s->closing && !s->conns && !s->listener_open && s->close_cb) {
        void (*cb)(void *) = s->close_cb;
        s->close_cb = NULL;
        cb(s->close_arg);
    }
}

static void handle_closed(uv_handle_t *h)
{
    struct ztpd_http_conn *c = h->data;
    c->handles--;
    conn_maybe_free(c);
}

static void conn_close(struct ztpd_http_conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    /* uv_close on a stream lets queued writes finish or fail first; the error answer gets out. */
    uv_close((uv_handle_t *)&c->tcp, handle_closed);
}

/* How long a finished connection keeps reading (and dropping) what the client still sends. */
#define LINGER_MS 5000

static void timer_cb_linger(uv_timer_t *t)
{
    conn_close(t->data);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
    struct ztpd_http_conn *c = req->data;
    /* FIN is out after the answer; the close follows once the peer has finished sending (EOF in
     * read_cb) or the linger timer fires. A failed shutdown ends the connection now. */
    c->shut_done = 1;
    if (status < 0 || c->peer_eof)
        conn_close(c);
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* Ends the connection after the queued answer, with a lingering close: shutdown sends FIN only
 * after every queued byte, and the rest of a request body the client is still sending (a 413 for
 * a large upload) is read and dropped for a moment, because closing a socket with unread input
 * makes the kernel answer with RST, and the client then loses the answer it had not read yet. */
static void conn_finish(struct ztpd_http_conn *c)
{
    if (c->closing || c->shutting)
        return;
    c->shutting = 1;
    c->in_len = 0;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, shutdown_cb) < 0) {
        conn_close(c);
        return;
    }
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
    uv_timer_start(&c->timer, timer_cb_linger, LINGER_MS, 0);
}

static void timer_cb(uv_timer_t *t)
{
    struct ztpd_http_conn *c = t->data;
    if (c->busy)
        return;
    if (c->in_message || c->in_len) {
        conn_error(c, 408);
        return;
    }
    conn_close(c);
}

static void arm_timer(struct ztpd_http_conn *c)
{
    uv_timer_start(&c->timer, timer_cb, c->srv->limits.idle_timeout_ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct ztpd_http_conn *c = h->data;
    (void)suggested;
    if (grow(&c->in, &c->in_cap, c->in_len + 16384)) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    buf->base = c->in + c->in_len;
    buf->len = c->in_cap - c->in_len;
}

static void read_cb(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct ztpd_http_conn *c = st->data;
    (void)buf;
    if (nread == UV_ENOBUFS) {
        conn_close(c);
        return;
    }
    if (nread < 0) {
        /* Peer closed or failed: a busy request keeps the memory until it is answered. While
         * the answer is still being flushed (shutting), the close waits for shutdown_cb. */
        c->peer_eof = 1;
        if (!c->shutting || c->shut_done)
            conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->shutting) {
        /* Lingering close: what the client still sends is dropped. */
        c->in_len = 0;
        return;
    }
    c->in_len += (size_t)nread;
    conn_process(c);
}

/* Fills c->req from the request line and headers (at headers-complete); 0, or -1 with
 * err_status set. */
static int prepare_head(struct ztpd_http_conn *c)
{
    struct ztpd_http_req *r = &c->req;
    free(c->hdr_arr);
    c->hdr_arr = calloc(c->n_hdrs ? c->n_hdrs : 1, sizeof *c->hdr_arr);
    free(c->path_buf);
    c->path_buf = NULL;
    if (!c->hdr_arr) {
        c->err_status = 503;
        return -1;
    }
    size_t nh = 0;
    for (size_t i = 0; i < c->n_hdrs; i++) {
        if (c->hdrs[i].val_off == SIZE_MAX)
            continue;
        char *name = c->h + c->hdrs[i].name_off;
        for (char *q = name; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        c->hdr_arr[nh].name = name;
        c->hdr_arr[nh].value = c->h + c->hdrs[i].val_off;
        nh++;
    }
    char *url = c->h + c->url_off;
    char *q = strchr(url, '?');
    r->query = "";
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    c->path_buf = strdup(url);
    if (!c->path_buf) {
        c->err_status = 503;
        return -1;
    }
    if (percent_decode(c->path_buf) || url[0] != '/') {
        c->err_status = 400;
        return -1;
    }
    r->conn = c;
    r->method = llhttp_method_name((llhttp_method_t)c->parser.method);
    r->raw_path = url;
    r->path = c->path_buf;
    r->headers = c->hdr_arr;
    r->n_headers = nh;
    r->body = "";
    r->body_len = 0;
    r->peer_ip = c->peer_ip;
    r->client_ip = c->peer_ip;
    r->tls = 0;
    r->client_cert_subject = NULL;
    r->keep_alive = 0;
    return 0;
}

static void dispatch(struct ztpd_http_conn *c)
{
    struct ztpd_http_req *r = &c->req;
    if (grow(&c->body, &c->body_cap, c->body_len + 1)) {
        conn_error(c, 503);
        return;
    }
    c->body[c->body_len] = '\0';
    r->body = c->body;
    r->body_len = c->body_len;
    r->keep_alive = llhttp_should_keep_alive(&c->parser) && !c->srv->closing;
    c->busy = 1;
    uv_timer_stop(&c->timer);
    c->srv->handler(r, c->srv->arg);
}

static void conn_process(struct ztpd_http_conn *c)
{
    while (!c->busy && !c->closing && !c->shutting && c->in_len > 0) {
        enum llhttp_errno e = llhttp_execute(&c->parser, c->in, c->in_len);
        size_t used;
        if (e == HPE_OK) {
            used = c->in_len;
        } else if (e == HPE_PAUSED) {
            used = (size_t)(llhttp_get_error_pos(&c->parser) - c->in);
            llhttp_resume(&c->parser);
        } else {
            int status = c->err_status ? c->err_status : 400;
            LOG_D(MOD, "%s: bad request: %s", c->peer_ip, llhttp_errno_name(e));
            conn_error(c, status);
            return;
        }
        memmove(c->in, c->in + used, c->in_len - used);
        c->in_len -= used;
        if (c->req_ready) {
            c->req_ready = 0;
            dispatch(c);
        }
    }
    if (c->closing || c->shutting)
        return;
    if (c->busy) {
        /* Backpressure: no more reads while the handler works; pipelined bytes wait in c->in. */
        if (c->reading)
            uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        return;
    }
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0)
        c->reading = 1;
    /* Between requests the idle clock restarts; inside one it keeps running, which bounds a
     * request that trickles in. */
    if (!c->in_message)
        arm_timer(c);
}

const char *ztpd_http_header(const struct ztpd_http_req *req, const char *name)
{
    for (size_t i = 0; i < req->n_headers; i++)
        if (strcmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void ztpd_http_respond(struct ztpd_http_req *req, int status, const char *content_type,
                       const char *body, size_t body_len, const char *extra_headers)
{
    struct ztpd_http_conn *c = req->conn;
    c->busy = 0;
    if (c->closing) {
        /* The client left while we worked: nothing to send, just release. */
        conn_maybe_free(c);
        return;
    }
    int keep = req->keep_alive && !c->srv->closing;
    int head = strcmp(req->method, "HEAD") == 0;
    size_t len;
    char *buf =
        format_response(status, content_type, body, body_len, extra_headers, keep, head, &len);
    /* A large upload (the bulk import) must not keep its buffer for the life of a keep-alive
     * connection. */
    if (c->body_cap > BODY_KEEP_BYTES) {
        free(c->body);
        c->body = NULL;
        c->body_cap = 0;
        c->body_len = 0;
    }
    if (!buf) {
        conn_close(c);
        return;
    }
    conn_write(c, buf, len);
    if (!keep) {
        conn_finish(c);
        return;
    }
    conn_process(c);
}

void ztpd_http_respond_not_found(struct ztpd_http_req *req)
{
    static const char body[] = "{\"success\":false,\"error\":\"not found\"}";
    ztpd_http_respond(req, 404, "application/json", body, sizeof body - 1, NULL);
}

static void on_connection(uv_stream_t *ls, int status)
{
    struct ztpd_http_server *s = ls->data;
    if (status < 0) {
        LOG_W(MOD, "accept failed: %s", uv_strerror(status));
        return;
    }
    struct ztpd_http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    if (uv_accept(ls, (uv_stream_t *)&c->tcp) < 0) {
        conn_close(c);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    strcpy(c->peer_ip, "?");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            uv_ip4_name((struct sockaddr_in *)&ss, c->peer_ip, sizeof c->peer_ip);
        else
            uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer_ip, sizeof c->peer_ip);
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->n_conns > s->limits.max_connections || s->closing) {
        LOG_W(MOD, "%s: connection limit (%u) reached, answering 503", c->peer_ip,
              s->limits.max_connections);
        conn_error(c, 503);
        return;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &s->settings);
    c->parser.data = c;
    conn_process(c);
}

int ztpd_http_server_new(struct ztpd_http_server **out, uv_loop_t *loop, const char *host, int port,
                         const struct ztpd_http_limits *limits, ztpd_http_handler handler,
                         void *arg, char *err, size_t errlen)
{
    struct ztpd_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return ZTPD_ENOMEM;
    s->loop = loop;
    s->limits = *limits;
    s->handler = handler;
    s->arg = arg;
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;

    struct sockaddr_storage addr;
    int rc;
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc) {
        snprintf(err, errlen, "http.listen: invalid address %s: %s", host, uv_strerror(rc));
        free(s);
        return ZTPD_EINVAL;
    }
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    s->listener_open = 1;
    rc = uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0) {
        /* libuv reports bind errors such as EADDRINUSE lazily; getsockname forces them out. */
        struct sockaddr_storage probe;
        int pl = sizeof probe;
        rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&probe, &pl);
    }
    if (rc) {
        snprintf(err, errlen, "http.listen: cannot listen on %s:%d: %s", host, port,
                 uv_strerror(rc));
        /* The handle is closed by the caller through ztpd_http_server_close. */
        *out = s;
        return ZTPD_EIO;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &bl);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                               : ((struct sockaddr_in6 *)&bound)->sin6_port);
    *out = s;
    return 0;
}

void ztpd_http_server_set_body_limit(struct ztpd_http_server *s, ztpd_http_body_limit_fn fn,
                                     void *arg)
{
    s->body_limit = fn;
    s->body_limit_arg = arg;
}

int ztpd_http_server_port(const struct ztpd_http_server *s)
{
    return s->port;
}

int ztpd_http_server_start(struct ztpd_http_server *s)
{
    int rc = uv_listen((uv_stream_t *)&s->listener, 4096, on_connection);
    if (rc) {
        LOG_E(MOD, "listen failed: %s", uv_strerror(rc));
        return ZTPD_EIO;
    }
    return 0;
}

unsigned ztpd_http_server_connections(const struct ztpd_http_server *s)
{
    return s->n_conns;
}

static void listener_closed(uv_handle_t *h)
{
    struct ztpd_http_server *s = h->data;
    s->listener_open = 0;
    if (!s->conns && s->close_cb) {
        void (*cb)(void *) = s->close_cb;
        s->close_cb = NULL;
        cb(s->close_arg);
    }
}

void ztpd_http_server_close(struct ztpd_http_server *s, void (*cb)(void *arg), void *arg)
{
    s->closing = 1;
    s->close_cb = cb;
    s->close_arg = arg;
    for (struct ztpd_http_conn *c = s->conns, *n; c; c = n) {
        n = c->next;
        if (!c->busy)
            conn_close(c);
    }
    uv_close((uv_handle_t *)&s->listener, listener_closed);
}

/* Frees the server struct itself; only valid after the close callback ran. */
void ztpd_http_server_free(struct ztpd_http_server *s)
{
    free(s);
}
