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

/* s with every "{server}" replaced by server.address:http port (what phones reach); NULL stays
 * JSON null. Anything else in the URL is the phone's own macro and is shown as is. */
static json_t *with_server(const struct ztpd_app *app, const char *s)
{
    if (!s)
        return json_null();
    char server[300], out[2048];
    snprintf(server, sizeof server, "%s:%d", app->cfg->server_address, app->cfg->http_port);
    size_t o = 0, sl = strlen(server);
    while (*s && o + 1 < sizeof out) {
        if (!strncmp(s, "{server}", 8)) {
            if (o + sl >= sizeof out)
                break;
            memcpy(out + o, server, sl);
            o += sl;
            s += 8;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = 0;
    return json_string(out);
}

static json_t *opt_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* The guide's shape (vendors: names, models: name -> ids) plus, per vendor, what an admin must
 * set on the phone and what the phone asks for. */
static void get_vendors(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    json_t *names = json_array();
    json_t *models = json_object();
    json_t *details = json_object();
    /* Vendors and models are kept sorted by the loader. */
    for (size_t i = 0; i < app->vendors->n; i++) {
        const struct ztpd_vendor *v = app->vendors->items[i];
        json_array_append_new(names, json_string(v->name));
        json_t *ids = json_array();
        json_t *mdetail = json_object();
        for (size_t j = 0; j < v->n_models; j++) {
            const struct ztpd_vendor_model *md = &v->models[j];
            json_array_append_new(ids, json_string(md->id));
            json_t *mo = json_object();
            json_object_set_new(mo, "label", json_string(md->label));
            json_object_set_new(mo, "lines", json_integer(md->lines));
            json_object_set_new(mo, "common_id", opt_string(md->common_id));
            json_object_set_new(mdetail, md->id, mo);
        }
        json_object_set_new(models, v->name, ids);
        json_t *files = json_array();
        for (size_t j = 0; j < v->n_files; j++) {
            const struct ztpd_vendor_file *f = &v->files[j];
            json_t *fo = json_object();
            json_object_set_new(fo, "match", json_string(f->match));
            if (f->template)
                json_object_set_new(fo, "template", json_string(f->template));
            if (f->status)
                json_object_set_new(fo, "status", json_integer(f->status));
            if (f->upload)
                json_object_set_new(fo, "upload", json_true());
            json_array_append_new(files, fo);
        }
        json_t *d = json_object();
        json_object_set_new(d, "label", json_string(v->label));
        json_object_set_new(d, "mac_variable", json_string(v->mac_variable));
        json_object_set_new(d, "provisioning_url", with_server(app, v->prov_url));
        json_object_set_new(d, "dhcp_option_66", with_server(app, v->prov_dhcp66));
        json_object_set_new(d, "notes", opt_string(v->prov_notes));
        json_object_set_new(d, "format", json_string(v->format == ZTPD_FMT_XML ? "xml" : "ini"));
        json_object_set_new(d, "content_type", json_string(v->content_type));
        json_object_set_new(d, "reboot_event", opt_string(v->reboot_event));
        json_object_set_new(d, "reboot_auth", json_boolean(v->reboot_auth));
        json_object_set_new(d, "models", mdetail);
        json_object_set_new(d, "files", files);
        json_object_set_new(details, v->name, d);
    }
    json_t *o = json_object();
    json_object_set_new(o, "vendors", names);
    json_object_set_new(o, "models", models);
    json_object_set_new(o, "details", details);
    api_json(req, 200, o);
}

int api_status_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "GET", "/api/status", get_status, app);
    rc |= ztpd_router_add(r, "GET", "/api/provisioning/vendors", get_vendors, app);
    return rc;
}
