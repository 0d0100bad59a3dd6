/* Storage backend loader: each deliberately broken mock backend is rejected with a message
 * naming the file and the field at fault; valid ones (a minimal mock, a future-minor mock, the
 * real sqlite backend) are accepted, and optional functions beyond struct_size are not read. */
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

static char log_buf[1024];

static void host_log(void *ctx, int level, const char *msg)
{
    (void)ctx, (void)level;
    snprintf(log_buf, sizeof log_buf, "%s", msg);
}

static const char *host_config(void *ctx, const char *key)
{
    (void)ctx, (void)key;
    return NULL;
}

static const struct ztpd_storage_host host = {
    .abi_major = ZTPD_STORAGE_ABI_MAJOR,
    .abi_minor = ZTPD_STORAGE_ABI_MINOR,
    .struct_size = sizeof host,
    .log = host_log,
    .config_get = host_config,
};

static void mock_path(char *out, size_t outlen, const char *name)
{
    snprintf(out, outlen, "%s/libmock-%s.so", ZTPD_MOCK_DIR, name);
}

/* Loads mock `name`, expects `code`, and that the message names the file and contains want. */
static void expect_reject(const char *name, int code, const char *want)
{
    char path[512], err[512] = "";
    struct ztpd_backend_module *m = NULL;
    mock_path(path, sizeof path, name);
    int r = ztpd_loader_open(&m, path, &host, err, sizeof err);
    if (r != code || !strstr(err, want) || !strstr(err, path))
        print_error("mock %s: got %d '%s', want %d containing '%s'\n", name, r, err, code, want);
    assert_int_equal(r, code);
    assert_null(m);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, want));
}

static void test_no_entry_symbol(void **state)
{
    (void)state;
    expect_reject("no_entry", ZTPD_EABI, "no entry symbol ztpd_storage_entry_v1");
}

static void test_entry_returns_null(void **state)
{
    (void)state;
    expect_reject("null_desc", ZTPD_EABI, "returned no descriptor");
}

static void test_wrong_abi_major(void **state)
{
    (void)state;
    expect_reject("bad_abi", ZTPD_EABI,
                  "built for storage ABI 2, daemon speaks 1: rebuild the backend");
}

static void test_struct_size_too_small(void **state)
{
    (void)state;
    expect_reject("small_struct", ZTPD_EABI, "struct_size");
    /* Record structs grew in minor 1 (registration contact): an older backend would write
     * rows of the old size. */
    expect_reject("old_records", ZTPD_EABI, "whose records differ");
}

static void test_null_name(void **state)
{
    (void)state;
    expect_reject("no_name", ZTPD_EABI, "descriptor has no name");
}

static void test_missing_mandatory_function(void **state)
{
    (void)state;
    expect_reject("missing_fn", ZTPD_EABI, "missing mandatory function device_put");
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_reject("does_not_exist", ZTPD_ENOENT, "no such backend file");
}

static void test_not_a_shared_object(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/not-a-backend.so", ZTPD_TEST_TMP);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is text, not ELF\n", f);
    fclose(f);
    struct ztpd_backend_module *m = NULL;
    assert_int_equal(ztpd_loader_open(&m, path, &host, err, sizeof err), ZTPD_EABI);
    assert_null(m);
    assert_non_null(strstr(err, "cannot load"));
    unlink(path);
}

static void test_good_mock_accepted(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    struct ztpd_backend_module *m = NULL;
    mock_path(path, sizeof path, "good");
    assert_int_equal(ztpd_loader_open(&m, path, &host, err, sizeof err), 0);
    assert_non_null(m);
    assert_string_equal(m->be->name, "mock-good");
    assert_string_equal(m->path, path);
    /* ping is non-NULL in the mock's memory but lies beyond its struct_size. */
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, ping)), 0);
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, count)), 0);
    /* Mandatory functions are callable. */
    void *h = NULL;
    int version = 0;
    assert_int_equal(m->be->open(&h, &host), ZTPD_STORAGE_OK);
    assert_int_equal(m->be->migrate(h, &version), ZTPD_STORAGE_OK);
    assert_int_equal(version, 1);
    m->be->close(h);
    ztpd_loader_close(m);
}

static void test_future_minor_accepted(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    struct ztpd_backend_module *m = NULL;
    mock_path(path, sizeof path, "good_future");
    assert_int_equal(ztpd_loader_open(&m, path, &host, err, sizeof err), 0);
    assert_true(m->be->struct_size > sizeof(struct ztpd_storage_backend));
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, ping)), 1);
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, count)), 0);
    assert_int_equal(m->be->ping(NULL), ZTPD_STORAGE_OK);
    ztpd_loader_close(m);
}

static void test_sqlite_backend_accepted(void **state)
{
    (void)state;
    char path[512], err[512] = "";
    assert_int_equal(ztpd_loader_find(NULL, "sqlite", path, sizeof path), 0);
    assert_non_null(strstr(path, "/libztpd-sqlite.so"));
    struct ztpd_backend_module *m = NULL;
    int r = ztpd_loader_open(&m, path, &host, err, sizeof err);
    if (r)
        print_error("%s\n", err);
    assert_int_equal(r, 0);
    assert_string_equal(m->be->name, "sqlite");
    assert_int_equal(m->be->abi_major, ZTPD_STORAGE_ABI_MAJOR);
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, ping)), 1);
    assert_int_equal(ztpd_loader_has(m->be, offsetof(struct ztpd_storage_backend, count)), 1);
    /* Without storage.sqlite.path the backend refuses to open, and says why. */
    void *h = NULL;
    log_buf[0] = '\0';
    assert_int_equal(m->be->open(&h, &host), ZTPD_STORAGE_EINVAL);
    assert_null(h);
    assert_non_null(strstr(log_buf, "storage.sqlite.path"));
    ztpd_loader_close(m);
}

static void test_find_rejects_path_tricks(void **state)
{
    (void)state;
    char out[512];
    const char *bad[] = {"",          "../sqlite", "a/b",     "/etc/passwd", "Sqlite",
                         "sqlite.so", "a-b",       "sq lite", ".."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(ztpd_loader_find(NULL, bad[i], out, sizeof out), ZTPD_EINVAL);
    assert_int_equal(ztpd_loader_find(NULL, NULL, out, sizeof out), ZTPD_EINVAL);
}

static void test_find_order_and_missing(void **state)
{
    (void)state;
    char dir[512], file[600], out[700];
    snprintf(dir, sizeof dir, "%s/modules", ZTPD_TEST_TMP);
    mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/libztpd-sqlite.so", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    /* module_dir comes before the build tree. */
    assert_int_equal(ztpd_loader_find(dir, "sqlite", out, sizeof out), 0);
    assert_string_equal(out, file);
    /* Not in module_dir: falls through to the build tree. */
    assert_int_equal(ztpd_loader_find(dir, "nothing_here", out, sizeof out), ZTPD_ENOENT);
    unlink(file);
    assert_int_equal(ztpd_loader_find(dir, "sqlite", out, sizeof out), 0);
    assert_string_equal(out, ZTPD_MODULE_DIR "/libztpd-sqlite.so");
    /* Output buffer too small. */
    assert_int_equal(ztpd_loader_find(dir, "sqlite", out, 8), ZTPD_ETOOBIG);
    rmdir(dir);
}

static void test_has_bounds(void **state)
{
    (void)state;
    assert_int_equal(ztpd_loader_has(NULL, 0), 0);
    ztpd_loader_close(NULL);
}

int main(void)
{
    if (mkdir(ZTPD_TEST_TMP, 0700) != 0 && errno != EEXIST) {
        perror(ZTPD_TEST_TMP);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_entry_symbol),
        cmocka_unit_test(test_entry_returns_null),
        cmocka_unit_test(test_wrong_abi_major),
        cmocka_unit_test(test_struct_size_too_small),
        cmocka_unit_test(test_null_name),
        cmocka_unit_test(test_missing_mandatory_function),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_not_a_shared_object),
        cmocka_unit_test(test_good_mock_accepted),
        cmocka_unit_test(test_future_minor_accepted),
        cmocka_unit_test(test_sqlite_backend_accepted),
        cmocka_unit_test(test_find_rejects_path_tricks),
        cmocka_unit_test(test_find_order_and_missing),
        cmocka_unit_test(test_has_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
