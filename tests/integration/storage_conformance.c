/* One conformance suite for every storage backend: the same ABI calls with the same inputs and
 * the same expected outputs, run once per backend through the loader against a real database
 * that starts empty for every test.
 *
 * The backend comes from argv[1] or ZTPD_CONFORMANCE_BACKEND (sqlite | postgres). sqlite uses
 * a fresh file under ZTPD_TEST_TMP; postgres uses the database named by ZTPD_TEST_PG_DSN
 * (tests/integration/with_postgres.sh starts one) and drops ztpd's tables before each test.
 * What the ABI does not show (how a timestamp is stored, rows written by other tools) is
 * checked with raw SQL through the backend's client library, loaded with dlopen so this
 * program links against neither. Only that setup SQL differs between backends. */
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
#include "util/mac.h"

#define T0 1700000000   /* 2023-11-14T22:13:20Z */
#define SCHEMA_LATEST 2 /* 2: registered_phones.contact */

enum kind { K_SQLITE, K_POSTGRES };

static enum kind kind;
static const char *backend_name;
static char db_path[512];
static char pg_dsn[1024];
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
    if (strcmp(key, "storage.sqlite.path") == 0)
        return db_path;
    if (strcmp(key, "storage.postgres.dsn") == 0)
        return pg_dsn;
    return NULL;
}

static const struct ztpd_storage_host host = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_ABI_MINOR,
    .struct_size = sizeof host,
    .log = host_log,
    .config_get = host_config,
};

/* --- raw SQL through the backend's own client library --- */

typedef int (*sqlite_cb)(void *, int, char **, char **);
struct raw {
    void *dl;
    void *db;
    /* sqlite3 */
    int (*sq_open)(const char *, void **);
    int (*sq_exec)(void *, const char *, sqlite_cb, void *, char **);
    int (*sq_close)(void *);
    /* libpq; the enums are ints: CONNECTION_OK = 0, PGRES_COMMAND_OK = 1, PGRES_TUPLES_OK = 2 */
    void *(*pq_connect)(const char *);
    int (*pq_status)(const void *);
    const char *(*pq_errmsg)(const void *);
    void *(*pq_exec)(void *, const char *);
    int (*pq_result_status)(const void *);
    const char *(*pq_result_errmsg)(const void *);
    int (*pq_ntuples)(const void *);
    int (*pq_isnull)(const void *, int, int);
    char *(*pq_value)(const void *, int, int);
    void (*pq_clear)(void *);
    void (*pq_finish)(void *);
};

static void *sym(void *dl, const char *name)
{
    void *s = dlsym(dl, name);
    if (!s)
        fail_msg("%s: %s", name, dlerror());
    return s;
}

#define LOAD(r, field, name)                                                                       \
    do {                                                                                           \
        void *s_ = sym((r)->dl, name);                                                             \
        memcpy(&(r)->field, &s_, sizeof s_);                                                       \
    } while (0)

static void raw_open(struct raw *r)
{
    memset(r, 0, sizeof *r);
    if (kind == K_SQLITE) {
        r->dl = dlopen("libsqlite3.so.0", RTLD_NOW | RTLD_LOCAL);
        assert_non_null(r->dl);
        LOAD(r, sq_open, "sqlite3_open");
        LOAD(r, sq_exec, "sqlite3_exec");
        LOAD(r, sq_close, "sqlite3_close");
        assert_int_equal(r->sq_open(db_path, &r->db), 0);
        return;
    }
    /* NODELETE, as the backend pins it too: libpq's dependencies (OpenSSL, SASL) keep global
     * state they never free, lost (and reported as leaked) each time they are unloaded. */
    r->dl = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!r->dl)
        fail_msg("libpq.so.5: %s", dlerror());
    LOAD(r, pq_connect, "PQconnectdb");
    LOAD(r, pq_status, "PQstatus");
    LOAD(r, pq_errmsg, "PQerrorMessage");
    LOAD(r, pq_exec, "PQexec");
    LOAD(r, pq_result_status, "PQresultStatus");
    LOAD(r, pq_result_errmsg, "PQresultErrorMessage");
    LOAD(r, pq_ntuples, "PQntuples");
    LOAD(r, pq_isnull, "PQgetisnull");
    LOAD(r, pq_value, "PQgetvalue");
    LOAD(r, pq_clear, "PQclear");
    LOAD(r, pq_finish, "PQfinish");
    r->db = r->pq_connect(pg_dsn);
    if (!r->db || r->pq_status(r->db) != 0)
        fail_msg("raw connection: %s", r->db ? r->pq_errmsg(r->db) : "out of memory");
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
    if (kind == K_SQLITE) {
        int rc = r->sq_exec(r->db, sql, out ? first_value : NULL, out, NULL);
        /* SQLITE_ABORT (4) is first_value stopping after one row. */
        if (rc != 0 && rc != 4)
            fail_msg("raw sql failed (%d): %s", rc, sql);
        return;
    }
    void *res = r->pq_exec(r->db, sql);
    int rs = res ? r->pq_result_status(res) : -1;
    if (rs != 1 && rs != 2)
        fail_msg("raw sql failed: %s: %s", sql, res ? r->pq_result_errmsg(res) : "no result");
    if (out && rs == 2 && r->pq_ntuples(res) > 0)
        snprintf(out, 128, "%s", r->pq_isnull(res, 0, 0) ? "NULL" : r->pq_value(res, 0, 0));
    r->pq_clear(res);
}

static void raw_close(struct raw *r)
{
    if (kind == K_SQLITE)
        r->sq_close(r->db);
    else
        r->pq_finish(r->db);
    dlclose(r->dl);
}

/* One statement on a raw connection of its own. */
static void raw_once(const char *sql, char *out)
{
    struct raw r;
    raw_open(&r);
    raw_sql(&r, sql, out);
    raw_close(&r);
}

/* --- fixture: an empty database, the backend loaded, opened and migrated --- */

struct fixture {
    struct ztpd_backend_module *mod;
    const struct ztpd_storage_backend *be;
    void *h;
};

static void empty_database(void)
{
    if (kind == K_SQLITE) {
        char p[600];
        unlink(db_path);
        snprintf(p, sizeof p, "%s-wal", db_path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", db_path);
        unlink(p);
        return;
    }
    raw_once("SET client_min_messages = warning;"
             "DROP TABLE IF EXISTS provisioned_devices, registered_phones, extensions,"
             "  provisioning_requests, discovered_devices, schema_version CASCADE;"
             "DROP FUNCTION IF EXISTS conformance_reject() CASCADE",
             NULL);
}

static void open_db(struct fixture *f)
{
    int version = 0;
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, SCHEMA_LATEST);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char path[512], err[512];
    assert_non_null(f);
    empty_database();
    assert_int_equal(ztpd_loader_find(NULL, backend_name, path, sizeof path), 0);
    if (ztpd_loader_open(&f->mod, path, &host, err, sizeof err) != 0)
        fail_msg("%s", err);
    f->be = f->mod->be;
    assert_string_equal(f->be->name, backend_name);
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
    empty_database();
    return 0;
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
    char keys[16][1024]; /* big enough for any formatted row: no truncation */
    int64_t ids[16];
    int64_t times[16]; /* a time the row's check cannot know in advance */
};

static int collect_device(const struct ztpd_device_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%s|%s|%lld|%lld", row->mac, row->extension,
             row->vendor, row->model, row->config_url, (long long)row->created_at,
             (long long)row->last_provisioned);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static int64_t count_rows(struct fixture *f, const char *table)
{
    int64_t n = -1;
    assert_int_equal(f->be->count(f->h, table, &n), ZTPD_STORAGE_OK);
    return n;
}

/* --- devices --- */

static void test_device_crud(void **state)
{
    struct fixture *f = *state;
    const struct ztpd_storage_backend *be = f->be;
    struct ztpd_device_rec d = device("805ec0aabbcc", "1001"), out;
    d.created_at = T0;
    snprintf(d.config_url, sizeof d.config_url, "http://pbx/provision/805ec0aabbcc.cfg");
    assert_int_equal(be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);

    assert_int_equal(be->device_get(f->h, "805ec0aabbcc", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.mac, "805ec0aabbcc");
    assert_string_equal(out.extension, "1001");
    assert_string_equal(out.vendor, "yealink");
    assert_string_equal(out.model, "t46s");
    assert_string_equal(out.config_url, "http://pbx/provision/805ec0aabbcc.cfg");
    assert_int_equal(out.created_at, T0);
    assert_int_equal(out.last_provisioned, 0);
    assert_int_equal(be->device_get(f->h, "001565999999", &out), ZTPD_STORAGE_ENOTFOUND);

    /* Listed in insertion (id) order, not MAC order. */
    struct ztpd_device_rec d2 = device("001565123456", "1002");
    d2.created_at = T0 + 1;
    assert_int_equal(be->device_put(f->h, &d2, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    struct collect c = {0};
    assert_int_equal(be->device_list(f->h, collect_device, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "805ec0aabbcc|1001|yealink|t46s|"
                                   "http://pbx/provision/805ec0aabbcc.cfg|1700000000|0");
    assert_string_equal(c.keys[1], "001565123456|1002|yealink|t46s||1700000001|0");

    /* A callback returning non-zero stops the list, which still succeeds. */
    struct collect one = {.stop_after = 1};
    assert_int_equal(be->device_list(f->h, collect_device, &one), ZTPD_STORAGE_OK);
    assert_int_equal(one.n, 1);

    assert_int_equal(be->device_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(be->device_get(f->h, "805ec0aabbcc", &out), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(count_rows(f, "provisioned_devices"), 1);
}

static void test_device_duplicate_mac_conflicts(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    snprintf(d.extension, sizeof d.extension, "2002");
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.extension, "1001");
    /* The connection is still good after the conflict. */
    assert_int_equal(f->be->ping(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioned_devices"), 1);
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
    /* last_provisioned 0 in an upsert means "unknown here": the stored one stays ... */
    assert_int_equal(out.last_provisioned, T0 + 60);
    /* ... and a given one replaces it. */
    again.last_provisioned = T0 + 120;
    assert_int_equal(f->be->device_put(f->h, &again, ZTPD_PUT_UPSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.last_provisioned, T0 + 120);
    assert_int_equal(count_rows(f, "provisioned_devices"), 1);
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
    assert_int_equal(out.last_provisioned, T0 + 3661);

    /* Stored as UTC wall time, whatever the process's or the server's time zone. */
    char v[128];
    raw_once("SELECT created_at FROM provisioned_devices WHERE mac_address = '001565123456'", v);
    char *t = strchr(v, 'T');
    if (t)
        *t = ' '; /* sqlite keeps ISO 8601's T, PostgreSQL prints a space */
    assert_string_equal(v, "2023-11-14 22:13:20");
    raw_once("SELECT last_provisioned FROM provisioned_devices", v);
    if ((t = strchr(v, 'T')))
        *t = ' ';
    assert_string_equal(v, "2023-11-14 23:14:21");

    /* A zero creation time means "now"; a zero touch time too. */
    struct ztpd_device_rec n = device("001565654321", "1002");
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(f->be->device_put(f->h, &n, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_touch(f->h, "001565654321", 0), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565654321", &out), ZTPD_STORAGE_OK);
    int64_t after = (int64_t)time(NULL);
    assert_true(out.created_at >= before && out.created_at <= after);
    assert_true(out.last_provisioned >= before && out.last_provisioned <= after);

    /* A row written by another tool with a fraction of a second reads as the whole second. */
    raw_once("INSERT INTO provisioned_devices (mac_address, extension_number, vendor, model, "
             "created_at) VALUES ('001565777777', '1007', 'yealink', 't46s', "
             "'2023-11-14 22:13:20.75')",
             NULL);
    assert_int_equal(f->be->device_get(f->h, "001565777777", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.created_at, T0);
    assert_int_equal(out.last_provisioned, 0);

    /* Dates far from the epoch survive the round trip. */
    struct ztpd_device_rec far = device("001565000042", "1003");
    far.created_at = 4102444800; /* 2100-01-01 */
    far.last_provisioned = 1;
    assert_int_equal(f->be->device_put(f->h, &far, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565000042", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.created_at, 4102444800);
    assert_int_equal(out.last_provisioned, 1);
}

static void test_mac_normalization(void **state)
{
    struct fixture *f = *state;
    /* The backend stores only the normalized form and rejects every other one ... */
    const char *bad[] = {"",
                         "00:15:65:12:34:56",
                         "00-15-65-12-34-56",
                         "0015651234",
                         "0x1565123456",
                         " 01565123456",
                         "00156512345G",
                         "001565ABCDEF"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ztpd_device_rec d = device(bad[i], "1001");
        assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_EINVAL);
        assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_UPSERT), ZTPD_STORAGE_EINVAL);
        struct ztpd_discovered_rec disc;
        memset(&disc, 0, sizeof disc);
        snprintf(disc.mac, sizeof disc.mac, "%s", bad[i]);
        assert_int_equal(f->be->discovered_upsert(f->h, &disc), ZTPD_STORAGE_EINVAL);
    }
    assert_int_equal(count_rows(f, "provisioned_devices"), 0);
    assert_int_equal(count_rows(f, "discovered_devices"), 0);

    /* ... so what the core normalizes from any written form is found under one key. */
    const char *forms[] = {"00:15:65:AB:CD:EF", "00-15-65-ab-cd-ef", "001565ABCDEF",
                           "0015.65ab.cdef"};
    char mac[ZTPD_MAC_LEN + 1];
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        assert_int_equal(ztpd_mac_normalize(forms[i], strlen(forms[i]), mac), 0);
        struct ztpd_device_rec d = device(mac, "1001");
        assert_int_equal(f->be->device_put(f->h, &d, i == 0 ? ZTPD_PUT_INSERT : ZTPD_PUT_UPSERT),
                         ZTPD_STORAGE_OK);
    }
    struct collect c = {0};
    assert_int_equal(f->be->device_list(f->h, collect_device, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(strtok(c.keys[0], "|"), "001565abcdef");
    /* Lookups are by the stored form only. */
    struct ztpd_device_rec out;
    assert_int_equal(f->be->device_get(f->h, "001565ABCDEF", &out), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(f->be->device_get(f->h, "001565abcdef", &out), ZTPD_STORAGE_OK);

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
    assert_int_equal(f->be->device_touch(f->h, "001565123456", T0), ZTPD_STORAGE_OK);
    /* A touch of a missing device inside a batch is not fatal to the batch. */
    assert_int_equal(f->be->device_touch(f->h, "001565000000", T0), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(f->be->commit(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.last_provisioned, T0);

    /* A rollback with nothing open is harmless; a nested begin or a commit with nothing open
     * is an error, not a crash. */
    assert_int_equal(f->be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->commit(f->h), ZTPD_STORAGE_EIO);
    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->begin(f->h), ZTPD_STORAGE_EIO);
    assert_int_equal(f->be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->ping(f->h), ZTPD_STORAGE_OK);
}

/* --- extensions --- */

static int collect_ext(const struct ztpd_extension_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%lld|%lld", row->number, row->name,
             row->password, (long long)row->created_at, (long long)row->updated_at);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
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
    /* Listed by number as text, byte order: "200" after "1002", "A1" after digits. */
    snprintf(e.number, sizeof e.number, "200");
    snprintf(e.name, sizeof e.name, "Zoë \"Z\" O'Neil");
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_OK);

    /* Put on an existing number updates: name and password change, created_at stays. */
    snprintf(e.number, sizeof e.number, "1001");
    snprintf(e.name, sizeof e.name, "Alice Smith");
    snprintf(e.password, sizeof e.password, "n3w");
    e.created_at = T0 + 100;
    e.updated_at = T0 + 100;
    assert_int_equal(f->be->extension_put(f->h, &e), ZTPD_STORAGE_OK);

    struct collect c = {0};
    assert_int_equal(f->be->extension_list(f->h, collect_ext, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "1001|Alice Smith|n3w|1700000000|1700000100");
    assert_string_equal(c.keys[1], "1002|Bob|s3cret|1700000000|1700000000");
    assert_string_equal(c.keys[2], "200|Zoë \"Z\" O'Neil|s3cret|1700000000|1700000000");

    struct collect one = {.stop_after = 1};
    assert_int_equal(f->be->extension_list(f->h, collect_ext, &one), ZTPD_STORAGE_OK);
    assert_int_equal(one.n, 1);

    assert_int_equal(f->be->extension_delete(f->h, "1002"), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->extension_delete(f->h, "1002"), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(count_rows(f, "extensions"), 2);

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
    snprintf(r.model, sizeof r.model, "t46s");
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
    c->times[c->n] = row->first_registered;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%s|%s|%s|%s|%s|%d|%lld|%lld|%lld",
             row->mac, row->ip, row->extension, row->vendor, row->model, row->user_agent,
             row->transport, row->mac_source, row->port, (long long)row->first_registered,
             (long long)row->last_registered, (long long)row->expires_at);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_registrations(void **state)
{
    struct fixture *f = *state;
    struct ztpd_registration_rec r = reg("001565123456", "192.168.1.100", "1001");
    int64_t id = 0, id2 = 0;
    assert_int_equal(f->be->registration_upsert(f->h, &r, &id), ZTPD_STORAGE_OK);
    assert_int_equal(id, 1);
    struct ztpd_registration_rec r2 = reg("", "192.168.1.101", "1002");
    r2.port = 0;
    r2.transport[0] = '\0';
    r2.mac_source[0] = '\0';
    assert_int_equal(f->be->registration_upsert(f->h, &r2, &id2), ZTPD_STORAGE_OK);
    assert_int_equal(id2, 2);

    /* Update in place: new IP, new expiry; first_registered 0 keeps the stored one. */
    r.id = id;
    snprintf(r.ip, sizeof r.ip, "192.168.1.150");
    snprintf(r.transport, sizeof r.transport, "tcp");
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
    assert_int_equal(c.ids[1], id2);
    assert_string_equal(c.keys[0], "001565123456|192.168.1.150|1001|yealink|t46s|"
                                   "Yealink SIP-T46S 66.86.0.15|tcp|sip_registration|5060|"
                                   "1700000000|1700000500|1700004100");
    assert_string_equal(c.keys[1], "|192.168.1.101|1002|yealink|t46s|"
                                   "Yealink SIP-T46S 66.86.0.15|||0|"
                                   "1700000000|1700000010|1700003610");

    /* A zero first_registered on insert means now. */
    struct ztpd_registration_rec r3 = reg("001565000003", "10.0.0.3", "1003");
    r3.first_registered = 0;
    int64_t id3 = 0, before = (int64_t)time(NULL);
    assert_int_equal(f->be->registration_upsert(f->h, &r3, &id3), ZTPD_STORAGE_OK);
    assert_int_equal(id3, 3);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 3);
    assert_true(c.times[2] >= before && c.times[2] <= (int64_t)time(NULL));

    struct collect one = {.stop_after = 1};
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &one), ZTPD_STORAGE_OK);
    assert_int_equal(one.n, 1);

    r.id = 999;
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_ENOTFOUND);
    r.id = -1;
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_EINVAL);
    assert_int_equal(f->be->registration_delete(f->h, id2), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->registration_delete(f->h, id2), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(count_rows(f, "registered_phones"), 2);
}

static int collect_contact(const struct ztpd_registration_rec *row, void *arg)
{
    struct collect *c = arg;
    c->ids[c->n] = row->id;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%d", row->extension, row->contact, row->ip,
             row->port);
    c->n++;
    return 0;
}

/* ABI 1.1: the Contact URI is stored, updated, listed, and "" reads back as "". */
static void test_registration_contact(void **state)
{
    struct fixture *f = *state;
    struct ztpd_registration_rec r = reg("001565123456", "192.0.2.7", "1001");
    snprintf(r.contact, sizeof r.contact, "sip:1001@10.0.0.5:5062;transport=tcp");
    struct ztpd_registration_rec r2 = reg("", "192.0.2.8", "1002");
    int64_t id = 0, id2 = 0;
    assert_int_equal(f->be->registration_upsert(f->h, &r, &id), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->registration_upsert(f->h, &r2, &id2), ZTPD_STORAGE_OK);
    struct collect c = {0};
    assert_int_equal(f->be->registration_list(f->h, collect_contact, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0], "1001|sip:1001@10.0.0.5:5062;transport=tcp|192.0.2.7|5060");
    assert_string_equal(c.keys[1], "1002||192.0.2.8|5060");

    /* A refresh may move the contact (a phone that changed port). */
    r.id = id;
    snprintf(r.contact, sizeof r.contact, "sip:1001@10.0.0.5:5070");
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_OK);
    char v[128];
    raw_once("SELECT contact FROM registered_phones WHERE extension_number = '1001'", v);
    assert_string_equal(v, "sip:1001@10.0.0.5:5070");
    raw_once("SELECT COUNT(*) FROM registered_phones WHERE contact IS NULL", v);
    assert_string_equal(v, "1"); /* "" is stored as NULL, like the other optional strings */

    /* The longest URI the record holds round-trips unchanged. */
    memset(r.contact, 'a', sizeof r.contact - 1);
    memcpy(r.contact, "sip:", 4);
    r.contact[sizeof r.contact - 1] = '\0';
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->registration_list(f->h, collect_contact, &c), ZTPD_STORAGE_OK);
    assert_int_equal(strlen(c.keys[0]),
                     strlen("1001|") + sizeof r.contact - 1 + strlen("|192.0.2.7|5060"));
}

/* A database at schema 1 (before the contact column) with a registration in it, as an older
 * ztpd left it: migrating adds the column, keeps the row (contact "") and records version 2. */
static void test_migrate_registrations_from_v1(void **state)
{
    struct fixture *f = *state;
    struct ztpd_registration_rec r = reg("001565123456", "192.0.2.7", "1001");
    int64_t id = 0;
    assert_int_equal(f->be->registration_upsert(f->h, &r, &id), ZTPD_STORAGE_OK);
    /* Roll the schema back to version 1 exactly: the column and its schema_version row go. */
    raw_once("ALTER TABLE registered_phones DROP COLUMN contact", NULL);
    raw_once("DELETE FROM schema_version WHERE version = 2", NULL);
    f->be->close(f->h);
    f->h = NULL;

    int version = 0;
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, 2);
    assert_int_equal(count_rows(f, "schema_version"), 2);
    struct collect c = {0};
    assert_int_equal(f->be->registration_list(f->h, collect_reg, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.ids[0], id);
    assert_string_equal(c.keys[0], "001565123456|192.0.2.7|1001|yealink|t46s|"
                                   "Yealink SIP-T46S 66.86.0.15|udp|sip_registration|5060|"
                                   "1700000000|1700000010|1700003610");
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->registration_list(f->h, collect_contact, &c), ZTPD_STORAGE_OK);
    assert_string_equal(c.keys[0], "1001||192.0.2.7|5060");
    /* The migrated table takes contacts like a new one. */
    r.id = id;
    snprintf(r.contact, sizeof r.contact, "sip:1001@192.0.2.7:5060");
    assert_int_equal(f->be->registration_upsert(f->h, &r, NULL), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->registration_list(f->h, collect_contact, &c), ZTPD_STORAGE_OK);
    assert_string_equal(c.keys[0], "1001|sip:1001@192.0.2.7:5060|192.0.2.7|5060");
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
    raw_once("INSERT INTO registered_phones (mac_address, ip_address, extension_number) "
             "VALUES ('', '10.0.0.9', '1009')",
             NULL);
    struct ztpd_cleanup_policy none = {0, 0, 0};
    int removed = -1, kept = -1;
    assert_int_equal(f->be->registration_cleanup(f->h, &none, &removed, &kept), ZTPD_STORAGE_OK);
    assert_int_equal(removed, 0);
    assert_int_equal(kept, 6);
    struct ztpd_cleanup_policy mac_only = {1, 0, 0};
    assert_int_equal(f->be->registration_cleanup(f->h, &mac_only, &removed, &kept),
                     ZTPD_STORAGE_OK);
    assert_int_equal(removed, 2);
    assert_int_equal(kept, 4);
    struct ztpd_cleanup_policy ip_only = {0, 1, 0};
    assert_int_equal(f->be->registration_cleanup(f->h, &ip_only, &removed, &kept), ZTPD_STORAGE_OK);
    assert_int_equal(removed, 1);
    assert_int_equal(kept, 3);
    assert_int_equal(f->be->registration_cleanup(f->h, NULL, &removed, &kept), ZTPD_STORAGE_EINVAL);
}

/* --- request log --- */

static int collect_req(const struct ztpd_request_rec *row, void *arg)
{
    struct collect *c = arg;
    c->ids[c->n] = row->id;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%s|%d|%lld", row->path, row->mac, row->ip,
             row->user_agent, row->status, (long long)row->at);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
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
        snprintf(rows[i].user_agent, sizeof rows[i].user_agent, "ua%d", from + i);
        if ((from + i) % 2 == 0)
            snprintf(rows[i].mac, sizeof rows[i].mac, "001565123456");
        rows[i].status = (from + i) % 2 ? 404 : 200;
    }
    assert_int_equal(f->be->request_append(f->h, rows, (size_t)n), ZTPD_STORAGE_OK);
}

static void test_request_log_order_and_limits(void **state)
{
    struct fixture *f = *state;
    append_requests(f, 0, 5);
    append_requests(f, 5, 3);
    assert_int_equal(f->be->request_append(f->h, NULL, 0), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->request_append(f->h, NULL, 1), ZTPD_STORAGE_EINVAL);

    struct collect c = {0};
    assert_int_equal(f->be->request_query(f->h, 3, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.keys[0], "/provision/7.cfg||10.0.0.7|ua7|404|1700000007");
    assert_string_equal(c.keys[1], "/provision/6.cfg|001565123456|10.0.0.6|ua6|200|1700000006");
    assert_string_equal(c.keys[2], "/provision/5.cfg||10.0.0.5|ua5|404|1700000005");
    assert_true(c.ids[0] > c.ids[1] && c.ids[1] > c.ids[2]);

    /* Newest first means last appended first, even when its time is older. */
    struct ztpd_request_rec late;
    memset(&late, 0, sizeof late);
    late.at = T0 - 100;
    late.status = 200;
    snprintf(late.path, sizeof late.path, "/late.cfg");
    assert_int_equal(f->be->request_append(f->h, &late, 1), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 1, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.keys[0], "/late.cfg||||200|1699999900");

    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 100, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 9);
    assert_string_equal(c.keys[8], "/provision/0.cfg|001565123456|10.0.0.0|ua0|200|1700000000");
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, SIZE_MAX, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 9);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 0, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 0);
    struct collect two = {.stop_after = 2};
    assert_int_equal(f->be->request_query(f->h, 100, collect_req, &two), ZTPD_STORAGE_OK);
    assert_int_equal(two.n, 2);

    /* Keep the newest 4. */
    assert_int_equal(f->be->request_trim(f->h, 4), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 100, collect_req, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 4);
    assert_string_equal(c.keys[0], "/late.cfg||||200|1699999900");
    assert_string_equal(c.keys[3], "/provision/5.cfg||10.0.0.5|ua5|404|1700000005");
    /* Keeping more than there is deletes nothing; keeping 0 empties the table. */
    assert_int_equal(f->be->request_trim(f->h, 10), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioning_requests"), 4);
    assert_int_equal(f->be->request_trim(f->h, SIZE_MAX), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioning_requests"), 4);
    assert_int_equal(f->be->request_trim(f->h, 0), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioning_requests"), 0);

    /* A zero time means now. */
    memset(&late, 0, sizeof late);
    snprintf(late.path, sizeof late.path, "/now.cfg");
    int64_t before = (int64_t)time(NULL);
    assert_int_equal(f->be->request_append(f->h, &late, 1), ZTPD_STORAGE_OK);
    memset(&c, 0, sizeof c);
    assert_int_equal(f->be->request_query(f->h, 1, collect_req, &c), ZTPD_STORAGE_OK);
    long long at = atoll(strrchr(c.keys[0], '|') + 1);
    assert_true(at >= before && at <= (int64_t)time(NULL));
}

/* Makes the database refuse any request row whose path is "/refused", the way a failing disk
 * or a constraint added by an admin would: setup SQL differs, the behaviour under test not. */
static void refuse_path(void)
{
    if (kind == K_SQLITE) {
        raw_once("CREATE TRIGGER conformance_reject BEFORE INSERT ON provisioning_requests "
                 "WHEN NEW.path = '/refused' BEGIN SELECT RAISE(ABORT, 'refused'); END",
                 NULL);
        return;
    }
    raw_once("CREATE FUNCTION conformance_reject() RETURNS trigger LANGUAGE plpgsql AS $$"
             "BEGIN IF NEW.path = '/refused' THEN "
             "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; "
             "RETURN NEW; END $$;"
             "CREATE TRIGGER conformance_reject BEFORE INSERT ON provisioning_requests "
             "FOR EACH ROW EXECUTE FUNCTION conformance_reject()",
             NULL);
}

static void test_request_append_all_or_nothing(void **state)
{
    struct fixture *f = *state;
    append_requests(f, 0, 2);
    refuse_path();
    struct ztpd_request_rec rows[3];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 3; i++) {
        rows[i].at = T0 + 10 + i;
        rows[i].status = 200;
        snprintf(rows[i].path, sizeof rows[i].path, i == 2 ? "/refused" : "/ok%d.cfg", i);
    }
    assert_int_equal(f->be->request_append(f->h, rows, 3), ZTPD_STORAGE_EINVAL);
    assert_int_equal(count_rows(f, "provisioning_requests"), 2);
    /* The connection and the table are fine afterwards. */
    assert_int_equal(f->be->request_append(f->h, rows, 2), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioning_requests"), 4);
    struct collect c = {0};
    assert_int_equal(f->be->request_query(f->h, 1, collect_req, &c), ZTPD_STORAGE_OK);
    assert_string_equal(c.keys[0], "/ok1.cfg||||200|1700000011");
}

/* --- discovered devices --- */

static int collect_disc(const struct ztpd_discovered_rec *row, void *arg)
{
    struct collect *c = arg;
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s|%s|%s|%s|%s|%s|%lld|%lld|%lld", row->mac,
             row->vendor, row->model, row->firmware, row->ip, row->user_agent,
             (long long)row->first_seen, (long long)row->last_seen, (long long)row->count);
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static void test_discovered(void **state)
{
    struct fixture *f = *state;
    struct ztpd_discovered_rec d;
    memset(&d, 0, sizeof d);
    snprintf(d.mac, sizeof d.mac, "805ec0aabbcc");
    snprintf(d.vendor, sizeof d.vendor, "yealink");
    snprintf(d.ip, sizeof d.ip, "10.0.0.5");
    snprintf(d.user_agent, sizeof d.user_agent, "Yealink W52P");
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

    /* Listed by MAC. */
    struct collect c = {0};
    assert_int_equal(f->be->discovered_list(f->h, collect_disc, &c), ZTPD_STORAGE_OK);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.keys[0],
                        "001565000001|yealink|||10.0.0.5|Yealink W52P|1700000000|1700000000|1");
    assert_string_equal(
        c.keys[1],
        "805ec0aabbcc|yealink|t46s|66.86.0.15|10.0.0.5|Yealink W52P|1700000000|1700000900|2");
    struct collect one = {.stop_after = 1};
    assert_int_equal(f->be->discovered_list(f->h, collect_disc, &one), ZTPD_STORAGE_OK);
    assert_int_equal(one.n, 1);

    assert_int_equal(f->be->discovered_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->discovered_delete(f->h, "805ec0aabbcc"), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(count_rows(f, "discovered_devices"), 1);
}

/* device_put_many: 12,000 rows cross the PostgreSQL backend's 5,000-row chunks. */
#define MANY 12000

static struct ztpd_device_rec *many_rows(size_t n, unsigned prefix)
{
    struct ztpd_device_rec *rows = calloc(n, sizeof *rows);
    assert_non_null(rows);
    for (size_t i = 0; i < n; i++) {
        char mac[16];
        snprintf(mac, sizeof mac, "02%02x%08x", prefix & 0xffu, (unsigned)(i & 0xffffffffu));
        rows[i] = device(mac, i % 2 ? "1001" : "1002");
        rows[i].created_at = T0 + (int64_t)i;
        /* Quotes, backslashes and commas must survive any array or COPY encoding. */
        if (i % 3 == 0)
            snprintf(rows[i].config_url, sizeof rows[i].config_url,
                     "http://pbx/p/\"%zu\"\\x,{y}.cfg", i);
    }
    return rows;
}

static void test_device_put_many(void **state)
{
    struct fixture *f = *state;
    const struct ztpd_storage_backend *be = f->be;
    assert_non_null(be->device_put_many);
    struct ztpd_device_rec *rows = many_rows(MANY, 1), out;
    size_t failed = 0;
    assert_int_equal(be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_put_many(f->h, rows, MANY, ZTPD_PUT_INSERT, &failed),
                     ZTPD_STORAGE_OK);
    assert_int_equal(failed, MANY);
    assert_int_equal(be->commit(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioned_devices"), MANY);
    for (size_t i = 0; i < MANY; i += 2999) {
        assert_int_equal(be->device_get(f->h, rows[i].mac, &out), ZTPD_STORAGE_OK);
        assert_string_equal(out.extension, rows[i].extension);
        assert_string_equal(out.config_url, rows[i].config_url);
        assert_int_equal(out.created_at, rows[i].created_at);
        assert_int_equal(out.last_provisioned, 0);
    }
    /* Listed in array order, as MANY single inserts would be. */
    struct collect c = {.stop_after = 3};
    assert_int_equal(be->device_list(f->h, collect_device, &c), ZTPD_STORAGE_OK);
    assert_non_null(strstr(c.keys[0], rows[0].mac));
    assert_non_null(strstr(c.keys[2], rows[2].mac));

    /* A row already stored, deep in the second chunk: the right index, nothing kept. */
    struct ztpd_device_rec *more = many_rows(MANY, 2);
    more[7321] = rows[4];
    failed = 0;
    assert_int_equal(be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_put_many(f->h, more, MANY, ZTPD_PUT_INSERT, &failed),
                     ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(failed, 7321);
    assert_int_equal(be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioned_devices"), MANY);
    assert_int_equal(be->device_get(f->h, more[0].mac, &out), ZTPD_STORAGE_ENOTFOUND);

    /* A MAC twice in the array: the second occurrence is the one refused. */
    struct ztpd_device_rec dup[3] = {more[0], more[1], more[0]};
    assert_int_equal(be->begin(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_put_many(f->h, dup, 3, ZTPD_PUT_INSERT, &failed),
                     ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(failed, 2);
    assert_int_equal(be->rollback(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioned_devices"), MANY);

    /* Without the caller's transaction: its own, all or nothing. */
    struct ztpd_device_rec pair[2] = {more[5], rows[9]};
    assert_int_equal(be->device_put_many(f->h, pair, 2, ZTPD_PUT_INSERT, &failed),
                     ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(failed, 1);
    assert_int_equal(be->device_get(f->h, more[5].mac, &out), ZTPD_STORAGE_ENOTFOUND);
    assert_int_equal(be->device_put_many(f->h, pair, 1, ZTPD_PUT_INSERT, &failed), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_put_many(f->h, pair, 0, ZTPD_PUT_INSERT, &failed), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "provisioned_devices"), MANY + 1);

    /* Upsert replaces and keeps created_at; a bad MAC is refused with its index. */
    pair[1].created_at = T0 + 999999;
    snprintf(pair[1].extension, sizeof pair[1].extension, "2002");
    assert_int_equal(be->device_put_many(f->h, pair, 2, ZTPD_PUT_UPSERT, &failed), ZTPD_STORAGE_OK);
    assert_int_equal(be->device_get(f->h, rows[9].mac, &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.extension, "2002");
    assert_int_equal(out.created_at, rows[9].created_at);
    /* Every MAC is checked before anything is written, whatever the rows before it. */
    pair[0] = rows[10];
    snprintf(pair[1].mac, sizeof pair[1].mac, "nothexnothex");
    assert_int_equal(be->device_put_many(f->h, pair, 2, ZTPD_PUT_INSERT, &failed),
                     ZTPD_STORAGE_EINVAL);
    assert_int_equal(failed, 1);
    assert_int_equal(count_rows(f, "provisioned_devices"), MANY + 1);
    assert_int_equal(be->ping(f->h), ZTPD_STORAGE_OK);
    free(rows);
    free(more);
}

/* --- schema --- */

static void test_migrate_from_empty_database(void **state)
{
    struct fixture *f = *state;
    /* setup migrated an empty database: every table is there, empty, and each version
     * recorded. */
    const char *tables[] = {"provisioned_devices", "registered_phones", "extensions",
                            "provisioning_requests", "discovered_devices"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        assert_int_equal(count_rows(f, tables[i]), 0);
    assert_int_equal(count_rows(f, "schema_version"), SCHEMA_LATEST);
    char v[128];
    raw_once("SELECT MAX(version) FROM schema_version", v);
    assert_int_equal(atoi(v), SCHEMA_LATEST);
    raw_once("SELECT COUNT(*) FROM schema_version WHERE applied_at IS NOT NULL", v);
    assert_int_equal(atoi(v), SCHEMA_LATEST);
}

static void test_migrate_up_to_date_is_noop(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    int version = 0;
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, SCHEMA_LATEST);
    assert_int_equal(f->be->migrate(f->h, NULL), ZTPD_STORAGE_OK);
    assert_int_equal(count_rows(f, "schema_version"), SCHEMA_LATEST);

    /* Reopening and migrating again keeps the data and records nothing new. */
    append_requests(f, 0, 2);
    f->be->close(f->h);
    f->h = NULL;
    open_db(f);
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_int_equal(out.created_at, T0);
    assert_int_equal(count_rows(f, "provisioning_requests"), 2);
    assert_int_equal(count_rows(f, "schema_version"), SCHEMA_LATEST);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    raw_once("INSERT INTO schema_version (version, applied_at) VALUES (99, '2024-01-01 00:00:00')",
             NULL);
    f->be->close(f->h);
    f->h = NULL;
    int version = 0;
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_ESCHEMA);
    assert_non_null(strstr(last_log, "newer"));
    /* Nothing was changed by the refusal. */
    assert_int_equal(count_rows(f, "schema_version"), SCHEMA_LATEST + 1);
}

/* schema_info reads the versions without migrating: up to date, newer, and none at all. */
static void test_schema_info(void **state)
{
    struct fixture *f = *state;
    int version = 0, cur = -1, latest = -1;
    assert_non_null(f->be->schema_info);
    assert_int_equal(f->be->migrate(f->h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->schema_info(f->h, &cur, &latest), ZTPD_STORAGE_OK);
    assert_int_equal(cur, version);
    assert_int_equal(latest, version);

    raw_once("INSERT INTO schema_version (version, applied_at) VALUES (99, '2024-01-01 00:00:00')",
             NULL);
    assert_int_equal(f->be->schema_info(f->h, &cur, &latest), ZTPD_STORAGE_OK);
    assert_int_equal(cur, 99);
    assert_int_equal(latest, version);

    f->be->close(f->h);
    f->h = NULL;
    empty_database();
    assert_int_equal(f->be->open(&f->h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->schema_info(f->h, &cur, &latest), ZTPD_STORAGE_OK);
    assert_int_equal(cur, 0);
    assert_int_equal(latest, version);
    /* Nothing was created on the way. */
    int64_t n;
    assert_int_not_equal(f->be->count(f->h, "schema_version", &n), ZTPD_STORAGE_OK);
    assert_int_not_equal(f->be->count(f->h, "provisioned_devices", &n), ZTPD_STORAGE_OK);
}

/* --- connection --- */

static void test_ping_and_count(void **state)
{
    struct fixture *f = *state;
    int64_t n = -1;
    assert_int_equal(f->be->ping(f->h), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->count(f->h, "provisioned_devices; DROP TABLE x", &n),
                     ZTPD_STORAGE_EINVAL);
    assert_int_equal(f->be->count(f->h, "sqlite_master", &n), ZTPD_STORAGE_EINVAL);
    assert_int_equal(f->be->count(f->h, NULL, &n), ZTPD_STORAGE_EINVAL);
}

/* The session is cut from the server side (postgres: its backend process is terminated, as a
 * server restart or a failover does; sqlite has no session to cut). The next call reconnects by
 * itself and succeeds. */
static void test_survives_lost_session(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    if (kind == K_POSTGRES) {
        char v[128];
        /* The backend names its sessions "ztpd"; the raw connection has no name. */
        raw_once("SELECT COUNT(*) FROM (SELECT pid FROM pg_stat_activity "
                 "WHERE datname = current_database() AND application_name = 'ztpd' OFFSET 0) s "
                 "WHERE pg_terminate_backend(pid, 5000)",
                 v);
        assert_string_equal(v, "1");
    }
    assert_int_equal(f->be->device_get(f->h, "001565123456", &out), ZTPD_STORAGE_OK);
    assert_string_equal(out.extension, "1001");
    assert_int_equal(f->be->ping(f->h), ZTPD_STORAGE_OK);
    /* Statements prepared before the cut work again on the new session. */
    d = device("001565654321", "1002");
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_ECONFLICT);
    assert_int_equal(count_rows(f, "provisioned_devices"), 2);
}

static void test_open_errors(void **state)
{
    struct fixture *f = *state;
    void *h = NULL;
    char saved_path[sizeof db_path], saved_dsn[sizeof pg_dsn];
    memcpy(saved_path, db_path, sizeof saved_path);
    memcpy(saved_dsn, pg_dsn, sizeof saved_dsn);

    /* Configured but unreachable: a missing directory, a port nobody listens on. */
    snprintf(db_path, sizeof db_path, "%s/no/such/dir/ztpd.db", ZTPD_TEST_TMP);
    snprintf(pg_dsn, sizeof pg_dsn, "host=127.0.0.1 port=1 dbname=ztpd connect_timeout=5");
    assert_int_equal(f->be->open(&h, &host), ZTPD_STORAGE_EUNAVAIL);
    assert_null(h);

    memcpy(db_path, saved_path, sizeof saved_path);
    memcpy(pg_dsn, saved_dsn, sizeof saved_dsn);
}

int main(int argc, char **argv)
{
    backend_name = argc > 1 ? argv[1] : getenv("ZTPD_CONFORMANCE_BACKEND");
    if (!backend_name || !*backend_name)
        backend_name = "sqlite";
    if (strcmp(backend_name, "sqlite") == 0) {
        kind = K_SQLITE;
        if (mkdir(ZTPD_TEST_TMP, 0700) != 0 && errno != EEXIST) {
            perror(ZTPD_TEST_TMP);
            return 1;
        }
        /* The pid keeps parallel runs of this program apart. */
        snprintf(db_path, sizeof db_path, "%s/conformance-%ld.db", ZTPD_TEST_TMP, (long)getpid());
    } else if (strcmp(backend_name, "postgres") == 0) {
        kind = K_POSTGRES;
        const char *dsn = getenv("ZTPD_TEST_PG_DSN");
        if (!dsn || !*dsn) {
            fprintf(stderr, "ZTPD_TEST_PG_DSN is not set: run through "
                            "tests/integration/with_postgres.sh\n");
            return 1;
        }
        snprintf(pg_dsn, sizeof pg_dsn, "%s", dsn);
    } else {
        fprintf(stderr, "unknown backend '%s' (expected sqlite or postgres)\n", backend_name);
        return 2;
    }
    /* Far from UTC (and with a 45-minute offset): a backend that used local time would show. */
    setenv("TZ", "Pacific/Chatham", 1);
    tzset();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_duplicate_mac_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_upsert_keeps_created_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_touch_and_timestamps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mac_normalization, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extensions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registrations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_registrations_from_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_cleanup_guide_example, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_cleanup_policy_and_empty_strings, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_request_log_order_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_append_all_or_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_discovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_from_empty_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_up_to_date_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_put_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_schema_info, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_and_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_lost_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
    };
    const char *group =
        kind == K_SQLITE ? "storage_conformance.sqlite" : "storage_conformance.postgres";
    return _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
