/* The sqlite backend through the loader, against a real database file: every ABI operation,
 * error mapping, migrations and persistence across reopen. Raw SQL checks (how a timestamp
 * reads in the sqlite3 CLI, a schema newer than known) go through libsqlite3 loaded with
 * dlopen, since the tests link nothing of sqlite. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/loader.h"
#include "util/error.h"

#define T0 1700000000 /* 2023-11-14T22:13:20Z */

static char db_path[512];
static char last_log[1024];

static void host_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= 1)
        fprintf(stderr, "  [backend log %d] %s\n", level, msg);
    snprintf(last_log, sizeof last_log, "%s", msg);
}

static const char *host_config(void *ctx, const char *key)
{
    (void)ctx;
    return strcmp(key, "storage.sqlite.path") == 0 ? db_path : NULL;
}

static const struct ztpd_storage_host host = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_ABI_MINOR,
    .struct_size = sizeof host,
    .log = host_log,
    .config_get = host_config,
};

struct fixture {
    struct ztpd_backend_module *mod;
    const struct ztpd_storage_backend *be;
    void *h;
};

static void remove_db(void)
{
    char p[600];
    unlink(db_path);
    snprintf(p, sizeof p, "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db_path);
    unlink(p);
}

static int open_db(struct fixture *f)
{
    int version = 0;
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, 1);
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char path[512], err[512];
    assert_non_null(f);
    remove_db();
    assert_int_equal(ztpd_loader_find(NULL, "sqlite", path, sizeof path), 0);
    assert_int_equal(ztpd_loader_open(&f->mod, path, &host, err, sizeof err), 0);
    f->be = f->mod->be;
    open_db(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->h)
        f->be->close(f->h);
    ztpd_loader_close(f->mod);
    free(f);
    remove_db();
    return 0;
}

/* --- raw access through libsqlite3, for what the ABI does not show --- */

typedef int (*sqlite_cb)(void *, int, char **, char **);
struct raw {
    void *dl;
    void *db;
    int (*open)(const char *, void **);
    int (*exec)(void *, const char *, sqlite_cb, void *, char **);
    int (*close)(void *);
};

static void raw_open(struct raw *r)
{
    r->dl = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
    assert_non_null(r->dl);
    void *sym;
    sym = dlsym(r->dl, "sqlite3_open");
    memcpy(&r->open, &sym, sizeof sym);
    sym = dlsym(r->dl, "sqlite3_exec");
    memcpy(&r->exec, &sym, sizeof sym);
    sym = dlsym(r->dl, "sqlite3_close");
    memcpy(&r->close, &sym, sizeof sym);
    assert_true(r->open && r->exec && r->close);
    assert_int_equal(r->open(db_path, &r->db), 0);
}

static int first_value(void *arg, int n, char **vals, char **cols)
{
    (void)cols;
    snprintf(arg, 128, "%s", n > 0 && vals[0] ? vals[0] : "NULL");
    return 1;
}

/* Runs sql; the first column of its first row (if any) goes to out (128 bytes). */
static void raw_sql(struct raw *r, const char *sql, char *out)
{
    if (out)
        strcpy(out, "<no row>");
    int rc = r->exec(r->db, sql, out ? first_value : NULL, out, NULL);
    /* SQLITE_ABORT (4) is first_value stopping after one row. */
    assert_true(rc == 0 || rc == 4);
}

static void raw_close(struct raw *r)
{
    r->close(r->db);
    dlclose(r->dl);
}

/* --- helpers --- */

static struct ztpd_device_rec device(const char *mac, const char *ext)
{
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    snprintf(d.mac, sizeof d.mac, "%s", mac);
    snprintf(d.extension, sizeof d.extension, "%s", ext);
    snprintf(d.vendor, sizeof d.vendor, "yealink");
    snprintf(d.model, sizeof d.model, "t46s");
    return d;
}

struct collect {
    int n;
    int stop_after;
    char keys[16][512]; /* big enough for any formatted row: no truncation */
    int64_t ids[16];
};

static int collect_device(const struct ztpd_device_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", row->mac);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

/* --- devices --- */

static void test_device_crud(void **state)
{
    struct fixture *f = *state;
    const struct ztpd_storage_backend *be = f->be;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    snprintf(d.config_url, sizeof d.config_url, "http://pbx/provision/001565123456.cfg");
    assert_int_equal(be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);

    assert_int_equal(be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.mac, "001565123456");
    assert_string_equal(out.extension, "1001");
    assert_string_equal(out.vendor, "yealink");
    assert_string_equal(out.model, "t46s");
    assert_string_equal(out.config_url, "http://pbx/provision/001565123456.cfg");
    assert_int_equal(out.created_at, T0);
    assert_int_equal(out.last_provisioned, 0);

    assert_int_equal(be->device_get(f->h, "001565999999", &out), ZTPD_STORAGE_ENOTFOUND);

    struct ztpd_device_rec d2 = device("805ec0aabbcc", "1002");
    assert_int_equal(be->device_put(f->h, &d2, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    struct collect c = {0};
    assert_int_equal(be->device_list(f->h, collect_device, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "001565123456");
    assert_string_equal(c.keys[1], "805ec0aabbcc");

    /* A callback returning non-zero stops the list, which still succeeds. */
    struct collect one = {.stop_after = 1};
    assert_int_equal(be->device_list(f->h, collect_device, &one), ZTPD_STORAGE_OK);
    assert_int_equal(one.n, 1);

    assert_int_equal(be->device_delete(f->h, "001565123456"), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_delete(f->h, "001565123456"), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_ENOTFOUND);
}

static void test_device_duplicate_conflicts(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001");
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    snprintf(d.extension, sizeof d.extension, "2002");
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_ECONFLICT);
    struct ztpd_device_rec out;
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.extension, "1001");
}

static void test_device_upsert_keeps_created_at(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_UPSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_touch(f->h, "001565123456", T0 + 60), ZTPD_STORAGE_OK);

    struct ztpd_device_rec again = device("001565123456", "1009");
    again.created_at = T0 + 5000;
    snprintf(again.model, sizeof again.model, "t57w");
    assert_int_equal(f->be->device_put(f->h, &again, ZTPD_PUT_UPSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.extension, "1009");
    assert_string_equal(out.model, "t57w");
    assert_int_equal(out.created_at, T0);
    /* last_provisioned 0 in an upsert means "unknown here": the stored one stays. */
    assert_int_equal(out.last_provisioned, T0 + 60);

    struct collect c = {0};
    assert_int_equal(f->be->device_list(f->h, collect_device, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
}

static void test_device_touch_and_timestamps(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_touch(f->h, "001565123456", T0 + 3661), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_touch(f->h, "001565000000", T0), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.created_at, T0);
    assert_int_equal(out.last_provisioned, T0 + 3661);

    /* Stored as ISO 8601 UTC text, as the sqlite3 CLI shows it. */
    struct raw r;
    char v[128];
    raw_open(&r);
    raw_sql(&r, "SELECT created_at FROM provisioned_devices", v);
    assert_string_equal(v, "2023-11-14T22:13:20");
    raw_sql(&r, "SELECT last_provisioned FROM provisioned_devices", v);
    assert_string_equal(v, "2023-11-14T23:14:21");
    /* A hand-edited row in sqlite's own datetime() form still reads back. */
    raw_sql(&r, "UPDATE provisioned_devices SET last_provisioned = '2023-11-15 00:00:00'", NULL);
    raw_close(&r);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.last_provisioned, T0 + 6400);

    /* created_at 0 means "now". */
    struct ztpd_device_rec n = device("001565654321", "1002");
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(f->be->device_put(f->h, &n, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565654321", &out), ZTPD_STORAGE_OK);
    assert_true(out.created_at >= before && out.created_at <= before + 5);
}

static void test_device_rejects_bad_input(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"", "00:15:65:12:34:56", "0015651234", "00156512345G", "001565ABCDEF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ztpd_device_rec d = device(bad[i], "1001");
        assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_EINVAL);
    }
    struct ztpd_device_rec d = device("001565123456", "1001");
    assert_int_equal(f->be->device_put(f->h, &d, 7), ZTPD_STORAGE_EINVAL);
}

static void test_transactions(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_ENOTFOUND);

    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->commit(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);

    /* A rollback with nothing open is harmless; a nested begin is an error, not a crash. */
    assert_int_equal(f->be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_EIO);
    assert_int_equal(f->be->rollback(f->h), ZTPD_STORAGE_OK);
}

/* --- extensions --- */

static int collect_ext(const struct ztpd_extension_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%lld|%lld", row->number, row->name,
             row->password, (long long)row->created_at, (long long)row->updated_at);
    c->n++;
    return 0;
}

static void test_extensions(void **state)
{
    struct fixture *f = *state;
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    snprintf(e.number, sizeof e.number, "1002");
    snprintf(e.name, sizeof e.name, "Bob");
    snprintf(e.password, sizeof e.password, "s3cret");
    e.created_at = T0;
    e.updated_at = T0;
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_OK);
    snprintf(e.number, sizeof e.number, "1001");
    snprintf(e.name, sizeof e.name, "Alice");
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_OK);

    /* Update: name and password change, created_at stays. */
    snprintf(e.name, sizeof e.name, "Alice Smith");
    snprintf(e.password, sizeof e.password, "n3w");
    e.created_at = T0 + 100;
    e.updated_at = T0 + 100;
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_OK);

    struct collect c = {0};
    assert_int_equal(f->be->extension_list(f->h, collect_ext, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "1001|Alice Smith|n3w|1700000000|1700000100");
    assert_string_equal(c.keys[1], "1002|Bob|s3cret|1700000000|1700000000");

    assert_int_equal(f->be->extension_delete(f->h, "1002"), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->extension_delete(f->h, "1002"), ZTPD_STORAGE_ENOTFOUND);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->extension_list(f->h, collect_ext, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);

    memset(&e, 0, sizeof e);
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_EINVAL);
}

/* --- registrations --- */

static struct ztpd_registration_rec reg(const char *mac, const char *ip, const char *ext)
{
    struct ztpd_registration_rec r;
    memset(&r, 0, sizeof r);
    snprintf(r.mac, sizeof r.mac, "%s", mac);
    snprintf(r.ip, sizeof r.ip, "%s", ip);
    snprintf(r.extension, sizeof r.extension, "%s", ext);
    snprintf(r.vendor, sizeof r.vendor, "yealink");
    snprintf(r.user_agent, sizeof r.user_agent, "Yealink SIP-T46S 66.86.0.15");
    snprintf(r.transport, sizeof r.transport, "udp");
    snprintf(r.mac_source, sizeof r.mac_source, "sip_registration");
    r.port = 5060;
    r.first_registered = T0;
    r.last_registered = T0 + 10;
    r.expires_at = T0 + 3610;
    return r;
}

static int collect_reg(const struct ztpd_registration_rec *row, void *arg)
{
    struct collect *c = arg;
    c->ids[c->n] = row->id;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%d|%s|%lld|%lld|%lld", row->mac, row->ip,
             row->extension, row->port, row->transport, (long long)row->first_registered,
             (long long)row->last_registered, (long long)row->expires_at);
    c->n++;
    return 0;
}

static void test_registrations(void **state)
{
    struct fixture *f = *state;
    struct ztpd_registration_rec r = reg("001565123456", "192.168.1.100", "1001");
    int64_t id = 0, id2 = 0;
    assert_int_equal(f->be->registration_upsert(f->h, &r, &id), ZTPD_STORAGE_OK);
    assert_true(id > 0);
    struct ztpd_registration_rec r2 = reg("805ec0aabbcc", "192.168.1.101", "1002");
    assert_int_equal(f->be->registration_upsert(f->h, &r2, &id2), ZTPD_STORAGE_OK);
    assert_true(id2 > id);

    /* Update in place: new IP, new expiry; first_registered 0 keeps the stored one. */
    r.id = id;
    snprintf(r.ip, sizeof r.ip, "192.168.1.150");
    r.first_registered = 0;
    r.last_registered = T0 + 500;
    r.expires_at = T0 + 4100;
    int64_t same = 0;
    assert_int_equal(f->be->registration_upsert(f->h, &r, &same), ZTPD_STORAGE_OK);
    assert_int_equal(same, id);

    struct collect c = {0};
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], id);
    assert_string_equal(c.keys[0], "001565123456|192.168.1.150|1001|5060|udp|1700000000|"
                                   "1700000500|1700004100");

    r.id = 999;
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(f->be->registration_delete(f->h, id2), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->registration_delete(f->h, id2), ZTPD_STORAGE_ENOTFOUND);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
}

/* The original guide's "Registration Cleanup" example: five rows, three incomplete. */
static void insert_guide_rows(struct fixture *f)
{
    struct ztpd_registration_rec rows[] = {
        reg("001565123456", "192.168.1.100", "1001"),
        reg("", "192.168.1.101", "1002"),
        reg("001565abcdef", "", "1003"),
        reg("001565112233", "192.168.1.102", ""),
        reg("001565445566", "192.168.1.103", "1005"),
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        assert_int_equal(f->be->registration_upsert(f->h, &rows[i], NULL), ZTPD_STORAGE_OK);
}

static void test_registration_cleanup_guide_example(void **state)
{
    struct fixture *f = *state;
    insert_guide_rows(f);
    struct ztpd_cleanup_policy all = {1, 1, 1};
    int removed = -1, kept = -1;
    assert_int_equal(f->be->registration_cleanup(f->h, &all, &removed, &kept), ZTPD_STORAGE_OK);
    assert_int_equal(removed, 3);
    assert_int_equal(kept, 2);
    struct collect c = {0};
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.ids[0], 1);
    assert_int_equal(c.ids[1], 5);

    /* Running it again finds nothing more. */
    assert_int_equal(f->be->registration_cleanup(f->h, &all, &removed, &kept), ZTPD_STORAGE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(kept, 2);
}

static void test_registration_cleanup_policy_and_empty_strings(void **state)
{
    struct fixture *f = *state;
    insert_guide_rows(f);
    /* Rows written by other tools may hold '' rather than NULL: both count as missing. */
    struct raw r;
    raw_open(&r);
    raw_sql(&r,
            "INSERT INTO registered_phones (mac_address, ip_address, extension_number) "
            "VALUES ('', '10.0.0.9', '1009')",
            NULL);
    raw_close(&r);
    struct ztpd_cleanup_policy mac_only = {1, 0, 0};
    int removed = -1, kept = -1;
    assert_int_equal(f->be->registration_cleanup(f->h, &mac_only, &removed, &kept),
                     ZTPD_STORAGE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(kept, 4);
    assert_int_equal(f->be->registration_cleanup(f->h, NULL, &removed, &kept), ZTPD_STORAGE_EINVAL);
}

/* --- request log --- */

static int collect_req(const struct ztpd_request_rec *row, void *arg)
{
    struct collect *c = arg;
    c->ids[c->n] = row->id;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%d|%lld", row->path, row->mac, row->ip,
             row->status, (long long)row->at);
    c->n++;
    return 0;
}

static void append_requests(struct fixture *f, int from, int n)
{
    struct ztpd_request_rec rows[16];
    assert_true(n <= 16);
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < n; i++) {
        rows[i].at = T0 + from + i;
        snprintf(rows[i].path, sizeof rows[i].path, "/provision/%d.cfg", from + i);
        snprintf(rows[i].ip, sizeof rows[i].ip, "10.0.0.%d", from + i);
        if ((from + i) % 2 == 0)
            snprintf(rows[i].mac, sizeof rows[i].mac, "001565123456");
        rows[i].status = (from + i) % 2 ? 404 : 200;
    }
    assert_int_equal(f->be->request_append(f->h, rows, (size_t)n), ZTPD_STORAGE_OK);
}

static void test_request_log(void **state)
{
    struct fixture *f = *state;
    append_requests(f, 0, 5);
    append_requests(f, 5, 3);
    assert_int_equal(f->be->request_append(f->h, NULL, 0), ZTPD_STORAGE_OK);

    struct collect c = {0};
    assert_int_equal(f->be->request_query(f->h, 3, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "/provision/7.cfg||10.0.0.7|404|1700000007");
    assert_string_equal(c.keys[1], "/provision/6.cfg|001565123456|10.0.0.6|200|1700000006");
    assert_true(c.ids[0] > c.ids[1] && c.ids[1] > c.ids[2]);

    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 100, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 8);

    /* Keep the newest 4. */
    assert_int_equal(f->be->request_trim(f->h, 4), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 100, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[3], "/provision/4.cfg|001565123456|10.0.0.4|200|1700000004");
    /* Keeping more than there is deletes nothing; keeping 0 empties the table. */
    assert_int_equal(f->be->request_trim(f->h, 10), ZTPD_STORAGE_OK);
    int64_t n = 0;
    assert_int_equal(f->be->count(f->h, "provisioning_requests", &n), ZTPD_STORAGE_OK);
    assert_int_equal(n, 4);
    assert_int_equal(f->be->request_trim(f->h, 0), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->count(f->h, "provisioning_requests", &n), ZTPD_STORAGE_OK);
    assert_int_equal(n, 0);
}

/* --- discovered devices --- */

static int collect_disc(const struct ztpd_discovered_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%s|%s|%lld|%lld|%lld", row->mac,
             row->vendor, row->model, row->firmware, row->ip, (long long)row->first_seen,
             (long long)row->last_seen, (long long)row->count);
    c->n++;
    return 0;
}

static void test_discovered(void **state)
{
    struct fixture *f = *state;
    struct ztpd_discovered_rec d;
    memset(&d, 0, sizeof d);
    snprintf(d.mac, sizeof d.mac, "805ec0aabbcc");
    snprintf(d.vendor, sizeof d.vendor, "yealink");
    snprintf(d.ip, sizeof d.ip, "10.0.0.5");
    d.first_seen = T0;
    d.last_seen = T0;
    d.count = 1;
    assert_int_equal(f->be->discovered_upsert(f->h, &d), ZTPD_STORAGE_OK);

    struct ztpd_discovered_rec d2 = d;
    snprintf(d2.mac, sizeof d2.mac, "001565000001");
    assert_int_equal(f->be->discovered_upsert(f->h, &d2), ZTPD_STORAGE_OK);

    /* Seen again: model and firmware learned, count and last_seen move, first_seen stays. */
    snprintf(d.model, sizeof d.model, "t46s");
    snprintf(d.firmware, sizeof d.firmware, "66.86.0.15");
    d.first_seen = T0 + 900;
    d.last_seen = T0 + 900;
    d.count = 2;
    assert_int_equal(f->be->discovered_upsert(f->h, &d), ZTPD_STORAGE_OK);

    struct collect c = {0};
    assert_int_equal(f->be->discovered_list(f->h, collect_disc, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "001565000001|yealink|||10.0.0.5|1700000000|1700000000|1");
    assert_string_equal(c.keys[1],
                        "805ec0aabbcc|yealink|t46s|66.86.0.15|10.0.0.5|1700000000|1700000900|2");

    assert_int_equal(f->be->discovered_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->discovered_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_ENOTFOUND);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->discovered_list(f->h, collect_disc, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
    snprintf(d.mac, sizeof d.mac, "not-a-mac");
    assert_int_equal(f->be->discovered_upsert(f->h, &d), ZTPD_STORAGE_EINVAL);
}

/* --- schema, persistence, optional functions --- */

static void test_migrate_twice_is_noop(void **state)
{
    struct fixture *f = *state;
    int version = 0;
    int64_t rows = 0;
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, 1);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, 1);
    assert_int_equal(f->be->count(f->h, "schema_version", &rows), ZTPD_STORAGE_OK);
    assert_int_equal(rows, 1);
}

static void test_reopen_keeps_data(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    append_requests(f, 0, 2);
    f->be->close(f->h);
    f->h = NULL;

    open_db(f);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.created_at, T0);
    int64_t n = 0;
    assert_int_equal(f->be->count(f->h, "provisioning_requests", &n), ZTPD_STORAGE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(f->be->count(f->h, "schema_version", &n), ZTPD_STORAGE_OK);
    assert_int_equal(n, 1);

    /* WAL journal, as configured at open. */
    struct raw r;
    char v[128];
    raw_open(&r);
    raw_sql(&r, "PRAGMA journal_mode", v);
    assert_string_equal(v, "wal");
    raw_close(&r);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    struct raw r;
    raw_open(&r);
    raw_sql(&r, "INSERT INTO schema_version (version, applied_at) VALUES (99, 'x')", NULL);
    raw_close(&r);
    f->be->close(f->h);
    f->h = NULL;
    int version = 0;
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_ESCHEMA);
    assert_non_null(strstr(last_log, "newer"));
}

static void test_ping_and_count(void **state)
{
    struct fixture *f = *state;
    int64_t n = -1;
    assert_int_equal(f->be->ping(f->h), ZTPD_STORAGE_OK);
    const char *tables[] = {"provisioned_devices", "registered_phones", "extensions",
                            "provisioning_requests", "discovered_devices"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        assert_int_equal(f->be->count(f->h, tables[i], &n), ZTPD_STORAGE_OK);
        assert_int_equal(n, 0);
    }
    assert_int_equal(f->be->count(f->h, "sqlite_master; DROP TABLE x", &n), ZTPD_STORAGE_EINVAL);
    assert_int_equal(f->be->count(f->h, NULL, &n), ZTPD_STORAGE_EINVAL);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    char saved[sizeof db_path];
    void *h = NULL;
    memcpy(saved, db_path, sizeof saved);

    /* Directory missing: the database cannot be reached. */
    snprintf(db_path, sizeof db_path, "%s/no/such/dir/ztpd.db", ZTPD_TEST_TMP);
    assert_int_equal(f->be->open(&h, &host), ZTPD_STORAGE_EUNAVAIL);
    assert_null(h);

    /* Not a database. */
    snprintf(db_path, sizeof db_path, "%s/garbage.db", ZTPD_TEST_TMP);
    FILE *g = fopen(db_path, "w");
    assert_non_null(g);
    for (int i = 0; i < 200; i++)
        fputs("this is not an sqlite database at all\n", g);
    fclose(g);
    assert_int_equal(f->be->open(&h, &host), ZTPD_STORAGE_EIO);
    assert_null(h);
    unlink(db_path);

    memcpy(db_path, saved, sizeof saved);
}

int main(void)
{
    if (mkdir(ZTPD_TEST_TMP, 0700) != 0 && errno != EEXIST) {
        perror(ZTPD_TEST_TMP);
        return 1;
    }
    snprintf(db_path, sizeof db_path, "%s/sqlite-backend-test.db", ZTPD_TEST_TMP);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_duplicate_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_upsert_keeps_created_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_touch_and_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_rejects_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extensions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_cleanup_guide_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_cleanup_policy_and_empty_strings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_twice_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
