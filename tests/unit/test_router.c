/* Router matching: literal paths, {captures}, trailing wildcard, 405 with Allow, HEAD as GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"
#include "util/error.h"

static int tag_a, tag_b, tag_c, tag_d;

static void h(struct ztpd_http_req *req, const struct ztpd_route_match *m, void *arg)
{
    (void)req;
    (void)m;
    (void)arg;
}

static struct ztpd_router *make(void)
{
    struct ztpd_router *r;
    assert_int_equal(ztpd_router_new(&r), 0);
    assert_int_equal(ztpd_router_add(r, "GET", "/api/provisioning/devices", h, &tag_a), 0);
    assert_int_equal(ztpd_router_add(r, "POST", "/api/provisioning/devices", h, &tag_b), 0);
    assert_int_equal(ztpd_router_add(r, "PUT", "/api/provisioning/devices/{mac}/touch", h, &tag_c),
                     0);
    assert_int_equal(ztpd_router_add(r, "GET", "/provision/*", h, &tag_d), 0);
    return r;
}

static void test_literal_and_method(void **state)
{
    (void)state;
    struct ztpd_router *r = make();
    ztpd_route_handler hh;
    void *arg;
    struct ztpd_route_match m;
    char allow[64];
    assert_int_equal(
        ztpd_router_find(r, "GET", "/api/provisioning/devices", &hh, &arg, &m, allow, sizeof allow),
        0);
    assert_ptr_equal(arg, &tag_a);
    assert_int_equal(ztpd_router_find(r, "POST", "/api/provisioning/devices", &hh, &arg, &m, allow,
                                      sizeof allow),
                     0);
    assert_ptr_equal(arg, &tag_b);
    assert_int_equal(ztpd_router_find(r, "HEAD", "/api/provisioning/devices", &hh, &arg, &m, allow,
                                      sizeof allow),
                     0);
    assert_ptr_equal(arg, &tag_a);
    assert_int_equal(ztpd_router_find(r, "DELETE", "/api/provisioning/devices", &hh, &arg, &m,
                                      allow, sizeof allow),
                     ZTPD_EINVAL);
    assert_string_equal(allow, "GET, POST");
    assert_int_equal(ztpd_router_find(r, "GET", "/api/provisioning/devicesx", &hh, &arg, &m, allow,
                                      sizeof allow),
                     ZTPD_ENOENT);
    ztpd_router_free(r);
}

static void test_captures(void **state)
{
    (void)state;
    struct ztpd_router *r = make();
    ztpd_route_handler hh;
    void *arg;
    struct ztpd_route_match m;
    char allow[64];
    assert_int_equal(ztpd_router_find(r, "PUT", "/api/provisioning/devices/00:15:65:12:34:56/touch",
                                      &hh, &arg, &m, allow, sizeof allow),
                     0);
    assert_ptr_equal(arg, &tag_c);
    assert_int_equal(m.n_params, 1);
    assert_string_equal(m.params[0], "00:15:65:12:34:56");
    /* An empty capture or an extra segment does not match. */
    assert_int_equal(ztpd_router_find(r, "PUT", "/api/provisioning/devices//touch", &hh, &arg, &m,
                                      allow, sizeof allow),
                     ZTPD_ENOENT);
    assert_int_equal(ztpd_router_find(r, "PUT", "/api/provisioning/devices/a/b/touch", &hh, &arg,
                                      &m, allow, sizeof allow),
                     ZTPD_ENOENT);
    ztpd_router_free(r);
}

static void test_wildcard(void **state)
{
    (void)state;
    struct ztpd_router *r = make();
    ztpd_route_handler hh;
    void *arg;
    struct ztpd_route_match m;
    char allow[64];
    assert_int_equal(ztpd_router_find(r, "GET", "/provision/{mac}.cfg/000bea85bc14.cfg", &hh, &arg,
                                      &m, allow, sizeof allow),
                     0);
    assert_ptr_equal(arg, &tag_d);
    assert_string_equal(m.params[0], "{mac}.cfg/000bea85bc14.cfg");
    assert_int_equal(ztpd_router_find(r, "GET", "/provision/", &hh, &arg, &m, allow, sizeof allow),
                     0);
    assert_string_equal(m.params[0], "");
    assert_int_equal(ztpd_router_find(r, "GET", "/provisionx", &hh, &arg, &m, allow, sizeof allow),
                     ZTPD_ENOENT);
    ztpd_router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literal_and_method),
        cmocka_unit_test(test_captures),
        cmocka_unit_test(test_wildcard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
