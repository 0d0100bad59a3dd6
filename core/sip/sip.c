/* The SIP engine facade: dispatch of decoded messages to the transaction layer, the registrar
 * and the NOTIFY client; see sip.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "log/log.h"
#include "sip/sip.h"
#include "util/error.h"

#define ALLOW "Allow: REGISTER, OPTIONS, NOTIFY\r\n"

/* One extension waiting in the reboot wave queue. */
struct paced {
    struct paced *next;
    char extension[64];
    char event[ZTPD_SIP_S_TOKEN];
    ztpd_sip_notify_cb cb;
    void *arg;
};

struct ztpd_sip {
    uv_loop_t *loop;
    struct ztpd_sip_config cfg;
    char host[64], advertise[64], realm[ZTPD_SIP_S_TOKEN];
    struct ztpd_sip_callbacks cb;
    struct ztpd_sip_transport *transport;
    struct ztpd_sip_txns *txns;
    struct ztpd_digest *digest;
    struct ztpd_registrar *registrar;
    struct ztpd_notifier *notifier;
    uv_timer_t expiry;
    uv_timer_t pacer;
    struct paced *queue_head, *queue_tail;
    size_t queued;
    struct ztpd_sip_stats stats;
    int port;
    int closing;
    int lib_inited;
    int pending_closes;
    struct ztpd_sip_msg msg; /* scratch: one message is decoded at a time */
    char out[ZTPD_SIP_MAX_HEAD];
};

static int64_t now_s(const struct ztpd_sip *s)
{
    return s->cfg.clock ? s->cfg.clock(s->cfg.clock_arg) : (int64_t)time(NULL);
}

static int wire_send(const struct ztpd_sip_peer *to, const char *buf, size_t len, void *arg)
{
    struct ztpd_sip *s = arg;
    if (s->cfg.send)
        return s->cfg.send(to, buf, len, s->cfg.send_arg);
    return ztpd_sip_transport_send(s->transport, to, buf, len);
}

static int on_receive(const struct ztpd_sip_peer *from, const char *buf, size_t len, void *arg)
{
    return ztpd_sip_input(arg, from, buf, len);
}

/* A To tag stable across retransmissions of one request: FNV-1a of Call-ID and From tag. */
static void to_tag(const struct ztpd_sip_msg *m, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = m->call_id; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    h = (h ^ '|') * 1099511628211ULL;
    for (const char *p = m->from_tag; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* Where a response goes (RFC 3261 18.2.2, RFC 3581): TCP back on the connection; UDP to the
 * source ip:port when the client asked for rport, else to the source ip and the sent-by port. */
static struct ztpd_sip_peer reply_peer(const struct ztpd_sip_msg *req,
                                       const struct ztpd_sip_peer *from)
{
    struct ztpd_sip_peer to = *from;
    if (from->proto != ZTPD_SIP_UDP || req->via_rport)
        return to;
    uint16_t port = htons(req->via_port ? req->via_port : 5060);
    if (to.addr.ss_family == AF_INET)
        ((struct sockaddr_in *)&to.addr)->sin_port = port;
    else if (to.addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *)&to.addr)->sin6_port = port;
    return to;
}

static void respond(struct ztpd_sip *s, const struct ztpd_sip_msg *req,
                    const struct ztpd_sip_peer *from, int code, const char *reason,
                    const char *extra)
{
    char tag[17];
    to_tag(req, tag);
    int len = ztpd_sip_msg_response(req, (const struct sockaddr *)&from->addr, code, reason, tag,
                                    extra, s->out, sizeof s->out);
    if (len < 0) {
        /* Only the Contact list can grow that large; answer without it rather than not at all. */
        len = ztpd_sip_msg_response(req, (const struct sockaddr *)&from->addr, code, reason, tag,
                                    NULL, s->out, sizeof s->out);
        if (len < 0)
            return;
    }
    struct ztpd_sip_peer to = reply_peer(req, from);
    ztpd_sip_txn_server_reply(s->txns, req, &to, s->out, (size_t)len);
}

static int known_method(const char *m)
{
    static const char *const known[] = {"INVITE",  "CANCEL",  "BYE",   "SUBSCRIBE",
                                        "PUBLISH", "MESSAGE", "INFO",  "UPDATE",
                                        "PRACK",   "REFER",   "NOTIFY"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(m, known[i]) == 0)
            return 1;
    return 0;
}

static void handle_request(struct ztpd_sip *s, const struct ztpd_sip_msg *m,
                           const struct ztpd_sip_peer *from)
{
    if (strcmp(m->method, "ACK") == 0)
        return; /* only ever acknowledges a final response to an INVITE we refused */
    struct ztpd_sip_peer to = reply_peer(m, from);
    if (ztpd_sip_txn_server_replay(s->txns, m, &to)) {
        s->stats.retransmissions++;
        return;
    }
    if (m->max_forwards == 0) {
        respond(s, m, from, 483, "Too Many Hops", NULL);
        return;
    }
    if (strcmp(m->method, "REGISTER") == 0) {
        char extra[ZTPD_SIP_MAX_HEAD / 2];
        const char *reason = "OK";
        int code =
            ztpd_registrar_register(s->registrar, m, from, now_s(s), &reason, extra, sizeof extra);
        respond(s, m, from, code, reason, extra);
    } else if (strcmp(m->method, "OPTIONS") == 0) {
        respond(s, m, from, 200, "OK", ALLOW);
    } else if (known_method(m->method)) {
        respond(s, m, from, 405, "Method Not Allowed", ALLOW);
    } else {
        respond(s, m, from, 501, "Not Implemented", ALLOW);
    }
}

int ztpd_sip_input(struct ztpd_sip *s, const struct ztpd_sip_peer *from, const char *buf,
                   size_t len)
{
    if (s->closing)
        return -1;
    s->stats.received++;
    /* Keep-alives: a bare CRLF on UDP, or RFC 5626 CRLFCRLF pings. */
    size_t blank = 0;
    while (blank < len && (buf[blank] == '\r' || buf[blank] == '\n'))
        blank++;
    if (blank == len) {
        if (from->proto == ZTPD_SIP_TCP && len >= 4)
            wire_send(from, "\r\n", 2, s);
        return 0;
    }
    struct ztpd_sip_msg *m = &s->msg;
    int rc = ztpd_sip_msg_decode(buf, len, m);
    if (rc != 0) {
        if (m->answerable && rc == ZTPD_ESYNTAX) {
            char reason[160];
            snprintf(reason, sizeof reason, "Bad Request (%s)", m->error);
            s->stats.bad_request++;
            respond(s, m, from, 400, reason, NULL);
            return 0;
        }
        s->stats.dropped++;
        LOG_D("sip", "dropped %zu bytes: %s", len, m->error ? m->error : ztpd_strerror(rc));
        /* On a stream the framing is lost after unparsable input. */
        return from->proto == ZTPD_SIP_TCP ? -1 : 0;
    }
    if (m->is_request) {
        handle_request(s, m, from);
    } else if (!ztpd_sip_txn_client_response(s->txns, m)) {
        s->stats.responses_stray++;
    }
    return 0;
}

static void on_expiry(uv_timer_t *t)
{
    struct ztpd_sip *s = t->data;
    ztpd_registrar_expire(s->registrar, now_s(s));
}

static void shutdown_parts(struct ztpd_sip *s);

int ztpd_sip_new(struct ztpd_sip **out, uv_loop_t *loop, const struct ztpd_sip_config *cfg,
                 const struct ztpd_sip_callbacks *cb)
{
    if (!cb || !cb->password) {
        LOG_E("sip", "sip: a password lookup callback is required");
        return ZTPD_EINVAL;
    }
    if (!cfg->send && (!cfg->host || strlen(cfg->host) >= 64)) {
        LOG_E("sip", "sip.listen: missing or too long host");
        return ZTPD_EINVAL;
    }
    if (!cfg->send && !(cfg->transports & (ZTPD_SIP_UDP | ZTPD_SIP_TCP))) {
        LOG_E("sip", "sip.transports: needs udp, tcp or both");
        return ZTPD_EINVAL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        LOG_E("sip", "sip.listen: port %d out of range", cfg->port);
        return ZTPD_EINVAL;
    }
    const char *realm = cfg->realm && cfg->realm[0] ? cfg->realm : "ztpd";
    if (strlen(realm) >= ZTPD_SIP_S_TOKEN || strpbrk(realm, "\"\r\n")) {
        LOG_E("sip", "sip.realm: too long or contains a quote or line break");
        return ZTPD_EINVAL;
    }
    struct ztpd_sip *s = calloc(1, sizeof *s);
    if (!s)
        return ZTPD_ENOMEM;
    s->loop = loop;
    s->cfg = *cfg;
    s->cb = *cb;
    snprintf(s->host, sizeof s->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
    snprintf(s->advertise, sizeof s->advertise, "%s",
             cfg->advertise && cfg->advertise[0] ? cfg->advertise : s->host);
    snprintf(s->realm, sizeof s->realm, "%s", realm);
    s->cfg.host = s->host;
    s->cfg.advertise = s->advertise;
    s->cfg.realm = s->realm;
    uv_timer_init(loop, &s->expiry);
    s->expiry.data = s;
    uv_timer_init(loop, &s->pacer);
    s->pacer.data = s;
    if (s->cfg.notify_pace <= 0)
        s->cfg.notify_pace = 20;
    int rc = ztpd_sip_msg_lib_init();
    s->lib_inited = rc == 0;
    if (rc == 0)
        rc = ztpd_digest_new(&s->digest, s->realm, cfg->nonce_ttl > 0 ? cfg->nonce_ttl : 300);
    if (rc == 0)
        rc = ztpd_registrar_new(&s->registrar, &cfg->registrar, s->digest, cb->password,
                                cb->binding, cb->arg);
    if (rc == 0)
        rc = ztpd_sip_txns_new(&s->txns, loop, wire_send, s);
    if (rc == 0 && (cfg->t1_ms || cfg->t2_ms || cfg->timer_f_ms))
        ztpd_sip_txns_set_timers(s->txns, cfg->t1_ms ? cfg->t1_ms : 500,
                                 cfg->t2_ms ? cfg->t2_ms : 4000,
                                 cfg->timer_f_ms ? cfg->timer_f_ms : 32000);
    if (rc == 0 && !cfg->send) {
        rc = ztpd_sip_transport_new(&s->transport, loop, s->host, cfg->port, cfg->transports,
                                    on_receive, s);
        if (rc == 0)
            s->port = ztpd_sip_transport_port(s->transport);
    }
    if (rc == 0) {
        char local[ZTPD_SIP_S_TOKEN];
        int ipv6 = strchr(s->advertise, ':') != NULL;
        snprintf(local, sizeof local, "%s%s%s:%d", ipv6 ? "[" : "", s->advertise, ipv6 ? "]" : "",
                 s->port ? s->port : (cfg->port ? cfg->port : 5060));
        rc = ztpd_notifier_new(&s->notifier, s->txns, local, local, cb->password, cb->arg);
    }
    if (rc != 0) {
        shutdown_parts(s);
        return rc;
    }
    uv_timer_start(&s->expiry, on_expiry, 1000, 1000);
    uv_unref((uv_handle_t *)&s->expiry); /* housekeeping alone must not keep the loop alive */
    *out = s;
    return 0;
}

static void part_closed(void *arg)
{
    struct ztpd_sip *s = arg;
    if (--s->pending_closes == 0)
        free(s);
}

static void timer_closed(uv_handle_t *h)
{
    part_closed(h->data);
}

/* Closes every part that exists (also after a half-done ztpd_sip_new); s is freed when the last
 * libuv handle has closed. */
static void shutdown_parts(struct ztpd_sip *s)
{
    s->closing = 1;
    s->pending_closes = 1;
    if (s->txns) {
        s->pending_closes++;
        ztpd_sip_txns_close(s->txns, part_closed, s);
    }
    if (s->transport) {
        s->pending_closes++;
        ztpd_sip_transport_close(s->transport, part_closed, s);
    }
    ztpd_notifier_free(s->notifier);
    ztpd_registrar_free(s->registrar);
    ztpd_digest_free(s->digest);
    if (s->lib_inited)
        ztpd_sip_msg_lib_close();
    while (s->queue_head) {
        struct paced *p = s->queue_head;
        s->queue_head = p->next;
        free(p);
    }
    s->queue_tail = NULL;
    s->queued = 0;
    s->pending_closes++;
    uv_close((uv_handle_t *)&s->pacer, timer_closed);
    uv_close((uv_handle_t *)&s->expiry, timer_closed);
}

void ztpd_sip_free(struct ztpd_sip *s)
{
    if (!s || s->closing)
        return;
    shutdown_parts(s);
}

struct collect {
    struct ztpd_sip_binding *t;
    size_t n;
};

static void collect_binding(const struct ztpd_sip_binding *b, void *arg)
{
    struct collect *c = arg;
    if (c->n < ZTPD_SIP_MAX_BINDINGS)
        c->t[c->n++] = *b;
}

int ztpd_sip_notify(struct ztpd_sip *s, const char *extension, const char *event,
                    ztpd_sip_notify_cb cb, void *arg)
{
    if (!event || !event[0] || strlen(event) >= ZTPD_SIP_S_TOKEN || strpbrk(event, "\r\n"))
        return ZTPD_EINVAL;
    /* Copy first: the table must not change while it is walked, and a failed send may run
     * callbacks that reach the daemon. */
    struct ztpd_sip_binding *targets = calloc(ZTPD_SIP_MAX_BINDINGS, sizeof *targets);
    if (!targets)
        return ZTPD_ENOMEM;
    struct collect c = {targets, 0};
    ztpd_registrar_each(s->registrar, extension, collect_binding, &c);
    int started = 0;
    for (size_t i = 0; i < c.n; i++)
        if (ztpd_notifier_send(s->notifier, &targets[i], event, cb, arg) == 0)
            started++;
    free(targets);
    if (c.n == 0)
        return ZTPD_ENOENT;
    return started;
}

static void on_pace(uv_timer_t *t)
{
    struct ztpd_sip *s = t->data;
    /* pace per second, in ten waves; at least one extension per wave */
    int wave = (s->cfg.notify_pace + 9) / 10;
    for (int i = 0; i < wave && s->queue_head; i++) {
        struct paced *p = s->queue_head;
        s->queue_head = p->next;
        if (!s->queue_head)
            s->queue_tail = NULL;
        s->queued--;
        if (ztpd_sip_notify(s, p->extension, p->event, p->cb, p->arg) == ZTPD_ENOENT && p->cb) {
            struct ztpd_sip_notify_result r = {p->extension, "", p->event, "no_contact", 0};
            p->cb(&r, p->arg);
        }
        free(p);
    }
    if (!s->queue_head)
        uv_timer_stop(&s->pacer);
}

int ztpd_sip_notify_paced(struct ztpd_sip *s, const char *extension, const char *event,
                          ztpd_sip_notify_cb cb, void *arg)
{
    if (!event || !event[0] || strlen(event) >= ZTPD_SIP_S_TOKEN || strpbrk(event, "\r\n") ||
        !extension || !extension[0] || strlen(extension) >= 64)
        return ZTPD_EINVAL;
    struct paced *p = calloc(1, sizeof *p);
    if (!p)
        return ZTPD_ENOMEM;
    snprintf(p->extension, sizeof p->extension, "%s", extension);
    snprintf(p->event, sizeof p->event, "%s", event);
    p->cb = cb;
    p->arg = arg;
    if (s->queue_tail)
        s->queue_tail->next = p;
    else
        s->queue_head = p;
    s->queue_tail = p;
    s->queued++;
    if (!uv_is_active((uv_handle_t *)&s->pacer))
        uv_timer_start(&s->pacer, on_pace, 100, 100);
    return (int)s->queued;
}

void ztpd_sip_bindings_each(const struct ztpd_sip *s, const char *extension,
                            void (*cb)(const struct ztpd_sip_binding *b, void *arg), void *arg)
{
    ztpd_registrar_each(s->registrar, extension, cb, arg);
}

int ztpd_sip_binding_restore(struct ztpd_sip *s, const struct ztpd_sip_binding *b)
{
    return ztpd_registrar_restore(s->registrar, b);
}

int ztpd_sip_binding_set_store_id(struct ztpd_sip *s, const char *extension, const char *contact,
                                  int64_t id)
{
    return ztpd_registrar_set_store_id(s->registrar, extension, contact, id);
}

size_t ztpd_sip_expire_now(struct ztpd_sip *s)
{
    return ztpd_registrar_expire(s->registrar, now_s(s));
}

int ztpd_sip_port(const struct ztpd_sip *s)
{
    return s->port;
}

void ztpd_sip_stats(const struct ztpd_sip *s, struct ztpd_sip_stats *out)
{
    *out = s->stats;
    ztpd_registrar_stats(s->registrar, &out->registrar);
    out->bindings = ztpd_registrar_count(s->registrar);
    out->server_txns = ztpd_sip_txns_server_count(s->txns);
    out->client_txns = ztpd_sip_txns_client_count(s->txns);
    out->tcp_connections = s->transport ? ztpd_sip_transport_connections(s->transport) : 0;
    out->notify_pending = ztpd_notifier_pending(s->notifier);
    out->notify_queued = s->queued;
}
