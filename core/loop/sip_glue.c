#include "loop/sip_glue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log.h"
#include "loop/app.h"
#include "lua/detect.h"
#include "lua/vendors.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/error.h"
#include "util/hmap.h"

#define MOD "sip"
#define DEFAULT_REBOOT_EVENT "check-sync;reboot=true"

/* Persistence state of one binding, keyed "<ext>\n<contact>". While its insert is in flight
 * the op points at it too; a binding that goes meanwhile leaves the map and the op frees it. */
struct bstate {
    int inserting;
    int gone;  /* removed while inserting: the op deletes the new row and frees this */
    int dirty; /* refreshed while inserting: `pending` is written once the id is known */
    struct ztpd_registration_rec pending;
    int has_notify;
    struct ztpd_sip_last_notify notify;
};

static const char *const results[] = {"ok",          "rejected",   "timeout", "auth_failed",
                                      "unreachable", "no_contact", NULL};
#define N_RESULTS 6

struct ztpd_sip_glue {
    struct ztpd_app *app;
    struct ztpd_sip *sip;
    struct ztpd_hmap *state;   /* key → struct bstate* */
    struct ztpd_hmap *ext_dev; /* extension → device MAC (malloc'd), rebuilt per generation */
    uint64_t ext_dev_gen;
    int ext_dev_built;
    uint64_t notify_counts[N_RESULTS + 1];
    /* SIP User-Agent → what the vendor profiles detect in it, for phones with no provisioned
     * device. Few distinct User-Agents exist on a site, and running every profile's Lua
     * pattern on every REGISTER refresh would cost more than the rest of the REGISTER. */
    struct ztpd_hmap *ua_seen;
};

struct ua_guess {
    char vendor[ZTPD_S_VENDOR];
    char model[ZTPD_S_VENDOR];
};

#define UA_SEEN_MAX 512

struct insert_op {
    struct ztpd_store_op op; /* first: the store hands this pointer back */
    struct ztpd_sip_glue *g;
    struct bstate *bs;
    struct ztpd_registration_rec rec;
    int64_t id;
};

/* Copies s into d (cap bytes), cut at cap - 1 bytes: the ABI's fields are fixed-size. */
static void cpy(char *d, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    memcpy(d, s, n);
    d[n] = '\0';
}

#define KEY_CAP (64 + ZTPD_S_URL + 2)

static void make_key(char *key, size_t cap, const char *ext, const char *contact)
{
    cpy(key, cap, ext);
    size_t n = strlen(key);
    if (n + 1 < cap) {
        key[n++] = '\n';
        cpy(key + n, cap - n, contact);
    }
}

static void free_mac(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

static void rebuild_ext_dev(struct ztpd_sip_glue *g)
{
    struct ztpd_registry *reg = g->app->reg;
    if (g->ext_dev_built && g->ext_dev_gen == ztpd_registry_generation(reg))
        return;
    if (g->ext_dev) {
        ztpd_hmap_each(g->ext_dev, free_mac, NULL);
        ztpd_hmap_free(g->ext_dev);
        g->ext_dev = NULL;
    }
    g->ext_dev_built = 0;
    if (ztpd_hmap_new(&g->ext_dev))
        return;
    size_t n;
    const struct ztpd_device_rec **all = ztpd_registry_devices(reg, &n);
    for (size_t i = 0; all && i < n; i++) {
        if (!all[i]->extension[0] || ztpd_hmap_get(g->ext_dev, all[i]->extension))
            continue; /* sorted by MAC: the lowest one wins */
        char *mac = strdup(all[i]->mac);
        if (!mac || ztpd_hmap_put(g->ext_dev, all[i]->extension, mac, NULL)) {
            free(mac);
            break;
        }
    }
    free(all);
    g->ext_dev_gen = ztpd_registry_generation(reg);
    g->ext_dev_built = 1;
}

const struct ztpd_device_rec *ztpd_sip_glue_device_for(struct ztpd_sip_glue *g, const char *ext)
{
    if (!g || !ext)
        return NULL;
    rebuild_ext_dev(g);
    const char *mac = g->ext_dev ? ztpd_hmap_get(g->ext_dev, ext) : NULL;
    return mac ? ztpd_registry_device(g->app->reg, mac) : NULL;
}

/* Vendor and model the profiles read from a SIP User-Agent, cached by User-Agent (a miss is
 * cached too); NULL when no profile recognised it or out of memory. */
static const struct ua_guess *ua_guess(struct ztpd_sip_glue *g, const char *ua)
{
    if (!g->ua_seen && ztpd_hmap_new(&g->ua_seen))
        return NULL;
    struct ua_guess *guess = ztpd_hmap_get(g->ua_seen, ua);
    if (guess)
        return guess->vendor[0] ? guess : NULL;
    if (ztpd_hmap_count(g->ua_seen) >= UA_SEEN_MAX) {
        /* A flood of made-up User-Agents must not grow memory: start over. */
        ztpd_hmap_each(g->ua_seen, free_mac, NULL);
        ztpd_hmap_free(g->ua_seen);
        g->ua_seen = NULL;
        if (ztpd_hmap_new(&g->ua_seen))
            return NULL;
    }
    guess = calloc(1, sizeof *guess);
    if (!guess)
        return NULL;
    struct ztpd_detect det;
    if (ztpd_vendors_detect(g->app->vendors, g->app->lua, ZTPD_UA_SIP, ua, NULL, &det) == 1 &&
        det.by_ua) {
        cpy(guess->vendor, sizeof guess->vendor, det.vendor->name);
        if (det.model_known)
            cpy(guess->model, sizeof guess->model, det.model);
    }
    if (ztpd_hmap_put(g->ua_seen, ua, guess, NULL)) {
        free(guess);
        return NULL;
    }
    return guess->vendor[0] ? guess : NULL;
}

void ztpd_sip_glue_record(struct ztpd_sip_glue *g, const struct ztpd_sip_binding *b,
                          struct ztpd_registration_rec *r, const struct ztpd_device_rec **dev)
{
    memset(r, 0, sizeof *r);
    r->id = b->store_id;
    cpy(r->extension, sizeof r->extension, b->extension);
    cpy(r->ip, sizeof r->ip, b->ip);
    r->port = b->port;
    cpy(r->transport, sizeof r->transport, b->transport);
    cpy(r->user_agent, sizeof r->user_agent, b->user_agent);
    cpy(r->contact, sizeof r->contact, b->contact);
    r->first_registered = b->first_registered;
    r->last_registered = b->last_registered;
    r->expires_at = b->expires_at;
    const struct ztpd_device_rec *d = NULL;
    if (b->mac[0]) {
        cpy(r->mac, sizeof r->mac, b->mac);
        snprintf(r->mac_source, sizeof r->mac_source, "sip_registration");
        d = ztpd_registry_device(g->app->reg, b->mac);
    } else {
        d = ztpd_sip_glue_device_for(g, b->extension);
        if (d) {
            cpy(r->mac, sizeof r->mac, d->mac);
            snprintf(r->mac_source, sizeof r->mac_source, "provisioning");
        }
    }
    if (d) {
        cpy(r->vendor, sizeof r->vendor, d->vendor);
        cpy(r->model, sizeof r->model, d->model);
    } else {
        /* Not provisioned: what the User-Agent says, else the vendor owning the MAC's OUI. */
        const struct ua_guess *guess = b->user_agent[0] ? ua_guess(g, b->user_agent) : NULL;
        const struct ztpd_vendor *v = NULL;
        if (guess) {
            cpy(r->vendor, sizeof r->vendor, guess->vendor);
            cpy(r->model, sizeof r->model, guess->model);
        } else if (r->mac[0] && (v = ztpd_vendors_by_oui(g->app->vendors, r->mac))) {
            cpy(r->vendor, sizeof r->vendor, v->name);
        }
    }
    if (dev)
        *dev = d;
}

/* --- persistence --- */

static void insert_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct insert_op *o = (struct insert_op *)op;
    op->status = be->registration_upsert(h, &o->rec, &o->id);
}

static void delete_row(struct ztpd_sip_glue *g, struct ztpd_registration_rec *r, int64_t id)
{
    r->id = id;
    ztpd_store_registration(g->app->store, r, 1);
}

static void insert_done(struct ztpd_store_op *op)
{
    struct insert_op *o = (struct insert_op *)op;
    struct ztpd_sip_glue *g = o->g;
    struct bstate *bs = o->bs;
    int ok = op->status == ZTPD_STORAGE_OK && o->id > 0;
    if (!ok)
        LOG_W(MOD, "registration of extension %s not persisted (%s); retried at its next refresh",
              o->rec.extension, ztpd_store_strstatus(op->status));
    if (bs->gone) {
        if (ok)
            delete_row(g, &o->rec, o->id);
        free(bs);
        free(o);
        return;
    }
    bs->inserting = 0;
    if (ok) {
        if (!g->sip ||
            ztpd_sip_binding_set_store_id(g->sip, o->rec.extension, o->rec.contact, o->id) != 0) {
            /* Gone without a callback (SIP stopped): its row would come back at restart. */
            if (g->sip)
                delete_row(g, &o->rec, o->id);
        } else if (bs->dirty) {
            bs->pending.id = o->id;
            ztpd_store_registration(g->app->store, &bs->pending, 0);
        }
    }
    bs->dirty = 0;
    free(o);
}

static void submit_insert(struct ztpd_sip_glue *g, struct bstate *bs,
                          const struct ztpd_registration_rec *r)
{
    struct insert_op *o = calloc(1, sizeof *o);
    if (!o) {
        LOG_W(MOD, "out of memory: registration of extension %s not persisted", r->extension);
        return;
    }
    o->op.run = insert_run;
    o->op.done = insert_done;
    o->g = g;
    o->bs = bs;
    o->rec = *r;
    o->rec.id = 0;
    bs->inserting = 1;
    bs->dirty = 0;
    ztpd_store_submit(g->app->store, &o->op);
}

static struct bstate *state_get(struct ztpd_sip_glue *g, const char *key, int create)
{
    struct bstate *bs = ztpd_hmap_get(g->state, key);
    if (bs || !create)
        return bs;
    bs = calloc(1, sizeof *bs);
    if (bs && ztpd_hmap_put(g->state, key, bs, NULL)) {
        free(bs);
        bs = NULL;
    }
    return bs;
}

static void on_binding(int event, const struct ztpd_sip_binding *b, void *arg)
{
    struct ztpd_sip_glue *g = arg;
    char key[KEY_CAP];
    struct ztpd_registration_rec r;
    ztpd_sip_glue_record(g, b, &r, NULL);
    make_key(key, sizeof key, b->extension, b->contact);
    struct bstate *bs =
        state_get(g, key, event == ZTPD_SIP_BINDING_ADDED || event == ZTPD_SIP_BINDING_REFRESHED);
    switch (event) {
    case ZTPD_SIP_BINDING_ADDED:
    case ZTPD_SIP_BINDING_REFRESHED:
        LOG_D(MOD, "%s %s from %s:%d (%s)",
              event == ZTPD_SIP_BINDING_ADDED ? "registered" : "refreshed", b->extension, b->ip,
              b->port, b->transport);
        if (b->store_id > 0) {
            ztpd_store_registration(g->app->store, &r, 0);
        } else if (bs && bs->inserting) {
            bs->pending = r;
            bs->dirty = 1;
        } else if (bs) {
            submit_insert(g, bs, &r);
        }
        if (event == ZTPD_SIP_BINDING_ADDED)
            LOG_I(MOD, "extension %s registered from %s:%d over %s", b->extension, b->ip, b->port,
                  b->transport);
        return;
    case ZTPD_SIP_BINDING_REMOVED:
    case ZTPD_SIP_BINDING_EXPIRED:
        LOG_I(MOD, "extension %s contact %s:%d %s", b->extension, b->ip, b->port,
              event == ZTPD_SIP_BINDING_EXPIRED ? "expired" : "unregistered");
        if (b->store_id > 0)
            ztpd_store_registration(g->app->store, &r, 1);
        if (!bs)
            return;
        ztpd_hmap_remove(g->state, key);
        if (bs->inserting)
            bs->gone = 1; /* the insert op frees it */
        else
            free(bs);
        return;
    default:
        return;
    }
}

static int on_password(const char *ext, char *out, size_t cap, void *arg)
{
    struct ztpd_sip_glue *g = arg;
    const struct ztpd_extension_rec *e = ztpd_registry_extension(g->app->reg, ext);
    if (!e || !e->password[0])
        return -1;
    size_t n = strlen(e->password);
    if (n >= cap)
        return -1;
    memcpy(out, e->password, n + 1);
    return 0;
}

/* --- startup reload --- */

struct reload {
    struct ztpd_sip_glue *g;
    int64_t now;
    size_t restored, expired, skipped;
    int64_t *stale; /* ids of rows to delete */
    size_t n_stale, cap_stale;
};

static int peer_from(struct ztpd_sip_peer *p, const char *ip, int port, const char *transport)
{
    memset(p, 0, sizeof *p);
    p->proto = strcmp(transport, "tcp") == 0 ? ZTPD_SIP_TCP : ZTPD_SIP_UDP;
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)&p->addr) == 0)
        return 0;
    return uv_ip6_addr(ip, port, (struct sockaddr_in6 *)&p->addr) == 0 ? 0 : -1;
}

static void stale_add(struct reload *rl, int64_t id)
{
    if (rl->n_stale == rl->cap_stale) {
        size_t n = rl->cap_stale ? rl->cap_stale * 2 : 64;
        int64_t *p = realloc(rl->stale, n * sizeof *p);
        if (!p)
            return;
        rl->stale = p;
        rl->cap_stale = n;
    }
    rl->stale[rl->n_stale++] = id;
}

static int reload_row(const struct ztpd_registration_rec *row, void *arg)
{
    struct reload *rl = arg;
    if (row->expires_at > 0 && row->expires_at <= rl->now) {
        rl->expired++;
        stale_add(rl, row->id);
        return 0;
    }
    /* Rows this registrar did not write (no expiry, no port: imported from an older
     * installation, or the guide's own examples) are kept as records, not restored as live
     * bindings: deleting them is the registration cleanup policy's call, not ours. */
    if (row->expires_at == 0 || !row->extension[0] || !row->ip[0] || row->port <= 0) {
        rl->skipped++;
        return 0;
    }
    struct ztpd_sip_binding b;
    memset(&b, 0, sizeof b);
    cpy(b.extension, sizeof b.extension, row->extension);
    const char *tp = strcmp(row->transport, "tcp") == 0 ? "tcp" : "udp";
    if (row->contact[0]) {
        cpy(b.contact, sizeof b.contact, row->contact);
    } else {
        /* A row from before the contact column: its source address is the best guess. */
        int v6 = strchr(row->ip, ':') != NULL;
        snprintf(b.contact, sizeof b.contact, "sip:%s@%s%s%s:%d%s", row->extension, v6 ? "[" : "",
                 row->ip, v6 ? "]" : "", (int)row->port,
                 strcmp(tp, "tcp") == 0 ? ";transport=tcp" : "");
    }
    cpy(b.contact_host, sizeof b.contact_host, row->ip);
    b.contact_port = row->port;
    cpy(b.ip, sizeof b.ip, row->ip);
    b.port = row->port;
    cpy(b.transport, sizeof b.transport, tp);
    cpy(b.user_agent, sizeof b.user_agent, row->user_agent);
    if (strcmp(row->mac_source, "sip_registration") == 0) {
        cpy(b.mac, sizeof b.mac, row->mac);
        snprintf(b.mac_source, sizeof b.mac_source, "sip_registration");
    }
    b.first_registered = row->first_registered;
    b.last_registered = row->last_registered;
    b.expires_at = row->expires_at;
    b.store_id = row->id;
    if (peer_from(&b.peer, b.ip, b.port, tp) != 0 ||
        ztpd_sip_binding_restore(rl->g->sip, &b) != 0) {
        rl->skipped++;
        return 0;
    }
    char key[KEY_CAP];
    make_key(key, sizeof key, b.extension, b.contact);
    (void)state_get(rl->g, key, 1);
    rl->restored++;
    return 0;
}

static int reload(struct ztpd_sip_glue *g)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(g->app->store);
    void *h = ztpd_store_handle(g->app->store);
    struct reload rl = {.g = g, .now = (int64_t)time(NULL)};
    int st = be->registration_list(h, reload_row, &rl);
    if (st != ZTPD_STORAGE_OK) {
        LOG_W(MOD, "cannot read persisted registrations (%s): phones re-register on their own",
              ztpd_store_strstatus(st));
        free(rl.stale);
        return 0;
    }
    /* Synchronous: this runs before the storage thread starts, like the registry load. */
    for (size_t i = 0; i < rl.n_stale; i++)
        (void)be->registration_delete(h, rl.stale[i]);
    free(rl.stale);
    LOG_I(MOD,
          "reloaded %zu persisted registrations (%zu expired removed, %zu kept as records only)",
          rl.restored, rl.expired, rl.skipped);
    return 0;
}

int ztpd_sip_glue_start(struct ztpd_sip_glue **out, struct ztpd_app *app, char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    *out = NULL;
    if (!cfg->sip_enabled) {
        LOG_I(MOD, "SIP disabled (sip.enabled: false)");
        return 0;
    }
    struct ztpd_sip_glue *g = calloc(1, sizeof *g);
    if (!g || ztpd_hmap_new(&g->state)) {
        free(g);
        snprintf(err, errlen, "out of memory");
        return ZTPD_ENOMEM;
    }
    g->app = app;
    struct ztpd_sip_config sc = {
        .host = cfg->sip_host,
        .port = cfg->sip_port,
        .transports = cfg->sip_transports,
        .advertise = cfg->sip_advertise,
        .realm = cfg->sip_realm,
        .nonce_ttl = cfg->sip_nonce_ttl,
        .registrar =
            {
                .default_expires = cfg->sip_expires_default,
                .min_expires = cfg->sip_expires_min,
                .max_expires = cfg->sip_expires_max,
                .max_contacts = cfg->sip_max_contacts,
            },
        .notify_pace = cfg->sip_reboot_pace,
    };
    struct ztpd_sip_callbacks cb = {.password = on_password, .binding = on_binding, .arg = g};
    int rc = ztpd_sip_new(&g->sip, app->loop, &sc, &cb);
    if (rc) {
        const char *listen = ztpd_config_lookup(cfg, "sip.listen");
        if (rc == ZTPD_EIO)
            snprintf(err, errlen,
                     "sip.listen: cannot listen on %s (%s): the address is in use or not "
                     "local; change sip.listen or set sip.enabled: false",
                     listen ? listen : "?",
                     cfg->sip_transports == ZTPD_CFG_SIP_UDP   ? "udp"
                     : cfg->sip_transports == ZTPD_CFG_SIP_TCP ? "tcp"
                                                               : "udp and tcp");
        else
            snprintf(err, errlen, "sip: cannot start the SIP service (%s)", ztpd_strerror(rc));
        g->sip = NULL;
        ztpd_sip_glue_free(g);
        return rc;
    }
    reload(g);
    LOG_I(MOD, "SIP registrar listening on %s:%d (%s), realm \"%s\"", cfg->sip_host,
          ztpd_sip_port(g->sip),
          cfg->sip_transports == (ZTPD_CFG_SIP_UDP | ZTPD_CFG_SIP_TCP) ? "udp+tcp"
          : cfg->sip_transports == ZTPD_CFG_SIP_TCP                    ? "tcp"
                                                                       : "udp",
          cfg->sip_realm);
    *out = g;
    return 0;
}

void ztpd_sip_glue_stop(struct ztpd_sip_glue *g)
{
    if (!g || !g->sip)
        return;
    ztpd_sip_free(g->sip);
    g->sip = NULL;
}

static void free_state(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void ztpd_sip_glue_free(struct ztpd_sip_glue *g)
{
    if (!g)
        return;
    ztpd_sip_glue_stop(g);
    if (g->state) {
        ztpd_hmap_each(g->state, free_state, NULL);
        ztpd_hmap_free(g->state);
    }
    if (g->ext_dev) {
        ztpd_hmap_each(g->ext_dev, free_mac, NULL);
        ztpd_hmap_free(g->ext_dev);
    }
    if (g->ua_seen) {
        ztpd_hmap_each(g->ua_seen, free_mac, NULL);
        ztpd_hmap_free(g->ua_seen);
    }
    free(g);
}

struct ztpd_sip *ztpd_sip_glue_engine(const struct ztpd_sip_glue *g)
{
    return g ? g->sip : NULL;
}

/* --- NOTIFY --- */

const struct ztpd_sip_last_notify *ztpd_sip_glue_last_notify(const struct ztpd_sip_glue *g,
                                                             const char *ext, const char *contact)
{
    if (!g)
        return NULL;
    char key[KEY_CAP];
    make_key(key, sizeof key, ext, contact);
    const struct bstate *bs = ztpd_hmap_get(g->state, key);
    return bs && bs->has_notify ? &bs->notify : NULL;
}

static void on_notify(const struct ztpd_sip_notify_result *res, void *arg)
{
    struct ztpd_sip_glue *g = arg;
    size_t i = 0;
    while (results[i] && strcmp(results[i], res->result) != 0)
        i++;
    g->notify_counts[i]++;
    if (res->code)
        LOG_D(MOD, "NOTIFY %s to %s (%s): %s, %d", res->event, res->extension,
              res->contact ? res->contact : "-", res->result, res->code);
    else
        LOG_D(MOD, "NOTIFY %s to %s (%s): %s", res->event, res->extension,
              res->contact ? res->contact : "-", res->result);
    if (!res->contact)
        return;
    char key[KEY_CAP];
    make_key(key, sizeof key, res->extension, res->contact);
    struct bstate *bs = ztpd_hmap_get(g->state, key);
    if (!bs)
        return; /* the binding went while the NOTIFY was out */
    bs->has_notify = 1;
    cpy(bs->notify.event, sizeof bs->notify.event, res->event ? res->event : "");
    cpy(bs->notify.result, sizeof bs->notify.result, res->result);
    bs->notify.code = res->code;
    bs->notify.at = (int64_t)time(NULL);
}

const char *ztpd_sip_glue_reboot_event(struct ztpd_sip_glue *g, const char *ext)
{
    const struct ztpd_device_rec *d = ztpd_sip_glue_device_for(g, ext);
    const struct ztpd_vendor *v = d ? ztpd_vendors_find(g->app->vendors, d->vendor) : NULL;
    return v && v->reboot_event && v->reboot_event[0] ? v->reboot_event : DEFAULT_REBOOT_EVENT;
}

int ztpd_sip_glue_reboot(struct ztpd_sip_glue *g, const char *ext)
{
    if (!g || !g->sip)
        return ZTPD_ENOENT;
    return ztpd_sip_notify(g->sip, ext, ztpd_sip_glue_reboot_event(g, ext), on_notify, g);
}

struct ext_list {
    char (*ext)[64];
    size_t n, cap;
};

static void collect_ext(const struct ztpd_sip_binding *b, void *arg)
{
    struct ext_list *l = arg;
    if (l->n && strcmp(l->ext[l->n - 1], b->extension) == 0)
        return; /* the bindings of an extension are listed together */
    if (l->n == l->cap) {
        size_t n = l->cap ? l->cap * 2 : 64;
        char(*p)[64] = realloc(l->ext, n * sizeof *p);
        if (!p)
            return;
        l->ext = p;
        l->cap = n;
    }
    snprintf(l->ext[l->n++], 64, "%s", b->extension);
}

int ztpd_sip_glue_reboot_all(struct ztpd_sip_glue *g)
{
    if (!g || !g->sip)
        return 0;
    struct ext_list l = {0};
    ztpd_sip_bindings_each(g->sip, NULL, collect_ext, &l);
    int queued = 0, rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        rc = ztpd_sip_notify_paced(g->sip, l.ext[i], ztpd_sip_glue_reboot_event(g, l.ext[i]),
                                   on_notify, g);
        if (rc < 0)
            break;
        queued++;
    }
    free(l.ext);
    return rc < 0 && queued == 0 ? rc : queued;
}

uint64_t ztpd_sip_glue_notify_count(const struct ztpd_sip_glue *g, const char *result)
{
    if (!g || !result)
        return 0;
    for (size_t i = 0; results[i]; i++)
        if (strcmp(results[i], result) == 0)
            return g->notify_counts[i];
    return 0;
}
