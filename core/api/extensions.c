/* /api/extensions: list, create, update, delete. Passwords are write-only: never returned. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "api/write_op.h"
#include "log/log.h"
#include "loop/app.h"
#include "registry/registry.h"
#include "util/timefmt.h"

#define MOD "api"

/* devices: the extension's device count (computed by the caller, so that a list costs one
 * pass over the devices, not one per extension). */
static json_t *extension_json(const struct ztpd_extension_rec *e, size_t devices)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "number", json_string(e->number));
    json_object_set_new(o, "name", json_string(e->name));
    json_object_set_new(o, "has_password", json_boolean(e->password[0] != '\0'));
    json_object_set_new(o, "devices", json_integer((json_int_t)devices));
    ztpd_time_iso(e->created_at, t);
    json_object_set_new(o, "created_at", e->created_at ? json_string(t) : json_null());
    ztpd_time_iso(e->updated_at, t);
    json_object_set_new(o, "updated_at", e->updated_at ? json_string(t) : json_null());
    return o;
}

static void list_extensions(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    size_t n;
    const struct ztpd_extension_rec **all = ztpd_registry_extensions(app->reg, &n);
    size_t *counts = all ? ztpd_registry_count_devices(app->reg, all, n) : NULL;
    if (!counts) {
        free(all);
        api_error(req, 503, NULL, "out of memory");
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, extension_json(all[i], counts[i]));
    free(counts);
    free(all);
    api_json(req, 200, arr);
}

static int valid_number(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* A display name may hold any printable text; control characters would only ever reach a
 * phone escaped, but they are never what an admin meant, so they are refused here. */
static int valid_name(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static void extension_saved(struct api_write *w)
{
    struct ztpd_app *app = w->app;
    if (w->op.status) {
        api_storage_error(w->req, w->op.status, "extension");
        return;
    }
    int created = !ztpd_registry_extension(app->reg, w->ext.number);
    ztpd_registry_extension_put(app->reg, &w->ext);
    LOG_I(MOD, "extension %s %s", w->ext.number, created ? "created" : "updated");
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(
        o, "extension",
        extension_json(&w->ext, ztpd_registry_devices_for_extension(app->reg, w->ext.number)));
    json_object_set_new(o, "message",
                        json_string(created ? "Extension created" : "Extension updated"));
    api_json(w->req, created ? 201 : 200, o);
}

/* Reads name/password members into e; answers 400 and returns -1 on a bad value. */
static int read_fields(struct ztpd_http_req *req, json_t *body, struct ztpd_extension_rec *e,
                       int require_password)
{
    char name[ZTPD_S_NAME], pw[ZTPD_S_SECRET];
    int bad = 0;
    const char *name_s = api_member_string(req, body, "name", name, sizeof name, &bad);
    if (bad)
        return -1;
    const char *pw_s = api_member_string(req, body, "password", pw, sizeof pw, &bad);
    if (bad)
        return -1;
    if (name_s) {
        if (!valid_name(name_s)) {
            api_error(req, 400, "name",
                      "name: control characters (such as newlines) are not "
                      "allowed");
            return -1;
        }
        snprintf(e->name, sizeof e->name, "%s", name_s);
    }
    if (pw_s) {
        if (strlen(pw_s) < 4 || !valid_name(pw_s)) {
            api_error(req, 400, "password", "password: must be at least 4 printable characters");
            return -1;
        }
        snprintf(e->password, sizeof e->password, "%s", pw_s);
    } else if (require_password) {
        api_error(req, 400, "password", "password: required");
        return -1;
    }
    return 0;
}

static void create_extension(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    json_t *body = api_body_object(req);
    if (!body)
        return;
    char num[ZTPD_S_EXT];
    int bad = 0;
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    const char *num_s = api_member_string(req, body, "number", num, sizeof num, &bad);
    if (bad || (!num_s && (api_error(req, 400, "number", "number: required"), 1)) ||
        (!valid_number(num_s) &&
         (api_error(req, 400, "number", "number: '%.20s' must be 1 to 20 digits", num_s), 1)) ||
        read_fields(req, body, &e, 1)) {
        json_decref(body);
        return;
    }
    json_decref(body);
    if (ztpd_registry_extension(app->reg, num_s)) {
        api_error(req, 409, "number", "extension %s already exists", num_s);
        return;
    }
    snprintf(e.number, sizeof e.number, "%s", num_s);
    e.created_at = e.updated_at = ztpd_time_now();
    struct api_write *w = api_write_new(app, req, API_EXTENSION_PUT, extension_saved);
    if (!w)
        return;
    w->ext = e;
    api_write_submit(w);
}

static void update_extension(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    if (!api_authorized(app, req))
        return;
    const struct ztpd_extension_rec *cur = ztpd_registry_extension(app->reg, m->params[0]);
    if (!cur) {
        api_error(req, 404, "number", "extension %.20s does not exist", m->params[0]);
        return;
    }
    json_t *body = api_body_object(req);
    if (!body)
        return;
    struct ztpd_extension_rec e = *cur;
    json_t *num = json_object_get(body, "number");
    if (num && !(json_is_string(num) && strcmp(json_string_value(num), cur->number) == 0)) {
        json_decref(body);
        api_error(req, 400, "number", "number: cannot be changed; create a new extension");
        return;
    }
    int rc = read_fields(req, body, &e, 0);
    json_decref(body);
    if (rc)
        return;
    e.updated_at = ztpd_time_now();
    struct api_write *w = api_write_new(app, req, API_EXTENSION_PUT, extension_saved);
    if (!w)
        return;
    w->ext = e;
    api_write_submit(w);
}

static void extension_deleted(struct api_write *w)
{
    if (w->op.status && w->op.status != ZTPD_STORAGE_ENOTFOUND) {
        api_storage_error(w->req, w->op.status, "extension removal");
        return;
    }
    ztpd_registry_extension_remove(w->app->reg, w->key);
    LOG_I(MOD, "extension %s deleted", w->key);
    api_ok(w->req, 200, "Extension deleted");
}

static void delete_extension(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    if (!api_authorized(app, req))
        return;
    const char *num = m->params[0];
    if (!ztpd_registry_extension(app->reg, num)) {
        api_error(req, 404, "number", "extension %.20s does not exist", num);
        return;
    }
    size_t used = ztpd_registry_devices_for_extension(app->reg, num);
    if (used) {
        api_error(req, 409, "number",
                  "extension %s is used by %zu device(s); unregister them first", num, used);
        return;
    }
    struct api_write *w = api_write_new(app, req, API_EXTENSION_DELETE, extension_deleted);
    if (!w)
        return;
    snprintf(w->key, sizeof w->key, "%s", num);
    api_write_submit(w);
}

int api_extensions_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    int rc = 0;
    rc |= ztpd_router_add(r, "GET", "/api/extensions", list_extensions, app);
    rc |= ztpd_router_add(r, "POST", "/api/extensions", create_extension, app);
    rc |= ztpd_router_add(r, "PUT", "/api/extensions/{number}", update_extension, app);
    rc |= ztpd_router_add(r, "DELETE", "/api/extensions/{number}", delete_extension, app);
    return rc;
}
