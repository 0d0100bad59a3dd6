/* POST /api/provisioning/devices/bulk: registers many devices at once, all or nothing.
 *
 * Every element is validated exactly as POST /api/provisioning/devices does (one shared
 * function), then checked against the other elements and the registry, all before anything is
 * written; the first failure answers with the element's index. The inserts then run as one
 * storage op inside one transaction, so a conflict found by the database (a concurrent
 * registration) rolls the whole import back. Only after commit is the registry updated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "log/log.h"
#include "loop/app.h"
#include "registry/registry.h"
#include "storage/store.h"

#define MOD "api"

/* Far above any real site; bounds the op allocation (~7 MB) and the JSON answer. */
#define BULK_MAX_DEVICES 10000

struct bulk_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    size_t n;
    size_t failed; /* element the backend refused; n when none */
    struct ztpd_device_rec devs[];
};

/* {"success":false,"error":…,"field":…,"index":N}; field and index omitted when NULL / < 0. */
static void bulk_error(struct ztpd_http_req *req, int status, const char *field, long index,
                       const char *msg)
{
    char text[600];
    if (index >= 0)
        snprintf(text, sizeof text, "element %ld: %s", index, msg);
    else
        snprintf(text, sizeof text, "%s", msg);
    json_t *o = json_object();
    json_object_set_new(o, "success", json_false());
    json_object_set_new(o, "error", json_string(text));
    if (field)
        json_object_set_new(o, "field", json_string(field));
    if (index >= 0)
        json_object_set_new(o, "index", json_integer(index));
    api_json(req, status, o);
}

static void bulk_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct bulk_op *b = (struct bulk_op *)op;
    int status = be->begin(h);
    if (status) {
        op->status = status;
        return;
    }
    for (size_t i = 0; status == ZTPD_STORAGE_OK && i < b->n; i++) {
        status = be->device_put(h, &b->devs[i], ZTPD_PUT_INSERT);
        if (status)
            b->failed = i;
    }
    if (status == ZTPD_STORAGE_OK)
        status = be->commit(h);
    if (status != ZTPD_STORAGE_OK)
        be->rollback(h); /* also after a failed commit: no transaction is left open */
    op->status = status;
}

static void bulk_done(struct ztpd_store_op *op)
{
    struct bulk_op *b = (struct bulk_op *)op;
    struct ztpd_app *app = b->app;
    if (op->status) {
        if (op->status == ZTPD_STORAGE_ECONFLICT && b->failed < b->n) {
            char msg[128];
            snprintf(msg, sizeof msg, "device %s is already registered; nothing was imported",
                     b->devs[b->failed].mac);
            bulk_error(b->req, 409, "mac_address", (long)b->failed, msg);
        } else {
            api_storage_error(b->req, op->status, "the bulk import (no device)");
        }
        free(b);
        return;
    }
    json_t *devs = json_array();
    for (size_t i = 0; i < b->n; i++) {
        ztpd_registry_device_put(app->reg, &b->devs[i]);
        json_array_append_new(devs, api_device_json(&b->devs[i]));
    }
    LOG_I(MOD, "bulk import: %zu devices registered", b->n);
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "count", json_integer((json_int_t)b->n));
    json_object_set_new(o, "devices", devs);
    /* As for a single registration: nothing triggers reboots yet. */
    json_object_set_new(o, "reboot_triggered", json_false());
    api_json(b->req, 201, o);
    free(b);
}

static int cmp_dev_mac(const void *a, const void *b)
{
    const struct ztpd_device_rec *x = *(const struct ztpd_device_rec *const *)a;
    const struct ztpd_device_rec *y = *(const struct ztpd_device_rec *const *)b;
    int c = strcmp(x->mac, y->mac);
    if (c)
        return c;
    return x < y ? -1 : x > y; /* equal MACs in array order */
}

/* Index of the first element whose MAC already appeared earlier in the array; n if none.
 * Sorting keeps this O(n log n) at the 10000-element cap. */
static size_t first_duplicate(const struct ztpd_device_rec *devs, size_t n, int *oom)
{
    size_t first = n;
    const struct ztpd_device_rec **by_mac = malloc((n ? n : 1) * sizeof *by_mac);
    *oom = !by_mac;
    if (!by_mac)
        return n;
    for (size_t i = 0; i < n; i++)
        by_mac[i] = &devs[i];
    qsort(by_mac, n, sizeof *by_mac, cmp_dev_mac);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(by_mac[i - 1]->mac, by_mac[i]->mac) == 0) {
            size_t idx = (size_t)(by_mac[i] - devs);
            if (idx < first)
                first = idx;
        }
    }
    free(by_mac);
    return first;
}

/* Parses and checks the whole array; answers and returns NULL on the first problem. */
static struct bulk_op *bulk_prepare(struct ztpd_app *app, struct ztpd_http_req *req)
{
    if (req->body_len == 0) {
        bulk_error(req, 400, NULL, -1, "request body is empty: expected a JSON array of devices");
        return NULL;
    }
    json_error_t e;
    json_t *arr = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!arr) {
        api_error(req, 400, NULL, "malformed JSON at line %d, column %d: %s", e.line, e.column,
                  e.text);
        return NULL;
    }
    size_t n = json_is_array(arr) ? json_array_size(arr) : 0;
    char msg[128];
    if (!json_is_array(arr) || n == 0 || n > BULK_MAX_DEVICES) {
        if (!json_is_array(arr))
            snprintf(msg, sizeof msg, "expected a JSON array of device objects");
        else if (n == 0)
            snprintf(msg, sizeof msg, "the array is empty: nothing to import");
        else
            snprintf(msg, sizeof msg, "%zu devices in one request; at most %d", n,
                     BULK_MAX_DEVICES);
        json_decref(arr);
        bulk_error(req, 400, NULL, -1, msg);
        return NULL;
    }
    struct bulk_op *b = calloc(1, sizeof *b + n * sizeof b->devs[0]);
    if (!b) {
        json_decref(arr);
        api_error(req, 503, NULL, "out of memory");
        return NULL;
    }
    b->n = n;
    struct api_fail f;
    for (size_t i = 0; i < n; i++) {
        if (api_device_validate(app, json_array_get(arr, i), &b->devs[i], &f)) {
            json_decref(arr);
            free(b);
            bulk_error(req, f.status, f.field, (long)i, f.msg);
            return NULL;
        }
    }
    json_decref(arr);
    int oom;
    size_t dup = first_duplicate(b->devs, n, &oom);
    if (oom || dup < n) {
        if (oom) {
            api_error(req, 503, NULL, "out of memory");
        } else {
            snprintf(msg, sizeof msg, "device %s appears more than once in the array",
                     b->devs[dup].mac);
            bulk_error(req, 409, "mac_address", (long)dup, msg);
        }
        free(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (ztpd_registry_device(app->reg, b->devs[i].mac)) {
            snprintf(msg, sizeof msg, "device %s is already registered", b->devs[i].mac);
            bulk_error(req, 409, "mac_address", (long)i, msg);
            free(b);
            return NULL;
        }
    }
    return b;
}

static void bulk_create(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    struct bulk_op *b = bulk_prepare(app, req);
    if (!b)
        return;
    b->op.run = bulk_run;
    b->op.done = bulk_done;
    b->app = app;
    b->req = req;
    b->failed = b->n;
    ztpd_store_submit(app->store, &b->op);
}

int api_bulk_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    return ztpd_router_add(r, "POST", "/api/provisioning/devices/bulk", bulk_create, app);
}
