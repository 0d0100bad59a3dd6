/* The in-memory registry and its hash map: growth past many entries, removal, sorted listing,
 * the generation counter caches rely on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "registry/registry.h"
#include "util/error.h"
#include "util/hmap.h"

static void test_hmap_many(void **state)
{
    (void)state;
    struct ztpd_hmap *m;
    assert_int_equal(ztpd_hmap_new(&m), 0);
    static int values[20000];
    char key[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(ztpd_hmap_put(m, key, &values[i], NULL), 0);
    }
    assert_int_equal(ztpd_hmap_count(m), 20000);
    /* Remove every other key, then re-add some: tombstones must not break lookups. */
    for (int i = 0; i < 20000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        assert_ptr_equal(ztpd_hmap_remove(m, key), &values[i]);
    }
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_ptr_equal(ztpd_hmap_get(m, key), i % 2 ? &values[i] : NULL);
    }
    for (int i = 0; i < 1000; i += 2) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(ztpd_hmap_put(m, key, &values[i], NULL), 0);
    }
    assert_int_equal(ztpd_hmap_count(m), 10500);
    void *old = NULL;
    assert_int_equal(ztpd_hmap_put(m, "k1", &values[0], &old), 0);
    assert_ptr_equal(old, &values[1]);
    assert_int_equal(ztpd_hmap_count(m), 10500);
    assert_null(ztpd_hmap_remove(m, "absent"));
    ztpd_hmap_free(m);
}

static void test_registry_devices(void **state)
{
    (void)state;
    struct ztpd_registry *r;
    assert_int_equal(ztpd_registry_new(&r), 0);
    uint64_t g0 = ztpd_registry_generation(r);
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    const char *macs[] = {"805ec0000002", "001565123456", "000bea85bc14"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(d.mac, sizeof d.mac, "%s", macs[i]);
        snprintf(d.extension, sizeof d.extension, "%s", i == 2 ? "1002" : "1001");
        assert_int_equal(ztpd_registry_device_put(r, &d), 0);
    }
    assert_true(ztpd_registry_generation(r) > g0);
    size_t n;
    const struct ztpd_device_rec **all = ztpd_registry_devices(r, &n);
    assert_int_equal(n, 3);
    assert_string_equal(all[0]->mac, "000bea85bc14");
    assert_string_equal(all[2]->mac, "805ec0000002");
    free(all);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "1001"), 2);
    /* A touch is not rendered into configs: caches stay valid. */
    uint64_t g1 = ztpd_registry_generation(r);
    ztpd_registry_device_touch(r, "001565123456", 42);
    assert_int_equal(ztpd_registry_generation(r), g1);
    assert_int_equal(ztpd_registry_device(r, "001565123456")->last_provisioned, 42);
    assert_int_equal(ztpd_registry_device_remove(r, "001565123456"), 0);
    assert_int_equal(ztpd_registry_device_remove(r, "001565123456"), ZTPD_ENOENT);
    assert_null(ztpd_registry_device(r, "001565123456"));
    assert_true(ztpd_registry_generation(r) > g1);
    ztpd_registry_free(r);
}

/* Per-extension device counts follow puts, moves to another extension and removals. */
static void test_registry_extension_counts(void **state)
{
    (void)state;
    struct ztpd_registry *r;
    assert_int_equal(ztpd_registry_new(&r), 0);
    struct ztpd_device_rec d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < 1000; i++) {
        snprintf(d.mac, sizeof d.mac, "0015650%05x", i);
        snprintf(d.extension, sizeof d.extension, "%d", 2000 + i % 10);
        assert_int_equal(ztpd_registry_device_put(r, &d), 0);
    }
    for (int e = 2000; e < 2010; e++) {
        char num[8];
        snprintf(num, sizeof num, "%d", e);
        assert_int_equal(ztpd_registry_devices_for_extension(r, num), 100);
    }
    /* Same MAC again with another extension: moves one device, the total stays. */
    snprintf(d.mac, sizeof d.mac, "0015650%05x", 0);
    snprintf(d.extension, sizeof d.extension, "3000");
    assert_int_equal(ztpd_registry_device_put(r, &d), 0);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "2000"), 99);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "3000"), 1);
    /* Same MAC, same extension: no double count. */
    assert_int_equal(ztpd_registry_device_put(r, &d), 0);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "3000"), 1);
    assert_int_equal(ztpd_registry_device_remove(r, d.mac), 0);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "3000"), 0);
    assert_int_equal(ztpd_registry_devices_for_extension(r, "9999"), 0);
    assert_int_equal(ztpd_registry_device_count(r), 999);
    /* The one-pass count the extension list uses agrees, unknown numbers included. */
    struct ztpd_extension_rec e[3];
    memset(e, 0, sizeof e);
    snprintf(e[0].number, sizeof e[0].number, "2000");
    snprintf(e[1].number, sizeof e[1].number, "2005");
    snprintf(e[2].number, sizeof e[2].number, "9999");
    const struct ztpd_extension_rec *exts[3] = {&e[0], &e[1], &e[2]};
    size_t *counts = ztpd_registry_count_devices(r, exts, 3);
    assert_non_null(counts);
    assert_int_equal(counts[0], 99);
    assert_int_equal(counts[1], 100);
    assert_int_equal(counts[2], 0);
    free(counts);
    ztpd_registry_free(r);
}

static void test_registry_extensions_numeric_order(void **state)
{
    (void)state;
    struct ztpd_registry *r;
    assert_int_equal(ztpd_registry_new(&r), 0);
    struct ztpd_extension_rec e;
    memset(&e, 0, sizeof e);
    const char *nums[] = {"1000", "999", "20", "1001"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(e.number, sizeof e.number, "%s", nums[i]);
        assert_int_equal(ztpd_registry_extension_put(r, &e), 0);
    }
    size_t n;
    const struct ztpd_extension_rec **all = ztpd_registry_extensions(r, &n);
    assert_int_equal(n, 4);
    assert_string_equal(all[0]->number, "20");
    assert_string_equal(all[1]->number, "999");
    assert_string_equal(all[2]->number, "1000");
    assert_string_equal(all[3]->number, "1001");
    free(all);
    ztpd_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hmap_many),
        cmocka_unit_test(test_registry_devices),
        cmocka_unit_test(test_registry_extension_counts),
        cmocka_unit_test(test_registry_extensions_numeric_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
