/* The SIP side of the API: registered phones joined with provisioning (MAC/IP correlation) and
 * remote reboot by NOTIFY. The SIP engine's bindings are the source of truth; they are read
 * in memory on the loop thread, so none of these handlers touches the database. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "log/log.h"
#include "loop/app.h"
#include "loop/sip_glue.h"
#include "registry/registry.h"
#include "util/error.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "api"

static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    ztpd_time_iso(t, buf);
    return json_string(buf);
}

/* The guide's registered-phone object (with_details adds what the extension view shows). */
static json_t *phone_json(struct ztpd_app *app, const struct ztpd_sip_binding *b, int with_details)
{
    struct ztpd_registration_rec r;
    const struct ztpd_device_rec *d;
    ztpd_sip_glue_record(app->sipg, b, &r, &d);
    json_t *o = json_object();
    json_object_set_new(o, "id", r.id > 0 ? json_integer((json_int_t)r.id) : json_null());
    json_object_set_new(o, "extension_number", json_string(r.extension));
    json_object_set_new(o, "ip_address", json_string(r.ip));
    json_object_set_new(o, "mac_address", str_or_null(r.mac));
    json_object_set_new(o, "user_agent", str_or_null(r.user_agent));
    json_object_set_new(o, "mac_source", str_or_null(r.mac_source));
    json_object_set_new(o, "vendor", str_or_null(r.vendor));
    json_object_set_new(o, "model", str_or_null(r.model));
    json_object_set_new(o, "config_url", str_or_null(d ? d->config_url : NULL));
    json_object_set_new(o, "first_registered", time_or_null(r.first_registered));
    json_object_set_new(o, "last_registered", time_or_null(r.last_registered));
    if (!with_details)
        return o;
    json_object_set_new(o, "port", json_integer(r.port));
    json_object_set_new(o, "transport", json_string(r.transport));
    json_object_set_new(o, "contact", json_string(b->contact));
    json_object_set_new(o, "expires_at", time_or_null(r.expires_at));
    const struct ztpd_sip_last_notify *n =
        ztpd_sip_glue_last_notify(app->sipg, b->extension, b->contact);
    if (n) {
        json_t *ln = json_object();
        json_object_set_new(ln, "event", json_string(n->event));
        json_object_set_new(ln, "result", json_string(n->result));
        json_object_set_new(ln, "code", n->code ? json_integer(n->code) : json_null());
        json_object_set_new(ln, "at", time_or_null(n->at));
        json_object_set_new(o, "last_notify", ln);
    } else {
        json_object_set_new(o, "last_notify", json_null());
    }
    return o;
}

struct collect {
    struct ztpd_app *app;
    json_t *arr;
    int with_details;
    int only_with_mac;
};

static void collect_phone(const struct ztpd_sip_binding *b, void *arg)
{
    struct collect *c = arg;
    json_t *o = phone_json(c->app, b, c->with_details);
    if (c->only_with_mac && json_is_null(json_object_get(o, "mac_address"))) {
        json_decref(o);
        return;
    }
    json_array_append_new(c->arr, o);
}

static void with_mac(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    struct collect c = {app, json_array(), 0, 1};
    struct ztpd_sip *sip = ztpd_sip_glue_engine(app->sipg);
    if (sip)
        ztpd_sip_bindings_each(sip, NULL, collect_phone, &c);
    api_json(req, 200, c.arr);
}

static void by_extension(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    if (!api_authorized(app, req))
        return;
    const char *ext = m->params[0];
    struct collect c = {app, json_array(), 1, 0};
    struct ztpd_sip *sip = ztpd_sip_glue_engine(app->sipg);
    if (sip)
        ztpd_sip_bindings_each(sip, ext, collect_phone, &c);
    if (json_array_size(c.arr) == 0) {
        json_decref(c.arr);
        api_error(req, 404, "ext", "extension %s is not registered", ext);
        return;
    }
    api_json(req, 200, c.arr);
}

/* --- phone lookup --- */

struct find {
    const char *mac;      /* match by the binding's own MAC, or */
    const char *ext;      /* by extension, or */
    unsigned char ip[16]; /* by source address */
    int family;
    const struct ztpd_sip_binding *hit; /* valid during the iteration only */
    struct ztpd_sip_binding copy;
    int found;
};

static int same_ip(const struct find *f, const char *ip)
{
    unsigned char a[16];
    int family = strchr(ip, ':') ? AF_INET6 : AF_INET;
    return family == f->family && inet_pton(family, ip, a) == 1 &&
           memcmp(a, f->ip, family == AF_INET ? 4 : 16) == 0;
}

static void find_binding(const struct ztpd_sip_binding *b, void *arg)
{
    struct find *f = arg;
    if (f->found)
        return;
    int match = f->mac   ? strcmp(b->mac, f->mac) == 0
                : f->ext ? strcmp(b->extension, f->ext) == 0
                         : same_ip(f, b->ip);
    if (!match)
        return;
    f->copy = *b;
    f->found = 1;
}

static void lookup(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    if (!api_authorized(app, req))
        return;
    const char *id = m->params[0];
    struct ztpd_sip *sip = ztpd_sip_glue_engine(app->sipg);
    struct find f;
    memset(&f, 0, sizeof f);
    char mac[ZTPD_MAC_LEN + 1];
    const char *type;
    const struct ztpd_device_rec *dev = NULL;
    if (inet_pton(AF_INET, id, f.ip) == 1 || inet_pton(AF_INET6, id, f.ip) == 1) {
        type = "ip";
        f.family = strchr(id, ':') ? AF_INET6 : AF_INET;
        if (sip)
            ztpd_sip_bindings_each(sip, NULL, find_binding, &f);
        if (f.found) {
            struct ztpd_registration_rec r;
            ztpd_sip_glue_record(app->sipg, &f.copy, &r, &dev);
        }
    } else if (ztpd_mac_normalize(id, strlen(id), mac) == 0) {
        type = "mac";
        dev = ztpd_registry_device(app->reg, mac);
        f.mac = mac;
        if (sip)
            ztpd_sip_bindings_each(sip, NULL, find_binding, &f);
        if (!f.found && dev && sip) {
            /* Most phones do not send their MAC: the provisioned extension finds them. */
            f.mac = NULL;
            f.ext = dev->extension;
            ztpd_sip_bindings_each(sip, dev->extension, find_binding, &f);
        }
    } else {
        api_error(req, 400, "mac_or_ip", "\"%s\" is neither a MAC address nor an IP address", id);
        return;
    }
    if (!f.found && !dev) {
        api_error(req, 404, "mac_or_ip", "no registered phone or provisioned device matches %s",
                  id);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "identifier", json_string(id));
    json_object_set_new(o, "type", json_string(type));
    struct ztpd_registration_rec r;
    memset(&r, 0, sizeof r);
    if (f.found) {
        ztpd_sip_glue_record(app->sipg, &f.copy, &r, NULL);
        json_t *rp = json_object();
        json_object_set_new(rp, "extension_number", json_string(r.extension));
        json_object_set_new(rp, "ip_address", json_string(r.ip));
        json_object_set_new(rp, "user_agent", str_or_null(r.user_agent));
        json_object_set_new(rp, "mac_address", str_or_null(r.mac));
        json_object_set_new(rp, "mac_source", str_or_null(r.mac_source));
        json_object_set_new(rp, "last_registered", time_or_null(r.last_registered));
        json_object_set_new(o, "registered_phone", rp);
    } else {
        json_object_set_new(o, "registered_phone", json_null());
    }
    if (dev) {
        json_t *pd = json_object();
        json_object_set_new(pd, "mac_address", json_string(dev->mac));
        json_object_set_new(pd, "extension_number", json_string(dev->extension));
        json_object_set_new(pd, "vendor", json_string(dev->vendor));
        json_object_set_new(pd, "model", json_string(dev->model));
        json_object_set_new(o, "provisioned_device", pd);
    } else {
        json_object_set_new(o, "provisioned_device", json_null());
    }
    json_t *c = json_object();
    json_object_set_new(c, "matched", json_boolean(f.found && dev));
    json_object_set_new(c, "extension",
                        str_or_null(f.found ? r.extension
                                    : dev   ? dev->extension
                                            : NULL));
    json_object_set_new(c, "mac_address", str_or_null(dev ? dev->mac : r.mac));
    json_object_set_new(c, "ip_address", str_or_null(f.found ? r.ip : NULL));
    json_object_set_new(c, "vendor", str_or_null(dev ? dev->vendor : NULL));
    json_object_set_new(c, "model", str_or_null(dev ? dev->model : NULL));
    json_object_set_new(o, "correlation", c);
    api_json(req, 200, o);
}

/* --- reboot --- */

static void reboot_one(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    if (!api_authorized(app, req))
        return;
    const char *ext = m->params[0];
    if (!app->sipg) {
        api_error(req, 503, NULL, "SIP is disabled (sip.enabled: false)");
        return;
    }
    int n = ztpd_sip_glue_reboot(app->sipg, ext);
    if (n == ZTPD_ENOENT) {
        api_error(req, 404, "ext", "extension not registered");
        return;
    }
    if (n < 0) {
        api_error(req, n == ZTPD_EINVAL ? 400 : 503, NULL, "cannot send the reboot NOTIFY: %s",
                  ztpd_strerror(n));
        return;
    }
    LOG_I(MOD, "reboot NOTIFY sent to %d contacts of extension %s", n, ext);
    char msg[96];
    snprintf(msg, sizeof msg, "Reboot NOTIFY sent to %d contact%s", n, n == 1 ? "" : "s");
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "extension", json_string(ext));
    json_object_set_new(o, "sent", json_integer(n));
    json_object_set_new(o, "event", json_string(ztpd_sip_glue_reboot_event(app->sipg, ext)));
    json_object_set_new(o, "message", json_string(msg));
    api_json(req, 200, o);
}

static void reboot_all(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    if (!app->sipg) {
        api_error(req, 503, NULL, "SIP is disabled (sip.enabled: false)");
        return;
    }
    int n = ztpd_sip_glue_reboot_all(app->sipg);
    if (n < 0) {
        api_error(req, 503, NULL, "cannot queue the reboot NOTIFYs: %s", ztpd_strerror(n));
        return;
    }
    LOG_I(MOD, "reboot queued for %d registered extensions", n);
    char msg[128];
    snprintf(msg, sizeof msg, "Reboot queued for %d registered extension%s", n, n == 1 ? "" : "s");
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "queued", json_integer(n));
    json_object_set_new(o, "pace_per_second", json_integer(app->cfg->sip_reboot_pace));
    json_object_set_new(o, "message", json_string(msg));
    api_json(req, 200, o);
}

int api_phones_reboot_on_change(struct ztpd_app *app, const char *ext)
{
    if (!app->sipg || !ext || !*ext)
        return 0;
    int n = ztpd_sip_glue_reboot(app->sipg, ext);
    if (n > 0)
        LOG_I(MOD, "extension %s is registered: reboot NOTIFY sent to %d contacts", ext, n);
    return n > 0;
}

int api_phones_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "GET", "/api/registered-phones/with-mac", with_mac, app);
    rc |= ztpd_router_add(r, "GET", "/api/registered-phones/extension/{ext}", by_extension, app);
    rc |= ztpd_router_add(r, "GET", "/api/phone-lookup/{mac_or_ip}", lookup, app);
    rc |= ztpd_router_add(r, "POST", "/api/phones/reboot", reboot_all, app);
    rc |= ztpd_router_add(r, "POST", "/api/phones/{ext}/reboot", reboot_one, app);
    return rc ? ZTPD_ENOMEM : 0;
}
