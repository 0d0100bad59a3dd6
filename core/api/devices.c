/* /api/provisioning/devices: list, register, unregister, touch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "api/write_op.h"
#include "config/config.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "provision/provision.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "api"

json_t *api_device_json(const struct ztpd_device_rec *d)
{
    char created[32], last[32];
    ztpd_time_iso(d->created_at, created);
    json_t *o = json_object();
    json_object_set_new(o, "mac_address", json_string(d->mac));
    json_object_set_new(o, "extension_number", json_string(d->extension));
    json_object_set_new(o, "vendor", json_string(d->vendor));
    json_object_set_new(o, "model", json_string(d->model));
    json_object_set_new(o, "config_url", json_string(d->config_url));
    json_object_set_new(o, "created_at", d->created_at ? json_string(created) : json_null());
    if (d->last_provisioned) {
        ztpd_time_iso(d->last_provisioned, last);
        json_object_set_new(o, "last_provisioned", json_string(last));
    } else {
        json_object_set_new(o, "last_provisioned", json_null());
    }
    return o;
}

static void list_devices(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    size_t n;
    const struct ztpd_device_rec **all = ztpd_registry_devices(app->reg, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, api_device_json(all[i]));
    free(all);
    api_json(req, 200, arr);
}

static void device_inserted(struct api_write *w)
{
    struct ztpd_app *app = w->app;
    if (w->op.status) {
        if (w->op.status == ZTPD_STORAGE_ECONFLICT)
            api_error(w->req, 409, "mac_address", "device %s is already registered", w->dev.mac);
        else
            api_storage_error(w->req, w->op.status, "device");
        return;
    }
    ztpd_registry_device_put(app->reg, &w->dev);
    LOG_I(MOD, "device %s registered for extension %s (%s %s)", w->dev.mac, w->dev.extension,
          w->dev.vendor, w->dev.model);
    json_t *dev = api_device_json(&w->dev);
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "device", dev);
    /* A registered phone is told to re-fetch its configuration now (after the commit). */
    int rebooted = api_phones_reboot_on_change(app, w->dev.extension);
    json_object_set_new(o, "reboot_triggered", json_boolean(rebooted));
    json_object_set_new(o, "message",
                        json_string(rebooted ? "Device registered and phone reboot triggered "
                                               "automatically"
                                             : "Device registered"));
    api_json(w->req, 201, o);
}

int api_device_validate(struct ztpd_app *app, json_t *obj, struct ztpd_device_rec *d,
                        struct api_fail *f)
{
    char mac_in[64], ext[ZTPD_S_EXT], vendor[ZTPD_S_VENDOR], model[ZTPD_S_VENDOR];
    f->status = 0;
    if (!json_is_object(obj)) {
        api_fail_set(f, 400, NULL, "expected a JSON object");
        return -1;
    }
    const char *mac_s = api_member_check(obj, "mac_address", mac_in, sizeof mac_in, f);
    if (f->status)
        return -1;
    const char *ext_s = api_member_check(obj, "extension_number", ext, sizeof ext, f);
    if (f->status)
        return -1;
    const char *vendor_s = api_member_check(obj, "vendor", vendor, sizeof vendor, f);
    if (f->status)
        return -1;
    const char *model_s = api_member_check(obj, "model", model, sizeof model, f);
    if (f->status)
        return -1;
    const char *missing = !mac_s      ? "mac_address"
                          : !ext_s    ? "extension_number"
                          : !vendor_s ? "vendor"
                          : !model_s  ? "model"
                                      : NULL;
    if (missing) {
        api_fail_set(f, 400, missing, "%s: required", missing);
        return -1;
    }
    memset(d, 0, sizeof *d);
    if (ztpd_mac_normalize(mac_s, strlen(mac_s), d->mac)) {
        api_fail_set(f, 400, "mac_address",
                     "mac_address: '%.40s' is not a MAC address (use 001565123456, "
                     "00:15:65:12:34:56 or 00-15-65-12-34-56)",
                     mac_s);
        return -1;
    }
    const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, vendor_s);
    if (!v) {
        api_fail_set(f, 400, "vendor",
                     "vendor: unknown vendor '%.40s' (see /api/provisioning/vendors)", vendor_s);
        return -1;
    }
    const struct ztpd_vendor_model *vm = ztpd_vendor_model(v, model_s);
    if (!vm) {
        api_fail_set(f, 400, "model", "model: vendor %s has no model '%.40s'", v->name, model_s);
        return -1;
    }
    if (!ztpd_registry_extension(app->reg, ext_s)) {
        api_fail_set(f, 400, "extension_number",
                     "extension_number: extension '%.20s' does not exist (create it with POST "
                     "/api/extensions)",
                     ext_s);
        return -1;
    }
    snprintf(d->extension, sizeof d->extension, "%s", ext_s);
    snprintf(d->vendor, sizeof d->vendor, "%s", v->name);
    snprintf(d->model, sizeof d->model, "%s", vm->id);
    ztpd_provision_config_url(app, d->mac, d->config_url, sizeof d->config_url);
    d->created_at = ztpd_time_now();
    return 0;
}

static void create_device(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    json_t *body = api_body_object(req);
    if (!body)
        return;
    struct ztpd_device_rec d;
    struct api_fail f;
    int rc = api_device_validate(app, body, &d, &f);
    json_decref(body);
    if (rc) {
        api_error(req, f.status, f.field, "%s", f.msg);
        return;
    }
    if (ztpd_registry_device(app->reg, d.mac)) {
        api_error(req, 409, "mac_address", "device %s is already registered", d.mac);
        return;
    }
    struct api_write *w = api_write_new(app, req, API_DEVICE_INSERT, device_inserted);
    if (!w)
        return;
    w->dev = d;
    api_write_submit(w);
}

/* Normalizes the {mac} path parameter; answers 400/404 and returns -1 when it is unusable. */
static int path_device(struct ztpd_app *app, struct ztpd_http_req *req, const char *param,
                       char mac[ZTPD_MAC_LEN + 1])
{
    if (ztpd_mac_normalize(param, strlen(param), mac)) {
        api_error(req, 400, "mac_address", "mac_address: '%.40s' is not a MAC address", param);
        return -1;
    }
    if (!ztpd_registry_device(app->reg, mac)) {
        api_error(req, 404, "mac_address", "device %s is not registered", mac);
        return -1;
    }
    return 0;
}

static void device_deleted(struct api_write *w)
{
    if (w->op.status && w->op.status != ZTPD_STORAGE_ENOTFOUND) {
        api_storage_error(w->req, w->op.status, "device removal");
        return;
    }
    ztpd_registry_device_remove(w->app->reg, w->key);
    LOG_I(MOD, "device %s unregistered", w->key);
    api_ok(w->req, 200, "Device unregistered");
}

static void delete_device(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    char mac[ZTPD_MAC_LEN + 1];
    if (!api_authorized(app, req) || path_device(app, req, m->params[0], mac))
        return;
    struct api_write *w = api_write_new(app, req, API_DEVICE_DELETE, device_deleted);
    if (!w)
        return;
    snprintf(w->key, sizeof w->key, "%s", mac);
    api_write_submit(w);
}

static void device_touched(struct api_write *w)
{
    if (w->op.status) {
        api_storage_error(w->req, w->op.status, "device touch");
        return;
    }
    ztpd_registry_device_touch(w->app->reg, w->key, w->at);
    const struct ztpd_device_rec *d = ztpd_registry_device(w->app->reg, w->key);
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "message", json_string("last_provisioned updated"));
    if (d)
        json_object_set_new(o, "device", api_device_json(d));
    api_json(w->req, 200, o);
}

static void touch_device(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    char mac[ZTPD_MAC_LEN + 1];
    if (!api_authorized(app, req) || path_device(app, req, m->params[0], mac))
        return;
    struct api_write *w = api_write_new(app, req, API_DEVICE_TOUCH, device_touched);
    if (!w)
        return;
    snprintf(w->key, sizeof w->key, "%s", mac);
    w->at = ztpd_time_now();
    api_write_submit(w);
}

/* DELETE /api/provisioning/devices?confirm=all: every device, in one transaction. */
struct clear_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    char (*macs)[ZTPD_S_MAC]; /* the rows deleted, so the registry drops exactly those */
    size_t n, cap;
    int oom;
};

static int clear_collect(const struct ztpd_device_rec *row, void *arg)
{
    struct clear_op *c = arg;
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        char(*macs)[ZTPD_S_MAC] = realloc(c->macs, cap * sizeof *macs);
        if (!macs) {
            c->oom = 1;
            return 1;
        }
        c->macs = macs;
        c->cap = cap;
    }
    memcpy(c->macs[c->n++], row->mac, ZTPD_S_MAC);
    return 0;
}

static void clear_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct clear_op *c = (struct clear_op *)op;
    int status = be->begin(h);
    if (status) {
        op->status = status;
        return;
    }
    status = be->device_list(h, clear_collect, c);
    if (status == ZTPD_STORAGE_OK && c->oom)
        status = ZTPD_STORAGE_EIO;
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < c->n; i++)
        status = be->device_delete(h, c->macs[i]);
    if (status == ZTPD_STORAGE_OK)
        status = be->commit(h);
    if (status != ZTPD_STORAGE_OK) {
        be->rollback(h);
        c->n = 0;
    }
    op->status = status;
}

static void clear_done(struct ztpd_store_op *op)
{
    struct clear_op *c = (struct clear_op *)op;
    if (op->status) {
        api_storage_error(c->req, op->status, "the removal of all devices (none was removed)");
    } else {
        for (size_t i = 0; i < c->n; i++)
            ztpd_registry_device_remove(c->app->reg, c->macs[i]);
        LOG_I(MOD, "all devices unregistered (%zu)", c->n);
        json_t *o = json_object();
        json_object_set_new(o, "success", json_true());
        json_object_set_new(o, "deleted", json_integer((json_int_t)c->n));
        api_json(c->req, 200, o);
    }
    free(c->macs);
    free(c);
}

/* 1 when the raw query string holds name=value as one of its &-separated parameters. */
static int query_has(const char *query, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    for (const char *p = query; p && *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == nl + 1 + vl && !strncmp(p, name, nl) && p[nl] == '=' &&
            !strncmp(p + nl + 1, value, vl))
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

static void clear_devices(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    /* Deleting the whole inventory must be asked for explicitly, never by a stray DELETE. */
    if (!query_has(req->query, "confirm", "all")) {
        api_error(req, 400, "confirm",
                  "confirm: deleting every device needs ?confirm=all in the URL");
        return;
    }
    struct clear_op *c = calloc(1, sizeof *c);
    if (!c) {
        api_error(req, 503, NULL, "out of memory");
        return;
    }
    c->op.run = clear_run;
    c->op.done = clear_done;
    c->app = app;
    c->req = req;
    ztpd_store_submit(app->store, &c->op);
}

int api_devices_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "DELETE", "/api/provisioning/devices", clear_devices, app);
    rc |= ztpd_router_add(r, "GET", "/api/provisioning/devices", list_devices, app);
    rc |= ztpd_router_add(r, "POST", "/api/provisioning/devices", create_device, app);
    rc |= ztpd_router_add(r, "DELETE", "/api/provisioning/devices/{mac}", delete_device, app);
    rc |= ztpd_router_add(r, "PUT", "/api/provisioning/devices/{mac}/touch", touch_device, app);
    return rc;
}
