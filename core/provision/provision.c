#include "provision/provision.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/router.h"
#include "http/server.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "provision/templates.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "template/template.h"
#include "util/error.h"
#include "util/hmap.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "provision"

/* Bytes of rendered configs the cache keeps (bodies plus bookkeeping). Without a bound it held
 * one file per phone ever fetched: ~3 KB each, 300 MB at 100,000 phones. A render costs a few
 * microseconds, so the cache only has to absorb bursts (a phone fetching again while booting,
 * a site rebooting a floor); 8 MiB is ~3,000 phones' files. */
#define PROVISION_CACHE_MAX_BYTES ((size_t)8 << 20)
/* What an entry costs besides its body: the struct, its hash slot and key copy, malloc. */
#define CACHE_KEY_MAX 160
#define CACHE_ENTRY_OVERHEAD (sizeof(struct cached) + 96)

struct cached {
    uint64_t generation;
    char *body;
    size_t len;
    const char *ctype;
    struct cached *prev, *next; /* recency list, most recent first */
    char key[CACHE_KEY_MAX];    /* "d/<mac>/<role>" or "c/<vendor>/<model>/<role>" */
};

struct ztpd_provision {
    struct ztpd_app *app;
    struct ztpd_hmap *cache; /* key -> struct cached* */
    struct cached *head, *tail;
    size_t bytes; /* accounted size of every entry */
};

int ztpd_provision_new(struct ztpd_provision **out, struct ztpd_app *app)
{
    struct ztpd_provision *p = calloc(1, sizeof *p);
    if (!p || ztpd_hmap_new(&p->cache)) {
        free(p);
        return ZTPD_ENOMEM;
    }
    p->app = app;
    *out = p;
    return 0;
}

static void free_cached(const char *key, void *value, void *arg)
{
    struct cached *c = value;
    (void)key;
    (void)arg;
    free(c->body);
    free(c);
}

void ztpd_provision_invalidate(struct ztpd_provision *p)
{
    ztpd_hmap_each(p->cache, free_cached, NULL);
    ztpd_hmap_free(p->cache);
    p->cache = NULL;
    p->head = p->tail = NULL;
    p->bytes = 0;
    if (ztpd_hmap_new(&p->cache))
        LOG_E(MOD, "out of memory rebuilding the render cache");
}

void ztpd_provision_free(struct ztpd_provision *p)
{
    if (!p)
        return;
    if (p->cache) {
        ztpd_hmap_each(p->cache, free_cached, NULL);
        ztpd_hmap_free(p->cache);
    }
    free(p);
}

static void lru_unlink(struct ztpd_provision *p, struct cached *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        p->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        p->tail = c->prev;
    c->prev = c->next = NULL;
}

static void lru_push_front(struct ztpd_provision *p, struct cached *c)
{
    c->prev = NULL;
    c->next = p->head;
    if (p->head)
        p->head->prev = c;
    p->head = c;
    if (!p->tail)
        p->tail = c;
}

/* Drops least recently served entries until the cache fits its budget; keep is never dropped
 * (it is being answered). */
static void cache_trim(struct ztpd_provision *p, const struct cached *keep)
{
    while (p->bytes > PROVISION_CACHE_MAX_BYTES && p->tail && p->tail != keep) {
        struct cached *old = p->tail;
        lru_unlink(p, old);
        ztpd_hmap_remove(p->cache, old->key);
        p->bytes -= old->len + CACHE_ENTRY_OVERHEAD;
        free(old->body);
        free(old);
    }
}

/* Appends src to out with {{SERVER_IP}}, {{PORT}} and {mac} expanded (the url_format of the
 * original guide). */
void ztpd_provision_config_url(const struct ztpd_app *app, const char *mac, char *out,
                               size_t outlen)
{
    const struct ztpd_config *cfg = app->cfg;
    char port[16];
    snprintf(port, sizeof port, "%d", cfg->http_port);
    struct {
        const char *token, *value;
    } subs[] = {{"{{SERVER_IP}}", cfg->server_address},
                {"{{SIP_SERVER}}", cfg->server_address},
                {"{{PORT}}", port},
                {"{mac}", mac},
                {"{{MAC_ADDRESS}}", mac}};
    size_t o = 0;
    const char *s = cfg->url_format;
    if (!outlen)
        return;
    while (*s && o + 1 < outlen) {
        size_t i, n = sizeof subs / sizeof subs[0];
        for (i = 0; i < n; i++) {
            size_t tl = strlen(subs[i].token);
            if (strncmp(s, subs[i].token, tl) == 0) {
                int w = snprintf(out + o, outlen - o, "%s", subs[i].value);
                o += w > 0 ? (size_t)w : 0;
                if (o >= outlen)
                    o = outlen - 1;
                s += tl;
                break;
            }
        }
        if (i == n)
            out[o++] = *s++;
    }
    out[o] = '\0';
}

int ztpd_provision_vars(struct ztpd_app *app, const struct ztpd_device_rec *d,
                        struct ztpd_tpl_ctx *ctx, char *err, size_t errlen)
{
    const struct ztpd_config *cfg = app->cfg;
    const struct ztpd_extension_rec *e = ztpd_registry_extension(app->reg, d->extension);
    if (!e) {
        snprintf(err, errlen, "extension %s of device %s does not exist", d->extension, d->mac);
        return ZTPD_ENOENT;
    }
    const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, d->vendor);
    if (!v) {
        snprintf(err, errlen, "vendor %s of device %s is not loaded", d->vendor, d->mac);
        return ZTPD_ENOENT;
    }
    const struct ztpd_vendor_model *m = ztpd_vendor_model(v, d->model);
    char num[32], colon[18], upper[18], url[ZTPD_S_URL];
    ztpd_mac_format(d->mac, ':', 0, colon);
    ztpd_mac_format(d->mac, 0, 1, upper);
    snprintf(url, sizeof url, "http://%s:%d/provision/", cfg->server_address, cfg->http_port);
    int rc = 0;
    rc |= ztpd_tpl_ctx_set(ctx, "EXTENSION_NUMBER", e->number);
    rc |= ztpd_tpl_ctx_set(ctx, "EXTENSION_NAME", e->name[0] ? e->name : e->number);
    rc |= ztpd_tpl_ctx_set(ctx, "EXTENSION_PASSWORD", e->password);
    rc |= ztpd_tpl_ctx_set(ctx, "SIP_SERVER", cfg->server_address);
    snprintf(num, sizeof num, "%d", cfg->sip_port);
    rc |= ztpd_tpl_ctx_set(ctx, "SIP_PORT", num);
    rc |= ztpd_tpl_ctx_set(ctx, "SERVER_NAME", cfg->server_name);
    rc |= ztpd_tpl_ctx_set(ctx, "MAC_ADDRESS", d->mac);
    rc |= ztpd_tpl_ctx_set(ctx, "MAC_COLON", colon);
    rc |= ztpd_tpl_ctx_set(ctx, "MAC_UPPER", upper);
    rc |= ztpd_tpl_ctx_set(ctx, "VENDOR", v->name);
    rc |= ztpd_tpl_ctx_set(ctx, "MODEL", d->model);
    rc |= ztpd_tpl_ctx_set(ctx, "MODEL_LABEL", m ? m->label : d->model);
    snprintf(num, sizeof num, "%d", m ? m->lines : 1);
    rc |= ztpd_tpl_ctx_set(ctx, "LINES", num);
    rc |= ztpd_tpl_ctx_set(ctx, "COMMON_ID", m && m->common_id ? m->common_id : "");
    rc |= ztpd_tpl_ctx_set(ctx, "TIMEZONE", cfg->timezone);
    snprintf(num, sizeof num, "%d", cfg->timezone_offset);
    rc |= ztpd_tpl_ctx_set(ctx, "TIMEZONE_OFFSET", num);
    rc |= ztpd_tpl_ctx_set(ctx, "NTP_SERVER", cfg->ntp_server);
    rc |= ztpd_tpl_ctx_set(ctx, "PROVISIONING_URL", url);
    if (rc) {
        snprintf(err, errlen, "out of memory");
        return ZTPD_ENOMEM;
    }
    return 0;
}

/* The template of `role` for vendor v and model id (NULL: none known). "device" is the
 * per-phone file with the generic fallbacks; another role is "<v>_<model>_<role>.<ext>" when it
 * exists, else "<v>_<role>.<ext>". */
static const struct ztpd_tpl *role_template(const struct ztpd_app *app, const struct ztpd_vendor *v,
                                            const char *model, const char *role, const char **tname)
{
    char name[256];
    if (!strcmp(role, "device"))
        return model ? ztpd_templates_find(app->templates, v->name, model, v->template_ext, tname)
                     : NULL;
    const struct ztpd_tpl *t = NULL;
    if (model) {
        snprintf(name, sizeof name, "%s_%s_%s.%s", v->name, model, role, v->template_ext);
        t = ztpd_templates_get(app->templates, name, tname);
    }
    if (!t) {
        snprintf(name, sizeof name, "%s_%s.%s", v->name, role, v->template_ext);
        t = ztpd_templates_get(app->templates, name, tname);
    }
    return t;
}

/* The server-wide variables a shared (common) file may use: no extension, no MAC. */
static int server_vars(const struct ztpd_app *app, const struct ztpd_vendor *v,
                       const struct ztpd_vendor_model *m, struct ztpd_tpl_ctx *ctx)
{
    const struct ztpd_config *cfg = app->cfg;
    char num[32], url[ZTPD_S_URL];
    int rc = 0;
    snprintf(url, sizeof url, "http://%s:%d/provision/", cfg->server_address, cfg->http_port);
    rc |= ztpd_tpl_ctx_set(ctx, "SIP_SERVER", cfg->server_address);
    snprintf(num, sizeof num, "%d", cfg->sip_port);
    rc |= ztpd_tpl_ctx_set(ctx, "SIP_PORT", num);
    rc |= ztpd_tpl_ctx_set(ctx, "SERVER_NAME", cfg->server_name);
    rc |= ztpd_tpl_ctx_set(ctx, "TIMEZONE", cfg->timezone);
    snprintf(num, sizeof num, "%d", cfg->timezone_offset);
    rc |= ztpd_tpl_ctx_set(ctx, "TIMEZONE_OFFSET", num);
    rc |= ztpd_tpl_ctx_set(ctx, "NTP_SERVER", cfg->ntp_server);
    rc |= ztpd_tpl_ctx_set(ctx, "PROVISIONING_URL", url);
    rc |= ztpd_tpl_ctx_set(ctx, "VENDOR", v->name);
    if (m) {
        rc |= ztpd_tpl_ctx_set(ctx, "MODEL", m->id);
        rc |= ztpd_tpl_ctx_set(ctx, "MODEL_LABEL", m->label);
        snprintf(num, sizeof num, "%d", m->lines);
        rc |= ztpd_tpl_ctx_set(ctx, "LINES", num);
        rc |= ztpd_tpl_ctx_set(ctx, "COMMON_ID", m->common_id ? m->common_id : "");
    }
    return rc ? ZTPD_ENOMEM : 0;
}

int ztpd_provision_render_role(struct ztpd_app *app, const struct ztpd_vendor *v,
                               const struct ztpd_vendor_model *m, const struct ztpd_device_rec *d,
                               const char *role, char **out, size_t *len, char *err, size_t errlen)
{
    const char *tname = NULL;
    const struct ztpd_tpl *t =
        role_template(app, v, d ? d->model : (m ? m->id : NULL), role, &tname);
    if (!t) {
        snprintf(err, errlen, "no %s template for %s %s", role, v->name,
                 d ? d->model : (m ? m->id : "(any model)"));
        return ZTPD_ENOENT;
    }
    struct ztpd_tpl_ctx *ctx;
    if (ztpd_tpl_ctx_new(&ctx))
        return ZTPD_ENOMEM;
    int rc = d ? ztpd_provision_vars(app, d, ctx, err, errlen) : server_vars(app, v, m, ctx);
    if (rc == ZTPD_ENOMEM && !d)
        snprintf(err, errlen, "out of memory");
    if (!rc)
        rc = ztpd_vendor_prepare(v, app->lua, ctx, err, errlen);
    if (!rc) {
        char terr[256];
        rc = ztpd_tpl_render(t, ctx, v->format, out, len, terr, sizeof terr);
        if (rc)
            snprintf(err, errlen, "%s: %s", tname, terr);
    }
    ztpd_tpl_ctx_free(ctx);
    return rc;
}

int ztpd_provision_render(struct ztpd_app *app, const struct ztpd_device_rec *d, char **out,
                          size_t *len, const char **ctype, char *err, size_t errlen)
{
    const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, d->vendor);
    if (!v) {
        snprintf(err, errlen, "vendor %s of device %s is not loaded", d->vendor, d->mac);
        return ZTPD_ENOENT;
    }
    int rc = ztpd_provision_render_role(app, v, NULL, d, "device", out, len, err, errlen);
    if (!rc)
        *ctype = v->content_type;
    return rc;
}

int ztpd_provision_cached(struct ztpd_provision *p, const struct ztpd_vendor *v,
                          const struct ztpd_vendor_model *m, const struct ztpd_device_rec *d,
                          const char *role, const char **body, size_t *len, char *err,
                          size_t errlen)
{
    char key[CACHE_KEY_MAX];
    if (d)
        snprintf(key, sizeof key, "d/%s/%s", d->mac, role);
    else
        snprintf(key, sizeof key, "c/%s/%s/%s", v->name, m ? m->id : "", role);
    uint64_t gen = ztpd_registry_generation(p->app->reg);
    struct cached *c = ztpd_hmap_get(p->cache, key);
    if (!c || c->generation != gen) {
        char *out = NULL;
        size_t n = 0;
        int rc = ztpd_provision_render_role(p->app, v, m, d, role, &out, &n, err, errlen);
        if (rc)
            return rc;
        if (!c) {
            c = calloc(1, sizeof *c);
            if (!c || ztpd_hmap_put(p->cache, key, c, NULL)) {
                free(c);
                free(out);
                snprintf(err, errlen, "out of memory");
                return ZTPD_ENOMEM;
            }
            snprintf(c->key, sizeof c->key, "%s", key);
            p->bytes += CACHE_ENTRY_OVERHEAD;
        } else {
            lru_unlink(p, c);
            p->bytes -= c->len;
        }
        free(c->body);
        c->body = out;
        c->len = n;
        c->ctype = v->content_type;
        c->generation = gen;
        p->bytes += n;
        lru_push_front(p, c);
        cache_trim(p, c);
    } else if (c != p->head) {
        lru_unlink(p, c);
        lru_push_front(p, c);
    }
    *body = c->body;
    *len = c->len;
    return 0;
}

struct ztpd_app *ztpd_provision_app(const struct ztpd_provision *p)
{
    return p->app;
}
