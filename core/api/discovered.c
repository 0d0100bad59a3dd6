/* /api/provisioning/discovered: phones that asked for a config but are not provisioned, and the
 * one-step claim that provisions one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "log/log.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "provision/discovery.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/mac.h"
#include "util/timefmt.h"

#define MOD "api"

/* "" stays null in JSON: "not detected" must not read as a value. */
static json_t *str_or_null(const char *s)
{
    return s && *s ? json_string(s) : json_null();
}

static json_t *time_json(int64_t t)
{
    char buf[32];
    if (!t)
        return json_null();
    ztpd_time_iso(t, buf);
    return json_string(buf);
}

static json_t *discovered_json(struct ztpd_app *app, const struct ztpd_discovered_rec *r)
{
    const struct ztpd_vendor *v = ztpd_vendors_find(app->vendors, r->vendor);
    json_t *o = json_object();
    json_object_set_new(o, "mac_address", json_string(r->mac));
    json_object_set_new(o, "vendor", str_or_null(r->vendor));
    json_object_set_new(o, "model", str_or_null(r->model));
    json_object_set_new(o, "firmware", str_or_null(r->firmware));
    json_object_set_new(o, "ip_address", str_or_null(r->ip));
    json_object_set_new(o, "user_agent", str_or_null(r->user_agent));
    json_object_set_new(o, "first_seen", time_json(r->first_seen));
    json_object_set_new(o, "last_seen", time_json(r->last_seen));
    json_object_set_new(o, "count", json_integer((json_int_t)r->count));
    /* claimable without naming vendor and model in the claim body */
    json_object_set_new(o, "model_known", json_boolean(v && ztpd_vendor_model(v, r->model)));
    return o;
}

static void list_discovered(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    size_t n;
    const struct ztpd_discovered_rec **all = ztpd_discovery_list(app, &n);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, discovered_json(app, all[i]));
    free(all);
    api_json(req, 200, arr);
}

/* The claim: the device row and the removal of the discovered row in one transaction. */
struct claim_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    struct ztpd_device_rec dev;
};

static void claim_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct claim_op *c = (struct claim_op *)op;
    int status = be->begin(h);
    if (status == ZTPD_STORAGE_OK)
        status = be->device_put(h, &c->dev, ZTPD_PUT_INSERT);
    if (status == ZTPD_STORAGE_OK) {
        status = be->discovered_delete(h, c->dev.mac);
        if (status == ZTPD_STORAGE_ENOTFOUND)
            status = ZTPD_STORAGE_OK; /* not written yet: the write-behind was still pending */
    }
    if (status == ZTPD_STORAGE_OK)
        status = be->commit(h);
    if (status != ZTPD_STORAGE_OK)
        be->rollback(h);
    op->status = status;
}

static void claim_done(struct ztpd_store_op *op)
{
    struct claim_op *c = (struct claim_op *)op;
    struct ztpd_app *app = c->app;
    if (op->status == ZTPD_STORAGE_ECONFLICT) {
        api_error(c->req, 409, "mac_address", "device %s is already registered", c->dev.mac);
    } else if (op->status) {
        api_storage_error(c->req, op->status, "claimed device");
    } else {
        ztpd_registry_device_put(app->reg, &c->dev);
        ztpd_discovery_forget(app, c->dev.mac);
        LOG_I(MOD, "discovered device %s claimed for extension %s (%s %s)", c->dev.mac,
              c->dev.extension, c->dev.vendor, c->dev.model);
        json_t *o = json_object();
        json_object_set_new(o, "success", json_true());
        json_object_set_new(o, "device", api_device_json(&c->dev));
        json_object_set_new(o, "reboot_triggered", json_false());
        json_object_set_new(o, "message",
                            json_string("Device claimed and registered; the phone gets its "
                                        "configuration at its next request"));
        api_json(c->req, 201, o);
    }
    free(c);
}

/* Fills vendor and model of the claim body from detection where the body leaves them out;
 * answers 400 naming the field when neither says. Returns 0 or -1 (answered). */
static int complete_body(struct ztpd_app *app, struct ztpd_http_req *req, json_t *body,
                         const struct ztpd_discovered_rec *r)
{
    json_t *jv = json_object_get(body, "vendor"), *jm = json_object_get(body, "model");
    const struct ztpd_vendor *v = NULL;
    if (!jv || json_is_null(jv)) {
        if (!r->vendor[0] || !(v = ztpd_vendors_find(app->vendors, r->vendor))) {
            api_error(req, 400, "vendor",
                      "vendor: this phone's vendor was not detected (User-Agent '%.80s'); give "
                      "\"vendor\" in the body",
                      r->user_agent);
            return -1;
        }
        json_object_set_new(body, "vendor", json_string(v->name));
    } else if (json_is_string(jv)) {
        v = ztpd_vendors_find(app->vendors, json_string_value(jv));
    }
    if (!jm || json_is_null(jm)) {
        /* the detected model only belongs to the detected vendor */
        int same = v && r->vendor[0] && !strcmp(v->name, r->vendor);
        const struct ztpd_vendor_model *vm = same ? ztpd_vendor_model(v, r->model) : NULL;
        if (!vm) {
            if (same && r->model[0])
                api_error(req, 400, "model",
                          "model: the detected model '%s' is not a model of vendor %s; give "
                          "\"model\" in the body (see /api/provisioning/vendors)",
                          r->model, v->name);
            else
                api_error(req, 400, "model",
                          "model: this phone's model was not detected; give \"model\" in the "
                          "body (see /api/provisioning/vendors)");
            return -1;
        }
        json_object_set_new(body, "model", json_string(vm->id));
    }
    return 0;
}

static void claim_discovered(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    char mac[ZTPD_MAC_LEN + 1];
    if (!api_authorized(app, req))
        return;
    const char *param = m->params[0];
    if (ztpd_mac_normalize(param, strlen(param), mac)) {
        api_error(req, 400, "mac_address", "mac_address: '%.40s' is not a MAC address", param);
        return;
    }
    if (ztpd_registry_device(app->reg, mac)) {
        api_error(req, 409, "mac_address", "device %s is already registered", mac);
        return;
    }
    const struct ztpd_discovered_rec *r = ztpd_discovery_get(app, mac);
    if (!r) {
        api_error(req, 404, "mac_address",
                  "mac_address: %s has not been discovered (see GET /api/provisioning/discovered)",
                  mac);
        return;
    }
    json_t *body = api_body_object(req);
    if (!body)
        return;
    json_t *jmac = json_object_get(body, "mac_address");
    char given[ZTPD_MAC_LEN + 1];
    if (jmac && (!json_is_string(jmac) ||
                 ztpd_mac_normalize(json_string_value(jmac), json_string_length(jmac), given) ||
                 strcmp(given, mac))) {
        json_decref(body);
        api_error(req, 400, "mac_address",
                  "mac_address: leave it out or give the MAC of the URL (%s)", mac);
        return;
    }
    json_object_set_new(body, "mac_address", json_string(mac));
    if (complete_body(app, req, body, r)) {
        json_decref(body);
        return;
    }
    struct ztpd_device_rec d;
    struct api_fail f;
    int rc = api_device_validate(app, body, &d, &f);
    json_decref(body);
    if (rc) {
        api_error(req, f.status, f.field, "%s", f.msg);
        return;
    }
    struct claim_op *c = calloc(1, sizeof *c);
    if (!c) {
        api_error(req, 503, NULL, "out of memory");
        return;
    }
    c->op.run = claim_run;
    c->op.done = claim_done;
    c->app = app;
    c->req = req;
    c->dev = d;
    ztpd_store_submit(app->store, &c->op);
}

int api_discovered_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "GET", "/api/provisioning/discovered", list_discovered, app);
    rc |= ztpd_router_add(r, "POST", "/api/provisioning/discovered/{mac}/claim", claim_discovered,
                          app);
    return rc;
}
