/* REGISTER handling; see registrar.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sip/mac_extract.h"
#include "sip/registrar.h"
#include "util/error.h"
#include "util/hmap.h"

/* All bindings of one extension (address-of-record). */
struct aor {
    char extension[64];
    struct ztpd_sip_binding *b[ZTPD_SIP_MAX_BINDINGS];
    size_t n;
};

struct ztpd_registrar {
    struct ztpd_registrar_config cfg;
    struct ztpd_digest *digest;
    ztpd_sip_password_cb password;
    ztpd_sip_binding_cb changed;
    void *arg;
    struct ztpd_hmap *aors;
    size_t count;
    struct ztpd_registrar_stats stats;
};

int ztpd_registrar_new(struct ztpd_registrar **out, const struct ztpd_registrar_config *cfg,
                       struct ztpd_digest *d, ztpd_sip_password_cb password,
                       ztpd_sip_binding_cb changed, void *arg)
{
    if (!d || !password)
        return ZTPD_EINVAL;
    struct ztpd_registrar *r = calloc(1, sizeof *r);
    if (!r)
        return ZTPD_ENOMEM;
    if (ztpd_hmap_new(&r->aors) != 0) {
        free(r);
        return ZTPD_ENOMEM;
    }
    if (cfg)
        r->cfg = *cfg;
    if (r->cfg.default_expires <= 0)
        r->cfg.default_expires = 3600;
    if (r->cfg.min_expires <= 0)
        r->cfg.min_expires = 60;
    if (r->cfg.max_expires <= 0)
        r->cfg.max_expires = 7200;
    if (r->cfg.max_expires < r->cfg.min_expires)
        r->cfg.max_expires = r->cfg.min_expires;
    if (r->cfg.default_expires > r->cfg.max_expires)
        r->cfg.default_expires = r->cfg.max_expires;
    if (r->cfg.max_contacts <= 0)
        r->cfg.max_contacts = 10;
    if (r->cfg.max_contacts > ZTPD_SIP_MAX_BINDINGS)
        r->cfg.max_contacts = ZTPD_SIP_MAX_BINDINGS;
    r->digest = d;
    r->password = password;
    r->changed = changed;
    r->arg = arg;
    *out = r;
    return 0;
}

static void free_aor(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    struct aor *a = value;
    for (size_t i = 0; i < a->n; i++)
        free(a->b[i]);
    free(a);
}

void ztpd_registrar_free(struct ztpd_registrar *r)
{
    if (!r)
        return;
    ztpd_hmap_each(r->aors, free_aor, NULL);
    ztpd_hmap_free(r->aors);
    free(r);
}

static void notify_change(struct ztpd_registrar *r, int ev, const struct ztpd_sip_binding *b)
{
    if (r->changed)
        r->changed(ev, b, r->arg);
}

/* Removes binding i of a (event ev) and the AOR itself when it becomes empty. */
static void aor_remove(struct ztpd_registrar *r, struct aor *a, size_t i, int ev)
{
    struct ztpd_sip_binding *b = a->b[i];
    a->b[i] = a->b[--a->n];
    r->count--;
    notify_change(r, ev, b);
    free(b);
}

static void aor_drop_if_empty(struct ztpd_registrar *r, struct aor *a)
{
    if (a->n == 0) {
        ztpd_hmap_remove(r->aors, a->extension);
        free(a);
    }
}

static struct aor *aor_get(struct ztpd_registrar *r, const char *ext, int create)
{
    struct aor *a = ztpd_hmap_get(r->aors, ext);
    if (a || !create)
        return a;
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    snprintf(a->extension, sizeof a->extension, "%s", ext);
    if (ztpd_hmap_put(r->aors, a->extension, a, NULL) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

/* The binding a contact refers to: same +sip.instance when given (RFC 5626), else same URI. */
static int aor_find(const struct aor *a, const struct ztpd_sip_contact *c)
{
    for (size_t i = 0; a && i < a->n; i++) {
        if (c->instance[0] ? strcmp(a->b[i]->instance, c->instance) == 0
                           : (!a->b[i]->instance[0] && strcmp(a->b[i]->contact, c->uri) == 0))
            return (int)i;
    }
    return -1;
}

static void challenge(struct ztpd_registrar *r, int64_t now, int stale, char *extra, size_t cap)
{
    char nonce[ZTPD_DIGEST_NONCE_LEN + 1];
    ztpd_digest_nonce(r->digest, now, nonce);
    snprintf(extra, cap,
             "WWW-Authenticate: Digest realm=\"%s\", nonce=\"%s\", algorithm=MD5, "
             "qop=\"auth\"%s\r\n",
             ztpd_digest_realm(r->digest), nonce, stale ? ", stale=true" : "");
}

/* The RFC 3261 10.3 steps 1-3 as ztpd applies them: 401 / 403 / 401 stale. Returns 0 when
 * the request is authenticated, else the status to answer. */
static int authenticate(struct ztpd_registrar *r, const struct ztpd_sip_msg *req, int64_t now,
                        char *extra, size_t cap)
{
    const struct ztpd_sip_auth *a = &req->auth;
    if (!a->present || strcmp(a->realm, ztpd_digest_realm(r->digest)) != 0) {
        r->stats.challenged++;
        challenge(r, now, 0, extra, cap);
        return 401;
    }
    enum ztpd_nonce_state ns = ztpd_digest_nonce_check(r->digest, a->nonce, now);
    if (ns == ZTPD_NONCE_BAD) {
        r->stats.challenged++;
        challenge(r, now, 0, extra, cap);
        return 401;
    }
    char password[256];
    /* The AOR is the To user: a phone may only register its own extension. */
    if (strcmp(a->username, req->to_user) != 0 ||
        r->password(req->to_user, password, sizeof password, r->arg) != 0) {
        r->stats.forbidden++;
        return 403;
    }
    uint8_t ha1[ZTPD_DIGEST_HA1_LEN];
    ztpd_digest_ha1(a->username, ztpd_digest_realm(r->digest), password, ha1);
    memset(password, 0, sizeof password);
    int ok = ztpd_digest_verify(a, req->method, ha1) == 0;
    memset(ha1, 0, sizeof ha1);
    if (!ok) {
        r->stats.forbidden++;
        return 403;
    }
    /* RFC 2617: stale=true only when the credentials themselves were right. */
    if (ns == ZTPD_NONCE_STALE) {
        r->stats.stale++;
        challenge(r, now, 1, extra, cap);
        return 401;
    }
    return 0;
}

static void peer_ip(const struct ztpd_sip_peer *p, char *ip, size_t cap, int *port)
{
    ip[0] = '\0';
    *port = 0;
    if (p->addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)&p->addr;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)cap);
        *port = ntohs(in->sin_port);
    } else if (p->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)&p->addr;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)cap);
        *port = ntohs(in6->sin6_port);
    }
}

static int64_t contact_expiry(const struct ztpd_registrar *r, const struct ztpd_sip_msg *req,
                              const struct ztpd_sip_contact *c)
{
    if (c->expires >= 0)
        return c->expires;
    if (req->expires >= 0)
        return req->expires;
    return r->cfg.default_expires;
}

static void fill_binding(struct ztpd_sip_binding *b, const struct ztpd_sip_msg *req,
                         const struct ztpd_sip_contact *c, const struct ztpd_sip_peer *from,
                         int64_t now, int64_t expires)
{
    snprintf(b->extension, sizeof b->extension, "%s", req->to_user);
    snprintf(b->contact, sizeof b->contact, "%s", c->uri);
    snprintf(b->instance, sizeof b->instance, "%s", c->instance);
    snprintf(b->contact_host, sizeof b->contact_host, "%s", c->host);
    b->contact_port = c->port;
    peer_ip(from, b->ip, sizeof b->ip, &b->port);
    snprintf(b->transport, sizeof b->transport, "%s", from->proto == ZTPD_SIP_TCP ? "tcp" : "udp");
    snprintf(b->user_agent, sizeof b->user_agent, "%s", req->user_agent);
    const char *inst = c->instance;
    if (ztpd_sip_mac_extract(req->mac, &inst, 1, req->user_agent, b->mac) == 0)
        snprintf(b->mac_source, sizeof b->mac_source, "sip_registration");
    else
        b->mac[0] = b->mac_source[0] = '\0';
    snprintf(b->call_id, sizeof b->call_id, "%s", req->call_id);
    b->cseq = req->cseq;
    b->last_registered = now;
    b->expires_at = now + expires;
    b->peer = *from;
}

static void list_contacts(const struct aor *a, int64_t now, char *extra, size_t cap)
{
    size_t len = strlen(extra);
    for (size_t i = 0; a && i < a->n; i++) {
        int64_t left = a->b[i]->expires_at - now;
        int n = snprintf(extra + len, cap - len, "Contact: <%s>;expires=%lld\r\n", a->b[i]->contact,
                         (long long)(left > 0 ? left : 0));
        if (n < 0 || (size_t)n >= cap - len) {
            extra[len] = '\0'; /* the 200 stays valid with fewer Contact lines */
            return;
        }
        len += (size_t)n;
    }
}

int ztpd_registrar_register(struct ztpd_registrar *r, const struct ztpd_sip_msg *req,
                            const struct ztpd_sip_peer *from, int64_t now, const char **reason,
                            char *extra, size_t cap)
{
    extra[0] = '\0';
    if (!req->to_user[0]) {
        r->stats.bad++;
        *reason = "Bad Request (To: no extension in the URI)";
        return 400;
    }
    int code = authenticate(r, req, now, extra, cap);
    if (code) {
        *reason = code == 401 ? "Unauthorized" : "Forbidden";
        return code;
    }
    struct aor *a = aor_get(r, req->to_user, 0);

    if (req->contact_star) {
        /* RFC 3261 10.3 step 6: "*" only alone and with Expires: 0. */
        if (req->n_contacts > 0 || req->expires != 0) {
            r->stats.bad++;
            *reason = "Bad Request (Contact: * needs Expires: 0 and no other contact)";
            return 400;
        }
        while (a && a->n > 0)
            aor_remove(r, a, a->n - 1, ZTPD_SIP_BINDING_REMOVED);
        if (a)
            aor_drop_if_empty(r, a);
        r->stats.ok++;
        *reason = "OK";
        return 200;
    }

    /* Validate every contact before changing anything: the request applies entirely or not. */
    for (size_t i = 0; i < req->n_contacts; i++) {
        const struct ztpd_sip_contact *c = &req->contacts[i];
        int64_t e = contact_expiry(r, req, c);
        if (e > 0 && e < r->cfg.min_expires) {
            r->stats.bad++;
            snprintf(extra, cap, "Min-Expires: %d\r\n", r->cfg.min_expires);
            *reason = "Interval Too Brief";
            return 423;
        }
        int idx = aor_find(a, c);
        if (idx >= 0 && strcmp(a->b[idx]->call_id, req->call_id) == 0 &&
            req->cseq <= a->b[idx]->cseq) {
            r->stats.bad++;
            *reason = "Server Internal Error (CSeq out of order)";
            return 500;
        }
    }

    for (size_t i = 0; i < req->n_contacts; i++) {
        const struct ztpd_sip_contact *c = &req->contacts[i];
        int64_t e = contact_expiry(r, req, c);
        if (e > r->cfg.max_expires)
            e = r->cfg.max_expires;
        a = aor_get(r, req->to_user, e > 0);
        int idx = aor_find(a, c);
        if (e == 0) {
            if (idx >= 0)
                aor_remove(r, a, (size_t)idx, ZTPD_SIP_BINDING_REMOVED);
            continue;
        }
        if (!a) {
            *reason = "Server Internal Error (out of memory)";
            return 500;
        }
        if (idx >= 0) {
            fill_binding(a->b[idx], req, c, from, now, e);
            notify_change(r, ZTPD_SIP_BINDING_REFRESHED, a->b[idx]);
            continue;
        }
        if (a->n >= (size_t)r->cfg.max_contacts) {
            /* A rebooted phone registers a new contact while the old one lingers: the binding
             * closest to expiry makes room rather than refusing the live phone. */
            size_t oldest = 0;
            for (size_t k = 1; k < a->n; k++)
                if (a->b[k]->expires_at < a->b[oldest]->expires_at)
                    oldest = k;
            aor_remove(r, a, oldest, ZTPD_SIP_BINDING_REMOVED);
        }
        struct ztpd_sip_binding *b = calloc(1, sizeof *b);
        if (!b) {
            *reason = "Server Internal Error (out of memory)";
            return 500;
        }
        fill_binding(b, req, c, from, now, e);
        b->first_registered = now;
        a->b[a->n++] = b;
        r->count++;
        notify_change(r, ZTPD_SIP_BINDING_ADDED, b);
    }
    a = aor_get(r, req->to_user, 0);
    list_contacts(a, now, extra, cap);
    if (a)
        aor_drop_if_empty(r, a);
    r->stats.ok++;
    *reason = "OK";
    return 200;
}

struct expire_ctx {
    int64_t now;
    struct aor *due[256];
    size_t n;
    int more;
};

static void collect_due(const char *key, void *value, void *arg)
{
    (void)key;
    struct expire_ctx *x = arg;
    struct aor *a = value;
    for (size_t i = 0; i < a->n; i++) {
        if (a->b[i]->expires_at <= x->now) {
            if (x->n < sizeof x->due / sizeof x->due[0])
                x->due[x->n++] = a;
            else
                x->more = 1;
            return;
        }
    }
}

size_t ztpd_registrar_expire(struct ztpd_registrar *r, int64_t now)
{
    size_t removed = 0;
    struct expire_ctx x;
    /* The map cannot change while it is walked: collect, remove, and walk again if needed. */
    do {
        memset(&x, 0, sizeof x);
        x.now = now;
        ztpd_hmap_each(r->aors, collect_due, &x);
        for (size_t k = 0; k < x.n; k++) {
            struct aor *a = x.due[k];
            for (size_t i = a->n; i-- > 0;) {
                if (a->b[i]->expires_at <= now) {
                    aor_remove(r, a, i, ZTPD_SIP_BINDING_EXPIRED);
                    removed++;
                }
            }
            aor_drop_if_empty(r, a);
        }
    } while (x.more);
    return removed;
}

struct each_ctx {
    void (*cb)(const struct ztpd_sip_binding *b, void *arg);
    void *arg;
};

static void each_aor(const char *key, void *value, void *arg)
{
    (void)key;
    struct each_ctx *e = arg;
    struct aor *a = value;
    for (size_t i = 0; i < a->n; i++)
        e->cb(a->b[i], e->arg);
}

void ztpd_registrar_each(const struct ztpd_registrar *r, const char *extension,
                         void (*cb)(const struct ztpd_sip_binding *b, void *arg), void *arg)
{
    struct each_ctx e = {cb, arg};
    if (extension) {
        struct aor *a = ztpd_hmap_get(r->aors, extension);
        if (a)
            each_aor(extension, a, &e);
        return;
    }
    ztpd_hmap_each(r->aors, each_aor, &e);
}

int ztpd_registrar_restore(struct ztpd_registrar *r, const struct ztpd_sip_binding *b)
{
    if (!b->extension[0] || !b->contact[0])
        return ZTPD_EINVAL;
    struct aor *a = aor_get(r, b->extension, 1);
    if (!a)
        return ZTPD_ENOMEM;
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->b[i]->contact, b->contact) == 0) {
            *a->b[i] = *b;
            return 0;
        }
    }
    if (a->n >= (size_t)r->cfg.max_contacts)
        return ZTPD_ETOOBIG;
    struct ztpd_sip_binding *copy = malloc(sizeof *copy);
    if (!copy) {
        aor_drop_if_empty(r, a);
        return ZTPD_ENOMEM;
    }
    *copy = *b;
    a->b[a->n++] = copy;
    r->count++;
    return 0;
}

int ztpd_registrar_set_store_id(struct ztpd_registrar *r, const char *extension,
                                const char *contact, int64_t id)
{
    struct aor *a = ztpd_hmap_get(r->aors, extension);
    for (size_t i = 0; a && i < a->n; i++) {
        if (strcmp(a->b[i]->contact, contact) == 0) {
            a->b[i]->store_id = id;
            return 0;
        }
    }
    return ZTPD_ENOENT;
}

size_t ztpd_registrar_count(const struct ztpd_registrar *r)
{
    return r->count;
}

void ztpd_registrar_stats(const struct ztpd_registrar *r, struct ztpd_registrar_stats *out)
{
    *out = r->stats;
}
