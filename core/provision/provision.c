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
#define CACHE_ENTRY_OVERHEAD (sizeof(struct cached) + 96)

struct cached {
    uint64_t generation;
    char *body;
    size_t len;
    const char *ctype;
    struct cached *prev, *next; /* recency list, most recent first */
    char mac[ZTPD_MAC_LEN + 1];
};

struct ztpd_provision {
    struct ztpd_app *app;
    struct ztpd_hmap *cache; /* mac -> struct cached* */
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
        ztpd_hmap_remove(p->cache, old->mac);
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

int ztpd_provision_render(struct ztpd_app *app, const struct ztpd_device_rec *d, char **out,
                          size_t *len, const char **ctype, char *err, size_t errlen)
{
    const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, d->vendor);
    if (!v) {
        snprintf(err, errlen, "vendor %s of device %s is not loaded", d->vendor, d->mac);
        return ZTPD_ENOENT;
    }
    const char *tname = NULL;
    const struct ztpd_tpl *t =
        ztpd_templates_find(app->templates, v->name, d->model, v->template_ext, &tname);
    if (!t) {
        snprintf(err, errlen, "no template for %s %s (not even generic.cfg)", v->name, d->model);
        return ZTPD_ENOENT;
    }
    struct ztpd_tpl_ctx *ctx;
    if (ztpd_tpl_ctx_new(&ctx))
        return ZTPD_ENOMEM;
    int rc = ztpd_provision_vars(app, d, ctx, err, errlen);
    if (!rc)
        rc = ztpd_vendor_prepare(v, app->lua, ctx, err, errlen);
    if (!rc) {
        char terr[256];
        rc = ztpd_tpl_render(t, ctx, v->format, out, len, terr, sizeof terr);
        if (rc)
            snprintf(err, errlen, "%s: %s", tname, terr);
    }
    ztpd_tpl_ctx_free(ctx);
    if (!rc)
        *ctype = v->content_type;
    return rc;
}

static void log_request(struct ztpd_app *app, struct ztpd_http_req *req, const char *mac,
                        int status)
{
    struct ztpd_request_rec r;
    memset(&r, 0, sizeof r);
    r.at = ztpd_time_now();
    snprintf(r.mac, sizeof r.mac, "%s", mac ? mac : "");
    snprintf(r.ip, sizeof r.ip, "%s", req->peer_ip);
    snprintf(r.path, sizeof r.path, "%s", req->path);
    const char *ua = ztpd_http_header(req, "user-agent");
    snprintf(r.user_agent, sizeof r.user_agent, "%s", ua ? ua : "");
    r.status = status;
    ztpd_store_log_request(app->store, &r);
}

/* Finds the MAC a request is about: the last path component without its extension, so
 * "/provision/{mac}.cfg/000bea85bc14.cfg" (what a misconfigured ZIP 37G asks) works too. */
static int mac_of_path(const char *path, char mac[ZTPD_MAC_LEN + 1])
{
    const char *file = strrchr(path, '/');
    file = file ? file + 1 : path;
    const char *dot = strrchr(file, '.');
    size_t len = dot ? (size_t)(dot - file) : strlen(file);
    return ztpd_mac_normalize(file, len, mac);
}

static void handle_provision(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_provision *p = arg;
    struct ztpd_app *app = p->app;
    char mac[ZTPD_MAC_LEN + 1];
    (void)m;
    if (!app->cfg->prov_enabled) {
        ztpd_http_respond_not_found(req);
        return;
    }
    if (mac_of_path(req->path, mac)) {
        log_request(app, req, NULL, 404);
        ztpd_http_respond_not_found(req);
        return;
    }
    const struct ztpd_device_rec *d = ztpd_registry_device(app->reg, mac);
    if (!d) {
        LOG_I(MOD, "%s: unknown MAC %s requested %s", req->peer_ip, mac, req->path);
        log_request(app, req, mac, 404);
        ztpd_http_respond_not_found(req);
        return;
    }
    uint64_t gen = ztpd_registry_generation(app->reg);
    struct cached *c = ztpd_hmap_get(p->cache, mac);
    if (!c || c->generation != gen) {
        char *body = NULL, err[512] = "";
        size_t len = 0;
        const char *ctype = "text/plain";
        int rc = ztpd_provision_render(app, d, &body, &len, &ctype, err, sizeof err);
        if (rc) {
            LOG_E(MOD, "cannot render config for %s: %s", mac, err);
            log_request(app, req, mac, 500);
            static const char msg[] = "{\"success\":false,\"error\":\"config rendering failed\"}";
            ztpd_http_respond(req, 500, "application/json", msg, sizeof msg - 1, NULL);
            return;
        }
        if (!c) {
            c = calloc(1, sizeof *c);
            if (!c || ztpd_hmap_put(p->cache, mac, c, NULL)) {
                free(c);
                free(body);
                ztpd_http_respond(req, 503, "text/plain", "", 0, NULL);
                return;
            }
            memcpy(c->mac, mac, sizeof c->mac);
            p->bytes += CACHE_ENTRY_OVERHEAD;
        } else {
            lru_unlink(p, c);
            p->bytes -= c->len;
        }
        free(c->body);
        c->body = body;
        c->len = len;
        c->ctype = ctype;
        c->generation = gen;
        p->bytes += len;
        lru_push_front(p, c);
        cache_trim(p, c);
    } else if (c != p->head) {
        lru_unlink(p, c);
        lru_push_front(p, c);
    }
    int64_t now = ztpd_time_now();
    ztpd_registry_device_touch(app->reg, mac, now);
    ztpd_store_touch(app->store, mac, now);
    log_request(app, req, mac, 200);
    LOG_D(MOD, "%s: serving %s for %s", req->peer_ip, req->path, mac);
    ztpd_http_respond(req, 200, c->ctype, c->body, c->len, "Cache-Control: no-store\r\n");
}

int ztpd_provision_routes(struct ztpd_provision *p, struct ztpd_router *r)
{
    return ztpd_router_add(r, "GET", "/provision/*", handle_provision, p);
}
