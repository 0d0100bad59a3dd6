/* What only the sqlite backend shows, against a real database file: the ISO 8601 text it stores
 * timestamps as, the WAL journal it configures in the file, and a file that is not a database.
 * Everything backend-neutral (every ABI operation, error mapping, migrations, newer-schema
 * refusal, reopen of the same database) lives in tests/integration/storage_conformance.c, which
 * runs against both sqlite and postgres; add such checks there, not here. Raw SQL goes through
 * libsqlite3 loaded with dlopen, since the tests link nothing of sqlite. */
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
#include <unistd.h>

#include <cmocka.h>

#include "storage/loader.h"
#include "util/error.h"

#define T0 1700000000 /* 2023-11-14T22:13:20Z */

static char db_path[512];

static void host_log(void *ctx, int level, const char *msg)
{
    (void)ctx;
    if (level <= 1)
        fprintf(stderr, "  [backend log %d] %s\n", level, msg);
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
    assert_int_equal(version, 2); /* 2: registered_phones.contact */
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

/* Timestamps are stored as ISO 8601 UTC text with a 'T', as the sqlite3 CLI shows them (the
 * conformance suite only checks the UTC wall time, with the 'T' folded away). */
static void test_timestamps_stored_as_iso_text(void **state)
{
    struct fixture *f = *state;
    struct ztpd_device_rec d = device("001565123456", "1001"), out;
    d.created_at = T0;
    assert_int_equal(f->be->device_put(f->h, &d, ZTPD_PUT_INSERT), ZTPD_STORAGE_OK);
    assert_int_equal(f->be->device_touch(f->h, "001565123456", T0 + 3661), ZTPD_STORAGE_OK);

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
    assert_int_equal(out.created_at, T0);
    assert_int_equal(out.last_provisioned, T0 + 6400);
}

/* The file is put in WAL journal mode at open, and stays so when reopened. */
static void test_file_uses_wal_journal(void **state)
{
    struct fixture *f = *state;
    struct raw r;
    char v[128];
    raw_open(&r);
    raw_sql(&r, "PRAGMA journal_mode", v);
    assert_string_equal(v, "wal");
    raw_close(&r);

    f->be->close(f->h);
    f->h = NULL;
    open_db(f);
    raw_open(&r);
    raw_sql(&r, "PRAGMA journal_mode", v);
    assert_string_equal(v, "wal");
    raw_close(&r);
}

/* A file that exists but is not an sqlite database is an I/O error, not "unavailable". */
static void test_open_not_a_database(void **state)
{
    struct fixture *f = *state;
    char saved[sizeof db_path];
    void *h = NULL;
    memcpy(saved, db_path, sizeof saved);

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
        cmocka_unit_test_setup_teardown(test_timestamps_stored_as_iso_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_uses_wal_journal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_not_a_database, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
