/* Non-INVITE server and client transactions; see transaction.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/transaction.h"
#include "util/error.h"
#include "util/hmap.h"

#define KEY_MAX (ZTPD_SIP_S_TOKEN * 3 + 64)

/* A completed server transaction: kept in insertion order, which is also expiry order since
 * every entry lives the same Timer J span. */
struct strans {
    struct strans *next;
    uint64_t expires_ms;
    char key[KEY_MAX];
    size_t len;
    char resp[];
};

struct ctrans {
    uv_timer_t timer;
    struct ztpd_sip_txns *x;
    struct ctrans *prev, *next;
    struct ztpd_sip_peer to;
    char branch[ZTPD_SIP_S_TOKEN];
    char method[32];
    uint64_t interval, deadline;
    int final;
    ztpd_sip_txn_cb cb;
    void *arg;
    size_t len;
    char *req;
};

struct ztpd_sip_txns {
    uv_loop_t *loop;
    ztpd_sip_send_fn send;
    void *send_arg;
    uint64_t t1, t2, f;
    struct ztpd_hmap *server;
    struct strans *head, *tail;
    size_t n_server;
    uv_timer_t sweep;
    struct ctrans *clients;
    size_t n_clients;
    int closing;
    int open_handles;
    void (*done)(void *);
    void *done_arg;
};

/* RFC 3261 17.2.3: branch + sent-by + method; pre-3261 peers (no magic cookie) fall back to
 * Call-ID, CSeq and From tag. */
static void server_key(const struct ztpd_sip_msg *m, char out[KEY_MAX])
{
    if (strncmp(m->via_branch, "z9hG4bK", 7) == 0)
        snprintf(out, KEY_MAX, "%s|%s:%u|%s", m->via_branch, m->via_host, m->via_port,
                 m->cseq_method);
    else
        snprintf(out, KEY_MAX, "%s|%u|%s|%s", m->call_id, m->cseq, m->from_tag, m->cseq_method);
}

static void sweep_server(struct ztpd_sip_txns *x, uint64_t now)
{
    while (x->head && x->head->expires_ms <= now) {
        struct strans *s = x->head;
        x->head = s->next;
        if (!x->head)
            x->tail = NULL;
        if (ztpd_hmap_get(x->server, s->key) == s)
            ztpd_hmap_remove(x->server, s->key);
        x->n_server--;
        free(s);
    }
}

static void on_sweep(uv_timer_t *t)
{
    struct ztpd_sip_txns *x = t->data;
    sweep_server(x, uv_now(x->loop));
}

int ztpd_sip_txns_new(struct ztpd_sip_txns **out, uv_loop_t *loop, ztpd_sip_send_fn send, void *arg)
{
    struct ztpd_sip_txns *x = calloc(1, sizeof *x);
    if (!x)
        return ZTPD_ENOMEM;
    if (ztpd_hmap_new(&x->server) != 0) {
        free(x);
        return ZTPD_ENOMEM;
    }
    x->loop = loop;
    x->send = send;
    x->send_arg = arg;
    x->t1 = 500;
    x->t2 = 4000;
    x->f = 64 * 500;
    uv_timer_init(loop, &x->sweep);
    x->sweep.data = x;
    x->open_handles = 1;
    uv_timer_start(&x->sweep, on_sweep, 1000, 1000);
    uv_unref((uv_handle_t *)&x->sweep); /* housekeeping alone must not keep the loop alive */
    *out = x;
    return 0;
}

void ztpd_sip_txns_set_timers(struct ztpd_sip_txns *x, uint64_t t1, uint64_t t2, uint64_t f)
{
    x->t1 = t1;
    x->t2 = t2;
    x->f = f;
}

int ztpd_sip_txn_server_replay(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *req,
                               const struct ztpd_sip_peer *from)
{
    if (req->is_request && strcmp(req->method, "ACK") == 0)
        return 0;
    char key[KEY_MAX];
    server_key(req, key);
    struct strans *s = ztpd_hmap_get(x->server, key);
    if (!s)
        return 0;
    sweep_server(x, uv_now(x->loop));
    if (!(s = ztpd_hmap_get(x->server, key)))
        return 0;
    x->send(from, s->resp, s->len, x->send_arg);
    return 1;
}

int ztpd_sip_txn_server_reply(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *req,
                              const struct ztpd_sip_peer *from, const char *resp, size_t len)
{
    int rc = x->send(from, resp, len, x->send_arg);
    /* Timer J is zero on reliable transports: nothing to absorb there. */
    if (from->proto != ZTPD_SIP_UDP || x->closing)
        return rc;
    struct strans *s = malloc(sizeof *s + len);
    if (!s)
        return rc;
    server_key(req, s->key);
    memcpy(s->resp, resp, len);
    s->len = len;
    s->next = NULL;
    s->expires_ms = uv_now(x->loop) + x->f;
    void *old = NULL;
    if (ztpd_hmap_put(x->server, s->key, s, &old) != 0) {
        free(s);
        return rc;
    }
    /* A replaced entry stays in the FIFO until it expires; the sweep skips it in the map. */
    if (x->tail)
        x->tail->next = s;
    else
        x->head = s;
    x->tail = s;
    x->n_server++;
    return rc;
}

static void client_closed(uv_handle_t *h)
{
    struct ctrans *c = h->data;
    struct ztpd_sip_txns *x = c->x;
    free(c->req);
    free(c);
    if (--x->open_handles == 0 && x->closing) {
        void (*done)(void *) = x->done;
        void *arg = x->done_arg;
        free(x);
        if (done)
            done(arg);
    }
}

/* Unlinks c and releases it; the callback (if any) runs first so it may start a new one. */
static void client_finish(struct ctrans *c, int status, const struct ztpd_sip_msg *resp)
{
    struct ztpd_sip_txns *x = c->x;
    if (c->prev)
        c->prev->next = c->next;
    else
        x->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    x->n_clients--;
    uv_timer_stop(&c->timer);
    ztpd_sip_txn_cb cb = c->cb;
    void *arg = c->arg;
    uv_close((uv_handle_t *)&c->timer, client_closed);
    if (cb)
        cb(status, resp, arg);
}

static void on_client_timer(uv_timer_t *t)
{
    struct ctrans *c = t->data;
    struct ztpd_sip_txns *x = c->x;
    uint64_t now = uv_now(x->loop);
    if (now >= c->deadline) {
        client_finish(c, 0, NULL);
        return;
    }
    if (c->to.proto == ZTPD_SIP_UDP) {
        x->send(&c->to, c->req, c->len, x->send_arg);
        /* 17.1.2.2: doubling up to T2; after a provisional response, every T2. */
        c->interval = c->interval * 2 > x->t2 ? x->t2 : c->interval * 2;
    } else {
        c->interval = c->deadline - now;
    }
    uint64_t next = c->interval;
    if (now + next > c->deadline)
        next = c->deadline - now;
    uv_timer_start(&c->timer, on_client_timer, next, 0);
}

int ztpd_sip_txn_client_start(struct ztpd_sip_txns *x, const struct ztpd_sip_peer *to,
                              const char *branch, const char *method, const char *req, size_t len,
                              ztpd_sip_txn_cb cb, void *arg)
{
    if (x->closing)
        return ZTPD_EUNAVAIL;
    if (strlen(branch) >= ZTPD_SIP_S_TOKEN || strlen(method) >= 32)
        return ZTPD_EINVAL;
    struct ctrans *c = calloc(1, sizeof *c);
    if (!c || !(c->req = malloc(len))) {
        free(c);
        return ZTPD_ENOMEM;
    }
    memcpy(c->req, req, len);
    c->len = len;
    c->x = x;
    c->to = *to;
    snprintf(c->branch, sizeof c->branch, "%s", branch);
    snprintf(c->method, sizeof c->method, "%s", method);
    c->cb = cb;
    c->arg = arg;
    int rc = x->send(to, req, len, x->send_arg);
    if (rc != 0) {
        free(c->req);
        free(c);
        return rc;
    }
    uv_timer_init(x->loop, &c->timer);
    c->timer.data = c;
    x->open_handles++;
    uint64_t now = uv_now(x->loop);
    c->deadline = now + x->f;
    c->interval = to->proto == ZTPD_SIP_UDP ? x->t1 : x->f;
    uv_timer_start(&c->timer, on_client_timer, c->interval, 0);
    c->next = x->clients;
    if (x->clients)
        x->clients->prev = c;
    x->clients = c;
    x->n_clients++;
    return 0;
}

int ztpd_sip_txn_client_response(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *resp)
{
    struct ctrans *c;
    for (c = x->clients; c; c = c->next)
        if (strcmp(c->branch, resp->via_branch) == 0 &&
            strcasecmp(c->method, resp->cseq_method) == 0)
            break;
    if (!c)
        return 0;
    if (resp->status < 200) {
        /* Proceeding: keep retransmitting, but at T2 from now on. */
        c->interval = x->t2 / 2;
        return 1;
    }
    client_finish(c, resp->status, resp);
    return 1;
}

size_t ztpd_sip_txns_server_count(const struct ztpd_sip_txns *x)
{
    return ztpd_hmap_count(x->server);
}

size_t ztpd_sip_txns_client_count(const struct ztpd_sip_txns *x)
{
    return x->n_clients;
}

static void sweep_closed(uv_handle_t *h)
{
    struct ztpd_sip_txns *x = h->data;
    if (--x->open_handles == 0) {
        void (*done)(void *) = x->done;
        void *arg = x->done_arg;
        free(x);
        if (done)
            done(arg);
    }
}

void ztpd_sip_txns_close(struct ztpd_sip_txns *x, void (*done)(void *arg), void *arg)
{
    x->closing = 1;
    x->done = done;
    x->done_arg = arg;
    while (x->clients) {
        x->clients->cb = NULL;
        client_finish(x->clients, 0, NULL);
    }
    while (x->head) {
        struct strans *s = x->head;
        x->head = s->next;
        free(s);
    }
    x->tail = NULL;
    ztpd_hmap_free(x->server);
    x->server = NULL;
    uv_close((uv_handle_t *)&x->sweep, sweep_closed);
}
