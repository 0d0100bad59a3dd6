/* Provisioning requests: the last path component of a request under /provision/ (or at the root)
 * is matched against every vendor's `files` (DESIGN §5, docs/vendor-profiles.md) and answered
 * with a rendered template, a fixed status or an upload. Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "http/router.h"
#include "http/server.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "provision/discovery.h"
#include "provision/provision.h"
#include "provision/upload.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "provision"

/* What a request resolved to. */
struct target {
    const struct ztpd_vendor *v;
    const struct ztpd_vendor_file *f;
    struct ztpd_file_match m;
    const struct ztpd_device_rec *d; /* set when the name carries a provisioned MAC */
    const char *role;                /* template role to render (f->template or "device") */
};

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

/* Refuses what could name a file outside the provisioning namespace or smuggle a separator:
 * "." and ".." segments, backslashes, control bytes, an encoded "/" or "\" in the raw path (it
 * would merge segments), and a "%" left after decoding (double encoding). The server already
 * refuses an encoded NUL. Names are never used as paths except for uploads, whose names are
 * fixed text plus 12 hex digits; this is the second wall. */
static int path_is_safe(const struct ztpd_http_req *req)
{
    const char *p = req->path;
    for (const char *c = p; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f || u == '\\' || u == '%')
            return 0;
    }
    for (const char *seg = p; seg; seg = strchr(seg, '/')) {
        seg++;
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return 0;
    }
    for (const char *r = req->raw_path; (r = strchr(r, '%')); r++) {
        if (r[1] && r[2] &&
            ((r[1] == '2' && (r[2] == 'f' || r[2] == 'F')) ||
             (r[1] == '5' && (r[2] == 'c' || r[2] == 'C'))))
            return 0;
    }
    return 1;
}

static const struct ztpd_vendor_file *first_template_entry(const struct ztpd_vendor *v,
                                                           const char *role)
{
    for (size_t i = 0; i < v->n_files; i++)
        if (v->files[i].template && !strcmp(v->files[i].template, role))
            return &v->files[i];
    return NULL;
}

/* Resolves name to a target. Returns 0 (found), 404 (nothing to serve), or -1 when the name
 * carries a MAC that is not provisioned (the caller records it as discovered). The first entry
 * in vendor-name order that matches decides what kind of name it is; when that entry carries a
 * provisioned MAC, the device's own vendor then decides, so "<mac>.cfg" is Polycom's master
 * file for a Polycom phone and Yealink's device file for a Yealink phone. */
static int resolve(struct ztpd_app *app, const char *name, struct target *t)
{
    const struct ztpd_vendors *vs = app->vendors;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < vs->n && !t->f; i++) {
        t->f = ztpd_vendor_match(vs->items[i], name, &t->m);
        t->v = vs->items[i];
    }
    if (!t->f) {
        /* The original guide's /provision/<mac>.cfg, kept as it was: a name no vendor declares
         * whose part before the last "." is a MAC in any written form (00:15:65:12:34:56,
         * 00-15-65-..., 0015.6512.3456, any case) is that phone's device file. */
        const char *dot = strrchr(name, '.');
        size_t stem = dot ? (size_t)(dot - name) : strlen(name);
        if (ztpd_mac_normalize(name, stem, t->m.mac) || !strcmp(t->m.mac, "000000000000"))
            return 404;
        t->d = ztpd_registry_device(app->reg, t->m.mac);
        if (!t->d)
            return -1;
        t->v = ztpd_vendors_find(vs, t->d->vendor);
        t->f = t->v ? first_template_entry(t->v, "device") : NULL;
        if (!t->f)
            return 404;
        t->role = "device";
        return 0;
    }
    if (t->m.mac[0]) {
        char mac[13];
        memcpy(mac, t->m.mac, sizeof mac);
        t->d = ztpd_registry_device(app->reg, mac);
        if (!t->d)
            return -1;
        t->v = ztpd_vendors_find(vs, t->d->vendor);
        t->f = t->v ? ztpd_vendor_match(t->v, name, &t->m) : NULL;
        /* another vendor's name for this phone (cfg<mac>.xml asked of a Yealink): not its file */
        if (!t->f || strcmp(t->m.mac, mac))
            return 404;
    }
    t->role = t->f->template;
    return 0;
}

static void respond_status(struct ztpd_http_req *req, int status)
{
    if (status == 404) {
        ztpd_http_respond_not_found(req);
        return;
    }
    ztpd_http_respond(req, status, "text/plain", "", 0, NULL);
}

static void handle(struct ztpd_provision *p, struct ztpd_http_req *req)
{
    struct ztpd_app *app = ztpd_provision_app(p);
    int is_put = !strcmp(req->method, "PUT");
    if (!app->cfg->prov_enabled) {
        ztpd_http_respond_not_found(req);
        return;
    }
    if (!path_is_safe(req)) {
        LOG_W(MOD, "%s: refused path %s", req->peer_ip, req->raw_path);
        log_request(app, req, NULL, 400);
        static const char msg[] = "{\"success\":false,\"error\":\"invalid path\"}";
        ztpd_http_respond(req, 400, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    const char *name = strrchr(req->path, '/');
    name = name ? name + 1 : req->path;
    /* Zeroed before anything reads it: an empty last segment ("/", "/provision/") skips
     * resolve(), and the answer and the request log must then name no MAC at all. */
    struct target t = {0};
    int rc = *name ? resolve(app, name, &t) : 404;
    if (rc == -1) {
        LOG_I(MOD, "%s: unknown MAC %s requested %s", req->peer_ip, t.m.mac, req->path);
        ztpd_discovery_note(app, t.m.mac, req->peer_ip, ztpd_http_header(req, "user-agent"));
        log_request(app, req, t.m.mac, 404);
        ztpd_http_respond_not_found(req);
        return;
    }
    const char *mac = t.d ? t.d->mac : NULL;
    if (rc || (is_put && !t.f->upload)) {
        log_request(app, req, mac, 404);
        ztpd_http_respond_not_found(req);
        return;
    }
    if (t.f->upload) {
        if (is_put) {
            if (req->body_len > app->cfg->upload_max_size) {
                log_request(app, req, mac, 413);
                static const char msg[] = "{\"success\":false,\"error\":\"upload too large\"}";
                ztpd_http_respond(req, 413, "application/json", msg, sizeof msg - 1, NULL);
                return;
            }
            log_request(app, req, mac, 201);
            ztpd_upload_store(app, req, t.d->mac, name);
        } else {
            log_request(app, req, mac, 200);
            ztpd_upload_serve(app, req, t.d->mac, name);
        }
        return;
    }
    if (t.f->status) {
        log_request(app, req, mac, t.f->status);
        respond_status(req, t.f->status);
        return;
    }
    if (!t.d && !strcmp(t.role, "device")) {
        /* a per-phone template declared under a name without {mac}: no phone to render for */
        log_request(app, req, NULL, 404);
        ztpd_http_respond_not_found(req);
        return;
    }
    const char *body = NULL;
    size_t len = 0;
    char err[512] = "";
    rc = ztpd_provision_cached(p, t.v, t.d ? NULL : t.m.model, t.d, t.role, &body, &len, err,
                               sizeof err);
    if (rc) {
        LOG_E(MOD, "cannot render %s for %s: %s", name, mac ? mac : t.v->name, err);
        log_request(app, req, mac, 500);
        static const char msg[] = "{\"success\":false,\"error\":\"config rendering failed\"}";
        ztpd_http_respond(req, 500, "application/json", msg, sizeof msg - 1, NULL);
        return;
    }
    if (t.d) {
        int64_t now = ztpd_time_now();
        ztpd_registry_device_touch(app->reg, t.d->mac, now);
        ztpd_store_touch(app->store, t.d->mac, now);
    }
    log_request(app, req, mac, 200);
    LOG_D(MOD, "%s: serving %s (%s %s)", req->peer_ip, req->path, t.v->name, t.role);
    ztpd_http_respond(req, 200, t.v->content_type, body, len, "Cache-Control: no-store\r\n");
}

static void handle_route(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    (void)m;
    handle(arg, req);
}

int ztpd_provision_root(struct ztpd_provision *p, struct ztpd_http_req *req)
{
    if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD") && strcmp(req->method, "PUT"))
        return 0;
    handle(p, req);
    return 1;
}

/* A PUT may carry up to provisioning.upload_max_size only when it names an upload entry of a
 * provisioned phone; anything else keeps the server's default body limit. */
static int upload_body_allowed(const struct ztpd_http_req *req, void *arg)
{
    struct ztpd_app *app = ztpd_provision_app(arg);
    struct target t = {0};
    const char *name = strrchr(req->path, '/');
    name = name ? name + 1 : req->path;
    return path_is_safe(req) && *name && resolve(app, name, &t) == 0 && t.f->upload;
}

int ztpd_provision_routes(struct ztpd_provision *p, struct ztpd_router *r)
{
    struct ztpd_app *app = ztpd_provision_app(p);
    int rc = ztpd_router_add(r, "GET", "/provision/*", handle_route, p);
    rc |= ztpd_router_add(r, "PUT", "/provision/*", handle_route, p);
    if (!rc)
        rc = ztpd_router_set_body_limit(r, "PUT", "/provision/*", app->cfg->upload_max_size,
                                        upload_body_allowed);
    return rc;
}
