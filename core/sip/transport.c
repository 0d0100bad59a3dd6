/* UDP and TCP SIP transports on libuv; see transport.h. */
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "sip/sip_msg.h"
#include "sip/transport.h"
#include "util/error.h"

#define MAX_CONNECTIONS 1024

struct conn {
    uv_tcp_t h;
    struct ztpd_sip_transport *t;
    struct conn *prev, *next;
    uint64_t id;
    struct sockaddr_storage peer;
    char *rx;
    size_t rx_len;
    int closing;
    /* outbound connection: data waiting for the connect to finish */
    uv_connect_t connect_req;
    char *pending;
    size_t pending_len;
};

struct ztpd_sip_transport {
    uv_loop_t *loop;
    int protos;
    int port;
    uv_udp_t udp;
    uv_tcp_t tcp;
    int udp_open, tcp_open;
    struct conn *conns;
    size_t n_conns;
    uint64_t next_id;
    ztpd_sip_recv_cb cb;
    void *arg;
    int closing;
    int open_handles;
    void (*done)(void *arg);
    void *done_arg;
    char rxbuf[ZTPD_SIP_MAX_MSG];
};

static void handle_closed(struct ztpd_sip_transport *t)
{
    if (--t->open_handles > 0 || !t->closing)
        return;
    void (*done)(void *) = t->done;
    void *arg = t->done_arg;
    free(t);
    if (done)
        done(arg);
}

static void transport_handle_closed(uv_handle_t *h)
{
    handle_closed(h->data);
}

static void conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    struct ztpd_sip_transport *t = c->t;
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->n_conns--;
    free(c->rx);
    free(c->pending);
    free(c);
    handle_closed(t);
}

static void conn_close(struct conn *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->h, conn_closed);
}

static struct conn *conn_add(struct ztpd_sip_transport *t)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->t = t;
    c->id = ++t->next_id;
    uv_tcp_init(t->loop, &c->h);
    c->h.data = c;
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->n_conns++;
    t->open_handles++;
    return c;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    struct ztpd_sip_transport *t = h->type == UV_UDP ? h->data : ((struct conn *)h->data)->t;
    /* One shared buffer: every read is consumed (copied or dispatched) before the next. */
    *b = uv_buf_init(t->rxbuf, sizeof t->rxbuf);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *addr,
                     unsigned flags)
{
    struct ztpd_sip_transport *t = h->data;
    if (n <= 0 || !addr || (flags & UV_UDP_PARTIAL))
        return; /* a truncated datagram (> 64 KB) is dropped */
    struct ztpd_sip_peer p = {.proto = ZTPD_SIP_UDP};
    memcpy(&p.addr, addr,
           addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
    t->cb(&p, b->base, (size_t)n, t->arg);
}

/* Dispatches every whole message buffered on c; non-zero when c must be closed. */
static int conn_drain(struct conn *c)
{
    struct ztpd_sip_transport *t = c->t;
    size_t off = 0;
    int rc = 0;
    while (off < c->rx_len) {
        size_t skip = 0, mlen = 0;
        int f = ztpd_sip_msg_frame(c->rx + off, c->rx_len - off, &skip, &mlen);
        if (f < 0) {
            LOG_D("sip", "tcp connection %llu closed: %s", (unsigned long long)c->id,
                  ztpd_strerror(f));
            rc = -1;
            break;
        }
        off += skip;
        if (f == 0)
            break;
        struct ztpd_sip_peer p = {.proto = ZTPD_SIP_TCP, .addr = c->peer, .conn = c->id};
        if (t->cb(&p, c->rx + off, mlen, t->arg) != 0) {
            rc = -1;
            break;
        }
        off += mlen;
        if (c->closing)
            return -1;
    }
    if (off > 0 && rc == 0) {
        memmove(c->rx, c->rx + off, c->rx_len - off);
        c->rx_len -= off;
    }
    return rc;
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct conn *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    if (n == 0)
        return;
    if (c->rx_len + (size_t)n > ZTPD_SIP_MAX_MSG) {
        LOG_D("sip", "tcp connection %llu closed: more than %d bytes buffered",
              (unsigned long long)c->id, ZTPD_SIP_MAX_MSG);
        conn_close(c);
        return;
    }
    if (!c->rx && !(c->rx = malloc(ZTPD_SIP_MAX_MSG))) {
        conn_close(c);
        return;
    }
    memcpy(c->rx + c->rx_len, b->base, (size_t)n);
    c->rx_len += (size_t)n;
    if (conn_drain(c) != 0)
        conn_close(c);
    else if (c->rx_len == 0) {
        free(c->rx);
        c->rx = NULL;
    }
}

static void on_connection(uv_stream_t *srv, int status)
{
    struct ztpd_sip_transport *t = srv->data;
    if (status < 0 || t->closing)
        return;
    struct conn *c = conn_add(t);
    if (!c)
        return;
    if (uv_accept(srv, (uv_stream_t *)&c->h) != 0 || t->n_conns > MAX_CONNECTIONS) {
        conn_close(c);
        return;
    }
    int len = sizeof c->peer;
    uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &len);
    uv_read_start((uv_stream_t *)&c->h, alloc_cb, conn_read);
}

int ztpd_sip_transport_new(struct ztpd_sip_transport **out, uv_loop_t *loop, const char *host,
                           int port, int protos, ztpd_sip_recv_cb cb, void *arg)
{
    struct sockaddr_storage ss;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        LOG_E("sip", "sip.listen: '%s' is not an IP address", host);
        return ZTPD_EINVAL;
    }
    if (!(protos & (ZTPD_SIP_UDP | ZTPD_SIP_TCP)))
        return ZTPD_EINVAL;
    struct ztpd_sip_transport *t = calloc(1, sizeof *t);
    if (!t)
        return ZTPD_ENOMEM;
    t->loop = loop;
    t->protos = protos;
    t->cb = cb;
    t->arg = arg;
    int rc = 0;
    int bound_port = port;
    if (protos & ZTPD_SIP_UDP) {
        uv_udp_init(loop, &t->udp);
        t->udp.data = t;
        t->udp_open = 1;
        t->open_handles++;
        rc = uv_udp_bind(&t->udp, (struct sockaddr *)&ss, 0);
        if (rc == 0) {
            struct sockaddr_storage b;
            int bl = sizeof b;
            uv_udp_getsockname(&t->udp, (struct sockaddr *)&b, &bl);
            bound_port = ntohs(((struct sockaddr_in *)&b)->sin_port);
            /* One loop thread reads every datagram: a short stall (a sweep, a burst of phones
             * after a power cut) must queue requests, not drop them into T1 retransmissions.
             * Best effort: the kernel caps this at net.core.rmem_max. */
            int rcvbuf = 4 << 20;
            uv_recv_buffer_size((uv_handle_t *)&t->udp, &rcvbuf);
            rc = uv_udp_recv_start(&t->udp, alloc_cb, udp_recv);
        }
    }
    if (rc == 0 && (protos & ZTPD_SIP_TCP)) {
        /* TCP follows UDP's port when port 0 was asked for, so both share one number. */
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)bound_port);
        uv_tcp_init(loop, &t->tcp);
        t->tcp.data = t;
        t->tcp_open = 1;
        t->open_handles++;
        rc = uv_tcp_bind(&t->tcp, (struct sockaddr *)&ss, 0);
        if (rc == 0)
            rc = uv_listen((uv_stream_t *)&t->tcp, 128, on_connection);
        if (rc == 0) {
            struct sockaddr_storage b;
            int bl = sizeof b;
            uv_tcp_getsockname(&t->tcp, (struct sockaddr *)&b, &bl);
            bound_port = ntohs(((struct sockaddr_in *)&b)->sin_port);
        }
    }
    t->port = bound_port;
    if (rc != 0) {
        LOG_E("sip", "sip.listen: cannot bind %s:%d: %s", host, port, uv_strerror(rc));
        ztpd_sip_transport_close(t, NULL, NULL);
        return ZTPD_EIO;
    }
    *out = t;
    return 0;
}

struct send_req {
    union {
        uv_udp_send_t udp;
        uv_write_t tcp;
    } u;
    size_t len;
    char data[];
};

static void udp_sent(uv_udp_send_t *r, int status)
{
    (void)status;
    free(r->data);
}

static void tcp_written(uv_write_t *w, int status)
{
    struct send_req *r = w->data;
    if (status < 0) {
        struct conn *c = w->handle->data;
        conn_close(c);
    }
    free(r);
}

static int tcp_write(struct conn *c, const char *buf, size_t len)
{
    struct send_req *r = malloc(sizeof *r + len);
    if (!r)
        return ZTPD_ENOMEM;
    memcpy(r->data, buf, len);
    r->len = len;
    r->u.tcp.data = r;
    uv_buf_t b = uv_buf_init(r->data, (unsigned int)len);
    if (uv_write(&r->u.tcp, (uv_stream_t *)&c->h, &b, 1, tcp_written) != 0) {
        free(r);
        conn_close(c);
        return ZTPD_EIO;
    }
    return 0;
}

static void on_connected(uv_connect_t *req, int status)
{
    struct conn *c = req->data;
    if (status < 0 || c->closing) {
        LOG_D("sip", "tcp connect failed: %s", uv_strerror(status));
        conn_close(c);
        return;
    }
    uv_read_start((uv_stream_t *)&c->h, alloc_cb, conn_read);
    if (c->pending) {
        tcp_write(c, c->pending, c->pending_len);
        free(c->pending);
        c->pending = NULL;
    }
}

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return 0;
    size_t n = a->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    return memcmp(a, b, n) == 0;
}

int ztpd_sip_transport_send(struct ztpd_sip_transport *t, const struct ztpd_sip_peer *to,
                            const char *buf, size_t len)
{
    if (t->closing)
        return ZTPD_EUNAVAIL;
    if (to->proto == ZTPD_SIP_UDP) {
        if (!t->udp_open)
            return ZTPD_EUNAVAIL;
        uv_buf_t b = uv_buf_init((char *)buf, (unsigned int)len);
        int rc = uv_udp_try_send(&t->udp, &b, 1, (const struct sockaddr *)&to->addr);
        if (rc == (int)len)
            return 0;
        if (rc != UV_EAGAIN)
            return ZTPD_EIO;
        /* The socket buffer is full: queue a copy instead of dropping the message. */
        struct send_req *r = malloc(sizeof *r + len);
        if (!r)
            return ZTPD_ENOMEM;
        memcpy(r->data, buf, len);
        r->u.udp.data = r;
        b = uv_buf_init(r->data, (unsigned int)len);
        if (uv_udp_send(&r->u.udp, &t->udp, &b, 1, (const struct sockaddr *)&to->addr, udp_sent) !=
            0) {
            free(r);
            return ZTPD_EIO;
        }
        return 0;
    }
    if (!t->tcp_open)
        return ZTPD_EUNAVAIL;
    struct conn *c;
    for (c = t->conns; c; c = c->next)
        if (!c->closing && ((to->conn && c->id == to->conn) || same_addr(&c->peer, &to->addr)))
            break;
    if (c) {
        if (c->pending) /* still connecting: only the first message waits, the rest queue */
            return ZTPD_EUNAVAIL;
        return tcp_write(c, buf, len);
    }
    if (t->n_conns >= MAX_CONNECTIONS)
        return ZTPD_EUNAVAIL;
    c = conn_add(t);
    if (!c)
        return ZTPD_ENOMEM;
    c->peer = to->addr;
    c->pending = malloc(len);
    if (!c->pending) {
        conn_close(c);
        return ZTPD_ENOMEM;
    }
    memcpy(c->pending, buf, len);
    c->pending_len = len;
    c->connect_req.data = c;
    if (uv_tcp_connect(&c->connect_req, &c->h, (const struct sockaddr *)&to->addr, on_connected) !=
        0) {
        conn_close(c);
        return ZTPD_EIO;
    }
    return 0;
}

int ztpd_sip_transport_port(const struct ztpd_sip_transport *t)
{
    return t->port;
}

size_t ztpd_sip_transport_connections(const struct ztpd_sip_transport *t)
{
    return t->n_conns;
}

void ztpd_sip_transport_close(struct ztpd_sip_transport *t, void (*done)(void *arg), void *arg)
{
    t->closing = 1;
    t->done = done;
    t->done_arg = arg;
    /* Holds one reference so the last close callback frees t only after the loop below. */
    t->open_handles++;
    if (t->udp_open) {
        t->udp_open = 0;
        uv_close((uv_handle_t *)&t->udp, transport_handle_closed);
    }
    if (t->tcp_open) {
        t->tcp_open = 0;
        uv_close((uv_handle_t *)&t->tcp, transport_handle_closed);
    }
    for (struct conn *c = t->conns; c; c = c->next)
        conn_close(c);
    handle_closed(t);
}
