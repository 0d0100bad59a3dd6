/* POST /api/provisioning/devices/bulk: registers many devices at once, all or nothing.
 *
 * Every element is validated exactly as POST /api/provisioning/devices does (one shared
 * function), then checked against the other elements and the registry, all before anything is
 * written; the first failure answers with the element's index. The inserts then run as one
 * storage op inside one transaction, so a conflict found by the database (a concurrent
 * registration) rolls the whole import back. Only after commit is the registry updated.
 *
 * 100,000 devices are ~10 MB of JSON: the parse (~0.5 s) and the freeing of the tree run on a
 * libuv worker thread (the body does not move while the request is busy), and the validation,
 * which reads the registry and the vendor catalogue and so must stay on the loop, runs
 * BULK_SLICE elements per loop turn so other requests are served in between.
 *
 * This route alone may send a body above http.max_body_size, and only with a valid token:
 * the router asks bulk_body_allowed() at headers-complete, before any body byte is buffered. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#include "api/api_internal.h"
#include "api/respond.h"
#include "log/log.h"
#include "loop/app.h"
#include "registry/registry.h"
#include "storage/loader.h"
#include "storage/store.h"
#include "util/error.h"

#define MOD "api"

/* 100,000 phones is the largest site the benchmark covers (bench/storage.sh). */
#define BULK_MAX_DEVICES 100000
/* Body limit of this route alone (for a valid token): 100,000 devices of typical JSON are
 * ~10 MB, pretty-printed ~15 MB. Every other URL keeps http.max_body_size. */
#define BULK_MAX_BODY ((size_t)32 << 20)
/* Larger imports are answered with the count alone, not every device echoed back. */
#define BULK_ECHO_MAX 1000
/* Elements validated per loop turn (~25 ms): other requests are served in between. */
#define BULK_SLICE 5000
/* Devices handed to the backend's device_put_many at a time (704 bytes each unpacked). */
#define BULK_PUT_CHUNK 5000

/* One validated device, packed: its five strings ("mac\0extension\0vendor\0model\0url\0")
 * live in the op's arena, so 100,000 devices take ~12 MB instead of 100,000 full
 * struct ztpd_device_rec (~70 MB). */
struct bulk_dev {
    uint32_t off; /* into arena */
    int64_t created_at;
};

struct bulk_op {
    struct ztpd_store_op op; /* first member: the store hands this pointer back */
    struct ztpd_app *app;
    struct ztpd_http_req *req;
    size_t n;
    size_t failed; /* element the backend refused; n when none */
    char *arena;
    size_t arena_len, arena_cap;
    struct bulk_dev *devs;
    /* Before the store op: the body is parsed (and the tree freed) on a libuv worker thread,
     * the elements are validated on the loop BULK_SLICE at a time. */
    uv_work_t work;
    uv_idle_t idle;
    json_t *arr;
    json_error_t jerr;
    size_t next;                    /* next element to validate */
    int refused;                    /* already answered with an error */
    uint64_t t0, parse_ns, loop_ns; /* for the log: start, parse time, loop time used */
};

static void bulk_free(struct bulk_op *b)
{
    if (!b)
        return;
    json_decref(b->arr);
    free(b->arena);
    free(b->devs);
    free(b);
}

static int bulk_push(struct bulk_op *b, size_t i, const struct ztpd_device_rec *d)
{
    const char *parts[5] = {d->mac, d->extension, d->vendor, d->model, d->config_url};
    size_t lens[5], total = 0;
    for (int k = 0; k < 5; k++)
        total += (lens[k] = strlen(parts[k])) + 1;
    if (b->arena_len + total > b->arena_cap) {
        size_t cap = b->arena_cap ? b->arena_cap : 65536;
        while (cap < b->arena_len + total)
            cap *= 2;
        if (cap > UINT32_MAX)
            return ZTPD_ENOMEM;
        char *na = realloc(b->arena, cap);
        if (!na)
            return ZTPD_ENOMEM;
        b->arena = na;
        b->arena_cap = cap;
    }
    b->devs[i].off = (uint32_t)b->arena_len;
    b->devs[i].created_at = d->created_at;
    for (int k = 0; k < 5; k++) {
        memcpy(b->arena + b->arena_len, parts[k], lens[k] + 1);
        b->arena_len += lens[k] + 1;
    }
    return 0;
}

static const char *bulk_mac(const struct bulk_op *b, size_t i)
{
    return b->arena + b->devs[i].off;
}

/* Unpacks device i into d. */
static void bulk_get(const struct bulk_op *b, size_t i, struct ztpd_device_rec *d)
{
    const char *p = b->arena + b->devs[i].off;
    char *fields[5] = {d->mac, d->extension, d->vendor, d->model, d->config_url};
    size_t sizes[5] = {sizeof d->mac, sizeof d->extension, sizeof d->vendor, sizeof d->model,
                       sizeof d->config_url};
    for (int k = 0; k < 5; k++) {
        size_t len = strlen(p);
        /* Packed from a struct of the same sizes, so every string fits. */
        memcpy(fields[k], p, len < sizes[k] ? len + 1 : sizes[k]);
        fields[k][sizes[k] - 1] = '\0';
        p += len + 1;
    }
    d->created_at = b->devs[i].created_at;
    d->last_provisioned = 0;
}

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

/* Inserts devices [at, at+len) with device_put_many, unpacked into rows (len entries). */
static int bulk_put_chunk(const struct ztpd_storage_backend *be, void *h, struct bulk_op *b,
                          struct ztpd_device_rec *rows, size_t at, size_t len)
{
    for (size_t i = 0; i < len; i++)
        bulk_get(b, at + i, &rows[i]);
    size_t failed = len;
    int status = be->device_put_many(h, rows, len, ZTPD_PUT_INSERT, &failed);
    if (status && failed < len)
        b->failed = at + failed;
    return status;
}

static void bulk_run(const struct ztpd_storage_backend *be, void *h, struct ztpd_store_op *op)
{
    struct bulk_op *b = (struct bulk_op *)op;
    int status = be->begin(h);
    if (status) {
        op->status = status;
        return;
    }
    /* Unpacked a chunk at a time: 100,000 full records would be 70 MB at once. */
    struct ztpd_device_rec *rows = NULL;
    if (ztpd_loader_has(be, offsetof(struct ztpd_storage_backend, device_put_many)))
        rows = malloc(BULK_PUT_CHUNK * sizeof *rows);
    if (rows) {
        memset(rows, 0, BULK_PUT_CHUNK * sizeof *rows);
        for (size_t at = 0; status == ZTPD_STORAGE_OK && at < b->n; at += BULK_PUT_CHUNK)
            status = bulk_put_chunk(be, h, b, rows, at,
                                    b->n - at < BULK_PUT_CHUNK ? b->n - at : BULK_PUT_CHUNK);
        free(rows);
    }
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; !rows && status == ZTPD_STORAGE_OK && i < b->n; i++) {
        bulk_get(b, i, &d);
        status = be->device_put(h, &d, ZTPD_PUT_INSERT);
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
                     bulk_mac(b, b->failed));
            bulk_error(b->req, 409, "mac_address", (long)b->failed, msg);
        } else {
            api_storage_error(b->req, op->status, "the bulk import (no device)");
        }
        bulk_free(b);
        return;
    }
    uint64_t t0 = uv_hrtime();
    /* Echoing 100,000 devices cost the loop ~0.5 s and the client ~25 MB to read back what it
     * sent: big imports get the count alone (docs/api.md). */
    json_t *devs = b->n <= BULK_ECHO_MAX ? json_array() : NULL;
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    for (size_t i = 0; i < b->n; i++) {
        bulk_get(b, i, &d);
        if (ztpd_registry_device_put(app->reg, &d))
            LOG_E(MOD, "out of memory: device %s is stored but not in memory until restart", d.mac);
        if (devs)
            json_array_append_new(devs, api_device_json(&d));
    }
    json_t *o = json_object();
    json_object_set_new(o, "success", json_true());
    json_object_set_new(o, "count", json_integer((json_int_t)b->n));
    json_object_set_new(o, "created", json_integer((json_int_t)b->n));
    if (devs)
        json_object_set_new(o, "devices", devs);
    /* As for a single registration: nothing triggers reboots yet. */
    json_object_set_new(o, "reboot_triggered", json_false());
    api_json(b->req, 201, o);
    LOG_I(MOD, "bulk import: %zu devices registered (registry and answer: %.0f ms)", b->n,
          (double)(uv_hrtime() - t0) / 1e6);
    bulk_free(b);
}

static const struct bulk_op *sort_op; /* qsort has no context argument; loop thread only */

static int cmp_dev_mac(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int c = strcmp(bulk_mac(sort_op, x), bulk_mac(sort_op, y));
    if (c)
        return c;
    return x < y ? -1 : x > y; /* equal MACs in array order */
}

/* Index of the first element whose MAC already appeared earlier in the array; n if none.
 * Sorting keeps this O(n log n) at the 100,000-element cap. */
static size_t first_duplicate(const struct bulk_op *b, int *oom)
{
    size_t n = b->n, first = n;
    size_t *by_mac = malloc((n ? n : 1) * sizeof *by_mac);
    *oom = !by_mac;
    if (!by_mac)
        return n;
    for (size_t i = 0; i < n; i++)
        by_mac[i] = i;
    sort_op = b;
    qsort(by_mac, n, sizeof *by_mac, cmp_dev_mac);
    sort_op = NULL;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(bulk_mac(b, by_mac[i - 1]), bulk_mac(b, by_mac[i])) == 0 && by_mac[i] < first)
            first = by_mac[i];
    }
    free(by_mac);
    return first;
}

/* Last step on the loop: duplicates in the array and MACs already registered, then the
 * inserts go to the storage thread. */
static void bulk_checked(struct bulk_op *b)
{
    struct ztpd_app *app = b->app;
    struct ztpd_http_req *req = b->req;
    size_t n = b->n;
    char msg[128];
    uint64_t t = uv_hrtime();
    int oom;
    size_t dup = first_duplicate(b, &oom);
    if (oom || dup < n) {
        if (oom) {
            api_error(req, 503, NULL, "out of memory");
        } else {
            snprintf(msg, sizeof msg, "device %s appears more than once in the array",
                     bulk_mac(b, dup));
            bulk_error(req, 409, "mac_address", (long)dup, msg);
        }
        bulk_free(b);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (ztpd_registry_device(app->reg, bulk_mac(b, i))) {
            snprintf(msg, sizeof msg, "device %s is already registered", bulk_mac(b, i));
            bulk_error(req, 409, "mac_address", (long)i, msg);
            bulk_free(b);
            return;
        }
    }
    uint64_t dup_ns = uv_hrtime() - t;
    b->loop_ns += dup_ns;
    /* Keep these figures visible (bench/storage.sh): the loop part is what other requests
     * wait for, in slices. */
    LOG_I(MOD,
          "bulk import: %zu devices checked in %.0f ms (JSON %.0f on a worker thread, "
          "validation %.0f in slices of %d, duplicates %.0f; loop busy %.0f ms in all)",
          n, (double)(uv_hrtime() - b->t0) / 1e6, (double)b->parse_ns / 1e6,
          (double)(b->loop_ns - dup_ns) / 1e6, BULK_SLICE, (double)dup_ns / 1e6,
          (double)b->loop_ns / 1e6);
    ztpd_store_submit(app->store, &b->op);
}

/* Frees the parsed tree of 100,000 elements off the loop too. */
static void release_work(uv_work_t *w)
{
    struct bulk_op *b = w->data;
    json_decref(b->arr);
    b->arr = NULL;
}

static void release_after(uv_work_t *w, int status)
{
    struct bulk_op *b = w->data;
    (void)status;
    if (b->refused)
        bulk_free(b);
    else
        bulk_checked(b);
}

static void validated(uv_handle_t *h)
{
    struct bulk_op *b = h->data;
    if (uv_queue_work(b->app->loop, &b->work, release_work, release_after)) {
        release_work(&b->work);
        release_after(&b->work, 0);
    }
}

/* Validates the next BULK_SLICE elements; the idle handle brings it back on the next loop turn
 * until all are done or one is refused. */
static void validate_slice(uv_idle_t *h)
{
    struct bulk_op *b = h->data;
    uint64_t t = uv_hrtime();
    size_t end = b->n - b->next < BULK_SLICE ? b->n : b->next + BULK_SLICE;
    struct api_fail f;
    struct ztpd_device_rec d;
    for (size_t i = b->next; i < end && !b->refused; i++) {
        if (api_device_validate(b->app, json_array_get(b->arr, i), &d, &f)) {
            bulk_error(b->req, f.status, f.field, (long)i, f.msg);
            b->refused = 1;
        } else if (bulk_push(b, i, &d)) {
            api_error(b->req, 503, NULL, "out of memory");
            b->refused = 1;
        }
    }
    b->next = end;
    b->loop_ns += uv_hrtime() - t;
    if (b->refused || b->next == b->n) {
        uv_idle_stop(h);
        uv_close((uv_handle_t *)h, validated);
    }
}

static void parse_work(uv_work_t *w)
{
    struct bulk_op *b = w->data;
    uint64_t t = uv_hrtime();
    b->arr = json_loadb(b->req->body, b->req->body_len, JSON_REJECT_DUPLICATES, &b->jerr);
    b->parse_ns = uv_hrtime() - t;
}

/* Back on the loop with the parsed body: checks its shape, then starts the validation. */
static void parse_after(uv_work_t *w, int status)
{
    struct bulk_op *b = w->data;
    struct ztpd_http_req *req = b->req;
    (void)status; /* the work is never cancelled */
    if (!b->arr) {
        api_error(req, 400, NULL, "malformed JSON at line %d, column %d: %s", b->jerr.line,
                  b->jerr.column, b->jerr.text);
        bulk_free(b);
        return;
    }
    size_t n = json_is_array(b->arr) ? json_array_size(b->arr) : 0;
    char msg[128];
    if (!json_is_array(b->arr) || n == 0 || n > BULK_MAX_DEVICES) {
        if (!json_is_array(b->arr))
            snprintf(msg, sizeof msg, "expected a JSON array of device objects");
        else if (n == 0)
            snprintf(msg, sizeof msg, "the array is empty: nothing to import");
        else
            snprintf(msg, sizeof msg, "%zu devices in one request; at most %d", n,
                     BULK_MAX_DEVICES);
        bulk_error(req, 400, NULL, -1, msg);
        bulk_free(b);
        return;
    }
    b->devs = malloc(n * sizeof *b->devs);
    if (!b->devs) {
        api_error(req, 503, NULL, "out of memory");
        bulk_free(b);
        return;
    }
    b->n = n;
    b->failed = n;
    uv_idle_init(b->app->loop, &b->idle);
    b->idle.data = b;
    uv_idle_start(&b->idle, validate_slice);
}

static void bulk_create(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    struct ztpd_app *app = arg;
    (void)m;
    if (!api_authorized(app, req))
        return;
    if (req->body_len == 0) {
        bulk_error(req, 400, NULL, -1, "request body is empty: expected a JSON array of devices");
        return;
    }
    struct bulk_op *b = calloc(1, sizeof *b);
    if (!b) {
        api_error(req, 503, NULL, "out of memory");
        return;
    }
    b->op.run = bulk_run;
    b->op.done = bulk_done;
    b->app = app;
    b->req = req;
    b->t0 = uv_hrtime();
    b->work.data = b;
    /* The body stays put until the answer: the connection reads nothing more while busy. */
    if (uv_queue_work(app->loop, &b->work, parse_work, parse_after)) {
        parse_work(&b->work);
        parse_after(&b->work, 0);
    }
}

/* Whether the Authorization header carries one of the API tokens, without answering: only an
 * authenticated client may make us buffer BULK_MAX_BODY bytes. Compares in constant time. */
static int bulk_body_allowed(const struct ztpd_http_req *req, void *arg)
{
    return api_token_check(arg, req) == 1;
}

int api_bulk_routes(struct ztpd_app *app, struct ztpd_router *r)
{
    static const char path[] = "/api/provisioning/devices/bulk";
    if (ztpd_router_add(r, "POST", path, bulk_create, app))
        return ZTPD_ENOMEM;
    return ztpd_router_set_body_limit(r, "POST", path, BULK_MAX_BODY, bulk_body_allowed);
}
