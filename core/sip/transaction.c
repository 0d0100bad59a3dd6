/* Non-INVITE server and client transactions; see transaction.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/transaction.h"
#include "util/error.h"

#define KEY_MAX (ZTPD_SIP_S_TOKEN * 3 + 64)
#define MIN_BUCKETS 256

/* A completed UDP server transaction: only what a replay needs, in one exact-size allocation
 * (key bytes, then the response bytes; the destination is the retransmission's source). Kept in
 * insertion order, which is also expiry order since every entry lives the same Timer J span, and
 * chained in its hash bucket. At thousands of registrations per second Timer J holds hundreds of
 * thousands of these, so no fixed-size key buffer and no second allocation for a map key. */
struct strans {
    struct strans *next;  /* FIFO, oldest first */
    struct strans *hnext; /* bucket chain */
    uint64_t expires_ms;
    uint64_t hash;
    uint32_t len;   /* response bytes */
    uint16_t klen;  /* key bytes */
    uint8_t in_map; /* 0 once a newer entry with the same key replaced it */
    char data[];    /* key, then response */
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
    struct strans **buckets; /* power-of-two count; NULL until the first UDP reply */
    size_t n_buckets;
    uint64_t seed;
    struct strans *head, *tail;
    size_t n_server; /* entries in the map (replaced ones excluded) */
    uv_timer_t sweep;
    struct ctrans *clients;
    size_t n_clients;
    int closing;
    int open_handles;
    void (*done)(void *);
    void *done_arg;
};

/* Appends a string to a key under construction, truncating at the buffer's end. */
static size_t key_put(char *out, size_t at, const char *s)
{
    size_t n = strlen(s);
    if (n > KEY_MAX - 1 - at)
        n = KEY_MAX - 1 - at;
    memcpy(out + at, s, n);
    return at + n;
}

static size_t key_num(char *out, size_t at, unsigned v)
{
    char d[16];
    size_t i = sizeof d;
    d[--i] = '\0';
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return key_put(out, at, d + i);
}

/* RFC 3261 17.2.3: branch + sent-by + method; pre-3261 peers (no magic cookie) fall back to
 * Call-ID, CSeq and From tag. Built by hand rather than snprintf: this runs twice per request.
 * Returns the key length (an over-long key is truncated, which only makes it match less). */
static size_t server_key(const struct ztpd_sip_msg *m, char out[KEY_MAX])
{
    size_t n;
    if (strncmp(m->via_branch, "z9hG4bK", 7) == 0) {
        n = key_put(out, 0, m->via_branch);
        n = key_put(out, n, "|");
        n = key_put(out, n, m->via_host);
        n = key_put(out, n, ":");
        n = key_num(out, n, m->via_port);
    } else {
        n = key_put(out, 0, m->call_id);
        n = key_put(out, n, "|");
        n = key_num(out, n, m->cseq);
        n = key_put(out, n, "|");
        n = key_put(out, n, m->from_tag);
    }
    n = key_put(out, n, "|");
    n = key_put(out, n, m->cseq_method);
    out[n] = '\0';
    return n;
}

/* FNV-1a from a per-table random basis, so bucket placement differs between processes. */
static uint64_t key_hash(const struct ztpd_sip_txns *x, const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ x->seed;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The bucket link pointing at the entry with this key, or at the chain's terminating NULL. */
static struct strans **bucket_find(struct ztpd_sip_txns *x, uint64_t h, const char *k, size_t n)
{
    struct strans **pp = &x->buckets[h & (x->n_buckets - 1)];
    while (*pp && !((*pp)->hash == h && (*pp)->klen == n && memcmp((*pp)->data, k, n) == 0))
        pp = &(*pp)->hnext;
    return pp;
}

/* Rehashes into n buckets (a power of two); on allocation failure the old table stays. */
static void buckets_resize(struct ztpd_sip_txns *x, size_t n)
{
    struct strans **nb = calloc(n, sizeof *nb);
    if (!nb)
        return;
    for (size_t i = 0; i < x->n_buckets; i++) {
        struct strans *s = x->buckets[i];
        while (s) {
            struct strans *next = s->hnext;
            s->hnext = nb[s->hash & (n - 1)];
            nb[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    free(x->buckets);
    x->buckets = nb;
    x->n_buckets = n;
}

static void sweep_server(struct ztpd_sip_txns *x, uint64_t now)
{
    while (x->head && x->head->expires_ms <= now) {
        struct strans *s = x->head;
        x->head = s->next;
        if (!x->head)
            x->tail = NULL;
        if (s->in_map) {
            struct strans **pp = &x->buckets[s->hash & (x->n_buckets - 1)];
            while (*pp != s)
                pp = &(*pp)->hnext;
            *pp = s->hnext;
            x->n_server--;
        }
        free(s);
    }
    /* Give the bucket array back after a burst: shrink when a quarter full or less. */
    if (x->n_buckets > MIN_BUCKETS && x->n_server < x->n_buckets / 4) {
        size_t n = x->n_buckets;
        while (n > MIN_BUCKETS && x->n_server < n / 4)
            n /= 2;
        buckets_resize(x, n);
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
    x->loop = loop;
    x->send = send;
    x->send_arg = arg;
    x->t1 = 500;
    x->t2 = 4000;
    x->f = 64 * 500;
    /* Not a secret: only spreads buckets differently per process. */
    x->seed = (uint64_t)(uintptr_t)x ^ ((uint64_t)uv_hrtime() << 17);
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
    if (!x->n_server || from->proto != ZTPD_SIP_UDP)
        return 0;
    if (req->is_request && strcmp(req->method, "ACK") == 0)
        return 0;
    char key[KEY_MAX];
    size_t kl = server_key(req, key);
    uint64_t h = key_hash(x, key, kl);
    struct strans *s = *bucket_find(x, h, key, kl);
    if (!s)
        return 0;
    /* An entry past Timer J whose sweep has not run yet is gone already. */
    if (s->expires_ms <= uv_now(x->loop))
        return 0;
    x->send(from, s->data + s->klen, s->len, x->send_arg);
    return 1;
}

int ztpd_sip_txn_server_reply(struct ztpd_sip_txns *x, const struct ztpd_sip_msg *req,
                              const struct ztpd_sip_peer *from, const char *resp, size_t len)
{
    int rc = x->send(from, resp, len, x->send_arg);
    /* Timer J is zero on reliable transports: nothing to absorb there, so nothing is kept. */
    if (from->proto != ZTPD_SIP_UDP || x->closing || len > UINT32_MAX)
        return rc;
    char key[KEY_MAX];
    size_t kl = server_key(req, key);
    if (!x->buckets) {
        if (!(x->buckets = calloc(MIN_BUCKETS, sizeof *x->buckets)))
            return rc;
        x->n_buckets = MIN_BUCKETS;
    }
    struct strans *s = malloc(sizeof *s + kl + len);
    if (!s)
        return rc;
    memcpy(s->data, key, kl);
    memcpy(s->data + kl, resp, len);
    s->klen = (uint16_t)kl;
    s->len = (uint32_t)len;
    s->hash = key_hash(x, key, kl);
    s->next = NULL;
    s->expires_ms = uv_now(x->loop) + x->f;
    s->in_map = 1;
    struct strans **pp = bucket_find(x, s->hash, key, kl);
    if (*pp) {
        /* The replaced entry stays in the FIFO until it expires; only the map forgets it. */
        struct strans *old = *pp;
        *pp = old->hnext;
        old->in_map = 0;
        x->n_server--;
    }
    struct strans **b = &x->buckets[s->hash & (x->n_buckets - 1)];
    s->hnext = *b;
    *b = s;
    if (x->tail)
        x->tail->next = s;
    else
        x->head = s;
    x->tail = s;
    if (++x->n_server > x->n_buckets)
        buckets_resize(x, x->n_buckets * 2);
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
    return x->n_server;
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
    free(x->buckets);
    x->buckets = NULL;
    x->n_buckets = 0;
    x->n_server = 0;
    uv_close((uv_handle_t *)&x->sweep, sweep_closed);
}
