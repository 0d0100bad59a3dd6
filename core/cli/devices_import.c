#include "cli/devices_import.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "cli/context.h"
#include "cli/import.h"
#include "registry/registry.h"
#include "storage/loader.h"
#include "storage/store.h"

/* What one bulk request takes (POST /api/provisioning/devices/bulk); the offline import keeps
 * the same bound so a file behaves the same either way. */
#define IMPORT_MAX_DEVICES 100000
/* The daemon answers a bulk import only after its commit, with no byte before: the wait grows
 * with the work. 100,000 rows take seconds, but minutes on a slow disk or a remote PostgreSQL
 * busy with something else (a clear of 100,000 rows just before): 60 s plus 5 ms a device. */
#define IMPORT_BASE_MS 60000
#define IMPORT_PER_DEVICE_MS 5
/* Listing 100,000 devices is ~25 MB of JSON; each wait for a byte is bounded, not the whole. */
#define FETCH_TIMEOUT_MS 120000
#define PROGRESS_EVERY 5000

static const char usage_import[] =
    "usage: ztpd devices import FILE|- [--format json|csv] [-c config.yml] [--offline]\n\n"
    "Registers every device of FILE (- reads stdin), all or nothing:\n"
    "  JSON  an array of device objects, as `ztpd devices export` writes them and\n"
    "        POST /api/provisioning/devices/bulk takes them\n"
    "        ([{\"mac_address\":\"00:15:65:12:34:56\",\"extension_number\":\"1001\",\n"
    "          \"vendor\":\"yealink\",\"model\":\"t46s\"}, ...])\n"
    "  CSV   a header line mac,extension,vendor,model (any order), then one device a line\n"
    "The format comes from the file name (.json, .csv), else from its first character;\n"
    "--format forces it. Every row is checked first (MAC, vendor, model, extension, duplicates\n"
    "in the file, MACs already registered) and each bad row is reported with its line; then\n"
    "nothing is changed. At most 100000 devices per import.\n";

struct job {
    struct cli_ctx *c;
    const char *name; /* for messages: the path, or "stdin" */
    struct ztpd_import imp;
    struct ztpd_device_rec *devs; /* one per row, valid when the whole file is */
    int *lines;                   /* the line of each dev */
    size_t n;
    int tty; /* progress on stderr */
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct mac_line {
    const char *mac;
    int line;
    size_t idx;
};

static int cmp_mac_line(const void *a, const void *b)
{
    const struct mac_line *x = a, *y = b;
    int c = strcmp(x->mac, y->mac);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Adds the errors for MACs repeated in the file or already registered. */
static int check_macs(struct job *j)
{
    struct mac_line *ml = malloc((j->n ? j->n : 1) * sizeof *ml);
    if (!ml)
        return -1;
    for (size_t i = 0; i < j->n; i++)
        ml[i] = (struct mac_line){j->devs[i].mac, j->lines[i], i};
    qsort(ml, j->n, sizeof *ml, cmp_mac_line);
    for (size_t i = 1; i < j->n; i++) {
        size_t first = i - 1;
        while (first > 0 && !strcmp(ml[first - 1].mac, ml[i].mac))
            first--;
        if (!strcmp(ml[i - 1].mac, ml[i].mac) &&
            ztpd_import_error_add(&j->imp, ml[i].line,
                                  "mac_address: device %s appears more than once in the file "
                                  "(first on line %d)",
                                  ml[i].mac, ml[first].line))
            break;
    }
    free(ml);
    for (size_t i = 0; i < j->n; i++) {
        if (ztpd_registry_device(j->c->app.reg, j->devs[i].mac) &&
            ztpd_import_error_add(&j->imp, j->lines[i],
                                  "mac_address: device %s is already registered", j->devs[i].mac))
            return -1;
    }
    return 0;
}

/* Validates every parsed row with the API's own check; fills devs/lines. -1 on ENOMEM. */
static int validate(struct job *j)
{
    size_t rows = j->imp.n_rows;
    j->devs = calloc(rows ? rows : 1, sizeof *j->devs);
    j->lines = calloc(rows ? rows : 1, sizeof *j->lines);
    if (!j->devs || !j->lines)
        return -1;
    for (size_t i = 0; i < rows; i++) {
        const struct ztpd_import_row *r = &j->imp.rows[i];
        struct api_fail f;
        if (r->obj) {
            if (api_device_validate(&j->c->app, r->obj, &j->devs[j->n], &f) == 0)
                j->lines[j->n++] = r->line;
            else if (ztpd_import_error_add(&j->imp, r->line, "%s", f.msg))
                return -1;
            /* The validated record is all that is needed from here on. */
            json_decref(j->imp.rows[i].obj);
            j->imp.rows[i].obj = NULL;
        }
        if (j->tty && ((i + 1) % PROGRESS_EVERY == 0 || i + 1 == rows))
            fprintf(stderr, "\rvalidated %zu/%zu", i + 1, rows);
    }
    if (j->tty && rows)
        fputc('\n', stderr);
    return check_macs(j);
}

static const char *jstr_or_empty(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Online validation needs what the daemon knows: its extensions and devices, put into a local
 * registry so api_device_validate and the duplicate check see the same inventory. */
static int fetch_inventory(struct cli_ctx *c)
{
    if (ztpd_registry_new(&c->app.reg))
        return CLI_FAIL;
    size_t i;
    json_t *v;
    json_t *arr = cli_api_get_array(c, "/api/extensions", FETCH_TIMEOUT_MS);
    if (!arr)
        return CLI_FAIL;
    json_array_foreach(arr, i, v)
    {
        struct ztpd_extension_rec e;
        memset(&e, 0, sizeof e);
        snprintf(e.number, sizeof e.number, "%s", jstr_or_empty(v, "number"));
        ztpd_registry_extension_put(c->app.reg, &e);
    }
    json_decref(arr);
    if (!(arr = cli_api_get_array(c, "/api/provisioning/devices", FETCH_TIMEOUT_MS)))
        return CLI_FAIL;
    json_array_foreach(arr, i, v)
    {
        struct ztpd_device_rec d;
        memset(&d, 0, sizeof d);
        snprintf(d.mac, sizeof d.mac, "%s", jstr_or_empty(v, "mac_address"));
        ztpd_registry_device_put(c->app.reg, &d);
    }
    json_decref(arr);
    return CLI_OK;
}

static int send_online(struct job *j)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < j->n; i++) {
        const struct ztpd_device_rec *d = &j->devs[i];
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s}", "mac_address", d->mac,
                                             "extension_number", d->extension, "vendor", d->vendor,
                                             "model", d->model));
    }
    char *body = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!body) {
        fprintf(stderr, "ztpd devices import: out of memory\n");
        return CLI_FAIL;
    }
    size_t wait_ms = IMPORT_BASE_MS + IMPORT_PER_DEVICE_MS * j->n;
    if (j->tty)
        fprintf(stderr,
                "sending %zu devices to ztpd at %s:%d; it answers once the database has "
                "committed them (waiting up to %zu s)\n",
                j->n, j->c->host, j->c->port, wait_ms / 1000);
    int status;
    json_t *res = NULL;
    j->c->errors_only = 1;
    int rc = cli_api(j->c, "POST", "/api/provisioning/devices/bulk", body, strlen(body),
                     (int)wait_ms, &status, &res);
    j->c->errors_only = 0;
    free(body);
    if (rc)
        return rc;
    if (status == 201) {
        json_decref(res);
        return CLI_OK;
    }
    json_t *idx = json_object_get(res, "index");
    const char *msg = json_string_value(json_object_get(res, "error"));
    if (json_is_integer(idx) && msg && json_integer_value(idx) >= 0 &&
        (size_t)json_integer_value(idx) < j->n) {
        /* The API numbers elements; the admin thinks in lines of the file. */
        size_t k = (size_t)json_integer_value(idx);
        if (!strncmp(msg, "element ", 8)) {
            const char *p = strstr(msg, ": ");
            if (p)
                msg = p + 2;
        }
        fprintf(stderr, "%s:%d: %s\n", j->name, j->lines[k], msg);
        fprintf(stderr,
                "ztpd devices import: the daemon refused the import (HTTP %d); nothing "
                "was imported\n",
                status);
    } else {
        cli_api_error(j->c, status, res);
        fprintf(stderr, "ztpd devices import: nothing was imported\n");
    }
    json_decref(res);
    return CLI_FAIL;
}

static int write_offline(struct job *j)
{
    const struct ztpd_storage_backend *be = ztpd_store_backend(j->c->app.store);
    void *h = ztpd_store_handle(j->c->app.store);
    size_t failed = j->n;
    int st = be->begin(h);
    int many = ztpd_loader_has(be, offsetof(struct ztpd_storage_backend, device_put_many));
    if (st == ZTPD_STORAGE_OK && many)
        st = be->device_put_many(h, j->devs, j->n, ZTPD_PUT_INSERT, &failed);
    for (size_t i = 0; !many && st == ZTPD_STORAGE_OK && i < j->n; i++) {
        st = be->device_put(h, &j->devs[i], ZTPD_PUT_INSERT);
        if (st)
            failed = i;
    }
    if (st == ZTPD_STORAGE_OK && j->tty)
        fprintf(stderr, "written %zu devices; waiting for the database to commit\n", j->n);
    if (st == ZTPD_STORAGE_OK)
        st = be->commit(h);
    if (st == ZTPD_STORAGE_OK)
        return CLI_OK;
    be->rollback(h);
    if (failed < j->n)
        fprintf(stderr, "%s:%d: mac_address: device %s was refused by the database: %s\n", j->name,
                j->lines[failed], j->devs[failed].mac, ztpd_store_strstatus(st));
    fprintf(stderr, "ztpd devices import: %s; nothing was imported\n", ztpd_store_strstatus(st));
    return CLI_FAIL;
}

static int run(struct job *j, const char *path, const char *fmt)
{
    struct cli_ctx *c = j->c;
    size_t len;
    char *data = cli_read_file(path, &len);
    if (!data)
        return CLI_FAIL;
    enum ztpd_import_format f = !fmt                   ? ZTPD_IMPORT_AUTO
                                : !strcmp(fmt, "json") ? ZTPD_IMPORT_JSON
                                                       : ZTPD_IMPORT_CSV;
    int rc = ztpd_import_parse(!strcmp(path, "-") ? NULL : path, data, len, f, &j->imp);
    free(data);
    if (rc) {
        fprintf(stderr, "ztpd devices import: out of memory\n");
        return CLI_FAIL;
    }
    if (j->imp.n_rows > IMPORT_MAX_DEVICES) {
        fprintf(stderr,
                "ztpd devices import: %s has %zu devices; one import takes at most %d: split "
                "the file\n",
                j->name, j->imp.n_rows, IMPORT_MAX_DEVICES);
        return CLI_FAIL;
    }
    if (j->imp.n_rows == 0 && j->imp.n_errors == 0) {
        fprintf(stderr, "ztpd devices import: %s holds no devices: nothing to import\n", j->name);
        return CLI_FAIL;
    }
    if (cli_ctx_config(c))
        return CLI_FAIL;
    if (c->offline)
        rc = cli_ctx_offline(c, 1);
    else
        rc = cli_ctx_online(c) || cli_ctx_vendors(c) || fetch_inventory(c) ? CLI_FAIL : CLI_OK;
    if (rc)
        return rc;
    double t0 = now_s();
    if (validate(j)) {
        fprintf(stderr, "ztpd devices import: out of memory\n");
        return CLI_FAIL;
    }
    if (j->imp.n_errors) {
        ztpd_import_errors_sort(&j->imp);
        for (size_t i = 0; i < j->imp.n_errors; i++) {
            const struct ztpd_import_error *e = &j->imp.errors[i];
            if (e->line > 0)
                fprintf(stderr, "%s:%d: %s\n", j->name, e->line, e->msg);
            else
                fprintf(stderr, "%s: %s\n", j->name, e->msg);
        }
        fprintf(stderr, "ztpd devices import: %zu problem%s in %s; nothing was imported\n",
                j->imp.n_errors, j->imp.n_errors == 1 ? "" : "s", j->name);
        return CLI_FAIL;
    }
    rc = c->offline ? write_offline(j) : send_online(j);
    if (rc)
        return rc;
    if (j->tty)
        fprintf(stderr, "committed %zu devices in %.1f s\n", j->n, now_s() - t0);
    printf("imported %zu devices from %s\n", j->n, j->name);
    return CLI_OK;
}

int cli_devices_import(int argc, char **argv)
{
    struct cli_ctx c;
    struct cli_flag flags[] = {{"--format", 1, NULL}};
    int rc = cli_ctx_parse(&c, "devices import", argc, argv, flags, 1, usage_import);
    if (rc >= 0)
        return rc;
    const char *fmt = flags[0].value;
    if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv")) {
        fprintf(stderr, "ztpd devices import: --format: '%s' is not json or csv\n", fmt);
        return CLI_USAGE;
    }
    if (c.n_pos != 1) {
        fprintf(stderr, "ztpd devices import: expected one FILE (or - for stdin)\n");
        fputs(usage_import, stderr);
        return CLI_USAGE;
    }
    struct job j;
    memset(&j, 0, sizeof j);
    j.c = &c;
    j.name = strcmp(c.pos[0], "-") ? c.pos[0] : "stdin";
    j.tty = isatty(STDERR_FILENO);
    rc = run(&j, c.pos[0], fmt);
    ztpd_import_free(&j.imp);
    free(j.devs);
    free(j.lines);
    cli_ctx_free(&c);
    return rc;
}
