#include "provision/discovery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config/config.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/detect.h"
#include "lua/vendors.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "discovery"
/* Write-behind delay: a phone retries every few seconds and a scanner many times a second, so
 * one transaction a second carries every change of that second in one go. */
#define FLUSH_DELAY_MS 1000

struct entry {
    struct ztpd_discovered_rec rec;
    struct entry *prev, *next; /* by last_seen, newest first */
    int dirty;                 /* changed since it was last handed to the store */
    int persisted;             /* its row exists, or a submitted write creates it */
};

struct ztpd_discovery {
    struct ztpd_app *app;
    struct ztpd_hmap *map; /* mac -> struct entry* */
    struct entry *head, *tail;
    size_t n, n_dirty;
    char (*dels)[ZTPD_S_MAC]; /* rows to delete at the next flush */
    size_t n_dels, cap_dels;
    uv_timer_t timer;
    int timer_ready, timer_armed;
    int inflight; /* a flush op is queued in the store */
    int stopping;
};

struct flush_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_discovery *d;
    struct ztpd_discovered_rec *rows;
    size_t n_rows;
    char (*dels)[ZTPD_S_MAC];
    size_t n_dels;
};

static struct ztpd_discovery *state_of(const struct ztpd_app *app)
{
    return app ? app->discovery : NULL;
}

static void list_unlink(struct ztpd_discovery *d, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        d->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        d->tail = e->prev;
    e->prev = e->next = NULL;
}

static void list_push_front(struct ztpd_discovery *d, struct entry *e)
{
    e->prev = NULL;
    e->next = d->head;
    if (d->head)
        d->head->prev = e;
    d->head = e;
    if (!d->tail)
        d->tail = e;
}

static void list_push_back(struct ztpd_discovery *d, struct entry *e)
{
    e->next = NULL;
    e->prev = d->tail;
    if (d->tail)
        d->tail->next = e;
    d->tail = e;
    if (!d->head)
        d->head = e;
}

static void queue_delete(struct ztpd_discovery *d, const char *mac)
{
    if (d->n_dels == d->cap_dels) {
        size_t cap = d->cap_dels ? d->cap_dels * 2 : 64;
        char(*dels)[ZTPD_S_MAC] = realloc(d->dels, cap * sizeof *dels);
        if (!dels) {
            /* the row stays; the next startup drops it again if it is over the bound */
            LOG_E(MOD, "out of memory: the row of %s is not deleted", mac);
            return;
        }
        d->dels = dels;
        d->cap_dels = cap;
    }
    snprintf(d->dels[d->n_dels++], ZTPD_S_MAC, "%s", mac);
}

/* Takes e out of the set; its row goes too when it has one. */
static void drop(struct ztpd_discovery *d, struct entry *e)
{
    list_unlink(d, e);
    ztpd_hmap_remove(d->map, e->rec.mac);
    if (e->persisted)
        queue_delete(d, e->rec.mac);
    if (e->dirty)
        d->n_dirty--;
    d->n--;
    free(e);
}

static void flush_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct flush_op *f = (struct flush_op *)op;
    int status = be->begin(h);
    /* Deletes first: a MAC evicted and seen again since has both, and its new row must stay. */
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < f->n_dels; i++) {
        status = be->discovered_delete(h, f->dels[i]);
        if (status == ZTPD_STORAGE_ENOTFOUND)
            status = ZTPD_STORAGE_OK;
    }
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < f->n_rows; i++)
        status = be->discovered_upsert(h, &f->rows[i]);
    if (status == ZTPD_STORAGE_OK)
        status = be->commit(h);
    if (status != ZTPD_STORAGE_OK)
        be->rollback(h);
    op->status = status;
}

static void arm(struct ztpd_discovery *d);

static void flush_done(struct ztpd_store_op *op)
{
    struct flush_op *f = (struct flush_op *)op;
    struct ztpd_discovery *d = f->d;
    d->inflight = 0;
    if (op->status != ZTPD_STORAGE_OK && !d->stopping) {
        /* Nothing was written: hand the same changes to the next flush (entries seen since are
         * dirty already; evicted ones stay deleted). */
        LOG_W(MOD, "cannot save %zu discovered devices (%s); retrying", f->n_rows + f->n_dels,
              ztpd_store_strstatus(op->status));
        for (size_t i = 0; i < f->n_rows; i++) {
            struct entry *e = ztpd_hmap_get(d->map, f->rows[i].mac);
            if (e && !e->dirty) {
                e->dirty = 1;
                d->n_dirty++;
            }
        }
        for (size_t i = 0; i < f->n_dels; i++)
            queue_delete(d, f->dels[i]);
    } else if (op->status != ZTPD_STORAGE_OK) {
        LOG_W(MOD, "%zu discovered devices not saved at shutdown (%s)", f->n_rows + f->n_dels,
              ztpd_store_strstatus(op->status));
    }
    free(f->rows);
    free(f->dels);
    free(f);
    if (!d->stopping && (d->n_dirty || d->n_dels))
        arm(d);
}

/* Hands every pending change to the store as one transaction. */
static void submit(struct ztpd_discovery *d)
{
    if (!d->n_dirty && !d->n_dels)
        return;
    struct flush_op *f = calloc(1, sizeof *f);
    if (!f || (d->n_dirty && !(f->rows = calloc(d->n_dirty, sizeof *f->rows)))) {
        free(f);
        LOG_E(MOD, "out of memory saving discovered devices; retrying");
        arm(d);
        return;
    }
    for (struct entry *e = d->head; e; e = e->next) {
        if (!e->dirty)
            continue;
        f->rows[f->n_rows++] = e->rec;
        e->dirty = 0;
        e->persisted = 1;
    }
    d->n_dirty = 0;
    f->dels = d->dels;
    f->n_dels = d->n_dels;
    d->dels = NULL;
    d->n_dels = d->cap_dels = 0;
    f->d = d;
    f->op.run = flush_run;
    f->op.done = flush_done;
    d->inflight = 1;
    ztpd_store_submit(d->app->store, &f->op);
}

static void on_timer(uv_timer_t *t)
{
    struct ztpd_discovery *d = t->data;
    d->timer_armed = 0;
    if (d->inflight)
        return; /* flush_done re-arms: one write in the queue at a time */
    submit(d);
}

static void arm(struct ztpd_discovery *d)
{
    if (d->stopping || !d->timer_ready || d->timer_armed || d->inflight)
        return;
    d->timer_armed = 1;
    uv_timer_start(&d->timer, on_timer, FLUSH_DELAY_MS, 0);
}

static void mark_dirty(struct ztpd_discovery *d, struct entry *e)
{
    if (!e->dirty) {
        e->dirty = 1;
        d->n_dirty++;
    }
    arm(d);
}

/* Printable ASCII only: the User-Agent is attacker-chosen and ends up in logs and JSON. */
static void copy_clean(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < outlen; s++)
        if ((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f)
            out[o++] = *s;
    out[o] = '\0';
}

static void detect_into(struct ztpd_app *app, struct entry *e)
{
    struct ztpd_detect det;
    struct ztpd_discovered_rec *r = &e->rec;
    r->vendor[0] = r->model[0] = r->firmware[0] = '\0';
    if (!ztpd_vendors_detect(app->vendors, app->lua, ZTPD_UA_HTTP, r->user_agent, r->mac, &det))
        return;
    snprintf(r->vendor, sizeof r->vendor, "%s", det.vendor->name);
    snprintf(r->model, sizeof r->model, "%s", det.model);
    snprintf(r->firmware, sizeof r->firmware, "%s", det.firmware);
}

void ztpd_discovery_note(struct ztpd_app *app, const char *mac, const char *ip,
                         const char *user_agent)
{
    struct ztpd_discovery *d = state_of(app);
    if (!d || d->stopping || app->cfg->discovered_max <= 0 || !mac || strlen(mac) != ZTPD_MAC_LEN ||
        ztpd_registry_device(app->reg, mac))
        return;
    char ua[ZTPD_S_UA];
    copy_clean(ua, sizeof ua, user_agent);
    struct entry *e = ztpd_hmap_get(d->map, mac);
    int redetect = 1;
    if (!e) {
        while (d->n >= (size_t)app->cfg->discovered_max && d->tail)
            drop(d, d->tail);
        e = calloc(1, sizeof *e);
        if (!e || ztpd_hmap_put(d->map, mac, e, NULL)) {
            free(e);
            return;
        }
        snprintf(e->rec.mac, sizeof e->rec.mac, "%s", mac);
        e->rec.first_seen = ztpd_time_now();
        d->n++;
        LOG_I(MOD, "new unprovisioned phone %s at %s", mac, ip ? ip : "?");
    } else {
        redetect = strcmp(ua, e->rec.user_agent) != 0 || !e->rec.vendor[0];
        list_unlink(d, e);
    }
    list_push_front(d, e);
    e->rec.last_seen = ztpd_time_now();
    e->rec.count++;
    copy_clean(e->rec.ip, sizeof e->rec.ip, ip);
    memcpy(e->rec.user_agent, ua, sizeof ua);
    if (redetect)
        detect_into(app, e);
    mark_dirty(d, e);
}

/* Drops entries whose MAC has been provisioned since (by the API, an import or the config). */
static void purge_provisioned(struct ztpd_discovery *d)
{
    struct entry *e = d->head;
    while (e) {
        struct entry *next = e->next;
        if (ztpd_registry_device(d->app->reg, e->rec.mac))
            drop(d, e);
        e = next;
    }
    if (d->n_dels)
        arm(d);
}

const struct ztpd_discovered_rec **ztpd_discovery_list(struct ztpd_app *app, size_t *n)
{
    struct ztpd_discovery *d = state_of(app);
    *n = 0;
    if (!d)
        return NULL;
    purge_provisioned(d);
    if (!d->n)
        return NULL;
    const struct ztpd_discovered_rec **out = malloc(d->n * sizeof *out);
    if (!out)
        return NULL;
    for (struct entry *e = d->head; e; e = e->next)
        out[(*n)++] = &e->rec;
    return out;
}

const struct ztpd_discovered_rec *ztpd_discovery_get(struct ztpd_app *app, const char *mac)
{
    struct ztpd_discovery *d = state_of(app);
    struct entry *e = d && mac ? ztpd_hmap_get(d->map, mac) : NULL;
    return e ? &e->rec : NULL;
}

void ztpd_discovery_forget(struct ztpd_app *app, const char *mac)
{
    struct ztpd_discovery *d = state_of(app);
    struct entry *e = d && mac ? ztpd_hmap_get(d->map, mac) : NULL;
    if (!e)
        return;
    /* A row may exist even when this entry never reached the store (a claim deletes it in its
     * own transaction, but a flush submitted before may write it again): delete it anyway. */
    e->persisted = 1;
    drop(d, e);
    arm(d);
}

void ztpd_discovery_flush(struct ztpd_app *app)
{
    struct ztpd_discovery *d = state_of(app);
    if (!d || d->stopping)
        return;
    d->stopping = 1;
    if (d->timer_ready) {
        uv_timer_stop(&d->timer);
        d->timer_armed = 0;
    }
    /* Even with a flush in the queue: the store runs ops in order, so this one lands after. */
    submit(d);
}

static void free_entry(const char *key, void *value, void *arg)
{
    (void)key;
    (void)arg;
    free(value);
}

void ztpd_discovery_free(struct ztpd_app *app)
{
    struct ztpd_discovery *d = state_of(app);
    if (!d)
        return;
    ztpd_hmap_each(d->map, free_entry, NULL);
    ztpd_hmap_free(d->map);
    free(d->dels);
    free(d);
    app->discovery = NULL;
}

/* ---- startup ---- */

struct loaded {
    struct ztpd_discovered_rec *rows;
    size_t n, cap;
    int oom;
};

static int collect(const struct ztpd_discovered_rec *row, void *arg)
{
    struct loaded *l = arg;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        struct ztpd_discovered_rec *rows = realloc(l->rows, cap * sizeof *rows);
        if (!rows) {
            l->oom = 1;
            return 1;
        }
        l->rows = rows;
        l->cap = cap;
    }
    l->rows[l->n++] = *row;
    return 0;
}

/* Newest last_seen first; the MAC breaks ties so the order is the same on every start. */
static int newest_first(const void *a, const void *b)
{
    const struct ztpd_discovered_rec *x = a, *y = b;
    if (x->last_seen != y->last_seen)
        return x->last_seen > y->last_seen ? -1 : 1;
    return strcmp(x->mac, y->mac);
}

int ztpd_discovery_start(struct ztpd_app *app, char *err, size_t errlen)
{
    if (app->discovery) {
        snprintf(err, errlen, "discovery already started");
        return ZTPD_EEXIST;
    }
    struct ztpd_discovery *d = calloc(1, sizeof *d);
    if (!d || ztpd_hmap_new(&d->map)) {
        free(d);
        snprintf(err, errlen, "out of memory");
        return ZTPD_ENOMEM;
    }
    d->app = app;
    app->discovery = d;

    const struct ztpd_storage_backend *be = ztpd_store_backend(app->store);
    struct loaded l = {0};
    int status = be->discovered_list(ztpd_store_handle(app->store), collect, &l);
    if (status || l.oom) {
        free(l.rows);
        snprintf(err, errlen, "cannot load discovered devices (%s)",
                 l.oom ? "out of memory" : ztpd_store_strstatus(status));
        ztpd_discovery_free(app);
        return l.oom ? ZTPD_ENOMEM : ztpd_store_error(status);
    }
    if (l.n)
        qsort(l.rows, l.n, sizeof *l.rows, newest_first);
    size_t max = app->cfg->discovered_max > 0 ? (size_t)app->cfg->discovered_max : 0;
    size_t dropped = 0;
    for (size_t i = 0; i < l.n; i++) {
        struct entry *e = NULL;
        char mac[ZTPD_MAC_LEN + 1];
        int keep = d->n < max && !ztpd_mac_normalize(l.rows[i].mac, strlen(l.rows[i].mac), mac) &&
                   !ztpd_registry_device(app->reg, mac) && !ztpd_hmap_get(d->map, mac);
        if (keep && (e = calloc(1, sizeof *e)) && !ztpd_hmap_put(d->map, mac, e, NULL)) {
            e->rec = l.rows[i];
            memcpy(e->rec.mac, mac, sizeof mac);
            e->persisted = 1;
            list_push_back(d, e);
            d->n++;
        } else {
            free(e);
            queue_delete(d, l.rows[i].mac);
            dropped++;
        }
    }
    free(l.rows);
    if (uv_timer_init(app->loop, &d->timer) == 0) {
        d->timer.data = d;
        d->timer_ready = 1;
    }
    LOG_I(MOD, "loaded %zu discovered devices (bound %zu)%s", d->n, max,
          dropped ? "; dropping the provisioned and the oldest beyond the bound" : "");
    if (d->n_dels)
        arm(d);
    return 0;
}
