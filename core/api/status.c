/* GET /api/status (unauthenticated health check) and GET /api/provisioning/vendors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "config/config.h"
#include "http/server.h"
#include "loop/app.h"
#include "lua/vendors.h"
#include "registry/registry.h"
#include "storage/store.h"
#include "util/timefmt.h"
#include "ztpd/version.h"

static void get_status(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    int up = ztpd_store_is_up(app->store);
    json_t *storage = json_object();
    json_object_set_new(storage, "backend", json_string(app->cfg->storage_backend));
    json_object_set_new(storage, "status", json_string(up ? "up" : "down"));
    json_object_set_new(storage, "pending_writes",
                        json_integer((json_int_t)ztpd_store_pending(app->store)));
    json_t *o = json_object();
    json_object_set_new(o, "status", json_string(up ? "ok" : "degraded"));
    json_object_set_new(o, "server", json_string(app->cfg->server_name));
    json_object_set_new(o, "version", json_string(ZTPD_VERSION));
    json_object_set_new(o, "uptime_seconds",
                        json_integer((json_int_t)(ztpd_time_now() - app->started_at)));
    json_object_set_new(o, "provisioning_enabled", json_boolean(app->cfg->prov_enabled));
    json_object_set_new(o, "storage", storage);
    json_object_set_new(o, "devices",
                        json_integer((json_int_t)ztpd_registry_device_count(app->reg)));
    json_object_set_new(o, "extensions",
                        json_integer((json_int_t)ztpd_registry_extension_count(app->reg)));
    json_object_set_new(o, "vendors", json_integer((json_int_t)app->vendors->n));
    api_json(req, 200, o);
}

static void get_vendors(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    json_t *names = json_array();
    json_t *models = json_object();
    /* Vendors and models are kept sorted by the loader. */
    for (size_t i = 0; i < app->vendors->n; i++) {
        const struct ztpd_vendor *v = app->vendors->items[i];
        json_array_append_new(names, json_string(v->name));
        json_t *ids = json_array();
        for (size_t j = 0; j < v->n_models; j++)
            json_array_append_new(ids, json_string(v->models[j].id));
        json_object_set_new(models, v->name, ids);
    }
    json_t *o = json_object();
    json_object_set_new(o, "vendors", names);
    json_object_set_new(o, "models", models);
    api_json(req, 200, o);
}

int api_status_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "GET", "/api/status", get_status, app);
    rc |= ztpd_router_add(r, "GET", "/api/provisioning/vendors", get_vendors, app);
    return rc;
}
