/* MAC parsing: every form phones and admins use, and what must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/error.h"
#include "util/mac.h"

static void accepts(const char *in, const char *want)
{
    char out[ZTPD_MAC_LEN + 1];
    int rc = ztpd_mac_normalize(in, strlen(in), out);
    if (rc)
        fail_msg("'%s' rejected", in);
    assert_string_equal(out, want);
}

static void rejects(const char *in)
{
    char out[ZTPD_MAC_LEN + 1];
    if (ztpd_mac_normalize(in, strlen(in), out) != ZTPD_EINVAL)
        fail_msg("'%s' accepted", in);
}

static void test_forms(void **state)
{
    (void)state;
    accepts("001565123456", "001565123456");
    accepts("00:15:65:12:34:56", "001565123456");
    accepts("00-15-65-12-34-56", "001565123456");
    accepts("00%3A15%3A65%3A12%3A34%3A56", "001565123456");
    accepts("00%3a15%3a65%3a12%3a34%3a56", "001565123456");
    accepts("0015.6512.3456", "001565123456");
    accepts("00:15:65:AB:CD:EF", "001565abcdef");
    accepts("001565ABCDEF", "001565abcdef");
    accepts("000BEA85BC14", "000bea85bc14");
}

static void test_rejects(void **state)
{
    (void)state;
    rejects("");
    rejects("00156512345");    /* 11 digits */
    rejects("0015651234567");  /* 13 digits */
    rejects("00:15:65:12:34"); /* 5 groups */
    rejects("00:15:65:12:34:56:78");
    rejects("00:15-65:12:34:56"); /* mixed separators */
    rejects("0:015:65:12:34:56"); /* misplaced separator */
    rejects("00::1565:12:34:56");
    rejects(":00:15:65:12:34:56");
    rejects("00:15:65:12:34:56:");
    rejects("00:15:65:12:34:5g");
    rejects("{mac}");
    rejects("$mac");
    rejects("00%3A15%3A65%3A12%3A34%3");
    rejects("0015 6512 3456");
    rejects("001565.123456");
}

static void test_length_is_respected(void **state)
{
    (void)state;
    char out[ZTPD_MAC_LEN + 1];
    /* Only len bytes count: a longer buffer must not leak into the result. */
    assert_int_equal(ztpd_mac_normalize("001565123456.cfg", 12, out), 0);
    assert_string_equal(out, "001565123456");
    assert_int_equal(ztpd_mac_normalize("00156512345", 11, out), ZTPD_EINVAL);
    assert_int_equal(ztpd_mac_normalize(NULL, 0, out), ZTPD_EINVAL);
}

static void test_format(void **state)
{
    (void)state;
    char out[18];
    ztpd_mac_format("001565abcdef", ':', 0, out);
    assert_string_equal(out, "00:15:65:ab:cd:ef");
    ztpd_mac_format("001565abcdef", '-', 1, out);
    assert_string_equal(out, "00-15-65-AB-CD-EF");
    ztpd_mac_format("001565abcdef", 0, 1, out);
    assert_string_equal(out, "001565ABCDEF");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_length_is_respected),
        cmocka_unit_test(test_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
